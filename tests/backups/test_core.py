"""The backup core: schedules in Beijing time (a Spring Festival week included), retention edges,
ownership, and the refusals of a restore."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import backups as core
from orchestrator.core.backups import COMPLETE, FAILED, RUNNING, StoredBackup
from orchestrator.errors import RuleError

T = dt.datetime
#: Spring Festival 2026: the holiday runs 15-23 February (Sunday to Monday), with make-up working
#: days on Saturday 14 and Saturday 28 February.
FESTIVAL = [dt.date(2026, 2, 14) + dt.timedelta(days=i) for i in range(10)]


def slots(expression: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every time a scheduler that runs every ten minutes from ``start`` to ``end`` would take a backup."""
    taken: list[dt.datetime] = []
    at = start
    while at <= end:
        if core.due("a", "trial", expression, at, taken[-1] if taken else start).due:
            taken.append(at)
        at += dt.timedelta(minutes=10)
    return taken


def test_a_daily_schedule_runs_every_day_of_the_spring_festival_at_2_beijing():
    taken = slots("0 2 * * *", T(2026, 2, 14, 0, 0), T(2026, 2, 23, 23, 59))
    assert taken == [T(d.year, d.month, d.day, 2, 0) for d in FESTIVAL]


def test_a_weekday_schedule_follows_the_calendar_not_the_holiday_office():
    # Mon-Fri by the calendar: the holiday weekdays 16-20 Feb and Mon 23 Feb are backup days; the
    # make-up working Saturday 14 Feb is not.
    taken = slots("30 23 * * 1-5", T(2026, 2, 14, 0, 0), T(2026, 2, 23, 23, 59))
    assert [t.date() for t in taken] == [dt.date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23)]
    assert {t.time() for t in taken} == {dt.time(23, 30)}


