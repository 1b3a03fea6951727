"""The backup service on the ledger (SQLite and PostgreSQL) over the in-memory project twin: due runs,
retention, the record, restores and their refusals, failures recorded as missed."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import backups as core
from orchestrator.core.lifecycle import EGOV, PROVIDER, UNIT, Actor
from orchestrator.errors import NotFound, RuleError, UsageError
from orchestrator.services.backup import BackupService
from tests.lifecycle.conftest import CHIEF, SOCIAL

OPS = Actor("ops", PROVIDER)
T = dt.datetime
TRIAL = "rsj-social-security-trial"


@pytest.fixture
def backups(live, ledger, log, cloud, site) -> BackupService:
    return BackupService(ledger, log, cloud, OPS, site="backup-site", connect=lambda _: site)


def test_a_run_backs_up_every_source_of_each_live_environment_and_records_the_evidence(backups, log, cloud):
    # social-security's schedule: "0 1 * * *" (Beijing); no backup yet, so both environments are due
    runs = backups.run(T(2026, 3, 13, 1, 5))
    assert [(r.environment, r.due, r.volume_kind) for r in runs] == [
        ("test", True, core.VOLUME_SNAPSHOT),
        ("trial", True, core.VOLUME_SNAPSHOT),
    ]
    assert sorted(b.kind for b in runs[1].taken) == ["container", "database", "volume-snapshot"]
    trial = cloud.projects[TRIAL]
    assert all(core.owned(b, "social-security", "trial") for b in trial.held)
    taken = [e for e in log.entries("social-security", "trial") if e.action == core.TAKEN]
    assert {e.backup_id for e in taken} == {b.id for b in trial.held}
    assert all(e.size == 2**30 and e.started and e.finished and e.at == T(2026, 3, 13, 1, 5) for e in taken)
    assert [e.checksum for e in taken if e.kind == core.CONTAINER] == ["sha256:x"]
    # an hour later nothing is due; the next night it is
    assert not any(r.due for r in backups.run(T(2026, 3, 13, 2, 5)))
    assert len(trial.held) == 3
    assert all(r.due for r in backups.run(T(2026, 3, 14, 1, 0)))
    assert len(trial.held) == 6


def test_retention_deletes_the_oldest_and_records_it_never_a_hand_made_backup(backups, log, cloud, live):
    # a manifest keeping backups 2 days, a backup every night for four nights
    trial = cloud.projects[TRIAL]
    hand = trial.hand_made(trial.sources()[1], T(2026, 3, 1, 12, 0))
    for day in (13, 14, 15, 16):
        backups.run(T(2026, 3, day, 1, 0), "social-security", "trial")
    held = {b.id: b for b in trial.held}
    assert hand.id in held  # 15 days old, not ours: kept
    ours = sorted({b.created for b in held.values() if core.owned(b, "social-security", "trial")})
    # social-security keeps 180 days: nothing of ours deleted yet
    assert ours == [T(2026, 3, d, 1, 0) for d in (13, 14, 15, 16)]
    runs = backups.run(T(2026, 9, 11, 1, 0), "social-security", "trial")  # 182 days after 13 March
    deleted = runs[0].deleted
    assert {b.created for b in deleted} == {T(2026, 3, 13, 1, 0), T(2026, 3, 14, 1, 0)}
    assert hand.id in {b.id for b in trial.held}
    recorded = [e for e in log.entries("social-security", "trial") if e.action == core.DELETED]
    assert {e.backup_id for e in recorded} == {b.id for b in deleted}
    assert all(e.detail["reason"] == "older than retentionDays 180" for e in recorded)


def test_a_run_stated_in_the_future_is_refused_it_would_expire_backups_early(ledger, log, cloud, live):
    service = BackupService(ledger, log, cloud, OPS, clock=lambda: T(2026, 3, 13, 1, 0))
    with pytest.raises(UsageError) as refused:
        service.run(T(2026, 9, 13, 1, 0))
    assert "--at 2026-09-13T01:00:00 is outside the time govcloud accepts" in str(refused.value)
    assert cloud.projects[TRIAL].held == [] and log.entries("social-security") == []


def test_a_quota_that_blocks_a_snapshot_is_a_missed_backup_with_the_reason(backups, log, cloud):
    cloud.projects[TRIAL].snapshot_quota = 0
    [run] = backups.run(T(2026, 3, 13, 1, 5), "social-security", "trial")
    assert run.refused and len(run.taken) == 2
    assert "a quota of the project blocks it" in run.missed[0] and "SnapshotLimitExceeded" in run.missed[0]
    [missed] = [e for e in log.entries("social-security") if e.action == core.MISSED]
    assert missed.kind == core.VOLUME_SNAPSHOT and "quota" in missed.detail["error"]


def test_a_cloud_that_does_not_answer_misses_that_environment_only(backups, log, cloud):
    cloud.projects["rsj-social-security-test"].down = True
    test, trial = backups.run(T(2026, 3, 13, 1, 5))
    assert test.missed == ["cloud fake: Connection refused"] and len(trial.taken) == 3
    # the missed environment is due again at the next run; the other is not
    again = backups.run(T(2026, 3, 13, 1, 30))
    assert [(r.environment, r.due) for r in again] == [("test", True), ("trial", False)]


def test_only_the_provider_runs_and_restores_backups(ledger, log, cloud, live):
    for actor in (SOCIAL, CHIEF):
        service = BackupService(ledger, log, cloud, actor)
        with pytest.raises(RuleError) as refused:
            service.run(T(2026, 3, 13, 1, 5))
        assert refused.value.rule == "role"
        with pytest.raises(RuleError):
            service.restore("social-security", "trial", "x", T(2026, 3, 13, 1, 5))
    other = Actor("wu", UNIT, "zjj")
    with pytest.raises(RuleError) as refused:
        BackupService(ledger, log, cloud, other).listing("social-security")
    assert refused.value.rule == "unit-scope"
    listing = BackupService(ledger, log, cloud, Actor("zhang", EGOV, "egov")).listing("social-security")
    assert [e["environment"] for e in listing["environments"]] == ["test", "trial"]


def test_a_restore_goes_beside_the_live_data_and_is_recorded(backups, log, cloud):
    backups.run(T(2026, 3, 13, 1, 5), "social-security", "trial")
    trial = cloud.projects[TRIAL]
    volume = next(b for b in trial.held if b.kind == core.VOLUME_SNAPSHOT)
    done = backups.restore("social-security", "trial", volume.id, T(2026, 3, 13, 9, 0))
    assert done["replace"] is False and done["into"] == TRIAL
    assert [m.name for m in trial.made] == ["social-security-restore-20260313T090000"]
    [entry] = [e for e in log.entries("social-security") if e.action == core.RESTORED]
    assert entry.backup_id == volume.id and entry.detail["made"] == trial.made[0].id


def test_replace_needs_the_offices_approval_of_that_data_loss(backups, live, log, cloud):
    backups.run(T(2026, 3, 13, 1, 5), "social-security", "trial")
    volume = next(b for b in cloud.projects[TRIAL].held if b.kind == core.VOLUME_SNAPSHOT)
    with pytest.raises(RuleError) as refused:
        backups.restore("social-security", "trial", volume.id, T(2026, 3, 13, 9, 0), replace=True)
    assert refused.value.rule == "restore-replace-approved"
    assert cloud.projects[TRIAL].made == []
    live.confirm_data_loss(
        "social-security", "trial", ["social-security-data"], "backup " + volume.id, SOCIAL, T(2026, 3, 13, 9, 10)
    )
    with pytest.raises(RuleError):  # confirmed by the unit, not yet approved
        backups.restore("social-security", "trial", volume.id, T(2026, 3, 13, 9, 15), replace=True)
    live.approve_data_loss("social-security", "trial", CHIEF, T(2026, 3, 13, 9, 20))
    done = backups.restore("social-security", "trial", volume.id, T(2026, 3, 13, 9, 30), replace=True)
    assert done["replace"] and done["approval"] == CHIEF.name
    assert cloud.projects[TRIAL].made[0].detail["over"]


def test_restore_refusals_name_the_backup(backups, cloud):
    with pytest.raises(NotFound):
        backups.restore("social-security", "trial", "nope", T(2026, 3, 13, 9, 0))
    with pytest.raises(RuleError) as refused:
        backups.restore("social-security", "production", "nope", T(2026, 3, 13, 9, 0))
    assert refused.value.rule == "backup-live"
    trial = cloud.projects[TRIAL]
    hand = trial.hand_made(trial.sources()[1], T(2026, 3, 1, 12, 0))
    with pytest.raises(RuleError) as refused:
        backups.restore("social-security", "trial", hand.id, T(2026, 3, 13, 9, 0))
    assert refused.value.rule == "backup-owner"


def test_a_drill_restores_the_latest_backups_into_a_scratch_project_and_removes_it(backups, log, cloud):
    backups.run(T(2026, 3, 13, 1, 5))
    backups.run(T(2026, 3, 14, 1, 5))
    report = backups.drill("social-security", T(2026, 3, 14, 9, 0))
    assert report["ok"] and report["scratch_removed"], report
    assert report["scratch_project"] == "social-security-drill-20260314090000"
    assert cloud.removed == [report["scratch_project"]] and report["scratch_project"] not in cloud.projects
    # the latest of each source of each environment: 2 environments x 3 sources, from the 14th
    assert len(report["checks"]) == 6 and {c["created"][:10] for c in report["checks"]} == {"2026-03-14"}
    drills = [e for e in log.entries("social-security") if e.action == core.DRILL]
    assert [(e.environment, e.detail["ok"]) for e in drills] == [("test", True), ("trial", True)]


def test_a_drill_that_finds_a_short_restore_or_a_scratch_project_left_fails(backups, log, cloud):
    backups.run(T(2026, 3, 13, 1, 5), "social-security", "trial")
    cloud.projects[TRIAL].restore_detail = {"bytes": 5}
    cloud.stays = True
    report = backups.drill("social-security", T(2026, 3, 14, 9, 0), "trial")
    assert not report["ok"] and not report["scratch_removed"]
    [bad] = [c for c in report["checks"] if not c["ok"]]
    assert bad["kind"] == core.CONTAINER and "restored 5 bytes, the backup holds 1073741824" in bad["problem"]
    [drill] = [e for e in log.entries("social-security") if e.action == core.DRILL]
    assert drill.detail["ok"] is False and drill.detail["scratch_removed"] is False


def test_a_drill_without_any_backup_fails_and_says_so(backups, log, cloud):
    report = backups.drill("social-security", T(2026, 3, 14, 9, 0), "test")
    assert not report["ok"] and report["checks"] == [
        {"environment": "test", "ok": False, "problem": "no complete backup to restore"}
    ]
    assert report["scratch_removed"]


def test_the_tick_runs_the_backups_and_reports_a_cloud_it_cannot_reach(ledger, log, live, monkeypatch, tmp_path):
    from orchestrator.services import notices, tick

    monkeypatch.setattr(notices, "Notices", lambda ledger, settings: None)  # this step sends nothing
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "no-clouds.yaml"))
    steps = tick.default_steps(ledger, None, T(2026, 3, 13, 1, 5), actor=lambda: OPS, cloud="nowhere")
    done = steps["backups"]()
    assert (done["environments"], done["due"], done["taken"], done["failed"]) == (2, 2, 0, 2)
    assert all("cloud nowhere is unreachable" in m for m in done["missed"])
    assert [e.environment for e in log.entries("social-security") if e.action == core.MISSED] == ["test", "trial"]


@pytest.mark.parametrize(
    "code, text, quota",
    [
        (413, "SnapshotLimitExceeded: Maximum number of snapshots allowed (10) exceeded", True),
        (0, "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded", True),
        (403, "Quota exceeded for resources: ['gigabytes']", True),
        (0, "HTTPConnectionPool(host='127.0.0.1', port=8776): Max retries exceeded with url: /v3", False),
        (500, "Internal Server Error", False),
    ],
)
def test_a_quota_refusal_is_a_rule_any_other_error_an_outside_failure(code, text, quota):
    from orchestrator.adapters.cloud.backups import _refused
    from orchestrator.errors import ExternalError

    with pytest.raises(RuleError if quota else ExternalError) as refused:
        _refused("local", "snapshotting volume data", code, text)
    assert "snapshotting volume data" in str(refused.value)
    assert ("a quota of the project blocks it" in str(refused.value)) is quota
