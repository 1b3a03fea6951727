"""The final backup of a termination (Art. 16), on both ledgers over the in-memory project twin:
``app confirm-backup --backup ID`` refuses what is not a complete backup of the application that
still exists; retention spares it; reclamation archives it before deleting anything; the archive
copy is deleted once its period ends, not a minute before."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import backups as core
from orchestrator.core import lifecycle as lc
from orchestrator.core.backups import Entry
from orchestrator.core.lifecycle import PROVIDER, Actor
from orchestrator.errors import RuleError
from orchestrator.services.backup import BackupService
from orchestrator.services.finalbackup import confirmed_final
from orchestrator.services.lifecycle import Lifecycle
from tests.lifecycle.conftest import CHIEF, SOCIAL

OPS = Actor("ops", PROVIDER)
T = dt.datetime
APP, TRIAL = "social-security", "rsj-social-security-trial"
ARCHIVE = "govcloud-archive"


@pytest.fixture
def backups(live, ledger, log, cloud, site) -> BackupService:
    return BackupService(ledger, log, cloud, OPS, site="backup-site", connect=lambda _: site)


@pytest.fixture
def terminating(live: Lifecycle, backups: BackupService) -> dict[str, str]:
    """Backups of 13 March in test and trial, then termination requested; the trial's ids by kind."""
    backups.run(T(2026, 3, 13, 1, 5))
    live.terminate(APP, SOCIAL, T(2026, 6, 1, 9, 0), reason="replaced")
    return {e.kind: e.backup_id for e in backups.log.entries(APP, "trial") if e.action == core.TAKEN}


def confirm(service: Lifecycle, *ids: str):
    return service.confirm_backup(APP, "exported to archive B-2026-06", SOCIAL, T(2026, 6, 2, 9, 0), backups=ids)


def refusal(service: Lifecycle, *ids: str) -> RuleError:
    with pytest.raises(RuleError) as refused:
        confirm(service, *ids)
    assert refused.value.article == "Art. 16"
    assert service.state(APP).state == lc.TERMINATION_REQUESTED  # nothing recorded
    return refused.value


def test_the_named_backups_are_recorded_with_the_confirmation(live, terminating):
    event = confirm(live, terminating["database"], terminating["container"])
    assert live.state(APP).state == lc.BACKUP_CONFIRMED
    named = confirmed_final(live.history(APP))
    assert [(b["id"], b["kind"], b["environment"]) for b in named] == [
        (terminating["database"], "database", "trial"),
        (terminating["container"], "container", "trial"),
    ]
    assert event.payload["backups"] == named and named[0]["taken"] == "2026-03-13T01:05:00"
    assert "verified_in_cloud" not in named[0]  # no cloud configured: the ledger's record alone


def test_a_confirmation_without_backup_ids_stays_as_it_was(live, terminating):
    assert confirm(live).payload == {} and confirmed_final(live.history(APP)) == []


def test_an_unknown_backup_is_refused(live, terminating):
    refused = refusal(live, "no-such-backup")
    assert refused.rule == "final-backup-recorded" and "govcloud backup list social-security" in str(refused)


def test_another_applications_backup_is_refused_without_naming_it(live, terminating, log):
    log.record(
        [
            Entry(
                "permit-prototype",
                "test",
                core.TAKEN,
                core.CONTAINER,
                "permit-files--backup-1",
                T(2026, 3, 13, 1, 0),
                "ops",
            )
        ]
    )
    refused = refusal(live, "permit-files--backup-1")
    assert refused.rule == "final-backup-owner" and "permit-prototype" not in str(refused)


def test_a_backup_that_never_completed_is_refused(live, terminating, log):
    log.record(
        [
            Entry(
                APP,
                "trial",
                core.MISSED,
                core.DATABASE,
                "db-backup-9",
                T(2026, 3, 14, 1, 0),
                "ops",
                detail={"status": "failed"},
            )
        ]
    )
    refused = refusal(live, "db-backup-9")
    assert refused.rule == "final-backup-complete" and "never completed" in str(refused)


