"""The policy pack: validators called directly with a collecting ``report_violation``, and the
pack and the engine over the same resources report the same violations."""

from __future__ import annotations

import importlib.util
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


def load_pack(monkeypatch) -> dict:
    """Run ``quotas/__main__.py`` with PolicyPack captured instead of served."""
    import pulumi_policy

    built: dict = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kw: built.update(kw))
    spec = importlib.util.spec_from_file_location("govcloud_quota_pack", ROOT / "quotas" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return built


def test_the_pack_entry_point_builds_the_pack(monkeypatch):
    """``quotas/__main__.py`` loads the shipped policy and hands every rule to PolicyPack."""
    built = load_pack(monkeypatch)
    assert built["name"] == "govcloud-quotas"
    assert [p.name for p in built["policies"]] == [
        "unit-limits", "environment-share", "test-no-production-data", "allowed-flavors", "ram-vcpu-ratio",
        "max-volume-size", "database-ports-closed", "ssh-from-management", "level3-backup",
        "level3-encrypted-volumes"]


def test_the_pack_through_the_analyzer_with_the_stack_configuration(monkeypatch, tmp_path):
    """The analyzer's own request path (protobuf properties, unknown sentinels, stack config in
    ``PULUMI_CONFIG``), as ``pulumi preview --policy-pack quotas`` drives it."""
    import json

    from google.protobuf import json_format, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    from .conftest import EXAMPLES

    manifest = tmp_path / "bad.yaml"
    manifest.write_text((EXAMPLES / "social-security.yaml").read_text().replace(
        '  backup:\n    schedule: "0 1 * * *"', '  backup:\n    enabled: false\n    schedule: "0 1 * * *"'))
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"govcloud:manifest": str(manifest), "govcloud:environment": "production"}))
    monkeypatch.setenv("GOVCLOUD_MANIFESTS", str(EXAMPLES))
    built = load_pack(monkeypatch)
    servicer = _PolicyAnalyzerServicer("govcloud-quotas", "0.0.1", built["policies"], EnforcementLevel.MANDATORY,
                                       None, None, None, None, None, None, None)

    def struct(props: dict) -> struct_pb2.Struct:
        return json_format.ParseDict(props, struct_pb2.Struct())

    volume = {"type": "openstack:blockstorage/volume:Volume", "name": "social-security-dump",
              "properties": {"size": 4096, "volumeType": UNKNOWN_STRING_VALUE}}
    preview = {"type": "openstack:blockstorage/volume:Volume", "name": "social-security-later",
               "properties": {"size": UNKNOWN_NUMBER_VALUE, "volumeType": "encrypted"}}
    plain_type = {"type": "openstack:blockstorage/volume:Volume", "name": "social-security-plain",
                  "properties": {"size": 10}}
    diagnostics = []
    for r in (volume, preview, plain_type):
        request = analyzer_pb2.AnalyzeRequest(type=r["type"], name=r["name"], urn=urn(r), properties=struct(r["properties"]))
        diagnostics += servicer.Analyze(request, None).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("max-volume-size", analyzer_pb2.MANDATORY), ("level3-encrypted-volumes", analyzer_pb2.MANDATORY)]
    assert "4096 GB" in diagnostics[0].message and "allowed 2048" in diagnostics[0].message
    assert "MLPS level 3" in diagnostics[1].message  # the level came from the configured manifest

    from orchestrator.core.validation import load_manifest

    resources = resources_for(load_manifest(manifest), Environment.PRODUCTION)
    stack = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=r["type"], name=r["name"], urn=urn(r), properties=struct(r["properties"]))
        for r in resources])
    found = {d.policyName: d for d in servicer.AnalyzeStack(stack, None).diagnostics}
    assert set(found) == {"level3-backup"}  # backups off in the configured manifest; within rsj's limits
    assert "MLPS level 3" in found["level3-backup"].message and found["level3-backup"].urn == ""
