"""plan shows and up enforces the lifecycle gate and the quota policy, from the ledger."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from orchestrator.adapters.ledger import Ledger
from orchestrator.cli import cli, register_commands
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.core.manifest import Environment
from orchestrator.core.quota.policyfile import load_policy
from orchestrator.core.validation import load_manifest
from orchestrator.errors import RuleError
from orchestrator.services.admission import Admissions
from orchestrator.services.lifecycle import Lifecycle
from orchestrator.services.plan import plan_application
from tests.conftest import EXAMPLES, ROOT

PORTAL = EXAMPLES / "citizen-portal.yaml"
T = __import__("datetime").datetime.fromisoformat


@pytest.fixture
def lifecycle(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    return Lifecycle(Ledger.open(url))


def approve_test(lifecycle, path=PORTAL):
    unit, office = Actor("liming", UNIT, "zwb"), Actor("zhang", EGOV, "egov")
    lifecycle.submit(path, actor=unit, at=T("2026-11-02T09:00"))
    lifecycle.accept("citizen-portal", actor=office, at=T("2026-11-03T09:00"))
    lifecycle.review("citizen-portal", opinion="complete", actor=office, at=T("2026-11-04T09:00"))
    lifecycle.approve("citizen-portal", "test", actor=office, at=T("2026-11-04T10:00"))


def admit(lifecycle, at="2026-11-05T09:00", env=Environment.TEST, path=PORTAL):
    app = load_manifest(path)
    admissions = Admissions(load_policy(ROOT / "quotas" / "policy.yaml"), lifecycle, T(at))
    return admissions.admit(plan_application(app, env), app)


def test_without_approval_the_gate_refuses(lifecycle):
    verdict = admit(lifecycle)
    assert not verdict.allowed
    assert verdict.gate.rule == "digest-approved" and verdict.gate.article == "Art. 13"


def test_approved_digest_passes_and_another_digest_does_not(lifecycle, tmp_path):
    approve_test(lifecycle)
    assert admit(lifecycle).allowed
    changed = tmp_path / "portal.yaml"
    changed.write_text(PORTAL.read_text(encoding="utf-8").replace("count: 2", "count: 3"), encoding="utf-8")
    verdict = admit(lifecycle, path=changed)
    assert verdict.gate is not None and "approved for sha256:" in str(verdict.gate)


def test_expired_test_environment_is_refused(lifecycle):
    approve_test(lifecycle)
    lifecycle.record_provisioned(
        "citizen-portal", "test", Actor("ops", PROVIDER), T("2026-11-05T09:00"), load_manifest(PORTAL).digest
    )
    assert admit(lifecycle, at="2026-11-10T09:00").allowed
    verdict = admit(lifecycle, at="2026-11-21T09:00")
    assert verdict.gate is not None and verdict.gate.rule == "test-expired"


def test_held_resources_come_from_the_ledger(lifecycle):
    approve_test(lifecycle)
    admissions = Admissions(load_policy(ROOT / "quotas" / "policy.yaml"), lifecycle, T("2026-11-05T09:00"))
    assert admissions.held("zwb") == []
    lifecycle.record_provisioned(
        "citizen-portal", "test", Actor("ops", PROVIDER), T("2026-11-05T09:00"), load_manifest(PORTAL).digest
    )
    admissions = Admissions(load_policy(ROOT / "quotas" / "policy.yaml"), lifecycle, T("2026-11-05T09:00"))
    [held] = admissions.held("zwb")
    assert (held.app, held.env, held.totals.vcpu, held.totals.servers) == ("citizen-portal", Environment.TEST, 1, 1)


def test_each_live_environment_is_held_once(lifecycle):
    """Two live environments of one application: two holdings, not each counted once per environment."""
    office, ops = Actor("zhang", EGOV, "egov"), Actor("ops", PROVIDER)
    approve_test(lifecycle)
    lifecycle.record_provisioned("citizen-portal", "test", ops, T("2026-11-05T09:00"))
    lifecycle.approve("citizen-portal", "trial", office, T("2026-11-06T09:00"))
    lifecycle.record_provisioned("citizen-portal", "trial", ops, T("2026-11-06T10:00"))
    held = Admissions(load_policy(ROOT / "quotas" / "policy.yaml"), lifecycle, T("2026-11-07T09:00")).held("zwb")
    assert sorted((h.app, str(h.env)) for h in held) == [("citizen-portal", "test"), ("citizen-portal", "trial")]


def test_mandatory_quota_violation_refuses(lifecycle, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(
        PORTAL.read_text(encoding="utf-8").replace("            count: 1\n", "            count: 90\n"),
        encoding="utf-8",
    )
    approve_test(lifecycle, big)
    verdict = admit(lifecycle, path=big)
    assert verdict.gate is None
    assert {v.rule for v in verdict.mandatory} >= {"unit-limits"}
    assert "may not be provisioned" in str(verdict.refusal())


def test_up_is_refused_before_the_engine_starts(lifecycle, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_ENGINE_DIR", str(tmp_path / "no-engine"))
    register_commands()
    result = CliRunner().invoke(cli, ["up", "citizen-portal", "--env", "test", "--as", "ops", "--role", "provider"])
    assert result.exit_code == 1, result.output
    assert "may not be provisioned" in result.stderr and "have test approved first" in result.stderr
    approve_test(lifecycle)
    result = CliRunner().invoke(cli, ["up", "citizen-portal", "--env", "test", "--as", "ops", "--role", "provider"])
    assert result.exit_code == 3 and "scripts/install-pulumi" in result.stderr, result.output


def test_a_ledger_that_cannot_be_read_is_an_outside_failure_not_a_refusal(lifecycle, tmp_path, monkeypatch):
    """Only a rule refuses (exit 1); a damaged ledger is an outside system failing (exit 3)."""
    import sqlite3

    approve_test(lifecycle)
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("UPDATE events SET actor_role = 'janitor' WHERE sequence = 1")
    monkeypatch.setenv("GOVCLOUD_ENGINE_DIR", str(tmp_path / "no-engine"))
    register_commands()
    result = CliRunner().invoke(cli, ["up", "citizen-portal", "--env", "test", "--as", "ops", "--role", "provider"])
    assert result.exit_code == 3, result.output
    assert "field actor_role" in result.stderr and "approved first" not in result.stderr
    plan = CliRunner().invoke(cli, ["plan", str(PORTAL), "--output", "json"])
    assert plan.exit_code == 3 and "field actor_role" in plan.stderr, plan.output


def test_plan_reports_the_gate_from_the_ledger(lifecycle):
    approve_test(lifecycle)
    register_commands()
    result = CliRunner().invoke(cli, ["plan", str(PORTAL), "--output", "json"])
    stacks = {s["env"]: s for s in json.loads(result.stdout)["stacks"]}
    assert stacks["test"]["gate"] == {"passed": True}
    assert stacks["trial"]["gate"]["passed"] is False and stacks["trial"]["gate"]["article"] == "Art. 14"
    assert stacks["test"]["quota"] == {"violations": [], "mandatory": 0}


def test_up_judges_the_gate_at_its_stated_time(lifecycle, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_ENGINE_DIR", str(tmp_path / "no-engine"))
    approve_test(lifecycle)
    lifecycle.record_provisioned(
        "citizen-portal", "test", Actor("ops", PROVIDER), T("2026-11-05T09:00"), load_manifest(PORTAL).digest
    )
    register_commands()
    up = ["up", "citizen-portal", "--env", "test", "--as", "ops", "--role", "provider", "--at"]
    expired = CliRunner().invoke(cli, [*up, "2026-11-21T09:00"])
    assert expired.exit_code == 1 and "may not be provisioned" in expired.stderr, expired.output
    within = CliRunner().invoke(cli, [*up, "2026-11-10T09:00"])
    assert within.exit_code == 3 and "scripts/install-pulumi" in within.stderr, within.output


@pytest.fixture
def fake_engine(monkeypatch):
    """The engine adapter's locate and run replaced: ``up`` runs through everything else."""
    from orchestrator.adapters import engine

    calls: list[str] = []

    def run(operation, stack, config, located, **kwargs):
        calls.append(stack)
        return engine.OperationResult(stack, operation, False, {"same": 12})

    monkeypatch.setattr(engine, "locate", lambda: engine.Engine(None, None, {}))
    monkeypatch.setattr(engine, "run", run)
    monkeypatch.setattr(engine, "preview_steps", lambda *a, **k: [])
    monkeypatch.setattr("orchestrator.services.provision.platform_config", lambda environ: ({}, set()))
    monkeypatch.setattr("orchestrator.services.verify.cloud_differences", lambda plan, cloud=None: [])
    monkeypatch.setattr("orchestrator.services.provision.remove_strange_rules", lambda stack, located: [])
    return calls


