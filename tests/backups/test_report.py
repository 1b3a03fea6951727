"""The monthly report's backup section (Art. 30, 44): the last good backup of each live environment,
the misses of the month, the drills of the quarter, overdue and drill-due flags, in both languages,
on both ledgers over the in-memory project twin."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import report as core
from orchestrator.core.backups import MISSED, Entry
from orchestrator.core.lifecycle import PROVIDER, Actor
from orchestrator.services import report as svc
from orchestrator.services.backup import BackupService
from orchestrator.services.quotas import policy

OPS = Actor("ops", PROVIDER)
T = dt.datetime


@pytest.fixture
def backups(live, ledger, log, cloud, site) -> BackupService:
    return BackupService(
        ledger, log, cloud, OPS, clock=lambda: T(2026, 12, 31), site="backup-site", connect=lambda _: site
    )


def section(ledger, month: str, at: dt.datetime) -> dict[str, core.BackupFigure]:
    report = svc.monthly(ledger, month, policy(), at=at)
    [unit] = report.units
    return {b.env: b for b in unit.backups}


def test_the_last_good_backup_misses_and_drills_of_the_quarter(backups, ledger, log, cloud):
    # social-security backs up at 01:00 Beijing; test and trial are live from 12 March
    backups.run(T(2026, 3, 13, 1, 5))
    cloud.projects["rsj-social-security-trial"].down = True
    backups.run(T(2026, 3, 14, 1, 5))  # the trial's project does not answer: missed
    cloud.projects["rsj-social-security-trial"].down = False
    backups.drill("social-security", T(2026, 3, 20, 10, 0), "test")
    found = section(ledger, "2026-03", T(2026, 12, 31))  # judged at the month's end
    test, trial = found["test"], found["trial"]
    assert (test.last_good, test.kinds) == (T(2026, 3, 14, 1, 5), ("container", "database", "volume-snapshot"))
    assert test.misses == 0 and trial.misses == 1 and trial.last_good == T(2026, 3, 13, 1, 5)
    # by 31 March 23:59 no backup since the 14th: both overdue (the slot of 30 March passed 24 h ago)
    assert test.overdue and trial.overdue and test.status == "overdue"
    assert (test.drills, test.drill_ok, test.drill_due) == (1, True, False)
    assert (trial.drills, trial.drill_ok, trial.drill_due) == (0, None, True)


def test_a_backup_within_the_grace_is_not_overdue_and_a_new_quarter_needs_a_drill(backups, ledger):
    backups.run(T(2026, 3, 30, 1, 5))
    backups.drill("social-security", T(2026, 3, 30, 10, 0))
    # judged on 31 March 00:30: the slot of 31 March 01:00 has not come, that of the 30th was met
    march = section(ledger, "2026-03", T(2026, 3, 31, 0, 30))
    assert not march["trial"].overdue and march["trial"].status == "ok"
    # judged on 1 April 00:59: the slot of 31 March passed less than 24 hours ago: not yet overdue;
    # but a new quarter began, and its drill is due
    april = section(ledger, "2026-04", T(2026, 4, 1, 0, 59))
    assert not april["trial"].overdue and april["trial"].drill_due and april["trial"].status == "drill-due"
    assert april["trial"].drills == 0 and april["trial"].misses == 0
    # 1 April 01:01: the slot of 31 March 01:00 is more than 24 hours past with no backup since
    assert section(ledger, "2026-04", T(2026, 4, 1, 1, 1))["trial"].overdue


def test_a_failed_drill_is_shown_failed_and_the_drill_still_due(backups, ledger, cloud):
    backups.run(T(2026, 3, 13, 1, 5))
    cloud.stays = True  # the scratch project survives its removal: the drill fails
    backups.drill("social-security", T(2026, 3, 13, 10, 0), "trial")
    trial = section(ledger, "2026-03", T(2026, 3, 13, 12, 0))["trial"]
    assert (trial.drills, trial.drill_ok, trial.drill_due) == (1, False, True)


def test_a_failed_restore_is_not_a_missed_backup(backups, ledger, log):
    backups.run(T(2026, 3, 13, 1, 5))
    log.record(
        [
            Entry(
                "social-security",
                "trial",
                MISSED,
                "database",
                "db-1",
                T(2026, 3, 13, 9, 0),
                "ops",
                detail={"restore": True, "error": "boom"},
            )
        ]
    )
    assert section(ledger, "2026-03", T(2026, 3, 13, 12, 0))["trial"].misses == 0


def test_the_section_in_both_languages_and_the_json(backups, ledger):
    backups.run(T(2026, 3, 13, 1, 5))
    report = svc.monthly(ledger, "2026-03", policy(), at=T(2026, 3, 13, 12, 0))
    en, zh = svc.render(report, "md", "en"), svc.render(report, "md", "zh")
    html = svc.render(report, "html", "en")
    assert "Backups and restore drills (Art. 30, 44)" in en and "volume snapshot (not a backup off the storage)" in en
    assert "| social-security | trial | Mar 13, 2026 |" in en and "drill due" in en
    assert "数据备份与恢复演练" in zh and "待演练" in zh and "云硬盘快照" in zh
    assert '<table class="backups">' in html and '<td class="drill-due">drill due</td>' in html
    import json

    [unit] = json.loads(svc.render(report, "json", "en"))["units"]
    assert {b["env"]: b["status"] for b in unit["backups"]} == {"test": "drill-due", "trial": "drill-due"}
    assert unit["backups"][0]["last_good"] == "2026-03-13T01:05:00"


def test_drills_are_due_once_a_quarter(backups, ledger, cloud):
    backups.run(T(2026, 3, 13, 1, 5))
    assert backups.drills_due(T(2026, 3, 13, 9, 0)) == ["social-security"]
    backups.drill("social-security", T(2026, 3, 13, 10, 0), "trial")
    assert backups.drills_due(T(2026, 3, 13, 11, 0)) == ["social-security"]  # test not drilled yet
    backups.drill("social-security", T(2026, 3, 13, 12, 0), "test")
    assert backups.drills_due(T(2026, 3, 31, 23, 0)) == []
    assert backups.drills_due(T(2026, 4, 1, 0, 0)) == ["social-security"]  # a new quarter
    cloud.stays = True
    backups.drill("social-security", T(2026, 4, 2, 10, 0))  # failed: the scratch project stayed
    assert backups.drills_due(T(2026, 4, 2, 11, 0)) == ["social-security"]


def test_offsite_promised_without_a_copy_at_the_site_is_not_ok_until_the_copy_is_made(backups, ledger, site):
    # social-security declares offsite: true; the site does not answer the night of 30 March
    site.down = True
    backups.run(T(2026, 3, 30, 1, 5))
    backups.drill("social-security", T(2026, 3, 30, 10, 0))
    march = section(ledger, "2026-03", T(2026, 3, 31, 0, 30))
    trial = march["trial"]
    assert trial.offsite and trial.offsite_last is None and trial.misses == 1
    assert trial.status == "offsite-missing" and trial.as_dict()["status"] == "offsite-missing"
    # the next run (not due) copies what is owed: ok again
    site.down = False
    backups.run(T(2026, 3, 30, 1, 15))
    trial = section(ledger, "2026-03", T(2026, 3, 31, 0, 30))["trial"]
    assert trial.offsite_last == T(2026, 3, 30, 1, 15) and trial.status == "ok"
    rendered = svc.monthly(ledger, "2026-03", policy(), at=T(2026, 3, 31, 0, 30))
    assert rendered.units[0].backups[1].as_dict()["offsite_last"] == "2026-03-30T01:15:00"
