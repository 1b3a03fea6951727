"""The policy pack: validators called directly with a collecting ``report_violation``; the pack and
the engine over the same resources report the same violations; the analyzer takes the stack's
context from the engine's ConfigureStack and fails closed without it."""

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

from orchestrator.adapters.policy_pack import STACK_CONFIG, StackContext, message, plain, policies
from orchestrator.core.manifest import Environment
from orchestrator.core.quota.engine import evaluate
from orchestrator.core.quota.facts import UNKNOWN, Context, context_of, from_resources
from orchestrator.errors import UsageError

from .conftest import ROOT, resources_for

OPTS = PolicyResourceOptions(False, [], False, [], None, [], "")


def known(context: Context | None) -> StackContext:
    """A stack context as after ConfigureStack, resolving to ``context`` (None: anonymous, unknown)."""

    def source(config):
        if context is None:
            raise UsageError("no context in this test")
        return context

    stack = StackContext(source)
    stack.configure("rsj.social-security.test", {})
    return stack


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
            stack = [
                PolicyResource(
                    r["type"], unknown_checking_proxy(r["properties"]), urn(r), r["name"], OPTS, None, None, [], {}
                )
                for r in resources
            ]
            p.validate(StackValidationArgs(stack), report)
    return reported


def levels_of(pack: list) -> dict:
    return {p.name: p.enforcement_level for p in pack}


def test_one_pulumi_policy_per_rule_with_the_files_enforcement(policy):
    pack = policies(policy, known(None))
    assert [p.name for p in pack] == [*(r.name for r in policy.rules), STACK_CONFIG]
    assert levels_of(pack)[STACK_CONFIG] is EnforcementLevel.MANDATORY
    levels = levels_of(pack)
    assert levels["ram-vcpu-ratio"] is EnforcementLevel.ADVISORY
    assert levels["unit-limits"] is EnforcementLevel.MANDATORY
    assert isinstance(next(p for p in pack if p.name == "unit-limits"), StackValidationPolicy)
    assert isinstance(next(p for p in pack if p.name == "allowed-flavors"), ResourceValidationPolicy)


def test_resource_validator_checks_the_type_first(policy):
    pack = {p.name: p for p in policies(policy, known(None))}
    flavors = pack["allowed-flavors"]
    instance = {"type": "openstack:compute/instance:Instance", "name": "web-1", "properties": {"flavorName": "g.3c9g"}}
    other = {"type": "openstack:compute/keypair:Keypair", "name": "k", "properties": {"flavorName": "g.3c9g"}}
    found = run_pack([flavors], [instance, other])
    assert len(found) == 1 and "g.3c9g" in found[0][1] and "[Art. 14]" in found[0][1]


def test_unknown_values_in_preview_are_tolerated(policy):
    pack = [p for p in policies(policy, known(None)) if p.name in ("max-volume-size", "ssh-from-management")]
    resources = [
        {"type": "openstack:blockstorage/volume:Volume", "name": "v", "properties": {"size": UNKNOWN_NUMBER_VALUE}},
        {
            "type": "openstack:networking/secGroupRule:SecGroupRule",
            "name": "r",
            "properties": {
                "direction": "ingress",
                "protocol": "tcp",
                "portRangeMin": 22,
                "portRangeMax": 22,
                "remoteIpPrefix": UNKNOWN_STRING_VALUE,
            },
        },
    ]
    assert run_pack(pack, resources) == []
    assert plain(unknown_checking_proxy({"a": [UNKNOWN_STRING_VALUE, 1]})) == {"a": [UNKNOWN, 1]}


def test_stack_validator_reports_unit_limits_with_the_numbers(policy, examples):
    app = examples["social-security"]
    held = ()
    ctx = context_of(app, Environment.PRODUCTION, held)
    crowded = Context(**{**ctx.__dict__, "unit": "zwb"})  # default limits: 32 vCPU
    limits = next(p for p in policies(policy, known(crowded)) if p.name == "unit-limits")
    found = run_pack([limits], resources_for(app, Environment.PRODUCTION))
    assert any("vcpu" in msg and "asked 44" in msg and "allowed 32" in msg for _, msg, _ in found)


def test_stack_violation_points_at_the_resource(policy, bad_app):
    ctx = context_of(bad_app, Environment.PRODUCTION)
    pack = [p for p in policies(policy, known(ctx)) if p.name == "unit-limits"]
    resources = resources_for(bad_app, Environment.PRODUCTION)
    assert all(at is None for _, _, at in run_pack(pack, resources))  # unit totals: the stack as a whole