def test_a_backup_deleted_by_retention_is_refused(live, terminating, log):
    log.record(
        [
            Entry(
                APP,
                "trial",
                core.DELETED,
                core.DATABASE,
                terminating["database"],
                T(2026, 9, 11, 1, 0),
                "ops",
                detail={"reason": "older than retentionDays 180"},
            )
        ]
    )
    refused = refusal(live, terminating["database"])
    assert refused.rule == "final-backup-exists" and "older than retentionDays 180" in str(refused)


def test_with_a_cloud_a_backup_gone_or_incomplete_there_is_refused(ledger, terminating, cloud):
    service = Lifecycle(ledger, cloud=cloud)
    trial = cloud.projects[TRIAL]
    trial.held = [b for b in trial.held if b.id != terminating["database"]]  # deleted by hand
    assert refusal(service, terminating["database"]).rule == "final-backup-exists"
    import dataclasses

    trial.held = [
        dataclasses.replace(b, status=core.FAILED) if b.id == terminating["container"] else b for b in trial.held
    ]
    assert refusal(service, terminating["container"]).rule == "final-backup-complete"
    confirm(service, terminating["volume-snapshot"])
    assert confirmed_final(service.history(APP))[0]["verified_in_cloud"] is True


def test_only_the_unit_confirms_and_its_rule_comes_before_the_backups(live, terminating):
    with pytest.raises(RuleError) as refused:
        live.confirm_backup(APP, "evidence", OPS, T(2026, 6, 2, 9, 0), backups=["no-such-backup"])
    assert refused.value.rule == "role"


def test_retention_never_deletes_the_confirmed_final_backup(live, terminating, backups, cloud):
    confirm(live, terminating["database"])
    # 181 days later the backups of 13 March are past retention, and newer ones of each source exist
    [run] = backups.run(T(2026, 9, 10, 1, 0), APP, "trial")
    deleted = {b.id for b in run.deleted}
    assert terminating["container"] in deleted and terminating["database"] not in deleted
    assert terminating["database"] in {b.id for b in cloud.projects[TRIAL].held}