def test_up_records_provisioned_then_nothing_then_reapplied_with_the_program_it_ran(
    lifecycle, fake_engine, monkeypatch
):
    from orchestrator.adapters.programfiles import program_fingerprint
    from orchestrator.services.provision import run_operation

    approve_test(lifecycle)
    ops = Actor("ops", PROVIDER)
    program = program_fingerprint()
    results = [run_operation("up", "citizen-portal", "test", actor=ops, at=T("2026-11-05T09:00"))]
    # the same digest and the same program: no lifecycle step happened, nothing is recorded
    results.append(run_operation("up", "citizen-portal", "test", actor=ops, at=T("2026-11-05T12:00")))
    monkeypatch.setattr("orchestrator.services.provision.program_fingerprint", lambda: "sha256:" + "cd" * 32)
    results.append(
        run_operation(
            "up",
            "citizen-portal",
            "test",
            actor=ops,
            at=T("2026-11-06T09:00"),
            reason="program changed: stacks/components/compute.py",
            payload={"commit": "c0ffee"},
        )
    )
    assert [r.recorded for r in results] == ["provisioned", None, "reapplied"]
    first, again = lifecycle.history("citizen-portal")[-2:]
    assert (first.type, again.type) == ("provisioned", "reapplied")
    assert again.reason == "program changed: stacks/components/compute.py"
    assert again.payload == {"program": "sha256:" + "cd" * 32, "commit": "c0ffee", "verified": True, "suspended": False}
    assert first.payload["program"] == program
    state = lifecycle.state("citizen-portal")
    assert state.deployed["test"]["event"] == "reapplied" and state.test_started == "2026-11-05T09:00:00"
    assert fake_engine == ["zwb.citizen-portal.test"] * 3


def test_up_of_a_leaving_application_is_refused_before_the_engine_starts(lifecycle, fake_engine):
    from orchestrator.services.provision import run_operation

    approve_test(lifecycle)
    lifecycle.record_provisioned("citizen-portal", "test", Actor("ops", PROVIDER), T("2026-11-05T09:00"))
    lifecycle.terminate("citizen-portal", Actor("liming", UNIT, "zwb"), T("2026-11-06T09:00"))
    with pytest.raises(RuleError, match=r"reapplied \(test\) is not allowed in state termination-requested"):
        run_operation("up", "citizen-portal", "test", actor=Actor("ops", PROVIDER), at=T("2026-11-07T09:00"))
    assert fake_engine == []
