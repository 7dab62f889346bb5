"""Working-day calendar: Chinese statutory holidays and make-up working days from the `holidays` package
(which covers make-up days and 2027; chinese-calendar 1.11 stops at 2026), with per-team overrides.

A year that no source covers falls back to plain weekends plus overrides, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import holidays

from config.rules import Duration, Rules, TeamRules, hhmm
from core.timeutil import parse_tz

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkCalendar:
    country: str = "CN"
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)
    #: the team's zone: working days are counted on its dates (None: the zone of the datetime given)
    tz: tzinfo | None = None

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
        if day in getattr(cal, "weekend_workdays", ()):
            return True
        if day in cal:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """``start`` moved forward by ``days`` working days, keeping the time of day.

        Counting starts the day after ``start``; a start on a non-working day counts from the next one.
        """
        current = start.astimezone(self.tz) if self.tz is not None else start
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
    """The holiday source for one year, or None when it knows nothing of that year.

    A Chinese year counts as covered when the source lists its make-up working days (调休) — the
    State Council publishes them each autumn for the next year. A year with holidays but no make-up
    days keeps the holidays and warns that make-up days must come from the overrides; a year with
    neither falls back to weekends plus overrides, with a warning."""
    cal = holidays.country_holidays(country, years=[year])
    has_holidays = any(d.year == year for d in cal)
    makeup = {d for d in getattr(cal, "weekend_workdays", set()) if d.year == year}
    if not has_holidays:
        log.warning("no holiday data for %s %s: weekends only (plus overrides)", country, year)
        return None
    if country == "CN" and not makeup:
        log.warning(
            "no make-up working days for %s %s in the holidays package: statutory holidays only; "
            "add 调休 days under calendar_overrides.workdays in rules.yaml",
            country,
            year,
        )
    return cal


DEFAULT_CALENDAR = WorkCalendar()


# --- team context: time zone, calendar, quiet hours (per team, from config/rules.yaml) ------------------


@dataclass(frozen=True)
class TeamContext:
    """What a rule needs to know about the team of the person it concerns."""

    name: str
    tz: tzinfo
    calendar: WorkCalendar
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    morning: time = time(8, 30)
    end_of_day: time = time(18, 0)

    def local(self, dt: datetime) -> datetime:
        return dt.astimezone(self.tz)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """``days`` working days of this team's calendar after ``start`` (counted in the team's zone)."""
        return self.calendar.add_working_days(self.local(start), days)

    def add(self, start: datetime, duration: Duration) -> datetime:
        if duration.working_days is not None:
            return self.add_working_days(start, duration.working_days)
        if duration.days is not None:
            return self.local(start) + timedelta(days=duration.days)
        if duration.hours is not None:
            return start + timedelta(hours=duration.hours)
        return start + timedelta(minutes=duration.minutes or 0)

    def is_working_day(self, dt: datetime) -> bool:
        return self.calendar.is_working_day(self.local(dt).date())

    def in_quiet_hours(self, dt: datetime) -> bool:
        t = self.local(dt).timetz().replace(tzinfo=None)
        if self.quiet_start <= self.quiet_end:  # e.g. 01:00–06:00
            return self.quiet_start <= t < self.quiet_end
        return t >= self.quiet_start or t < self.quiet_end

    def release_time(self, dt: datetime) -> datetime | None:
        """When a push created at ``dt`` may go out: None (now) outside quiet hours, else the end of the
        quiet hours (the next morning)."""
        if not self.in_quiet_hours(dt):
            return None
        local = self.local(dt)
        day = local.date()
        if local.timetz().replace(tzinfo=None) >= self.quiet_start and self.quiet_start > self.quiet_end:
            day = day + timedelta(days=1)
        return datetime.combine(day, self.quiet_end, tzinfo=self.tz)


def team_context(rules: Rules, team: TeamRules | None = None) -> TeamContext:
    d = rules.defaults
    overrides = (team.calendar_overrides if team and team.calendar_overrides else None) or (
        rules.calendar_overrides
    )
    tz = parse_tz((team.timezone if team and team.timezone else None) or d.timezone)
    cal = WorkCalendar(
        country=(team.calendar if team and team.calendar else None) or d.calendar,
        extra_holidays=frozenset(overrides.holidays),
        extra_workdays=frozenset(overrides.workdays),
        tz=tz,
    )
    quiet = (team.quiet_hours if team and team.quiet_hours else None) or d.quiet_hours
    return TeamContext(
        name=team.name if team else "default",
        tz=tz,
        calendar=cal,
        quiet_start=hhmm(quiet.start),
        quiet_end=hhmm(quiet.end),
        morning=hhmm((team.morning_digest if team and team.morning_digest else None) or d.morning_digest),
        end_of_day=hhmm(d.end_of_day),
    )


def context_for(rules: Rules, *, team_name: str | None = None, region: str | None = None) -> TeamContext:
    """The team context for a member: the team named (Member.team), else the team listing the region,
    else the defaults."""
    for t in rules.teams:
        if team_name and t.name == team_name:
            return team_context(rules, t)
    for t in rules.teams:
        if region and region in t.regions:
            return team_context(rules, t)
    return team_context(rules, None)