def test_reclamation_archives_the_final_backup_once_and_records_where_and_until_when(
    live, terminating, backups, cloud, log
):
    confirm(live, terminating["volume-snapshot"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    assert backups.archive_final(APP, T(2026, 6, 8, 10, 0), 365, ARCHIVE, dry_run=True) == [
        {
            "backup": terminating["volume-snapshot"],
            "kind": "volume-snapshot",
            "environment": "trial",
            "project": ARCHIVE,
            "until": "2027-06-08T10:00:00",
        }
    ]
    assert ARCHIVE not in cloud.projects and log.archive_record(APP) == []  # the dry run copied nothing
    [kept] = backups.archive_final(APP, T(2026, 6, 8, 10, 0), 365, ARCHIVE)
    [made] = cloud.projects[ARCHIVE].made
    assert made.kind == core.VOLUME and made.detail["labels"] == {
        "unit": "rsj",
        "app": APP,
        "env": "trial",
        "backup": "final",
    }
    assert kept["archive_id"] == made.id and kept["until"] == "2027-06-08T10:00:00" and kept["project"] == ARCHIVE
    [row] = log.archive_record(APP)
    assert (row.action, row.backup_id, row.detail["archive_kind"]) == (
        "archived",
        terminating["volume-snapshot"],
        "volume",
    )
    # a second run (the first was killed after this step) does not copy it again
    [again] = backups.archive_final(APP, T(2026, 6, 8, 11, 0), 365, ARCHIVE)
    assert again["already"] and len(cloud.projects[ARCHIVE].made) == 1


def test_the_archive_copy_goes_when_its_period_ends_not_before(live, terminating, backups, cloud, log):
    confirm(live, terminating["container"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    backups.archive_final(APP, T(2026, 6, 8, 10, 0), 30, ARCHIVE)
    [listed] = backups.listing(APP)["archive"]
    [made] = cloud.projects[ARCHIVE].made
    assert (listed["backup"], listed["archive_id"], listed["project"], listed["until"]) == (
        terminating["container"],
        made.id,
        ARCHIVE,
        "2026-07-08T10:00:00",
    )
    until = T(2026, 7, 8, 10, 0)
    assert backups.expire_archive(until) == []  # exactly at the end of the period: kept
    assert len(cloud.projects[ARCHIVE].made) == 1
    [run] = [r for r in backups.run(until + dt.timedelta(minutes=1)) if r.archive]
    assert run.archive == ARCHIVE and [b.source for b in run.deleted] == [terminating["container"]]
    assert cloud.projects[ARCHIVE].made == []
    deleted = [e for e in log.archive_record(APP) if e.action == core.DELETED]
    assert len(deleted) == 1 and "archive period ended 2026-07-08T10:00:00" in deleted[0].detail["reason"]
    assert backups.expire_archive(T(2027, 1, 1)) == []  # deleted once
    assert backups.listing(APP)["archive"] == []  # a deleted copy is no longer listed


def test_an_archive_copy_the_cloud_cannot_delete_is_missed_and_tried_again(live, terminating, backups, cloud, log):
    confirm(live, terminating["container"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    backups.archive_final(APP, T(2026, 6, 8, 10, 0), 1, ARCHIVE)
    cloud.projects[ARCHIVE].down = True
    [run] = backups.expire_archive(T(2026, 6, 10))
    assert "Connection refused" in run.missed[0]
    cloud.projects[ARCHIVE].down = False
    [run] = backups.expire_archive(T(2026, 6, 11))
    assert run.deleted and not run.missed and cloud.projects[ARCHIVE].made == []


def _reclaimer(live, ledger, backups, reclaim_cloud, stacks):
    from tests.reclaim import fakes

    return fakes.reclaimer(
        live,
        ledger,
        OPS,
        reclaim_cloud,
        stacks,
        backups=backups,
        archive=(ARCHIVE, 365),
        clock=lambda: T(2026, 6, 8, 10, 0),
    )


def test_reclamation_archives_first_and_stops_before_deleting_anything_when_it_cannot(
    live, ledger, terminating, backups, cloud
):
    from tests.reclaim import fakes

    confirm(live, terminating["database"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    reclaim_cloud, stacks = fakes.FakeCloud(), fakes.FakeStacks()
    fakes.deploy(reclaim_cloud, stacks, "trial")
    cloud.projects[TRIAL].down = True  # the final backup cannot be read, so it cannot be archived
    summary = _reclaimer(live, ledger, backups, reclaim_cloud, stacks).run(APP)
    [step] = summary.steps
    assert (step.step, step.status, step.environment) == ("archive", "failed", "trial")
    assert "reclamation stopped before deleting anything" in step.detail
    assert "Connection refused" in step.failures[0].error and not summary.reclaimed
    assert stacks.calls == [] and "rsj-social-security-trial" in reclaim_cloud.projects
    assert live.state(APP).state == lc.TERMINATION_APPROVED
    # the cloud answers again: the final backup is archived, then everything is reclaimed
    cloud.projects[TRIAL].down = False
    summary = _reclaimer(live, ledger, backups, reclaim_cloud, stacks).run(APP)
    assert summary.steps[0].step == "archive" and summary.steps[0].status == "done"
    assert f"database {terminating['database']} (trial) until 2027-06-08" in summary.steps[0].detail
    assert ("destroy", "rsj.social-security.trial") in stacks.calls
    assert summary.reclaimed and live.state(APP).state == lc.RECLAIMED
    assert [m.detail["from"] for m in cloud.projects[ARCHIVE].made] == [terminating["database"]]


def test_the_dry_run_plans_the_archive_and_copies_nothing(live, ledger, terminating, backups, cloud):
    from tests.reclaim import fakes

    confirm(live, terminating["container"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    summary = _reclaimer(live, ledger, backups, fakes.FakeCloud(), fakes.FakeStacks()).run(APP, dry_run=True)
    assert (summary.steps[0].step, summary.steps[0].status) == ("archive", "planned")
    assert ARCHIVE not in cloud.projects and backups.log.archive_record(APP) == []


def test_reclamation_removes_the_offsite_copies_last_and_the_dry_run_counts_them(
    live, ledger, terminating, backups, site, log
):
    """``offsite: true``: the application's project on the backup site goes with its copies (the
    final backup is kept by the archive project); the dry run counts them and touches nothing."""
    from tests.reclaim import fakes

    confirm(live, terminating["container"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    there = "offsite-rsj-social-security"
    copies = {c.id for c in site.projects[there].copies}
    assert len(copies) == 4  # test and trial: a container and a database each (snapshots are not copied)
    reclaim_cloud, stacks = fakes.FakeCloud(), fakes.FakeStacks()
    fakes.deploy(reclaim_cloud, stacks, "trial")
    dry = _reclaimer(live, ledger, backups, reclaim_cloud, stacks).run(APP, dry_run=True)
    [step] = [s for s in dry.steps if s.step == "offsite"]
    assert step.status == "planned" and step.deleted == {"offsite copy": 4, "offsite project": 1}
    assert {p["id"] for p in step.plan} == copies | {there}
    assert dry.counts()["offsite copy"] == 4 and len(site.projects[there].copies) == 4
    summary = _reclaimer(live, ledger, backups, reclaim_cloud, stacks).run(APP)
    assert [s.step for s in summary.steps][-1] == "offsite" and summary.reclaimed
    assert there not in site.projects
    gone = [e for e in log.entries(APP) if e.action == core.OFFSITE_DELETED]
    assert {e.name for e in gone} == copies and all("reclamation" in e.detail["reason"] for e in gone)
    assert backups.listing(APP)["offsite"] == []


def test_reclamation_that_cannot_reach_the_site_is_not_recorded_done(live, ledger, terminating, backups, site):
    from tests.reclaim import fakes

    confirm(live, terminating["container"])
    live.approve_termination(APP, CHIEF, T(2026, 6, 5, 9, 0))
    site.down = True
    reclaim_cloud, stacks = fakes.FakeCloud(), fakes.FakeStacks()
    summary = _reclaimer(live, ledger, backups, reclaim_cloud, stacks).run(APP)
    [step] = [s for s in summary.steps if s.step == "offsite"]
    assert step.status == "failed" and "unreachable" in step.failures[0].error
    assert not summary.reclaimed and live.state(APP).state == lc.TERMINATION_APPROVED
    site.down = False
    assert _reclaimer(live, ledger, backups, reclaim_cloud, stacks).run(APP).reclaimed


def test_the_tick_deletes_an_expired_archive_copy_when_nothing_is_live(ledger, log, monkeypatch, tmp_path):
    """Nothing live and nothing expired: the cloud is not asked; an expired copy: it is."""
    from orchestrator.services import notices, tick

    monkeypatch.setattr(notices, "Notices", lambda ledger, settings: None)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "no-clouds.yaml"))
    log.record(
        [
            Entry(
                APP,
                "trial",
                core.ARCHIVED,
                core.CONTAINER,
                "files--backup-1",
                T(2026, 6, 8, 10, 0),
                "ops",
                detail={
                    "project": ARCHIVE,
                    "archive_kind": "container",
                    "archive_id": "final-files",
                    "until": "2026-07-08T10:00:00",
                    "days": 30,
                },
            )
        ]
    )
    quiet = tick.default_steps(ledger, None, T(2026, 7, 8, 10, 0), actor=lambda: OPS, cloud="nowhere")["backups"]()
    assert quiet == {"environments": 0, "taken": 0, "deleted": 0, "missed": []}
    due = tick.default_steps(ledger, None, T(2026, 7, 8, 10, 1), actor=lambda: OPS, cloud="nowhere")["backups"]()
    assert due["failed"] == 1 and "cloud nowhere is unreachable" in due["missed"][0]