def test_beijing_2am_is_6pm_utc_the_day_before():
    # The times are Beijing's: at 18:00 UTC on the eve of the festival (02:00 in Beijing) it is due.
    at = dt.datetime(2026, 2, 16, 18, 0, tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    decision = core.due("a", "trial", "0 2 * * *", at.replace(tzinfo=None), T(2026, 2, 16, 2, 0, 5))
    assert decision.due and decision.slot == T(2026, 2, 17, 2, 0)
    before = core.due("a", "trial", "0 2 * * *", T(2026, 2, 17, 1, 59, 59), T(2026, 2, 16, 2, 0, 5))
    assert not before.due and before.slot == T(2026, 2, 16, 2, 0)


def test_missed_slots_are_made_up_once_and_a_first_backup_is_due_at_once():
    last = T(2026, 2, 15, 2, 0, 3)
    # the scheduler was down for three days: one backup, not three
    decision = core.due("a", "test", "0 2 * * *", T(2026, 2, 18, 9, 0), last)
    assert decision.due and decision.slot == T(2026, 2, 18, 2, 0)
    assert not core.due("a", "test", "0 2 * * *", T(2026, 2, 18, 9, 1), T(2026, 2, 18, 9, 0)).due
    assert core.due("a", "test", "0 2 * * *", T(2026, 2, 18, 9, 0), None).due


@pytest.mark.parametrize(
    "expression, why",
    [
        ("0 2 * *", "has 4 fields"),
        ("0 0 2 * * *", "has 6 fields"),
        ("@daily", "has 1 fields"),
        ("61 2 * * *", "not a valid cron expression"),
        ("0 2 * * mon-xyz", "not a valid cron expression"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(expression, why):
    assert why in core.schedule_problem(expression)
    with pytest.raises(RuleError) as refused:
        core.check_schedule(expression)
    assert refused.value.rule == "backup-schedule" and "spec.backup.schedule" in str(refused.value)
    assert core.schedule_problem("0 2 * * 1-5") is None


# --- ownership and retention --------------------------------------------------------------------

AT = T(2026, 3, 1, 2, 0)


def b(
    id: str,
    days_old: float,
    *,
    status: str = COMPLETE,
    source: str = "vol-1",
    kind: str = core.VOLUME,
    labels: dict | None = None,
) -> StoredBackup:
    return StoredBackup(
        kind,
        id,
        id,
        source,
        status,
        AT - dt.timedelta(days=days_old),
        labels=core.labels("u", "a", "trial") if labels is None else labels,
    )


def test_retention_keeps_a_backup_exactly_retention_days_old_and_deletes_older():
    found = [b("new", 1), b("edge", 7), b("old", 7 + 1 / 86400), b("older", 9)]
    assert [x.id for x in core.expired(found, "a", "trial", 7, AT)] == ["older", "old"]


def test_retention_never_deletes_the_newest_complete_backup_of_a_source():
    # backups stopped 40 days ago: the last good one stays, the failed newer one goes
    found = [b("last-good", 40), b("older", 41), b("failed", 39, status=FAILED), b("running", 50, status=RUNNING)]
    assert [x.id for x in core.expired(found, "a", "trial", 30, AT)] == ["older", "failed"]
    # per source: another volume's old backup is that volume's newest
    other = b("other", 45, source="vol-2")
    assert other not in core.expired([*found, other], "a", "trial", 30, AT)


def test_backups_made_by_hand_or_for_others_are_never_ours_to_delete():
    hand = b("hand", 90, labels={})
    copied = b("copied", 90, labels={"app": "a", "env": "trial"})  # our labels, but not taken by us
    neighbour = b("neighbour", 90, labels=core.labels("u", "other", "trial"))
    production = b("production", 90, labels=core.labels("u", "a", "production"))
    final = b("final", 90, labels=core.labels("u", "a", "trial", core.FINAL))
    found = [hand, copied, neighbour, production, final, b("mine", 90), b("newest", 0)]
    assert [x.id for x in core.expired(found, "a", "trial", 30, AT)] == ["mine"]
    assert core.owned(final, "a", "trial") and not core.owned(hand, "a", "trial")


def test_labels_round_trip_through_a_description():
    labels = core.labels("zwb", "portal", "trial")
    text = core.description(labels)
    assert text == "govcloud:unit=zwb govcloud:app=portal govcloud:env=trial govcloud:backup=scheduled"
    assert core.labels_from_description(f"made by hand; {text} govcloud:other=x") == labels
    assert core.labels_from_description(None) == {}


def test_latest_is_the_newest_complete_backup_of_each_source():
    found = [b("v1-old", 3), b("v1-new", 1), b("v1-failed", 0, status=FAILED), b("v2", 2, source="vol-2")]
    assert [x.id for x in core.latest(found)] == ["v1-new", "v2"]


# --- restore refusals ---------------------------------------------------------------------------


def test_a_restore_beside_live_data_needs_no_approval():
    core.restore_gate(b("x", 1), "a", "trial", replace=False, live="vol-1", approved=frozenset(), production_data=False)


PROD = core.labels("u", "a", "production")


@pytest.mark.parametrize(
    "backup, env, replace, live, approved, production_data, rule",
    [
        (
            b("x", 1, labels=core.labels("u", "other", "trial")),
            "trial",
            False,
            None,
            frozenset(),
            False,
            "backup-owner",
        ),
        (b("x", 1, labels={}), "trial", False, None, frozenset(), False, "backup-owner"),
        (b("x", 1, status=RUNNING), "trial", False, None, frozenset(), False, "backup-complete"),
        (b("x", 1, status=FAILED), "trial", True, "vol-1", frozenset({"vol-1"}), False, "backup-complete"),
        (b("x", 1, labels=PROD), "test", False, None, frozenset(), False, "restore-production-data"),
        (b("x", 1), "trial", True, None, frozenset({"vol-1"}), False, "restore-replace"),
        (b("x", 1), "trial", True, "vol-1", frozenset(), False, "restore-replace-approved"),
        (b("x", 1), "trial", True, "vol-1", frozenset({"vol-2"}), False, "restore-replace-approved"),
        (b("x", 1, kind=core.DATABASE), "trial", True, "db-1", frozenset({"db-1"}), False, "restore-replace"),
        (b("x", 1), "test", True, "vol-1", frozenset({"vol-1"}), True, "restore-replace"),  # trial's backup over test
    ],
)
def test_restore_refusals(backup, env, replace, live, approved, production_data, rule):
    with pytest.raises(RuleError) as refused:
        core.restore_gate(
            backup, "a", env, replace=replace, live=live, approved=approved, production_data=production_data
        )
    assert refused.value.rule == rule


def test_replace_with_the_offices_approval_passes_and_production_data_goes_where_declared():
    core.restore_gate(
        b("x", 1), "a", "trial", replace=True, live="vol-1", approved=frozenset({"vol-1"}), production_data=False
    )
    core.restore_gate(
        b("x", 1, labels=PROD), "a", "test", replace=False, live=None, approved=frozenset(), production_data=True
    )
    core.restore_gate(
        b("x", 1, labels=PROD), "a", "production", replace=False, live=None, approved=frozenset(), production_data=False
    )
