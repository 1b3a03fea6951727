"""The policy pack: validators called directly with a collecting ``report_violation``, and the
pack and the engine over the same resources report the same violations."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from orchestrator.adapters.policy_pack import message, plain, policies
from orchestrator.core.manifest import Environment
from orchestrator.core.quota.engine import evaluate
from orchestrator.core.quota.facts import UNKNOWN, Context, context_of, from_resources

from .conftest import ROOT, resources_for

OPTS = PolicyResourceOptions(False, [], False, [], None, [], "")


def urn(r: dict) -> str:
    return f"urn:pulumi:s::govcloud::{r['type']}::{r['name']}"


def run_pack(pack: list, resources: list[dict]) -> list[tuple[str, str, str | None]]:
    """Every (policy, message, urn) the pack reports over ``resources``, as the analyzer would."""
    reported: list[tuple[str, str, str | None]] = []
    for p in pack:
        def report(msg: str, at: str | None = None, _name: str = p.name) -> None:
            reported.append((_name, msg, at))

        if isinstance(p, ResourceValidationPolicy):
            for r in resources:
                props = unknown_checking_proxy(r["properties"])
                p.validate(ResourceValidationArgs(r["type"], props, urn(r), r["name"], OPTS, None), report)
        else:
            assert isinstance(p, StackValidationPolicy)
            stack = [PolicyResource(r["type"], unknown_checking_proxy(r["properties"]), urn(r), r["name"],
                                    OPTS, None, None, [], {}) for r in resources]
            p.validate(StackValidationArgs(stack), report)
    return reported


def test_one_pulumi_policy_per_rule_with_the_files_enforcement(policy):
    pack = policies(policy, lambda labels: None)
    assert [p.name for p in pack] == [r.name for r in policy.rules]
    levels = {p.name: p.enforcement_level for p in pack}
    assert levels["ram-vcpu-ratio"] is EnforcementLevel.ADVISORY
    assert levels["unit-limits"] is EnforcementLevel.MANDATORY
    assert isinstance(next(p for p in pack if p.name == "unit-limits"), StackValidationPolicy)
    assert isinstance(next(p for p in pack if p.name == "allowed-flavors"), ResourceValidationPolicy)


def test_resource_validator_checks_the_type_first(policy):
    pack = {p.name: p for p in policies(policy, lambda labels: None)}
    flavors = pack["allowed-flavors"]
    instance = {"type": "openstack:compute/instance:Instance", "name": "web-1", "properties": {"flavorName": "g.3c9g"}}
    other = {"type": "openstack:compute/keypair:Keypair", "name": "k", "properties": {"flavorName": "g.3c9g"}}
    found = run_pack([flavors], [instance, other])
    assert len(found) == 1 and "g.3c9g" in found[0][1] and "[Art. 14]" in found[0][1]


def test_unknown_values_in_preview_are_tolerated(policy):
    pack = [p for p in policies(policy, lambda labels: None) if p.name in ("max-volume-size", "ssh-from-management")]
    resources = [
        {"type": "openstack:blockstorage/volume:Volume", "name": "v", "properties": {"size": UNKNOWN_NUMBER_VALUE}},
        {"type": "openstack:networking/secGroupRule:SecGroupRule", "name": "r",
         "properties": {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
                        "remoteIpPrefix": UNKNOWN_STRING_VALUE}},
    ]
    assert run_pack(pack, resources) == []
    assert plain(unknown_checking_proxy({"a": [UNKNOWN_STRING_VALUE, 1]})) == {"a": [UNKNOWN, 1]}


def test_stack_validator_reports_unit_limits_with_the_numbers(policy, examples):
    app = examples["social-security"]
    held = ()
    ctx = context_of(app, Environment.PRODUCTION, held)
    crowded = Context(**{**ctx.__dict__, "unit": "zwb"})  # default limits: 32 vCPU
    limits = next(p for p in policies(policy, lambda labels: crowded) if p.name == "unit-limits")
    found = run_pack([limits], resources_for(app, Environment.PRODUCTION))
    assert any("vcpu" in msg and "asked 44" in msg and "allowed 32" in msg for _, msg, _ in found)


def test_stack_violation_points_at_the_resource(policy, bad_app):
    ctx = context_of(bad_app, Environment.PRODUCTION)
    pack = [p for p in policies(policy, lambda labels: ctx) if p.name == "unit-limits"]
    resources = resources_for(bad_app, Environment.PRODUCTION)
    assert all(at is None for _, _, at in run_pack(pack, resources))  # unit totals: the stack as a whole


def test_context_is_resolved_from_labels_once(policy, examples):
    app = examples["social-security"]
    seen: list[dict] = []

    def source(labels):
        seen.append(dict(labels))
        return context_of(app, Environment.TEST) if labels else None

    pack = [p for p in policies(policy, source) if p.name == "level3-encrypted-volumes"]
    unlabelled = {"type": "openstack:database/instance:Instance", "name": "db", "properties": {"size": 5}}
    labelled = {"type": "openstack:blockstorage/volume:Volume", "name": "v",
                "properties": {"size": 5, "metadata": {"govcloud:unit": "rsj", "govcloud:app": app.id, "govcloud:env": "test"}}}
    assert run_pack(pack, [unlabelled]) == []  # no context yet: the MLPS level is not known
    found = run_pack(pack, [labelled, unlabelled])
    assert [msg.split(":")[0] for _, msg, _ in found] == ["volume v", "database volume db"]
    assert seen[-1]["app"] == app.id and len([s for s in seen if s]) == 1


@pytest.mark.parametrize("env", list(Environment))
def test_pack_and_engine_report_the_same_violations(policy, bad_app, examples, env):
    """The same resources through the engine and through the Pulumi policies: the same violations."""
    from orchestrator.core.quota.holdings import holdings

    held = holdings([bad_app, *examples.values()], "rsj")
    ctx = context_of(bad_app, env, held)
    resources = resources_for(bad_app, env)
    by_engine = Counter((v.rule, message(v)) for v in evaluate(from_resources(resources, ctx), policy))
    by_pack = Counter((name, msg) for name, msg, _ in run_pack(policies(policy, lambda labels: ctx), resources))
    assert by_pack == by_engine
    assert sum(by_engine.values()) >= 3


def test_the_pack_entry_point_builds_the_pack(monkeypatch):
    """``quotas/__main__.py`` loads the shipped policy and hands every rule to PolicyPack."""
    import pulumi_policy

    built = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kw: built.update(kw))
    spec = importlib.util.spec_from_file_location("govcloud_quota_pack", ROOT / "quotas" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("govcloud_quota_pack", None)
    spec.loader.exec_module(module)
    assert built["name"] == "govcloud-quotas"
    assert len(built["policies"]) == 10
