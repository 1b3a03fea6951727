"""The PRC working-day calendar: public holidays and make-up working days (调休).

Published years come from the maintained ``chinesecalendar`` library; years it does not know yet
come from an override data file (``orchestrator/data/calendar.yaml``, or the file named by
``GOVCLOUD_CALENDAR_FILE``). A year known to neither is *provisional*: Monday to Friday count as
working days except the statutory fixed-date holidays (New Year, Labour Day, National Day; the
lunar ones and the make-up days are unknowable in advance), and every date computed through such a
year says so.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from orchestrator import files
from orchestrator.core.yamlsource import ParseFailed, Problem, dotted, line_of, parse, plain, schema_problems
from orchestrator.errors import ConfigInvalid

#: 全国年节及纪念日放假办法 (2025 revision): the holidays on fixed solar dates.
FIXED_STATUTORY_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


@dataclass(frozen=True)
class CalendarDate:
    """A computed date, and whether any day counted lies in a year without published data."""

    date: dt.date
    provisional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "provisional": self.provisional}


@dataclass(frozen=True)
class YearSchedule:
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]  # make-up working days on weekends


class Calendar:
    """Working days for deadlines; ``overrides`` maps a year to its published schedule."""

    def __init__(self, overrides: dict[int, YearSchedule] | None = None) -> None:
        self.overrides = overrides or {}

    def is_provisional(self, year: int) -> bool:
        return year not in self.overrides and not _library_knows(year)

    def is_workday(self, day: dt.date) -> bool:
        schedule = self.overrides.get(day.year)
        if schedule is not None:
            if day in schedule.workdays:
                return True
            return day.weekday() < 5 and day not in schedule.holidays
        if _library_knows(day.year):
            return _library_workday(day)
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_STATUTORY_HOLIDAYS

    def add_working_days(self, start: dt.date, n: int) -> CalendarDate:
        """The ``n``-th working day after ``start`` (counting begins the next day); remembered,
        as scans ask the same (start, n) for many applications."""
        if n < 0:
            raise ValueError("n must not be negative")
        known: dict[tuple[dt.date, int], CalendarDate] = self.__dict__.setdefault("_added", {})
        if (start, n) not in known:
            if len(known) >= 100_000:  # a long-lived process: bounded
                known.clear()
            known[start, n] = self._add_working_days(start, n)
        return known[start, n]

    def _add_working_days(self, start: dt.date, n: int) -> CalendarDate:
        day, provisional = start, self.is_provisional(start.year)
        while n:
            if day == dt.date.max:  # total: a date no calendar reaches is the last one, provisional
                return CalendarDate(day, True)
            day += dt.timedelta(days=1)
            provisional = provisional or self.is_provisional(day.year)
            if self.is_workday(day):
                n -= 1
        return CalendarDate(day, provisional)

    def add_natural_days(self, start: dt.date, n: int) -> CalendarDate:
        """``start`` + ``n`` days; past the last date there is, that date, provisional."""
        try:
            return CalendarDate(start + dt.timedelta(days=n), False)
        except OverflowError:
            return CalendarDate(dt.date.max if n > 0 else dt.date.min, True)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when end < start)."""
        sign = 1 if end >= start else -1
        low, high = (start, end) if sign > 0 else (end, start)
        count = self._through(high) - self._through(low)
        for year in range(low.year, high.year):
            count += self._year_table(year)[-1]
        return sign * count

    def _through(self, day: dt.date) -> int:
        """Working days from 1 January of ``day``'s year through ``day``."""
        return self._year_table(day.year)[day.timetuple().tm_yday - 1]

    def _year_table(self, year: int) -> list[int]:
        """Cumulative working-day counts of ``year``, one entry per day (computed once per year)."""
        tables: dict[int, list[int]] = self.__dict__.setdefault("_tables", {})
        if year not in tables:
            total, table = 0, []
            for ordinal in range(dt.date(year, 1, 1).toordinal(), dt.date(year, 12, 31).toordinal() + 1):
                total += self.is_workday(dt.date.fromordinal(ordinal))  # by ordinal: no step past 9999-12-31
                table.append(total)
            tables[year] = table
        return tables[year]


