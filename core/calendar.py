"""Working-day calendar: Chinese statutory holidays and make-up working days from the `holidays` package
(which covers make-up days and 2027; chinese-calendar 1.11 stops at 2026), with per-team overrides.

A year that no source covers falls back to plain weekends plus overrides, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkCalendar:
    country: str = "CN"
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def _source(self, year: int) -> holidays.HolidayBase | None:
        return _country_calendar(self.country, year)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        cal = self._source(day.year)
        if cal is None:
            return day.weekday() < 5
        if day in cal.weekend_workdays:
            return True
        if day in cal:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """``start`` moved forward by ``days`` working days, keeping the time of day.

        Counting starts the day after ``start``; a start on a non-working day counts from the next one.
        """
        current = start
        remaining = days
        while remaining > 0:
            current = current + timedelta(days=1)
            if self.is_working_day(current.date()):
                remaining -= 1
        return current

    def end_of_working_day(self, dt: datetime, hour: int = 18) -> datetime:
        return datetime.combine(dt.date(), time(hour, 0), tzinfo=dt.tzinfo)


@lru_cache(maxsize=64)
def _country_calendar(country: str, year: int) -> holidays.HolidayBase | None:
    cal = holidays.country_holidays(country, years=[year])
    covered = bool(list(cal.items())) or bool(getattr(cal, "weekend_workdays", set()))
    if country == "CN" and not cal.weekend_workdays:
        # the holiday source knows no make-up days for that year: it is not covered
        covered = False
    if not covered:
        log.warning("no holiday data for %s %s: weekends only (plus overrides)", country, year)
        return None
    return cal


DEFAULT_CALENDAR = WorkCalendar()
