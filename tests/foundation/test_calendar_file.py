"""The calendar override file (``GOVCLOUD_CALENDAR_FILE``): every wrong shape is one clean refusal,
exit 2, naming the file, the line, the field and the rule; before, each was a traceback or ignored."""

from __future__ import annotations

import pytest

from orchestrator.core.workdays import CalendarInvalid, default_calendar, load_overrides


@pytest.fixture
def calendar_file(tmp_path, monkeypatch):
    """Write ``text`` as the override file the CLI reads; the cached calendar is dropped around it."""
    path = tmp_path / "calendar.yaml"

    def write(text: str | None):
        if text is not None:
            path.write_text(text)
        monkeypatch.setenv("GOVCLOUD_CALENDAR_FILE", str(path))
        default_calendar.cache_clear()
        return path

    yield write
    default_calendar.cache_clear()


@pytest.mark.parametrize(
    "text, line, field, rule",
    [
        (None, None, "", "file-readable"),
        ("2027:\n  holidays: [2028-01-01]\n", 2, "2027.holidays[0]", "calendar-year"),
        ("2027: [2027-01-01]\n", 1, "2027", "schema.model_type"),
        ("2027:\n", 1, "2027", "schema.model_type"),
        ("2027:\n  holidays: 5\n", 2, "2027.holidays", "schema.list_type"),
        ("2027:\n  holiday: [2027-01-01]\n", 2, "2027.holiday", "schema.extra_forbidden"),
        ("next-year:\n  holidays: []\n", 1, "next-year", "calendar-year"),
        ("2027:\n  holidays: [not-a-date]\n", 2, "2027.holidays[0]", "schema.value_error"),
        ("2027:\n  holidays: [1798761600]\n", 2, "2027.holidays[0]", "schema.value_error"),
        ("2027:\n  holidays: [2027-02-30]\n", None, "", "yaml-syntax"),
        ("2027:\n  holidays: [{day: 2027-01-01}]\n", 2, "2027.holidays[0]", "schema.value_error"),
        ("2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-01]\n", 1, "2027", "calendar-conflict"),
        ("2027: {holidays: [\n", 2, "", "yaml-syntax"),
        ("- 2027\n", 1, "", "yaml-document"),
        ("2027: {}\n2027: {}\n", 2, "", "duplicate-key"),
        ("\x00\x01", None, "", "yaml-syntax"),
    ],
    ids=[
        "missing",
        "wrong-year",
        "list-for-year",
        "null-year",
        "number-for-list",
        "unknown-key",
        "year-not-digits",
        "not-a-date",
        "timestamp-number",
        "impossible-date",
        "mapping-for-date",
        "holiday-and-workday",
        "bad-yaml",
        "top-level-list",
        "duplicate-year",
        "binary",
    ],
)
def test_every_wrong_file_is_one_clean_refusal(run_cli, calendar_file, text, line, field, rule):
    path = calendar_file(text)
    result = run_cli("calendar", "add", "2027-01-04", "3")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    [message] = result.stderr.splitlines()
    assert message.startswith(f"error: invalid calendar override file: {path}:")
    assert f"({rule})" in message and (f"{field}:" in message if field else True)
    assert (f"line {line}:" in message) if line else ("file:" in message)
    with pytest.raises(CalendarInvalid) as caught:
        load_overrides(path)
    assert caught.value.exit_code == 2 and caught.value.problems[0].rule == rule


def test_every_problem_of_a_file_is_named_at_once(calendar_file):
    """(The year of each date is checked once the year's entry has the right shape.)"""
    path = calendar_file("2027:\n  holidays: [2026-12-31, nope]\n  surplus: 1\n2028:\n  workdays: [2029-01-06]\n")
    with pytest.raises(CalendarInvalid) as caught:
        load_overrides(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (2, "2027.holidays[1]"),
        (3, "2027.surplus"),
        (5, "2028.workdays[0]"),
    ]


def test_a_refused_file_stops_lifecycle_commands_too(run_cli, calendar_file, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVCLOUD_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    path = calendar_file("2027:\n  holidays: 2027-01-01\n")
    result = run_cli("deadlines")
    assert result.exit_code == 2 and str(path) in result.stderr and "2027.holidays" in result.stderr


def test_an_empty_file_and_an_empty_year_are_fine(run_cli, calendar_file):
    calendar_file("# nothing published yet\n")
    assert run_cli("calendar", "add", "2027-01-04", "3").stdout.strip() == "2027-01-07 (provisional)"
    calendar_file("2027: {}\n")
    assert run_cli("calendar", "add", "2027-01-04", "3").stdout.strip() == "2027-01-07"


def test_a_count_beyond_a_century_is_refused_before_counting(run_cli):
    result = run_cli("calendar", "add", "2026-01-01", "100000000")
    assert result.exit_code == 2 and "0<=x<=36500" in result.output