def test_context_is_resolved_once_from_the_configured_stack(policy, examples):
    app = examples["social-security"]
    seen: list[dict] = []

    def source(config):
        seen.append(dict(config))
        return context_of(app, Environment.TEST)

    stack = StackContext(source)
    pack = [p for p in policies(policy, stack) if p.name in ("level3-encrypted-volumes", STACK_CONFIG)]
    volume = {"type": "openstack:blockstorage/volume:Volume", "name": "v", "properties": {"size": 5}}
    database = {"type": "openstack:database/instance:Instance", "name": "db", "properties": {"size": 5}}
    before = run_pack(pack, [volume])  # before ConfigureStack: nothing judged, and the pack says so
    assert [(name, "no stack configuration (ConfigureStack)" in msg) for name, msg, _ in before] == [
        (STACK_CONFIG, True)
    ]
    stack.configure("rsj.social-security.test", {"govcloud:manifest": "m.yaml", "govcloud:environment": "test"})
    found = run_pack(pack, [volume, database])
    assert [(name, msg.split(":")[0]) for name, msg, _ in found] == [
        ("level3-encrypted-volumes", "volume v"),
        ("level3-encrypted-volumes", "database volume db"),
    ]
    assert seen == [{"govcloud:manifest": "m.yaml", "govcloud:environment": "test"}]  # once per configured stack


def test_a_stack_whose_config_names_no_valid_context_fails_closed(policy, examples):
    """No guess from labels: the context-dependent rules find nothing, and a mandatory violation
    names the stack and the reason."""
    from orchestrator.errors import ManifestInvalid

    def source(config):
        raise ManifestInvalid("m.yaml", ["line 3: spec.level: required"])

    stack = StackContext(source)
    stack.configure("rsj.social-security.production", {"govcloud:manifest": "m.yaml"})
    labelled = {
        "type": "openstack:blockstorage/volume:Volume",
        "name": "v",
        "properties": {
            "size": 5,
            "metadata": {"govcloud:unit": "rsj", "govcloud:app": "social-security", "govcloud:env": "production"},
        },
    }
    found = run_pack(policies(policy, stack), [labelled])
    assert [(name, at) for name, _, at in found] == [(STACK_CONFIG, None)]
    assert found[0][1].startswith(
        "stack rsj.social-security.production: m.yaml: 1 problem(s): line 3: spec.level: required"
    )


@pytest.mark.parametrize("env", list(Environment))
def test_pack_and_engine_report_the_same_violations(policy, bad_app, examples, env):
    """The same resources through the engine and through the Pulumi policies: the same violations."""
    from orchestrator.core.quota.holdings import holdings

    held = holdings([bad_app, *examples.values()], "rsj")
    ctx = context_of(bad_app, env, held)
    resources = resources_for(bad_app, env)
    by_engine = Counter((v.rule, message(v)) for v in evaluate(from_resources(resources, ctx), policy))
    by_pack = Counter((name, msg) for name, msg, _ in run_pack(policies(policy, known(ctx)), resources))
    assert by_pack == by_engine
    assert sum(by_engine.values()) >= 3


