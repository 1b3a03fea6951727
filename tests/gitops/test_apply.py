"""``gitops apply`` with a fake engine: order, parallelism, failures, terminations, approvals, locks."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.adapters.ledger import Ledger
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.core.validation import load_manifest
from orchestrator.errors import ExternalError, RuleError
from orchestrator.services import gitops_apply
from orchestrator.services.lifecycle import Lifecycle, beijing_now
from tests.gitops.conftest import GitRepo, example

CLERK = Actor("zhang", EGOV, "egov")
CHIEF = Actor("chen", EGOV, "egov")
OPS = Actor("ci", PROVIDER)
T0 = dt.datetime(2026, 2, 12, 10, 0)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def approve_test(lifecycle: Lifecycle, path: Path, unit: str, start: float = 0) -> str:
    """Submit, accept, review and approve the test environment of the manifest at ``path``."""
    event = lifecycle.submit(path, Actor("unit-clerk", UNIT, unit), at(start))
    lifecycle.accept(event.application, CLERK, at(start + 1))
    lifecycle.review(event.application, "complete; resources reasonable", CLERK, at(start + 2))
    lifecycle.approve(event.application, "test", CLERK, at(start + 3))
    return event.application


def to_production(lifecycle: Lifecycle, path: Path, unit: str) -> str:
    """Through test (extended, so it stays open), trial and 30 days later production."""
    app = approve_test(lifecycle, path, unit)
    lifecycle.record_provisioned(app, "test", OPS, at(4))
    lifecycle.extend(app, 120, "long acceptance test", CLERK, at(5))
    lifecycle.test_passed(app, "third-party report T-1", CLERK, at(6))
    lifecycle.approve(app, "trial", CLERK, at(7))
    lifecycle.record_provisioned(app, "trial", OPS, at(8))
    lifecycle.approve(app, "production", CLERK, at(40))
    lifecycle.record_provisioned(app, "production", OPS, at(41))
    return app


@dataclass
class FakeEngine:
    """``run_operation`` stand-in: records calls, tracks concurrency, fails on request, and
    records a successful ``up`` in ``ledger`` at the ``at`` it is given, as ``run_operation`` does."""

    ledger: Ledger
    delay: float = 0.05
    fail: set[str] = field(default_factory=set)
    refuse: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(
        self,
        operation: str,
        app_ref: str,
        env: str,
        *,
        actor: Actor,
        at: dt.datetime,
        reason: str | None = None,
        payload: dict | None = None,
        **kwargs,
    ):
        from orchestrator.adapters.engine import OperationResult

        manifest = load_manifest(app_ref)
        stack = f"{manifest.unit}.{manifest.id}.{env}"
        with self.lock:
            self.calls.append((operation, stack, Path(app_ref).name))
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
            if stack in self.fail:
                raise ExternalError(f"pulumi up of stack {stack} failed: quota exceeded")
            if stack in self.refuse:  # the admission before the engine starts
                raise RuleError(f"{stack} may not be provisioned: vcpu over the unit's limit", rule="quota")
            # at the time apply decided the stack: run_operation admits and records at the ``at`` it is given
            Lifecycle(self.ledger).record_deployment(
                manifest.id,
                env,
                actor,
                at,
                manifest.digest,
                reason=reason,
                payload={"program": "sha256:fake", **(payload or {})},
            )
        return OperationResult(stack, operation, False, {"update": 1, "same": 20})


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.write("manifests/social-security.yaml", example("social-security"))
    r.write("manifests/citizen-portal.yaml", example("citizen-portal"))
    r.commit("initial")
    return r


def results(report: gitops_apply.ApplyReport) -> dict[str, tuple[str, str]]:
    return {r.stack: (r.status, r.message) for r in report.results}


def test_a_change_is_applied_test_then_trial_then_production_and_recorded(repo, ledger):
    lifecycle = Lifecycle(ledger)
    app = to_production(lifecycle, repo.path / "manifests/social-security.yaml", "rsj")
    base = repo.git("rev-parse", "HEAD")
    repo.edit("manifests/social-security.yaml", "sizeGb: 2000", "sizeGb: 2100")
    repo.commit("more room for scans")
    lifecycle.change(app, repo.path / "manifests/social-security.yaml", Actor("zhaogang", UNIT, "rsj"), at(50))
    lifecycle.approve_change(app, CHIEF, at(51))

    engine = FakeEngine(ledger)
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, parallel=3, at=at(52))

    assert [c[1] for c in engine.calls] == [
        "rsj.social-security.test",
        "rsj.social-security.trial",
        "rsj.social-security.production",
    ]
    assert {s for s, _ in results(report).values()} == {"applied"} and report.exit_code == 0
    state = lifecycle.state(app)
    digest = load_manifest(repo.path / "manifests/social-security.yaml").digest
    assert state.provisioned == {"test": digest, "trial": digest, "production": digest}
    assert (state.state, state.change) == ("production", None)  # the change is applied everywhere


def test_parallelism_is_bounded_and_unapproved_stacks_are_skipped(repo, ledger):
    lifecycle = Lifecycle(ledger)
    base = repo.git("rev-parse", "HEAD")
    for n in range(5):
        repo.write(
            f"manifests/permit-{n}.yaml", example("permit-prototype").replace("id: permit-prototype", f"id: permit-{n}")
        )
    repo.commit("five prototypes")
    for n in range(4):  # permit-4 is never submitted
        approve_test(lifecycle, repo.path / f"manifests/permit-{n}.yaml", "zjj")

    engine = FakeEngine(ledger, delay=0.3)
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, parallel=2, at=at(10))

    assert engine.peak == 2
    assert len(engine.calls) == 4
    found = results(report)
    assert all(found[f"zjj.permit-{n}.test"][0] == "applied" for n in range(4))
    assert found["zjj.permit-4.test"] == ("skipped", "not applied: application permit-4 has no ledger entries")
    assert report.exit_code == 1
    assert lifecycle.state("permit-0").provisioned["test"] == lifecycle.state("permit-0").digest


def test_one_failure_stops_only_the_later_environments_of_its_application(repo, ledger):
    lifecycle = Lifecycle(ledger)
    app = to_production(lifecycle, repo.path / "manifests/social-security.yaml", "rsj")
    base = repo.git("rev-parse", "HEAD")
    repo.edit("manifests/social-security.yaml", "sizeGb: 2000", "sizeGb: 2100")
    repo.write("manifests/permit-0.yaml", example("permit-prototype").replace("id: permit-prototype", "id: permit-0"))
    repo.commit("change and a new prototype")
    lifecycle.change(app, repo.path / "manifests/social-security.yaml", Actor("zhaogang", UNIT, "rsj"), at(50))
    lifecycle.approve_change(app, CHIEF, at(51))
    approve_test(lifecycle, repo.path / "manifests/permit-0.yaml", "zjj", start=50)

    engine = FakeEngine(ledger, fail={"rsj.social-security.trial"})
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, parallel=1, at=at(55))

    found = results(report)
    assert found["rsj.social-security.test"][0] == "applied"
    assert found["rsj.social-security.trial"] == (
        "failed",
        "pulumi up of stack rsj.social-security.trial failed: quota exceeded",
    )
    assert found["rsj.social-security.production"][0] == "blocked"
    assert found["zjj.permit-0.test"][0] == "applied"
    assert ("up", "rsj.social-security.production", "social-security.yaml") not in engine.calls
    assert report.exit_code == 3
    state = lifecycle.state(app)
    assert state.provisioned["test"] == state.change["digest"] != state.provisioned["trial"]


def test_a_stack_refused_by_up_s_own_admission_is_skipped_not_failed(repo, ledger):
    lifecycle = Lifecycle(ledger)
    base = repo.git("rev-parse", "HEAD")
    repo.write("manifests/permit-0.yaml", example("permit-prototype").replace("id: permit-prototype", "id: permit-0"))
    repo.commit("a prototype")
    approve_test(lifecycle, repo.path / "manifests/permit-0.yaml", "zjj")

    engine = FakeEngine(ledger, refuse={"zjj.permit-0.test"})
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(10))
    assert results(report)["zjj.permit-0.test"] == (
        "skipped",
        "not applied: zjj.permit-0.test may not be provisioned: vcpu over the unit's limit",
    )
    assert report.exit_code == 1 and "test" not in lifecycle.state("permit-0").provisioned
    assert ledger.lease("stack:zjj.permit-0.test") is None


def test_a_deleted_manifest_is_a_termination_proposal_in_the_pipeline_s_name_never_a_destroy(repo, ledger):
    lifecycle = Lifecycle(ledger)
    app = approve_test(lifecycle, repo.path / "manifests/citizen-portal.yaml", "zwb")
    lifecycle.record_provisioned(app, "test", OPS, at(4))
    base = repo.git("rev-parse", "HEAD")
    repo.remove("manifests/citizen-portal.yaml")
    deleting = repo.commit("citizen-portal leaves the cloud")

    engine = FakeEngine(ledger)
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(5))

    assert engine.calls == [] and report.exit_code == 0
    status, message = results(report)["citizen-portal"]
    assert status == "termination-proposed" and "govcloud app terminate citizen-portal" in message
    assert "unverified" in message and "Zhao Gang" in message
    events = lifecycle.history(app)
    proposal = events[-1]
    assert proposal.type == "termination-proposed"  # not the unit's request: nobody of the unit verified
    assert (proposal.actor, proposal.actor_role, proposal.actor_unit) == ("ci", "provider", None)
    assert proposal.payload == {
        "commit": deleting,
        "path": "manifests/citizen-portal.yaml",
        "author": "Zhao Gang <zhaogang@rsj.example.gov.cn>",
    }
    assert deleting[:12] in proposal.reason
    state = lifecycle.state(app)
    assert state.state == "testing" and state.termination_proposed["commit"] == deleting
    assert "termination-review" not in state.clocks  # no deadline runs on a proposal
    assert state.provisioned == {"test": state.digest}  # nothing destroyed

    empty = Ledger.open(f"sqlite:///{repo.path.parent / 'empty-ledger.db'}")
    never = gitops_apply.apply(repo.path, base, actor=OPS, ledger=empty, run=engine, at=at(6))
    assert results(never)["citizen-portal"][0] == "nothing-to-do" and never.exit_code == 0
    empty.close()

    again = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(6))
    assert results(again)["citizen-portal"][0] == "termination-proposed"
    assert results(again)["citizen-portal"][1].startswith("already proposed")
    assert len(lifecycle.history(app)) == len(events)

    unit = Actor("zhaogang", UNIT, "zwb", source="oidc")  # the unit confirms, as itself
    lifecycle.terminate(app, unit, at(7), reason="confirming the proposal of commit " + deleting[:12])
    confirmed = lifecycle.state(app)
    assert confirmed.state == "termination-requested" and confirmed.termination_proposed is None
    assert confirmed.requested_by == "zhaogang" and "termination-review" in confirmed.clocks
    done = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(8))
    assert results(done)["citizen-portal"] == ("termination-requested", "already termination-requested")


@pytest.mark.parametrize(
    ("actor", "recorded"),
    [
        (Actor("zhaogang", UNIT, "zwb", source="oidc"), "termination-requested"),  # a verified token of the unit
        (Actor("zhaogang", UNIT, "zwb", source="local"), "termination-proposed"),  # --as: a claim, like git's author
        (Actor("ci", PROVIDER, source="oidc"), "termination-proposed"),  # verified, but not the unit
    ],
)
def test_only_a_verified_actor_of_the_unit_turns_a_deletion_into_its_request(repo, ledger, actor, recorded):
    lifecycle = Lifecycle(ledger)
    app = approve_test(lifecycle, repo.path / "manifests/citizen-portal.yaml", "zwb")
    base = repo.git("rev-parse", "HEAD")
    repo.remove("manifests/citizen-portal.yaml")
    repo.commit("citizen-portal leaves the cloud")

    report = gitops_apply.apply(repo.path, base, actor=actor, ledger=ledger, run=FakeEngine(ledger), at=at(5))
    assert results(report)["citizen-portal"][0] == recorded
    last = lifecycle.history(app)[-1]
    assert (last.type, last.actor, last.actor_source) == (recorded, actor.name, actor.source)


def test_a_verified_actor_of_another_unit_records_nothing(repo, ledger):
    lifecycle = Lifecycle(ledger)
    app = approve_test(lifecycle, repo.path / "manifests/citizen-portal.yaml", "zwb")
    before = len(lifecycle.history(app))
    base = repo.git("rev-parse", "HEAD")
    repo.remove("manifests/citizen-portal.yaml")
    repo.commit("citizen-portal leaves the cloud")

    other = Actor("wang", UNIT, "rsj", source="oidc")
    report = gitops_apply.apply(repo.path, base, actor=other, ledger=ledger, run=FakeEngine(ledger), at=at(5))
    status, message = results(report)["citizen-portal"]
    assert status == "skipped" and "termination not proposed" in message and "own-unit" not in message
    assert "rsj may not act for citizen-portal" in message and len(lifecycle.history(app)) == before


def test_a_stack_leased_by_another_pipeline_fails_clearly_or_waits(repo, ledger):
    lifecycle = Lifecycle(ledger)
    base = repo.git("rev-parse", "HEAD")
    repo.write("manifests/permit-0.yaml", example("permit-prototype").replace("id: permit-prototype", "id: permit-0"))
    repo.commit("a prototype")
    approve_test(lifecycle, repo.path / "manifests/permit-0.yaml", "zjj")
    other = "https://gitlab.example.gov.cn/ops/manifests/-/jobs/41 pid 7"
    assert ledger.acquire("stack:zjj.permit-0.test", other, dt.timedelta(minutes=30))

    engine = FakeEngine(ledger)
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(10))
    status, message = results(report)["zjj.permit-0.test"]
    assert status == "failed" and engine.calls == []
    assert message.startswith(f"stack zjj.permit-0.test is being changed by {other}")
    assert "--wait" in message and report.exit_code == 3

    threading.Timer(0.3, ledger.release, ("stack:zjj.permit-0.test", other)).start()
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, wait=5, at=at(10))
    assert results(report)["zjj.permit-0.test"][0] == "applied"
    assert ledger.lease("stack:zjj.permit-0.test") is None  # released after the run


def test_the_work_tree_must_hold_the_head_manifests(repo, ledger):
    lifecycle = Lifecycle(ledger)
    base = repo.git("rev-parse", "HEAD")
    repo.write("manifests/permit-0.yaml", example("permit-prototype").replace("id: permit-prototype", "id: permit-0"))
    repo.commit("a prototype")
    approve_test(lifecycle, repo.path / "manifests/permit-0.yaml", "zjj")
    repo.edit("manifests/permit-0.yaml", "sizeGb: 20", "sizeGb: 30")  # not committed

    engine = FakeEngine(ledger)
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(10))
    assert results(report)["zjj.permit-0.test"][0] == "failed" and engine.calls == []
    assert "differs from HEAD" in results(report)["zjj.permit-0.test"][1]


def test_cli_apply_runs_the_provision_service_and_says_by_its_exit_code(repo, run_cli, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli-ledger.db'}"
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    base = repo.git("rev-parse", "HEAD")
    for n in range(2):
        repo.write(
            f"manifests/permit-{n}.yaml", example("permit-prototype").replace("id: permit-prototype", f"id: permit-{n}")
        )
    repo.commit("two prototypes")
    ledger = Ledger.open(url)
    approve_test(Lifecycle(ledger), repo.path / "manifests/permit-0.yaml", "zjj", start=-30)
    engine = FakeEngine(ledger)
    monkeypatch.setattr("orchestrator.services.provision.run_operation", engine)

    result = run_cli("gitops", "apply", "--repo", str(repo.path), "--base", base, "--as", "ci", "--role", "provider")
    assert result.exit_code == 1, result.stderr  # permit-1 is not approved
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("applied") and "zjj.permit-0.test" in lines[0] and "[update 1]" in lines[0]
    assert lines[1].startswith("skipped") and "zjj.permit-1.test" in lines[1]
    assert lines[-1] == "1 applied, 1 skipped"
    assert sorted(result.stderr.splitlines()) == [
        "gitops: zjj.permit-0.test: applied",
        "gitops: zjj.permit-1.test: skipped",
    ]
    assert [c[1] for c in engine.calls] == ["zjj.permit-0.test"]
    assert Lifecycle(ledger).state("permit-0").provisioned == {"test": Lifecycle(ledger).state("permit-0").digest}
    ledger.close()

    usage = run_cli("gitops", "apply", "--repo", str(repo.path), "--base", base)
    assert usage.exit_code == 2 and "--as NAME --role ROLE" in usage.stderr


def test_a_program_change_reapplies_every_live_environment_at_its_approved_digest(repo, ledger):
    lifecycle = Lifecycle(ledger)
    repo.write("stacks/components/compute.py", "FLAVOR_PROPERTY = 'flavor_name'\n")
    repo.write("templates/cloud-init/user-data.yaml.j2", "#cloud-config\n")
    repo.commit("the program")
    app = to_production(lifecycle, repo.path / "manifests/social-security.yaml", "rsj")
    before = lifecycle.state(app)
    base = repo.git("rev-parse", "HEAD")
    repo.edit("stacks/components/compute.py", "'flavor_name'", "'flavor_id'")
    repo.write("templates/cloud-init/user-data.yaml.j2", "#cloud-config\npackage_upgrade: true\n")
    head = repo.commit("servers by flavor id; upgrade packages at boot")

    engine = FakeEngine(ledger)
    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(60))

    found = results(report)
    for env in ("test", "trial", "production"):
        status, message = found[f"rsj.social-security.{env}"]
        assert (status, message) == ("applied", f"up; recorded reapplied ({before.digest[:19]})"), env
    assert found["zwb.citizen-portal.test"][0] == "skipped"  # never submitted: not in the ledger
    events = lifecycle.history(app)[before.sequence :]
    assert [(e.type, e.environment, e.digest) for e in events] == [
        ("reapplied", env, before.digest) for env in ("test", "trial", "production")
    ]
    shared = "stacks/components/compute.py, templates/cloud-init/user-data.yaml.j2"
    assert events[0].reason == f"program changed: {shared} (commit {head[:12]})"
    assert events[0].payload["shared"] == shared.split(", ") and events[0].payload["commit"] == head
    after = lifecycle.state(app)
    assert (after.state, after.provisioned, after.clocks) == (before.state, before.provisioned, before.clocks)


def test_app_status_shows_a_pending_proposal_with_the_claimed_author_escaped(repo, run_cli, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'status-ledger.db'}"
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", url)
    ledger = Ledger.open(url)
    app = approve_test(Lifecycle(ledger), repo.path / "manifests/citizen-portal.yaml", "zwb")
    base = repo.git("rev-parse", "HEAD")
    repo.remove("manifests/citizen-portal.yaml")
    repo.git("-c", "user.name=Mallory\x1b[2J", "commit", "-q", "-m", "gone")
    gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=FakeEngine(ledger), at=at(5))
    ledger.close()

    shown = run_cli("app", "status", app, "--at", "2026-02-18")
    assert shown.exit_code == 0, shown.stderr
    assert "termination proposed at 2026-02-17T10:00:00" in shown.stdout
    assert '"Mallory\\x1b[2J <zhaogang@rsj.example.gov.cn>"' in shown.stdout and "\x1b" not in shown.stdout
    assert "govcloud app terminate citizen-portal" in shown.stdout


def test_apply_records_nothing_when_a_changed_path_has_a_newline(repo, ledger):
    lifecycle = Lifecycle(ledger)
    app = approve_test(lifecycle, repo.path / "manifests/citizen-portal.yaml", "zwb")
    before = len(lifecycle.history(app))
    base = repo.git("rev-parse", "HEAD")
    repo.write("manifests/citizen-portal.yaml\nmanifests/x.yaml", example("citizen-portal"))
    repo.commit("a name with a newline")

    engine = FakeEngine(ledger)
    with pytest.raises(RuleError, match="it holds a newline") as caught:
        gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=engine, at=at(5))
    assert caught.value.rule == "git-path-plain" and engine.calls == []
    assert len(lifecycle.history(app)) == before


def test_without_a_stated_time_each_environment_is_decided_and_recorded_now(repo, ledger):
    """As a pipeline runs it (no --at): trial is decided after test was recorded, never before
    (the real engine found it: trial's decision at the run's start preceded test's record)."""

    lifecycle, now = Lifecycle(ledger), beijing_now()
    path, unit = repo.path / "manifests/citizen-portal.yaml", Actor("unit-clerk", UNIT, "zwb")
    app = lifecycle.submit(path, unit, now - dt.timedelta(days=6)).application
    lifecycle.accept(app, CLERK, now - dt.timedelta(days=5))
    lifecycle.review(app, "complete", CLERK, now - dt.timedelta(days=5))
    lifecycle.approve(app, "test", CLERK, now - dt.timedelta(days=4))
    lifecycle.record_provisioned(app, "test", OPS, now - dt.timedelta(days=4))
    lifecycle.test_passed(app, "self-test", CLERK, now - dt.timedelta(days=3))
    lifecycle.approve(app, "trial", CLERK, now - dt.timedelta(days=3))
    lifecycle.record_provisioned(app, "trial", OPS, now - dt.timedelta(days=2))
    base = repo.git("rev-parse", "HEAD")
    repo.edit("manifests/citizen-portal.yaml", "sizeGb: 40", "sizeGb: 44")
    repo.commit("more room")
    lifecycle.change(app, path, unit, now - dt.timedelta(hours=2))
    lifecycle.approve_change(app, CHIEF, now - dt.timedelta(hours=1))

    report = gitops_apply.apply(repo.path, base, actor=OPS, ledger=ledger, run=FakeEngine(ledger))

    assert results(report) == {
        "zwb.citizen-portal.test": ("applied", results(report)["zwb.citizen-portal.test"][1]),
        "zwb.citizen-portal.trial": ("applied", results(report)["zwb.citizen-portal.trial"][1]),
    }, results(report)
    recorded = [e for e in lifecycle.history(app) if e.type == "provisioned"][-2:]
    assert [e.environment for e in recorded] == ["test", "trial"] and recorded[0].at <= recorded[1].at
