"""Quota policies and calendar override files, mutated and generated: each is refused at load time
with exit 2 and one message naming the file (and the field), or gives the correct answer."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.core.workdays import FIXED_STATUTORY_HOLIDAYS, default_calendar
from orchestrator.core.yamlsource import load
from tests.campaign.conftest import examples
from tests.campaign.hostile import answer, dump, hostile_text, mutated, run, text_damage, values, workdir
from tests.conftest import EXAMPLES, ROOT

POLICY_RAW = (ROOT / "quotas" / "policy.yaml").read_bytes()
POLICY = load(POLICY_RAW)
MANIFEST = str(EXAMPLES / "social-security.yaml")
WORKDIR = workdir()


def check_policy(raw: bytes) -> tuple[int, str]:
    """``quota check`` under the policy ``raw``: exit 2 with one message (one line) naming the
    file, or an answer."""
    path = WORKDIR / "policy.yaml"
    path.write_bytes(raw)
    result = answer(run("quota", "check", MANIFEST, "--policy", str(path), "-o", "json"))
    if result.exit_code == 2:
        assert result.stderr.startswith(f"error: invalid quota policy: {path}:"), result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
    else:
        assert json.loads(result.stdout)["policy"] == str(path)
    return result.exit_code, result.stderr


@examples(50)
@given(mutated(POLICY))
def test_mutated_policies_are_refused_at_load_or_answer(case):
    check_policy(dump(case[0]))


@examples(15)
@given(text_damage(POLICY_RAW))
def test_damaged_policy_text_is_refused_at_load_or_answers(raw):
    check_policy(raw)


@examples(15)
@given(mutated(POLICY, safe_keys=True))
def test_an_unknown_key_in_a_policy_is_refused_by_name(case):
    document, done = case
    code, message = check_policy(dump(document))
    added = [path for kind, path in done if kind == "unknown-key" and path[:2] != ("limits", "units")]
    if added and all(kind == "unknown-key" for kind, _ in done):  # (a later replace may remove the key)
        assert code == 2 and added[0][-1] in message


# --- calendar override files -----------------------------------------------------------------------

YEAR = 2027  # not in the chinesecalendar library: the file decides (a test in foundation checks)
in_year = st.dates(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
date_value = st.one_of(
    in_year.map(dt.date.isoformat),  # a plain YAML date
    in_year,  # the same, as a date object (dumped unquoted)
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),  # often under the wrong year
    hostile_text,
    st.integers(),
    st.floats(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
schedule = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"holidays": st.lists(date_value, max_size=6), "workdays": st.lists(date_value, max_size=3)}
    ),
    st.fixed_dictionaries({"holidays": st.lists(in_year, max_size=8)}),
    values,
)
year_key = st.one_of(st.just(YEAR), st.just(str(YEAR)), st.integers(1900, 2100), hostile_text)
calendar_document = st.dictionaries(year_key, schedule, max_size=3)


def expected_date(document: dict, start: dt.date, n: int) -> tuple[str, bool] | None:
    """The answer by hand, for a valid document; None when the document must be refused."""
    schedules: dict[int, tuple[set, set]] = {}
    for key, entry in document.items():
        if not isinstance(key, (int, str)) or not str(key).isdigit() or len(str(key)) != 4:
            return None
        if not isinstance(entry, dict) or set(entry) - {"holidays", "workdays"}:
            return None
        days = {}
        for name in ("holidays", "workdays"):
            listed = entry.get(name, [])
            if not isinstance(listed, list):
                return None
            try:
                days[name] = {
                    d if isinstance(d, dt.date) else dt.date.fromisoformat(d)
                    for d in listed
                    if isinstance(d, (dt.date, str)) and len(str(d)) == 10
                }
            except ValueError:
                return None
            if len(days[name]) != len(set(map(str, listed))) or any(d.year != int(key) for d in days[name]):
                return None
        if days["holidays"] & days["workdays"]:
            return None
        if int(key) in schedules:
            return None  # the same year twice (2027 and "2027")
        schedules[int(key)] = (days["holidays"], days["workdays"])
    holidays, workdays = schedules.get(YEAR, (None, None))
    day = start
    while n:
        day += dt.timedelta(days=1)
        if holidays is None:
            n -= day.weekday() < 5 and (day.month, day.day) not in FIXED_STATUTORY_HOLIDAYS
        else:
            n -= day in workdays or (day.weekday() < 5 and day not in holidays)
    return day.isoformat(), holidays is None


@examples(60)
@given(calendar_document, st.integers(0, 40))
def test_calendar_files_are_refused_at_load_or_count_correctly(document, n):
    path = WORKDIR / "calendar.yaml"
    path.write_bytes(dump(document))
    default_calendar.cache_clear()
    try:
        result = answer(
            run("calendar", "add", "2027-01-04", str(n), "-o", "json", env={"GOVCLOUD_CALENDAR_FILE": str(path)}),
            allowed=(0, 2),
        )
    finally:
        default_calendar.cache_clear()
    expected = expected_date(document, dt.date(YEAR, 1, 4), n)
    if result.exit_code == 2:
        message = result.stderr
        assert message.startswith(f"error: invalid calendar override file: {path}:"), message
        assert len(message.splitlines()) == 1, message
        assert expected is None, f"refused a valid file: {message}"
    else:
        assert expected is not None, f"accepted an invalid file: {document!r}"
        answer_ = json.loads(result.stdout)
        assert (answer_["date"], answer_["provisional"]) == expected


@examples(15)
@given(text_damage(b"2027:\n  holidays: [2027-01-01, 2027-02-11, 2027-02-12]\n  workdays: [2027-02-20]\n"))
def test_damaged_calendar_text_is_refused_at_load_or_answers(raw):
    path = WORKDIR / "calendar-text.yaml"
    path.write_bytes(raw)
    default_calendar.cache_clear()
    try:
        result = answer(
            run("calendar", "add", "2027-01-04", "3", env={"GOVCLOUD_CALENDAR_FILE": str(path)}), allowed=(0, 2)
        )
    finally:
        default_calendar.cache_clear()
    if result.exit_code == 2:
        assert result.stderr.startswith(f"error: invalid calendar override file: {path}:")
