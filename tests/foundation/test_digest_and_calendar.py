"""The digest's stability and the PRC working-day calendar."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from orchestrator.core.validation import validate_bytes
from orchestrator.core.workdays import Calendar, YearSchedule, default_calendar, load_overrides
from tests.conftest import EXAMPLES

SOURCE = (EXAMPLES / "citizen-portal.yaml").read_text(encoding="utf-8")


def digest(text: str) -> str:
    report = validate_bytes(text.encode(), "x.yaml")
    assert report.valid, report.problems
    return report.digest


def test_digest_ignores_comments_whitespace_and_key_order():
    reordered = SOURCE.replace(
        "apiVersion: govcloud/v1\nkind: Application\n", "kind: Application\napiVersion: govcloud/v1\n"
    )
    commented = "# a comment\n\n" + SOURCE.replace("  mlpsLevel: 2", "  mlpsLevel:    2   # level")
    flow = SOURCE.replace("    securityGroups: [web]", "    securityGroups:\n          - web")
    assert reordered != SOURCE and flow != SOURCE
    assert digest(SOURCE) == digest(reordered) == digest(commented) == digest(flow)


@pytest.mark.parametrize(
    "old, new",
    [
        ("count: 2", "count: 3"),
        ("sizeGb: 40", "sizeGb: 41"),
        ("- name: citizen", "- name: citizens"),
        ("retentionDays: 30", "retentionDays: 31"),
        ("ports: 443", "ports: 8443"),
    ],
)
def test_digest_changes_with_any_value(old, new):
    assert old in SOURCE
    assert digest(SOURCE) != digest(SOURCE.replace(old, new, 1))


def test_digest_command_prints_the_digest(run_cli):
    result = run_cli("digest", str(EXAMPLES / "citizen-portal.yaml"))
    assert result.exit_code == 0
    assert result.stdout.strip() == digest(SOURCE)


def test_digest_of_an_invalid_manifest_exits_1(run_cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SOURCE.replace("mlpsLevel: 2", "mlpsLevel: 5"), encoding="utf-8")
    result = run_cli("digest", str(path))
    assert result.exit_code == 1
    assert "Art. 4" in result.stderr and "line 18" in result.stderr


D = dt.date


@pytest.mark.parametrize(
    "start, n, expected",
    [
        # National Day 2026: Oct 1-7 off, Sat Oct 10 a make-up working day (the example).
        (D(2026, 9, 30), 3, D(2026, 10, 10)),
        (D(2026, 9, 30), 4, D(2026, 10, 12)),
        # Spring Festival 2026: Sat Feb 14 make-up, Feb 15-23 off.
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        (D(2026, 2, 13), 2, D(2026, 2, 24)),
        (D(2026, 2, 12), 5, D(2026, 2, 26)),
        # Labour Day 2026: May 1-5 off, Sat May 9 make-up.
        (D(2026, 4, 30), 1, D(2026, 5, 6)),
        (D(2026, 5, 8), 1, D(2026, 5, 9)),
        # An ordinary week: counting starts the next day, weekends skipped.
        (D(2026, 11, 20), 3, D(2026, 11, 25)),
        (D(2026, 11, 25), 0, D(2026, 11, 25)),
    ],
)
def test_add_working_days_across_holidays(start, n, expected):
    result = default_calendar().add_working_days(start, n)
    assert result.date == expected
    assert result.provisional is False


def test_year_without_published_data_is_provisional():
    cal = default_calendar()
    assert cal.is_provisional(2027) and not cal.is_provisional(2026)
    result = cal.add_working_days(D(2026, 12, 30), 3)
    # Dec 31 (Thu), then 2027: Jan 1 is a fixed statutory holiday, Jan 4 and 5 are weekdays.
    assert result == type(result)(D(2027, 1, 5), True)
    assert cal.add_working_days(D(2026, 12, 28), 3).provisional is False


def test_override_file_makes_a_year_official(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text("2027:\n  holidays: [2027-01-01, 2027-01-04]\n  workdays: [2027-01-09]\n")
    cal = Calendar(load_overrides(path))
    assert not cal.is_provisional(2027)
    assert cal.add_working_days(D(2026, 12, 31), 1).date == D(2027, 1, 5)
    assert cal.add_working_days(D(2027, 1, 8), 1) == type(cal.add_working_days(D(2027, 1, 8), 1))(D(2027, 1, 9), False)


def test_working_days_between_counts_like_add_working_days():
    cal = Calendar({2031: YearSchedule(frozenset(), frozenset())})
    start = D(2026, 9, 25)
    for n in range(0, 15):
        end = default_calendar().add_working_days(start, n).date
        assert default_calendar().working_days_between(start, end) == n
    assert default_calendar().working_days_between(D(2026, 10, 10), D(2026, 9, 30)) == -3
    assert cal.is_workday(D(2031, 1, 1))


def test_calendar_cli(run_cli):
    result = run_cli("calendar", "add", "2026-09-30", "3", "--output", "json")
    assert json.loads(result.stdout) == {"date": "2026-10-10", "provisional": False}
    assert run_cli("calendar", "add", "2026-09-30", "3", "--natural").stdout.strip() == "2026-10-03"
    assert run_cli("calendar", "add", "2026-12-30", "3").stdout.strip() == "2027-01-05 (provisional)"
    bad = run_cli("calendar", "add", "30/09/2026", "3")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr


def test_version_and_help(run_cli):
    assert run_cli("--version").stdout.startswith("govcloud, version ")
    help_text = run_cli("--help").stdout
    assert "Exit codes" in help_text and "validate" in help_text
