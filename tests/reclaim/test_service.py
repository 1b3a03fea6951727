"""The reclamation service over the in-memory cloud and engine and a real (SQLite) ledger."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core.reclaim import DATA_KINDS, ORDER, Found
from orchestrator.errors import ConflictError, RuleError

from .conftest import OPS, OPS2, SOCIAL, at
from .fakes import OTHER, OURS, Killed, environment


def _types(lifecycle) -> list[str]:
    return [e.type for e in lifecycle.history("social-security")]


def test_everything_ours_goes_in_dependency_order(reclaimer, cloud, stacks, approved):
    cloud.add_project("test", items=environment("test"))
    stacks.names.add("rsj.social-security.test")
    summary = reclaimer().run("social-security")
    assert summary.failures == [] and summary.reclaimed
    *deleted, default = cloud.deleted
    emptied = [f for f in deleted if f.kind in DATA_KINDS]
    assert deleted[: len(emptied)] == emptied  # the data first, before the destroy
    rank = [ORDER.index(f.kind) for f in deleted[len(emptied) :]]
    assert rank == sorted(rank)  # then the sweep, kind by kind, in ORDER
    assert default.id == "test-default"  # the cloud's own group goes last, with the project
    order = [f.id for f in cloud.deleted]
    assert order.index("test-files/a.pdf") < order.index("test-files")
    assert order.index("test-srv") < order.index("test-vol")
    assert order.index("test-ri") < order.index("test-router") < order.index("test-net")
    assert order.index("test-bk") < order.index("test-db")
    assert cloud.deleted_projects == ["rsj-social-security-test"]  # default security group went with it
    assert stacks.calls == [("destroy", "rsj.social-security.test"), ("rm", "rsj.social-security.test")]
    assert summary.counts()["object"] == 2 and summary.counts()["project"] == 1
    types = _types(approved)
    assert types[-1] == "reclaimed" and types.count("reclaim-step") == 8
    assert approved.state("social-security").state == "reclaimed"
    assert summary.deadline["due"] == "2026-06-10" and summary.deadline["met"] is True


def test_foreign_resources_are_never_deleted_and_keep_the_project(reclaimer, cloud):
    foreign = [Found("volume", "their-vol", "their-data", OTHER), Found("network", "their-net", "lab", OTHER)]
    cloud.add_project("test", items=environment("test") + foreign)
    summary = reclaimer().run("social-security")
    assert not {f.id for f in cloud.deleted} & {"their-vol", "their-net"}
    assert {f["id"] for f in summary.foreign} == {"their-vol", "their-net"}
    assert cloud.deleted_projects == [] and summary.failures == []
    project_step = next(s for s in summary.steps if s.step == "project")
    assert project_step.status == "skipped" and "2 foreign remain" in project_step.detail
    assert summary.reclaimed  # everything of ours is gone; the rest is for a human


def test_what_the_department_made_by_hand_in_its_project_goes_too(reclaimer, cloud):
    """Unlabelled things in the application's own project were made there by its people: a
    second container holding a large object's segments, a port, a security group, a snapshot."""
    by_hand = [
        Found("container", "files_segments", "files_segments"),
        Found("object", "files_segments/big/000001", "big/000001", owned_by="files_segments"),
        Found("port", "hand-port", "debug"),
        Found("security_group", "hand-sg", "debug"),
        Found("snapshot", "hand-snap", "before-upgrade"),
        Found("image", "hand-img", "web-1-snapshot"),
        Found("database_backup", "hand-bk", "manual", owned_by="gone-db"),
    ]
    cloud.add_project("test", items=environment("test") + by_hand)
    summary = reclaimer().run("social-security")
    assert {f.id for f in by_hand} <= {f.id for f in cloud.deleted} and summary.foreign == []
    assert cloud.deleted_projects == ["rsj-social-security-test"] and summary.reclaimed


def test_a_project_not_tagged_for_the_application_is_kept(reclaimer, cloud):
    cloud.add_project("test", labels={}, items=[Found("network", "n", "net", OURS), Found("volume", "v", "lab")])
    summary = reclaimer().run("social-security")
    assert [f.id for f in cloud.deleted] == ["n"] and cloud.deleted_projects == []  # unlabelled: not ours here
    assert any(f["kind"] == "project" for f in summary.foreign) and any(f["id"] == "v" for f in summary.foreign)


