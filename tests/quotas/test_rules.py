"""Every rule with a passing and a failing case; the unit limits at and over the limit; the registry."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import BaseModel, ValidationError

from orchestrator.core.manifest import Environment
from orchestrator.core.quota import RULES, check_stack
from orchestrator.core.quota.engine import active_rules, evaluate, run
from orchestrator.core.quota.facts import (
    UNKNOWN,
    ZERO,
    Compute,
    Context,
    Disk,
    Holding,
    Ingress,
    StackFacts,
)
from orchestrator.core.sizing import Totals


def make(
    env=Environment.PRODUCTION,
    *,
    unit="zwb",
    mlps=2,
    backup=True,
    production_data=False,
    production=None,
    held=(),
    computes=(),
    disks=(),
    ingress=(),
    totals=ZERO,
) -> StackFacts:
    ctx = Context(unit, "app", env, mlps, backup, production_data, production, tuple(held))
    return StackFacts(ctx, tuple(computes), tuple(disks), tuple(ingress), totals)


def check(policy, name: str, facts: StackFacts):
    [rule] = [r for r in active_rules(policy) if r.name == name]
    return run(rule, facts)


def sized(**kw) -> Totals:
    return dataclasses.replace(ZERO, **kw)


# --- unit-limits ------------------------------------------------------------------------------


def test_unit_exactly_at_its_limit_passes(policy):
    # default vcpu limit 32: 20 held elsewhere + 12 asked = 32
    facts = make(held=[Holding("other", Environment.TRIAL, sized(vcpu=20))], totals=sized(vcpu=12))
    assert check(policy, "unit-limits", facts) == []


def test_unit_one_over_its_limit_fails_with_the_numbers(policy):
    facts = make(held=[Holding("other", Environment.TRIAL, sized(vcpu=20))], totals=sized(vcpu=13))
    [v] = check(policy, "unit-limits", facts)
    assert (v.rule, v.enforcement, v.asked, v.allowed, v.used) == ("unit-limits", "mandatory", 13, 32, 20)
    assert "Art. 14" in v.article and "zwb" in v.subject and "vcpu" in v.subject


def test_unit_limits_use_the_units_own_entry(policy):
    held = [Holding("social-security", Environment.TEST, sized(public_ips=2))]
    assert check(policy, "unit-limits", make(unit="rsj", held=held, totals=sized(public_ips=2))) == []
    [v] = check(policy, "unit-limits", make(unit="rsj", held=held, totals=sized(public_ips=3)))
    assert (v.allowed, v.used) == (4, 2)


def test_unit_limits_every_measure(policy):
    over = sized(vcpu=33, ram_gb=65, volume_gb=2001, object_gb=2001, servers=11, database_instances=3, public_ips=3)
    found = check(policy, "unit-limits", make(totals=over))
    assert {v.subject.split()[-1] for v in found} == {
        "vcpu",
        "ram_gb",
        "volume_gb",
        "object_gb",
        "servers",
        "database_instances",
        "public_ips",
    }


def test_unit_limits_silent_without_a_unit(policy):
    facts = dataclasses.replace(make(totals=sized(vcpu=999)), context=Context(None, None, None))
    assert check(policy, "unit-limits", facts) == []


# --- environment-share ------------------------------------------------------------------------


def test_test_within_half_of_production_passes(policy):
    prod = sized(vcpu=8, ram_gb=16, volume_gb=100)
    assert (
        check(policy, "environment-share", make(Environment.TEST, production=prod, totals=sized(vcpu=4, ram_gb=8)))
        == []
    )


def test_test_over_half_of_production_fails(policy):
    prod = sized(vcpu=8, ram_gb=16, volume_gb=100)
    [v] = check(policy, "environment-share", make(Environment.TEST, production=prod, totals=sized(vcpu=5, ram_gb=8)))
    assert (v.subject, v.asked, v.allowed) == ("test vcpu", 5, 4.0)


def test_trial_larger_than_production_fails_and_production_itself_is_not_compared(policy):
    prod = sized(vcpu=8)
    assert check(policy, "environment-share", make(Environment.TRIAL, production=prod, totals=sized(vcpu=8))) == []
    assert len(check(policy, "environment-share", make(Environment.TRIAL, production=prod, totals=sized(vcpu=9)))) == 1
    assert (
        check(policy, "environment-share", make(Environment.PRODUCTION, production=prod, totals=sized(vcpu=99))) == []
    )


def test_without_production_there_is_nothing_to_compare(policy):
    assert check(policy, "environment-share", make(Environment.TEST, production=None, totals=sized(vcpu=99))) == []


# --- test-no-production-data ------------------------------------------------------------------


def test_test_without_production_data_passes(policy):
    assert check(policy, "test-no-production-data", make(Environment.TEST, production_data=False)) == []
    assert check(policy, "test-no-production-data", make(Environment.PRODUCTION, production_data=True)) == []


def test_test_with_production_data_fails(policy):
    [v] = check(policy, "test-no-production-data", make(Environment.TEST, production_data=True))
    assert v.article.startswith("Art. 13") and "synthetic" in v.message


# --- level3-backup ----------------------------------------------------------------------------


def test_level3_with_backups_passes_and_level2_without_passes(policy):
    assert check(policy, "level3-backup", make(mlps=3, backup=True)) == []
    assert check(policy, "level3-backup", make(mlps=2, backup=False)) == []


def test_level3_without_backups_fails(policy):
    [v] = check(policy, "level3-backup", make(mlps=3, backup=False))
    assert (v.asked, v.allowed) == (False, True) and "backup.enabled" in v.message


# --- allowed-flavors --------------------------------------------------------------------------


def test_flavor_from_the_table_passes(policy):
    assert check(policy, "allowed-flavors", make(computes=[Compute("web", "server", "g.2c4g", 2)])) == []


def test_flavor_outside_the_list_fails(policy):
    [v] = check(policy, "allowed-flavors", make(computes=[Compute("db", "database", "g.3c6g")]))
    assert (v.subject, v.asked, v.resource) == ("database db", "g.3c6g", "db")


def test_unknown_flavor_during_preview_is_skipped(policy):
    assert check(policy, "allowed-flavors", make(computes=[Compute("web", "server", None)])) == []


# --- ram-vcpu-ratio ---------------------------------------------------------------------------


def test_balanced_flavor_passes(policy):
    assert (
        check(
            policy,
            "ram-vcpu-ratio",
            make(computes=[Compute("a", "server", "g.4c16g"), Compute("b", "server", "g.1c1g")]),
        )
        == []
    )


def test_over_provisioned_ram_warns(policy):
    [v] = check(policy, "ram-vcpu-ratio", make(computes=[Compute("a", "server", "g.2c16g")]))
    assert (v.enforcement, v.asked, v.allowed) == ("advisory", 8.0, [1.0, 4.0])


# --- max-volume-size --------------------------------------------------------------------------


def test_volume_at_the_maximum_passes(policy):
    assert check(policy, "max-volume-size", make(disks=[Disk("archive", "volume", 2048, None)])) == []


def test_volume_over_the_maximum_fails(policy):
    [v] = check(policy, "max-volume-size", make(disks=[Disk("dump", "database volume", 2049, None)]))
    assert (v.asked, v.allowed, v.subject) == (2049, 2048, "database volume dump")


# --- database-ports-closed --------------------------------------------------------------------


def test_database_port_from_a_group_or_private_network_passes(policy):
    rules = [
        Ingress("a", "tcp", 3306, 3306, None, "app"),
        Ingress("b", "tcp", 5432, 5432, "10.0.0.0/8"),
        Ingress("c", "tcp", 443, 443, "0.0.0.0/0"),
    ]
    assert check(policy, "database-ports-closed", make(ingress=rules)) == []


@pytest.mark.parametrize(
    "rule",
    [
        Ingress("a", "tcp", 3306, 3306, "0.0.0.0/0"),
        Ingress("b", "tcp", 5000, 6000, "::/0"),
        Ingress("c", "any", None, None, "0.0.0.0/0"),
    ],
)
def test_database_port_open_to_the_world_fails(policy, rule):
    [v] = check(policy, "database-ports-closed", make(ingress=[rule]))
    assert v.resource == rule.name and v.article == "Art. 36"


# --- ssh-from-management ----------------------------------------------------------------------


def test_ssh_from_the_management_network_passes(policy):
    rules = [
        Ingress("a", "tcp", 22, 22, "10.20.0.0/16"),
        Ingress("b", "tcp", 22, 22, "10.20.5.0/24"),
        Ingress("c", "tcp", 443, 443, "0.0.0.0/0"),
        Ingress("d", "udp", 22, 22, "0.0.0.0/0"),
    ]
    assert check(policy, "ssh-from-management", make(ingress=rules)) == []


@pytest.mark.parametrize(
    "rule",
    [
        Ingress("a", "tcp", 22, 22, "0.0.0.0/0"),
        Ingress("b", "tcp", 1, 1024, "10.0.0.0/8"),
        Ingress("c", "any", None, None, "10.21.0.0/16"),
        Ingress("d", "tcp", 22, 22, None, "web"),
    ],
)
def test_ssh_from_elsewhere_fails(policy, rule):
    [v] = check(policy, "ssh-from-management", make(ingress=[rule]))
    assert v.allowed == ["10.20.0.0/16"] and v.resource == rule.name


# --- level3-encrypted-volumes -----------------------------------------------------------------


def test_level3_encrypted_volumes_pass_and_level2_needs_none(policy):
    assert check(policy, "level3-encrypted-volumes", make(mlps=3, disks=[Disk("d", "volume", 10, "encrypted")])) == []
    assert check(policy, "level3-encrypted-volumes", make(mlps=2, disks=[Disk("d", "volume", 10, None)])) == []
    assert check(policy, "level3-encrypted-volumes", make(mlps=3, disks=[Disk("d", "volume", 10, UNKNOWN)])) == []


def test_level3_plain_volume_fails(policy):
    [v] = check(policy, "level3-encrypted-volumes", make(mlps=3, disks=[Disk("d", "volume", 10, "ssd")]))
    assert (v.asked, v.allowed) == ("ssd", ["encrypted"])
    [w] = check(policy, "level3-encrypted-volumes", make(mlps=3, disks=[Disk("e", "volume", 10, None)]))
    assert "default type" in w.message


# --- engine and registry ----------------------------------------------------------------------


def test_examples_pass_the_shipped_policy(policy, examples):
    from orchestrator.core.quota.holdings import holdings

    held = holdings(examples.values())
    for app in examples.values():
        for env in app.environments:
            mine = [h for h in held if h.app in {a.id for a in examples.values() if a.unit == app.unit}]
            assert check_stack(app, env, policy, mine) == [], (app.id, env)


def test_evaluate_lists_mandatory_before_advisory(policy):
    facts = make(computes=[Compute("a", "server", "g.2c16g")], disks=[Disk("d", "volume", 4000, None)])
    found = evaluate(facts, policy)
    assert [(v.rule, v.enforcement) for v in found] == [
        ("allowed-flavors", "mandatory"),
        ("max-volume-size", "mandatory"),
        ("ram-vcpu-ratio", "advisory"),
    ]


def test_every_rule_is_in_the_shipped_policy(policy):
    assert {r.name for r in policy.rules} == set(RULES)


@pytest.mark.parametrize("name", sorted(RULES))
def test_registry_entries_are_complete(name):
    cls = RULES[name]
    assert cls.name == name
    assert cls.article.startswith("Art. ")
    assert "Example" in (cls.__doc__ or "") and name in cls.__doc__
    assert cls.scope in ("resource", "stack")
    assert (cls.scope == "resource") == bool(cls.resource_types)
    assert issubclass(cls.Params, BaseModel) and cls.Params.model_config.get("extra") == "forbid"
    with pytest.raises(ValidationError):
        cls.Params.model_validate({"no_such_param": 1})
