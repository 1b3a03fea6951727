"""``offsite: true`` (Art. 30) on the ledger (SQLite and PostgreSQL) over in-memory twins of the
environment's project and of the backup site: each backup copied to the site and recorded, a
snapshot recorded as not copyable, no site named refused, a site down missed and tried again,
retention at the site (never the newest, never a copy without our labels, never a final
backup's), the copies in the listing."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import backups as core
from orchestrator.core.backups import StoredBackup
from orchestrator.core.lifecycle import PROVIDER, Actor
from orchestrator.errors import ExternalError
from orchestrator.services.backup import BackupService

OPS = Actor("ops", PROVIDER)
T = dt.datetime
APP, TRIAL, SITE_PROJECT = "social-security", "rsj-social-security-trial", "offsite-rsj-social-security"


@pytest.fixture
def backups(live, ledger, log, cloud, site) -> BackupService:
    return BackupService(ledger, log, cloud, OPS, site="backup-site", connect=lambda _: site)


def rows(log, action: str, env: str = "trial") -> list[core.Entry]:
    return [e for e in log.entries(APP, env) if e.action == action]


def test_each_backup_is_copied_to_the_application_project_on_the_site_and_recorded(backups, log, cloud, site):
    [run] = backups.run(T(2026, 3, 13, 1, 5), APP, "trial")
    assert not run.missed and not run.refused
    there = site.projects[SITE_PROJECT]
    taken = {b.id: b for b in run.taken}
    assert {c.name for c in there.copies} == {b.id for b in taken.values() if b.kind != core.VOLUME_SNAPSHOT}
    assert all(core.owned(c, APP, "trial") and c.labels["unit"] == "rsj" for c in there.copies)
    assert {c.id for c in there.copies} == {f"trial--{c.kind}--{c.name}" for c in there.copies}
    copied = rows(log, core.OFFSITE_COPIED)
    assert sorted(e.kind for e in copied) == ["container", "database"]
    for e in copied:
        assert e.detail["site"] == "backup-site" and e.detail["project"] == SITE_PROJECT
        assert e.detail["copy"] == f"trial--{e.kind}--{e.backup_id}" and e.size == 2**30 and e.checksum
    # a snapshot cannot be read, so cannot be copied: recorded with why, not a miss
    [skipped] = rows(log, core.OFFSITE_SKIPPED)
    assert skipped.kind == core.VOLUME_SNAPSHOT and "no API that reads its data" in skipped.detail["reason"]
    assert [o["action"] for o in run.offsite].count(core.OFFSITE_COPIED) == 2
    # a run with nothing new to copy does not ask the site
    site.down = True
    [again] = backups.run(T(2026, 3, 13, 2, 5), APP, "trial")
    assert not again.missed and not again.offsite


def test_offsite_without_a_backup_site_is_refused_naming_the_setting_and_recorded_missed(
    ledger, log, cloud, live, site
):
    service = BackupService(ledger, log, cloud, OPS, site=None, connect=lambda _: site)
    [run] = service.run(T(2026, 3, 13, 1, 5), APP, "trial")
    assert len(run.taken) == 3 and run.refused  # the backups are taken; the copy is refused (exit 1)
    [missed] = rows(log, core.MISSED)
    for words in ("social-security", "offsite: true", "backups.site", "govcloud.yaml", "Art. 30"):
        assert words in missed.detail["error"], words
    assert missed.detail["rule"] == "backup-offsite-site" and missed.detail["site"] is None
    assert site.projects == {} and rows(log, core.OFFSITE_COPIED) == []


def test_a_site_that_does_not_answer_is_missed_and_the_next_run_copies_what_is_pending(backups, log, cloud, site):
    site.down = True
    [run] = backups.run(T(2026, 3, 13, 1, 5), APP, "trial")
    assert len(run.taken) == 3 and not run.refused  # an outside system failed: exit 3
    assert [m for m in run.missed if "backup site backup-site" in m and "unreachable" in m]
    [missed] = rows(log, core.MISSED)
    assert missed.detail["site"] == "backup-site" and "Connection refused" in missed.detail["error"]
    site.down = False
    [later] = backups.run(T(2026, 3, 13, 1, 15), APP, "trial")  # not due: the copies are still owed
    assert not later.due and not later.missed
    assert len(site.projects[SITE_PROJECT].copies) == 2 and len(rows(log, core.OFFSITE_COPIED)) == 2


def test_a_copy_that_fails_is_missed_alone_and_tried_again(backups, log, cloud, site):
    trial = cloud.projects[TRIAL]
    original = trial.copy_offsite

    def fail_database(backup, into, name, labels):
        if backup.kind == core.DATABASE:
            raise ExternalError("cloud backup-site: writing x failed: 503")
        return original(backup, into, name, labels)

    trial.copy_offsite = fail_database
    backups.run(T(2026, 3, 13, 1, 5), APP, "trial")
    [missed] = rows(log, core.MISSED)
    assert missed.kind == core.DATABASE and "503" in missed.detail["error"] and missed.backup_id != "-"
    assert [e.kind for e in rows(log, core.OFFSITE_COPIED)] == ["container"]
    trial.copy_offsite = original
    backups.run(T(2026, 3, 13, 1, 20), APP, "trial")
    assert sorted(e.kind for e in rows(log, core.OFFSITE_COPIED)) == ["container", "database"]


def test_retention_at_the_site_deletes_old_copies_never_the_newest_nor_one_without_our_labels(
    backups, log, cloud, site
):
    for day in (13, 14, 15):
        backups.run(T(2026, 3, day, 1, 0), APP, "trial")
    there = site.projects[SITE_PROJECT]
    hand = StoredBackup(core.CONTAINER, "by-hand", "x", "social-security-files", core.COMPLETE, T(2026, 1, 1))
    there.copies.append(hand)
    # the volume's snapshots were never copied; 182 days after 13 March two nights' copies expire
    [run] = backups.run(T(2026, 9, 11, 1, 0), APP, "trial")
    deleted = rows(log, core.OFFSITE_DELETED)
    assert {(e.kind, e.detail["created"][:10]) for e in deleted} == {
        (k, f"2026-03-{d}") for k in ("container", "database") for d in (13, 14)
    }
    assert all(e.detail["reason"] == "older than retentionDays 180" for e in deleted)
    assert all(e.detail["site"] == "backup-site" and e.detail["copy"].startswith("trial--") for e in deleted)
    left = {(c.kind, c.created) for c in there.copies}
    assert hand in there.copies  # no labels: never ours to delete
    assert (core.CONTAINER, T(2026, 3, 15, 1, 0)) in left and (core.CONTAINER, T(2026, 9, 11, 1, 0)) in left
    assert not any(c.created < T(2026, 3, 15) and c is not hand for c in there.copies)
    # the listing shows what the site keeps, from the record
    listing = backups.listing(APP)
    kept = {(o["environment"], o["copy"]) for o in listing["offsite"]}
    assert kept == {("trial", c.id) for c in there.copies if c is not hand}
    assert all(o["site"] == "backup-site" and o["project"] == SITE_PROJECT for o in listing["offsite"])
    assert run.offsite and not run.missed


def test_a_source_whose_backups_stopped_keeps_its_last_copy_at_the_site(backups, log, cloud, site):
    backups.run(T(2026, 3, 13, 1, 0), APP, "trial")
    there = site.projects[SITE_PROJECT]
    first = {c.kind: c.id for c in there.copies}
    trial = cloud.projects[TRIAL]
    trial._sources = [s for s in trial._sources if s.kind != core.DATABASE]  # the database is gone
    trial.held = [b for b in trial.held if b.kind == core.DATABASE]  # and the other backups with it
    # 245 days later: a new container copy; the first container copy expires, the database's stays
    [run] = backups.run(T(2026, 11, 13, 1, 0), APP, "trial")
    [deleted] = rows(log, core.OFFSITE_DELETED)
    assert deleted.detail["copy"] == first["container"] and not run.missed
    left = {c.kind: c for c in there.copies}
    assert left["database"].id == first["database"] and left["container"].created == T(2026, 11, 13, 1, 0)


def test_snapshots_alone_are_recorded_not_copyable_without_asking_the_site(backups, log, cloud, site):
    trial = cloud.projects[TRIAL]
    trial._sources = [s for s in trial._sources if s.kind == core.VOLUME]
    site.down = True
    [run] = backups.run(T(2026, 3, 13, 1, 5), APP, "trial")
    assert not run.missed and [o["action"] for o in run.offsite] == [core.OFFSITE_SKIPPED]
    assert rows(log, core.MISSED) == [] and len(rows(log, core.OFFSITE_SKIPPED)) == 1