def test_a_resource_made_outside_pulumi_but_tagged_is_deleted(reclaimer, cloud, stacks):
    stacks.names.add("rsj.social-security.trial")  # pulumi destroy removes what it knows
    cloud.add_project("trial", items=[Found("volume", "hand-made", "made by hand", dict(OURS, env="trial"))])
    summary = reclaimer().run("social-security")
    assert [f.id for f in cloud.deleted] == ["hand-made"] and summary.reclaimed


def test_failures_are_reported_with_id_kind_and_error_and_the_run_goes_on(reclaimer, cloud, approved):
    cloud.add_project("test", items=environment("test"))
    cloud.add_project("production", items=environment("production"))
    cloud.broken["test-sg"] = "security group in use by a port of another project"
    summary = reclaimer().run("social-security")
    failed = {(f.environment, f.kind, f.id) for f in summary.failures}
    assert ("test", "security_group", "test-sg") in failed
    assert ("test", "security_group", "test-sg") in {
        (f.environment, f.kind, f.id) for f in summary.failures if "in use by a port" in f.error
    }
    assert "production-net" in {f.id for f in cloud.deleted}  # the other environment went on
    assert cloud.deleted_projects == ["rsj-social-security-production"]
    assert not summary.reclaimed and "reclaimed" not in _types(approved)
    verify = next(s for s in summary.steps if s.step == "verify" and s.environment == "test")
    assert verify.status == "failed" and [f.id for f in verify.failures] == ["test-sg"]


def test_cli_exit_1_on_failure_and_json_lines(run_cli, monkeypatch, reclaimer, cloud):
    import json

    from orchestrator.services import reclaim as service

    cloud.add_project("test", items=[Found("network", "n", "net", OURS), Found("volume", "v", "vol", OURS)])
    cloud.broken["v"] = "volume is attached"
    monkeypatch.setattr(service, "open_reclaimer", lambda actor, name, reporter: reclaimer(actor, reporter=reporter))
    result = run_cli("reclaim", "social-security", "--as", "ops", "--role", "provider", "-o", "json")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all("step" in line for line in lines[:-1]) and "summary" in lines[-1]
    [failure] = lines[-1]["summary"]["failures"]
    assert (failure["kind"], failure["id"]) == ("volume", "v") and "attached" in failure["error"]


def test_dry_run_lists_in_order_with_counts_and_changes_nothing(reclaimer, cloud, stacks, approved):
    cloud.add_project("test", items=environment("test"))
    stacks.names.add("rsj.social-security.test")
    before = len(approved.history("social-security"))
    summary = reclaimer().run("social-security", dry_run=True)
    assert cloud.deleted == [] and cloud.deleted_projects == [] and stacks.calls == []
    assert len(approved.history("social-security")) == before
    sweep = next(s for s in summary.steps if s.step == "sweep")
    kinds = [f["kind"] for f in sweep.plan]
    assert [ORDER.index(k) for k in kinds] == sorted(ORDER.index(k) for k in kinds)
    empty = next(s for s in summary.steps if s.step == "empty")  # data first, each thing counted once
    assert empty.deleted["object"] == 2 and sum(empty.deleted.values()) == len(empty.plan) == 5
    assert sum(sweep.deleted.values()) == len(sweep.plan) == 16 - 5 and "object" not in sweep.deleted
    assert all(s.status == "planned" for s in summary.steps)


def test_dry_run_writes_no_lease(reclaimer, cloud, ledger):
    cloud.add_project("test", items=environment("test"))
    reclaimer().run("social-security", dry_run=True)
    assert ledger.lease("reclaim:social-security") is None


def test_a_second_operator_is_refused_while_the_lease_is_held(reclaimer, cloud, ledger):
    cloud.add_project("test", items=environment("test"))
    first = reclaimer(holder="ops@host-a:1")
    assert ledger.acquire("reclaim:social-security", first.holder, dt.timedelta(minutes=15))
    with pytest.raises(ConflictError) as refused:
        reclaimer(OPS2, holder="wang@host-b:2").run("social-security")
    assert "held by ops@host-a:1" in str(refused.value)
    assert cloud.deleted == []


def test_a_stack_being_changed_by_an_up_elsewhere_is_not_reclaimed_meanwhile(reclaimer, cloud, stacks, ledger):
    cloud.add_project("test", items=environment("test"))
    stacks.names.add("rsj.social-security.test")
    up = "ops@host-c pid 7 since 2026-12-05 08:00:00 UTC a1b2c3"
    assert ledger.acquire("stack:rsj.social-security.test", up, dt.timedelta(hours=2))
    with pytest.raises(ConflictError) as refused:
        reclaimer().run("social-security")
    assert f"stack rsj.social-security.test is being changed by {up}" in str(refused.value)
    assert cloud.deleted == [] and stacks.calls == []
    assert ledger.lease("stack:rsj.social-security.test")[0] == up