@functools.cache
def _library_years() -> range:
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays]
    return range(min(years), max(years) + 1)


@functools.lru_cache(maxsize=8192)
def _library_workday(day: dt.date) -> bool:
    """``chinese_calendar.is_workday``, cached: it scans its whole table on every call."""
    import chinese_calendar

    return bool(chinese_calendar.is_workday(day))


def _library_knows(year: int) -> bool:
    return year in _library_years()


class CalendarInvalid(ConfigInvalid):
    """The calendar override file is not valid (exit 2); ``problems`` names each problem."""

    what = "calendar override file"


def _iso_date(value: object) -> dt.date:
    """A date written ``YYYY-MM-DD`` (a YAML date or that string; never a number or a timestamp)."""
    text = value.isoformat() if isinstance(value, dt.date) else value
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise ValueError("expected a date written YYYY-MM-DD")
    return dt.date.fromisoformat(text)


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR = re.compile(r"[0-9]{4}")


class _Schedule(BaseModel):
    """One year of the file: its days off and its make-up working days."""

    model_config = ConfigDict(extra="forbid")

    holidays: list[IsoDate] = []
    workdays: list[IsoDate] = []


def load_overrides(path: str | Path | None = None) -> dict[int, YearSchedule]:
    """The override file's schedules (the embedded file without ``path``); :class:`CalendarInvalid`
    names every problem of a file that is missing, unreadable or not of the schema."""
    if path is None:
        source, raw = (
            "orchestrator/data/calendar.yaml",
            resources.files("orchestrator.data").joinpath("calendar.yaml").read_bytes(),
        )
    else:
        source = str(path)
        try:
            raw = files.read_bytes(path, what="calendar file")
        except files.FileRefused as refused:
            raise CalendarInvalid(source, [Problem(None, "", refused.rule, refused.reason)]) from None
    return parse_overrides(raw, source)


def parse_overrides(raw: bytes, source: str) -> dict[int, YearSchedule]:
    """``{year: {holidays: [dates], workdays: [dates]}}``; an empty file has no overrides.

    Refused: a year that is not four digits, an unknown key, a date that is not ``YYYY-MM-DD``, a
    date listed under another year, and a date listed both as a holiday and as a working day.
    """
    try:
        root = parse(raw)
        data = plain(root)
    except ParseFailed as failed:
        if failed.problem.message.startswith("file is empty"):
            return {}
        raise CalendarInvalid(source, [failed.problem]) from None
    problems: list[Problem] = []
    result: dict[int, YearSchedule] = {}
    for key, entry in data.items():
        if not _YEAR.fullmatch(key):
            problems.append(
                Problem(line_of(root, (key,)), dotted((key,)), "calendar-year", "a year is four digits, e.g. 2027")
            )
            continue
        schedule, found = schema_problems(_Schedule, entry, root, (key,))
        problems += found
        if schedule is None:
            continue
        year = int(key)
        for name in ("holidays", "workdays"):
            for index, day in enumerate(getattr(schedule, name)):
                if day.year != year:
                    where = (key, name, index)
                    problems.append(
                        Problem(
                            line_of(root, where), dotted(where), "calendar-year", f"{day} is listed under year {year}"
                        )
                    )
        for day in sorted(set(schedule.holidays) & set(schedule.workdays)):
            problems.append(
                Problem(
                    line_of(root, (key,)),
                    dotted((key,)),
                    "calendar-conflict",
                    f"{day} is listed both as a holiday and as a working day",
                )
            )
        result[year] = YearSchedule(frozenset(schedule.holidays), frozenset(schedule.workdays))
    if problems:
        raise CalendarInvalid(source, problems)
    return result


@functools.cache
def default_calendar() -> Calendar:
    """The calendar with the embedded overrides, or the file in ``GOVCLOUD_CALENDAR_FILE``."""
    return Calendar(load_overrides(os.environ.get("GOVCLOUD_CALENDAR_FILE")))
