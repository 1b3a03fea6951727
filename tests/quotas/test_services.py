"""Quota services: holdings, checking a manifest with the unit's other applications, the pack's context."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.core.manifest import Environment
from orchestrator.errors import UsageError
from orchestrator.services import quotas as svc

from .conftest import EXAMPLES, POLICY


def test_unit_holdings_are_every_declared_environment_of_the_units_manifests():
    held = svc.unit_holdings("rsj", [EXAMPLES])
    assert [(h.app, h.env) for h in held] == [
        ("social-security", Environment.TEST),
        ("social-security", Environment.TRIAL),
        ("social-security", Environment.PRODUCTION),
    ]
    assert sum(h.totals.vcpu for h in held) == 80
    assert {h.app for h in svc.unit_holdings(None, [EXAMPLES])} == {
        "citizen-portal",
        "open-data",
        "permit-prototype",
        "social-security",
    }


def test_check_counts_the_units_other_applications(tmp_path, policy):
    # a second zwb application taking 30 vCPU in test: with citizen-portal's 5, over the 32 of zwb
    text = (
        (EXAMPLES / "permit-prototype.yaml")
        .read_text()
        .replace("id: zjj", "id: zwb")
        .replace("id: permit-prototype", "id: second")
    )
    path = tmp_path / "second.yaml"
    path.write_text(
        text.replace("flavor: g.1c2g", "flavor: g.16c32g").replace(
            "    servers:\n      - name: app\n", "    servers:\n      - name: app\n        count: 2\n", 1
        )
    )
    payload = svc.check(path, None, policy, [EXAMPLES])
    [stack] = payload["stacks"]
    [v] = [v for v in stack["violations"] if v["rule"] == "unit-limits" and v["subject"] == "unit zwb vcpu"]
    assert (v["asked"], v["used"], v["allowed"]) == (32, 5, 32)
    assert payload["ok"] is False and payload["mandatory"] >= 1


def test_pack_context_from_the_stack_configuration():
    ctx = svc.stack_context(str(EXAMPLES / "social-security.yaml"), "trial", Path("/nowhere"), [EXAMPLES])
    assert (ctx.unit, ctx.app, ctx.env, ctx.mlps_level, ctx.backup_enabled) == (
        "rsj",
        "social-security",
        Environment.TRIAL,
        3,
        True,
    )
    assert ctx.production.vcpu == 44
    assert {(h.app, h.env) for h in ctx.held} == {
        ("social-security", Environment.TEST),
        ("social-security", Environment.PRODUCTION),
    }
    assert ctx.database_flavors == {"social-security-benefits": "g.8c16g"}
    relative = svc.stack_context("manifests/social-security.yaml", "trial", EXAMPLES.parent, [EXAMPLES])
    assert relative == ctx


@pytest.mark.parametrize(
    ("manifest", "env", "says"),
    [
        (None, "test", "does not set govcloud:manifest"),
        ("social-security.yaml", None, "does not set govcloud:environment"),
        ("social-security.yaml", "prod", "govcloud:environment 'prod' is not one of"),
        ("gone.yaml", "test", "govcloud:manifest gone.yaml: no such file"),
        ("open-data-platform.yaml", "production", "open-data-platform.yaml: environment production is not declared"),
    ],
)
def test_pack_context_is_refused_when_the_config_does_not_name_it(manifest, env, says):
    """No fallback to labels or a directory lookup: the pack reports why instead."""
    with pytest.raises(UsageError, match=re.escape(says)):
        svc.stack_context(manifest, env, EXAMPLES, [EXAMPLES])


def test_default_paths_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVCLOUD_QUOTA_POLICY", str(POLICY))
    assert svc.policy_path() == POLICY


def test_a_manifest_also_in_the_directory_is_counted_once():
    ctx = svc.stack_context(str(EXAMPLES / "social-security.yaml"), "production", EXAMPLES, [EXAMPLES])
    assert sorted((h.app, h.env.value) for h in ctx.held) == [("social-security", "test"), ("social-security", "trial")]