def load_pack(monkeypatch) -> dict:
    """Run ``quotas/__main__.py`` with PolicyPack captured instead of served; ``analyzer`` is the
    analyzer class PolicyPack would serve."""
    import pulumi_policy
    from pulumi_policy import policy as pulumi_policy_module

    built: dict = {}

    def capture(**kw) -> None:
        built.update(kw, analyzer=pulumi_policy_module._PolicyAnalyzerServicer)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", capture)
    spec = importlib.util.spec_from_file_location("govcloud_quota_pack", ROOT / "quotas" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert pulumi_policy_module._PolicyAnalyzerServicer is not built["analyzer"]  # restored after serving
    return built


def test_the_pack_entry_point_builds_the_pack(monkeypatch):
    """``quotas/__main__.py`` loads the shipped policy and hands every rule to PolicyPack."""
    built = load_pack(monkeypatch)
    assert built["name"] == "govcloud-quotas"
    assert [p.name for p in built["policies"]] == [
        "unit-limits",
        "environment-share",
        "test-no-production-data",
        "allowed-flavors",
        "ram-vcpu-ratio",
        "max-volume-size",
        "database-ports-closed",
        "ssh-from-management",
        "level3-backup",
        "level3-encrypted-volumes",
        STACK_CONFIG,
    ]


def analyzer_of(monkeypatch, config: dict[str, str]):
    """The pack's analyzer as the engine drives it: built by ``quotas/__main__.py``, configured
    with the stack's config through ConfigureStack (no ``PULUMI_CONFIG``, as from the engine)."""
    from pulumi.runtime.proto import analyzer_pb2

    from .conftest import EXAMPLES

    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.setenv("GOVCLOUD_MANIFESTS", str(EXAMPLES))
    built = load_pack(monkeypatch)
    servicer = built["analyzer"](
        "govcloud-quotas",
        "0.0.1",
        built["policies"],
        EnforcementLevel.MANDATORY,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    servicer.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(
            stack="rsj.social-security.production", project="govcloud", config=config, tags={"a": "b"}
        ),
        None,
    )
    return servicer


def struct(props: dict):
    from google.protobuf import json_format, struct_pb2

    return json_format.ParseDict(props, struct_pb2.Struct())


def test_the_pack_through_the_analyzer_with_the_stack_configuration(monkeypatch, tmp_path):
    """The analyzer's own request path (ConfigureStack, protobuf properties, unknown sentinels), as
    ``pulumi preview --policy-pack quotas`` drives it."""
    from pulumi.runtime.proto import analyzer_pb2

    from .conftest import EXAMPLES

    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        (EXAMPLES / "social-security.yaml")
        .read_text()
        .replace('  backup:\n    schedule: "0 1 * * *"', '  backup:\n    enabled: false\n    schedule: "0 1 * * *"')
    )
    servicer = analyzer_of(
        monkeypatch, {"govcloud:manifest": str(manifest), "govcloud:environment": "production", "govcloud:digest": "x"}
    )

    volume = {
        "type": "openstack:blockstorage/volume:Volume",
        "name": "social-security-dump",
        "properties": {"size": 4096, "volumeType": UNKNOWN_STRING_VALUE},
    }
    preview = {
        "type": "openstack:blockstorage/volume:Volume",
        "name": "social-security-later",
        "properties": {"size": UNKNOWN_NUMBER_VALUE, "volumeType": "encrypted"},
    }
    plain_type = {
        "type": "openstack:blockstorage/volume:Volume",
        "name": "social-security-plain",
        "properties": {"size": 10},
    }
    diagnostics = []
    for r in (volume, preview, plain_type):
        request = analyzer_pb2.AnalyzeRequest(
            type=r["type"], name=r["name"], urn=urn(r), properties=struct(r["properties"])
        )
        diagnostics += servicer.Analyze(request, None).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("max-volume-size", analyzer_pb2.MANDATORY),
        ("level3-encrypted-volumes", analyzer_pb2.MANDATORY),
    ]
    assert "4096 GB" in diagnostics[0].message and "allowed 2048" in diagnostics[0].message
    assert "MLPS level 3" in diagnostics[1].message  # the level came from the configured manifest

    from orchestrator.core.validation import load_manifest

    resources = resources_for(load_manifest(manifest), Environment.PRODUCTION)
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r["type"], name=r["name"], urn=urn(r), properties=struct(r["properties"])
            )
            for r in resources
        ]
    )
    found = {d.policyName: d for d in servicer.AnalyzeStack(stack, None).diagnostics}
    assert set(found) == {"level3-backup"}  # backups off in the configured manifest; within rsj's limits
    assert "MLPS level 3" in found["level3-backup"].message and found["level3-backup"].urn == ""


def test_the_analyzer_resolves_a_relative_manifest_from_the_project(monkeypatch):
    """``govcloud:manifest`` relative to the project directory, as the program reads it, wherever
    the pack runs (upstream's host starts it in ``quotas/``)."""
    from pulumi.runtime.proto import analyzer_pb2

    monkeypatch.chdir(ROOT / "quotas")
    servicer = analyzer_of(
        monkeypatch,
        {"govcloud:manifest": "examples/manifests/social-security.yaml", "govcloud:environment": "production"},
    )
    stack = analyzer_pb2.AnalyzeStackRequest(resources=[])
    assert [d.policyName for d in servicer.AnalyzeStack(stack, None).diagnostics] == []


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({}, "does not set govcloud:manifest and govcloud:environment"),
        ({"govcloud:manifest": "examples/manifests/social-security.yaml"}, "does not set govcloud:environment"),
        (
            {"govcloud:manifest": "nowhere.yaml", "govcloud:environment": "test"},
            "govcloud:manifest nowhere.yaml: no such file",
        ),
        (
            {"govcloud:manifest": "examples/manifests/social-security.yaml", "govcloud:environment": "staging"},
            "govcloud:environment 'staging' is not one of test, trial, production",
        ),
        ({"govcloud:manifest": "examples/invalid/unknown-field.yaml", "govcloud:environment": "test"}, "problem(s)"),
    ],
)
def test_the_analyzer_fails_closed_without_a_valid_stack_config(monkeypatch, examples, config, says):
    from pulumi.runtime.proto import analyzer_pb2

    servicer = analyzer_of(monkeypatch, config)
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r["type"], name=r["name"], urn=urn(r), properties=struct(r["properties"])
            )
            for r in resources_for(examples["social-security"], Environment.PRODUCTION)
        ]
    )
    [diagnostic] = servicer.AnalyzeStack(stack, None).diagnostics
    assert (diagnostic.policyName, diagnostic.enforcementLevel) == (STACK_CONFIG, analyzer_pb2.MANDATORY)
    assert "stack rsj.social-security.production: " in diagnostic.message and says in diagnostic.message
