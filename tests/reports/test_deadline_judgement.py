"""The monthly report judges each deadline with its own kind of day, at the time it says it
judges (issue 24: run on 5 December, a test environment due 20 December was "missed", with "19
working days taken" against "15 natural days allowed")."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.core import lifecycle as lc
from orchestrator.core import report as core
from orchestrator.core.workdays import default_calendar

DECEMBER = core.month("2026-12")
CALENDAR = default_calendar()


def _judged(name: str, start: str, end: str | None, at: str | None, test_days: int = lc.TEST_DAYS):
    """The one deadline ``name`` started at ``start`` (ended at ``end``), judged at ``at``
    (``None``: at the month's end), as the report's unit figures show it."""
    state = lc.AppState("social-security", "rsj", clocks={name: [start, end]}, test_days=test_days)
    replayed = core.Replay(state, {(name, start): (end, test_days)}, ())
    figures = core.AppFigures("social-security", "social-security", "rsj", "testing", None, ())
    judged_at = dt.datetime.fromisoformat(at) if at else None
    unit = core.unit_figures("rsj", [(figures, replayed)], {}, CALENDAR, DECEMBER, judged_at=judged_at)
    [deadline] = unit.deadlines
    return deadline


# test window: 15 natural days from Sat 5 Dec 2026 09:00 -> due Sun 20 Dec
@pytest.mark.parametrize(
    ("at", "status", "taken"),
    [
        ("2026-12-05T18:00", "open", 0),  # the day it starts: the issue's run
        ("2026-12-10T09:00", "open", 5),  # inside
        ("2026-12-20T23:00", "open", 15),  # on the due day
        ("2026-12-21T08:00", "missed", 16),  # after
        (None, "missed", 26),  # at the month's end, still running
    ],
)
def test_a_natural_day_deadline_running(at, status, taken):
    d = _judged("test-window", "2026-12-05T09:00:00", None, at)
    assert (d.due, d.count, d.allowed) == (dt.date(2026, 12, 20), "natural", 15)
    assert (d.status, d.taken) == (status, taken)


@pytest.mark.parametrize(
    ("done", "status", "taken"),
    [("2026-12-12T10:00:00", "met", 7), ("2026-12-20T22:00:00", "met", 15), ("2026-12-21T09:00:00", "missed", 16)],
)
def test_a_natural_day_deadline_done_inside_at_and_after(done, status, taken):
    d = _judged("test-window", "2026-12-05T09:00:00", done, None)
    assert (d.status, d.taken, d.allowed, d.count) == (status, taken, 15, "natural")


def test_an_extended_test_window_allows_its_extension_in_natural_days():
    d = _judged("test-window", "2026-12-05T09:00:00", None, "2026-12-24T09:00", test_days=20)
    assert (d.due, d.status, d.taken, d.allowed) == (dt.date(2026, 12, 25), "open", 19, 20)


# reclamation: 3 working days from Fri 4 Dec 2026 -> due Wed 9 Dec (the weekend does not count)
@pytest.mark.parametrize(
    ("at", "status", "taken"),
    [
        ("2026-12-06T12:00", "open", 0),  # the weekend after the start
        ("2026-12-07T12:00", "open", 1),  # inside
        ("2026-12-09T17:00", "open", 3),  # on the due day
        ("2026-12-10T09:00", "missed", 4),  # after
    ],
)
def test_a_working_day_deadline_running(at, status, taken):
    d = _judged("reclamation", "2026-12-04T09:00:00", None, at)
    assert (d.due, d.count, d.allowed) == (dt.date(2026, 12, 9), "working", 3)
    assert (d.status, d.taken) == (status, taken)


@pytest.mark.parametrize(
    ("done", "status", "taken"),
    [("2026-12-08T10:00:00", "met", 2), ("2026-12-09T16:00:00", "met", 3), ("2026-12-14T09:00:00", "missed", 6)],
)
def test_a_working_day_deadline_done_inside_at_and_after(done, status, taken):
    d = _judged("reclamation", "2026-12-04T09:00:00", done, None)
    assert (d.status, d.taken, d.allowed, d.count) == (status, taken, 3, "working")


def test_a_time_after_the_month_judges_at_its_end():
    after = _judged("test-window", "2026-12-05T09:00:00", None, "2027-01-15T09:00")
    assert (after.status, after.taken) == ("missed", 26)  # as on 31 Dec, not on 15 Jan


def test_the_issues_report_of_5_december(tmp_path, policy):
    """Through the ledger and the rendered report: provisioned Sat 5 Dec 09:00, reported that
    evening; the test window (due 20 Dec) is open with 0 of 15 natural days taken."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import report as svc
    from orchestrator.services.lifecycle import Lifecycle

    from .conftest import CHIEF, CLERK, EXAMPLES, OPS, SOCIAL

    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    life = Lifecycle(ledger)
    life.submit(EXAMPLES / "social-security.yaml", SOCIAL, dt.datetime(2026, 11, 30, 9))
    life.accept("social-security", CLERK, dt.datetime(2026, 12, 1, 9))
    life.review("social-security", "complete", CLERK, dt.datetime(2026, 12, 2, 9))
    life.approve("social-security", "test", CHIEF, dt.datetime(2026, 12, 3, 9))
    life.record_provisioned("social-security", "test", OPS, dt.datetime(2026, 12, 5, 9))
    report = svc.monthly(ledger, "2026-12", policy, at=dt.datetime(2026, 12, 5, 18, 0))
    ledger.close()
    rows = {d.name: d for u in report.units for d in u.deadlines}
    window = rows["test-window"]
    assert (window.status, window.taken, window.allowed, window.count) == ("open", 0, 15, "natural")
    ready = rows["test-ready"]  # reviewed Wed 2 Dec + 2 working days = Fri 4 Dec; ready Sat 5 Dec
    assert (ready.status, ready.taken, ready.allowed, ready.count) == ("missed", 2, 2, "working")
    en = svc.render(report, "md", "en")
    assert "| 0 natural days | open |" in en and "19 working days" not in en
    assert "as of Dec 5, 2026 18:00: deadlines and states judged then" in en
