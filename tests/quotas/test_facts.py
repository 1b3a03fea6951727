"""The two derivations of facts (manifest, Pulumi resources) agree; unknown values are tolerated."""

from __future__ import annotations

import pytest

from orchestrator.core.manifest import Environment
from orchestrator.core.quota.engine import evaluate
from orchestrator.core.quota.facts import (
    UNKNOWN,
    Context,
    context_of,
    from_application,
    from_resources,
)
from orchestrator.core.sizing import totals

from .conftest import resources_for


def test_totals_from_resources_equal_the_manifests(examples):
    for app in examples.values():
        for env, spec in app.environments.items():
            facts = from_resources(resources_for(app, env), context_of(app, env))
            assert facts.totals == totals(spec.resources), (app.id, env)


def test_both_derivations_find_the_same_violations(bad_app, policy, examples):
    for env in bad_app.environments:
        held = ()
        by_manifest = evaluate(from_application(bad_app, env, held), policy)
        by_resources = evaluate(from_resources(resources_for(bad_app, env), context_of(bad_app, env, held)), policy)
        key = lambda vs: {(v.rule, str(v.asked), str(v.allowed), str(v.used)) for v in vs}  # noqa: E731
        assert key(by_manifest) == key(by_resources), env
        if env is Environment.PRODUCTION:
            assert {v.rule for v in by_manifest} >= {
                "level3-backup",
                "ssh-from-management",
                "database-ports-closed",
                "max-volume-size",
                "level3-encrypted-volumes",
                "allowed-flavors",
                "ram-vcpu-ratio",
            }


def test_unknown_values_are_left_out_not_guessed():
    ctx = Context("zwb", "app", Environment.TEST, mlps_level=3)
    facts = from_resources(
        [
            {
                "type": "openstack:blockstorage/volume:Volume",
                "name": "v",
                "properties": {"size": UNKNOWN, "volumeType": UNKNOWN},
            },
            {"type": "openstack:compute/instance:Instance", "name": "i", "properties": {"flavorName": UNKNOWN}},
            {
                "type": "openstack:networking/secGroupRule:SecGroupRule",
                "name": "r",
                "properties": {
                    "direction": "ingress",
                    "protocol": "tcp",
                    "portRangeMin": 22,
                    "portRangeMax": 22,
                    "remoteIpPrefix": UNKNOWN,
                },
            },
        ],
        ctx,
    )
    assert facts.totals.volume_gb == 0 and facts.totals.vcpu == 0 and facts.totals.servers == 1
    assert facts.disks[0].size_gb is None and facts.disks[0].type is UNKNOWN
    assert facts.ingress[0].remote_cidr is None and facts.ingress[0].remote_group is None


@pytest.mark.parametrize(
    "props, expected",
    [
        ({"direction": "ingress"}, "0.0.0.0/0"),
        ({"direction": "ingress", "ethertype": "IPv6"}, "::/0"),
        ({"direction": "ingress", "remoteGroupId": "abc"}, None),
    ],
)
def test_a_rule_without_remote_is_open_to_every_address(props, expected):
    facts = from_resources(
        [{"type": "openstack:networking/secGroupRule:SecGroupRule", "name": "r", "properties": props}],
        Context(None, None, None),
    )
    assert facts.ingress[0].remote_cidr == expected and facts.ingress[0].protocol == "any"


def test_database_flavor_comes_from_the_context_when_the_id_is_opaque(examples):
    app = examples["open-data"]
    res = [r for r in resources_for(app, Environment.TRIAL) if r["type"] == "openstack:database/instance:Instance"]
    assert from_resources(res, context_of(app, Environment.TRIAL)).totals.vcpu == 4
    assert from_resources(res, Context(None, None, None)).totals.vcpu == 0


def test_check_planned_equals_check_stack(bad_app, policy):
    from orchestrator.core.quota import check_planned, check_stack

    env = Environment.PRODUCTION
    planned = check_planned(resources_for(bad_app, env), bad_app, env, policy)
    declared = check_stack(bad_app, env, policy)
    assert {v.rule for v in planned} == {v.rule for v in declared} and len(planned) >= len(declared) >= 7


def test_both_derivations_name_rules_as_the_program_does(examples):
    for app in examples.values():
        for env in app.environments:
            by_manifest = [i.name for i in from_application(app, env).ingress]
            by_resources = [i.name for i in from_resources(resources_for(app, env), context_of(app, env)).ingress]
            assert by_manifest and sorted(by_manifest) == sorted(by_resources), (app.id, env)