def test_killed_run_resumes_after_the_lease_expires(reclaimer, cloud, stacks, ledger, approved):
    cloud.add_project("test", items=environment("test"))
    stacks.names.add("rsj.social-security.test")
    cloud.kill_after = 5
    killed = reclaimer(holder="ops@host-a:1", workers=1)
    with pytest.raises(Killed):
        killed.run("social-security")
    assert len(cloud.deleted) == 5
    # a killed process releases nothing: its lease stays as it was left, refusing others
    lease, ttl = "reclaim:social-security", dt.timedelta(minutes=15)
    ledger.acquire(lease, "ops@host-a:1", ttl)
    cloud.kill_after = None
    with pytest.raises(ConflictError):
        reclaimer(OPS2, holder="wang@host-b:2").run("social-security")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ledger.acquire(lease, "ops@host-a:1", ttl, now=now - 2 * ttl)  # ... until it has expired
    summary = reclaimer(OPS2, holder="wang@host-b:2").run("social-security")
    assert summary.failures == [] and summary.reclaimed
    assert cloud.items["p-test"] == [] or cloud.deleted_projects == ["rsj-social-security-test"]
    assert len({f.id for f in cloud.deleted}) == len(cloud.deleted)  # nothing deleted twice
    assert _types(approved)[-1] == "reclaimed"


def test_rerun_after_success_is_a_no_op(reclaimer, cloud):
    cloud.add_project("test", items=environment("test"))
    reclaimer().run("social-security")
    again = reclaimer(when="2026-06-09T10:00").run("social-security")
    assert again.reclaimed and "reclaimed already" in again.note and again.steps == []


def test_gates_refuse_before_approval_and_for_other_roles(requested_ledger, cloud, stacks):
    from orchestrator.services.lifecycle import Lifecycle
    from orchestrator.services.reclaim import Reclaimer

    ledger, lifecycle = requested_ledger, Lifecycle(requested_ledger)
    cloud.add_project("test", items=environment("test"))
    ops = Reclaimer(lifecycle, ledger, cloud, stacks, OPS, clock=lambda: at("2026-06-03T10:00"))
    with pytest.raises(RuleError) as early:
        ops.run("social-security")
    assert early.value.rule == "termination-approved"
    lifecycle.confirm_backup("social-security", "archive B-2026-06", SOCIAL, at("2026-06-02T09:00"))
    with pytest.raises(RuleError) as still_early:
        ops.run("social-security", dry_run=True)
    assert still_early.value.rule == "termination-approved"
    unit = Reclaimer(lifecycle, ledger, cloud, stacks, SOCIAL, clock=lambda: at("2026-06-03T10:00"))
    with pytest.raises(RuleError) as role:
        unit.run("social-security")
    assert role.value.rule == "role"
    assert cloud.deleted == []


def test_backup_evidence_is_required(approved, ledger, cloud, stacks, monkeypatch):
    from orchestrator.core import lifecycle as lc
    from orchestrator.services.reclaim import Reclaimer

    events = [lc.Event("x", 1, "termination-approved", "chen", lc.EGOV, at("2026-06-05T09:00"))]
    lifecycle = approved
    monkeypatch.setattr(lifecycle, "history", lambda app: events)
    monkeypatch.setattr(lc, "fold", lambda evs: lc.AppState("x", "rsj", lc.TERMINATION_APPROVED))
    with pytest.raises(RuleError) as missing:
        Reclaimer(lifecycle, ledger, cloud, stacks, lc.Actor("ops", lc.PROVIDER)).run("x")
    assert missing.value.rule == "backup-evidence"


def test_late_reclamation_says_the_deadline_is_missed(reclaimer, cloud, approved):
    cloud.add_project("test", items=environment("test"))
    summary = reclaimer(when="2026-06-12T10:00").run("social-security")
    assert summary.deadline["met"] is False and summary.deadline["due"] == "2026-06-10"
    reclaimed = approved.history("social-security")[-1]
    assert reclaimed.payload["deadline"]["met"] is False


