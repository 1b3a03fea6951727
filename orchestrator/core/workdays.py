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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


#: 全国年节及纪念日放假办法 (2025 revision): the holidays on fixed solar dates.
FIXED_STATUTORY_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


@dataclass(frozen=True)
class CalendarDate:
    """A computed date, and whether any day counted lies in a year without published data."""

    date: dt.date
    provisional: bool = False

    def as_dict(self) -> dict:
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
        """The ``n``-th working day after ``start`` (counting begins the next day)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day, provisional = start, self.is_provisional(start.year)
        while n:
            day += dt.timedelta(days=1)
            provisional = provisional or self.is_provisional(day.year)
            if self.is_workday(day):
                n -= 1
        return CalendarDate(day, provisional)

    def add_natural_days(self, start: dt.date, n: int) -> CalendarDate:
        return CalendarDate(start + dt.timedelta(days=n), False)

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
        tables = self.__dict__.setdefault("_tables", {})
        if year not in tables:
            day, total, table = dt.date(year, 1, 1), 0, []
            while day.year == year:
                total += self.is_workday(day)
                table.append(total)
                day += dt.timedelta(days=1)
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

    return chinese_calendar.is_workday(day)


def _library_knows(year: int) -> bool:
    return year in _library_years()


def load_overrides(path: str | Path | None = None) -> dict[int, YearSchedule]:
    """Parse the override file: ``{year: {holidays: [dates], workdays: [dates]}}``."""
    from ruamel.yaml import YAML

    from orchestrator import files

    text = (
        files.read_text(path, what="calendar file")
        if path
        else resources.files("orchestrator.data").joinpath("calendar.yaml").read_text(encoding="utf-8")
    )
    data = YAML(typ="safe").load(text) or {}
    result: dict[int, YearSchedule] = {}
    for year, schedule in data.items():
        schedule = schedule or {}
        days = {key: frozenset(_as_date(d) for d in schedule.get(key) or []) for key in ("holidays", "workdays")}
        for day in days["holidays"] | days["workdays"]:
            if day.year != int(year):
                raise ValueError(f"calendar override: {day} listed under year {year}")
        result[int(year)] = YearSchedule(days["holidays"], days["workdays"])
    return result


def _as_date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@functools.cache
def default_calendar() -> Calendar:
    """The calendar with the embedded overrides, or the file in ``GOVCLOUD_CALENDAR_FILE``."""
    return Calendar(load_overrides(os.environ.get("GOVCLOUD_CALENDAR_FILE")))