def test_cli_dry_run_for_people_lists_in_order_with_counts(run_cli, monkeypatch, reclaimer, cloud, approved):
    from orchestrator.services import reclaim as service

    cloud.add_project("test", items=environment("test"))
    before = len(approved.history("social-security"))
    monkeypatch.setattr(service, "open_reclaimer", lambda actor, name, reporter: reclaimer(actor, reporter=reporter))
    result = run_cli("reclaim", "social-security", "--dry-run", "--as", "ops", "--role", "provider")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[1:4] == ["1.", "floating_ip", "test-fip"]
    assert lines[15].split()[1:4] == ["16.", "network", "test-net"]
    assert "would delete 18 cloud resources: floating_ip 1, database_backup 1" in result.stdout
    assert "network 1, auth_client 1, project 1\n" in result.stdout  # the test client; the grants go with the project
    assert "planned" in result.stderr and "sweep" in result.stderr  # progress for people on stderr
    assert cloud.deleted == [] and len(approved.history("social-security")) == before


def test_cli_gate_speaks_before_the_cloud_is_asked(run_cli, monkeypatch, ledger_files, tmp_path):
    import shutil

    db = tmp_path / "requested.db"
    shutil.copy(ledger_files["requested"], db)
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "no-clouds.yaml"))  # no cloud at all
    result = run_cli("reclaim", "social-security", "--as", "ops", "--role", "provider", "--cloud", "nowhere")
    assert result.exit_code == 1 and "reclamation needs an approved termination" in result.stderr


def test_a_missing_engine_is_an_outside_failure(monkeypatch, tmp_path):
    from orchestrator.adapters.engine import EngineStacks
    from orchestrator.errors import ExternalError

    monkeypatch.setenv("GOVCLOUD_ENGINE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExternalError) as missing:
        EngineStacks().exists("rsj.social-security.test")
    assert missing.value.exit_code == 3 and "pulumi" in str(missing.value)


def test_the_dry_run_and_the_run_count_in_one_unit(reclaimer, cloud, stacks, approved, keycloak, monkeypatch):
    """Cloud resources by kind in both; the engine's own count of its destroy is a breakdown only."""
    cloud.add_project("test", items=environment("test"))
    stacks.names.add("rsj.social-security.test")
    project = cloud.projects["rsj-social-security-test"]
    destroy = stacks.destroy

    def destroy_some(stack: str) -> dict[str, int]:  # what pulumi destroy removes of the cloud and the platform
        cloud.items[project.id] = [f for f in cloud.items[project.id] if f.kind not in ("floating_ip", "volume")]
        keycloak.realms["government-test"].clear()  # the stack's client
        return destroy(stack)

    monkeypatch.setattr(stacks, "destroy", destroy_some)
    planned = reclaimer().run("social-security", dry_run=True)
    done = reclaimer().run("social-security")
    assert done.reclaimed and done.counts() == planned.counts() and sum(done.counts().values()) == 18
    [destroyed] = [s for s in done.steps if s.step == "destroy"]
    assert (destroyed.deleted, destroyed.engine) == ({"floating_ip": 1, "volume": 1, "auth_client": 1}, {"delete": 7})
    assert done.as_dict()["engine"] == {"delete": 7} and planned.as_dict()["engine"] == {}
    [emptied] = [s for s in done.steps if s.step == "empty"]
    [swept] = [s for s in done.steps if s.step == "sweep"]
    assert sum(emptied.deleted.values()) == 5 and "volume" not in swept.deleted and sum(swept.deleted.values()) == 9
    assert [s.deleted for s in planned.steps if s.step in ("empty", "sweep")] == [
        emptied.deleted,
        {**swept.deleted, "floating_ip": 1, "volume": 1},
    ]  # the dry run: what the destroy took, in the sweep


def test_the_dry_run_takes_the_runs_steps_with_its_decisions(reclaimer, cloud, stacks, approved):
    """One code path: the dry run decides as the run does, step by step; it only does not act."""
    cloud.add_project("test", items=[*environment("test"), Found("volume", "their-vol", "theirs", OTHER)])
    cloud.add_project("trial", items=environment("trial"))
    stacks.names |= {"rsj.social-security.test", "rsj.social-security.trial"}

    def steps(summary) -> list[tuple]:
        return [
            (s.environment, s.step, "done" if s.status == "planned" else s.status, s.deleted, s.foreign)
            for s in summary.steps
        ]

    dry = reclaimer().run("social-security", dry_run=True)
    assert cloud.deleted == [] and cloud.deleted_projects == [] and stacks.calls == []
    done = reclaimer().run("social-security")
    assert steps(dry) == steps(done) and dry.counts() == done.counts()
    assert ("test", "project", "skipped") in [s[:3] for s in steps(done)]  # the foreign volume keeps it
    assert {s.status for s in dry.steps} == {"planned", "skipped"}
