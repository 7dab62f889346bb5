"""Working days against the State Council's published 2026 arrangement (hand-checked):
国庆 10-01..10-07 off, Sunday 09-20 and Saturday 10-10 are make-up working days;
春节 2026: 02-15..02-23 off, Saturday 02-14 and Saturday 02-28 are working days."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.calendar import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")


def test_national_day_2026() -> None:
    cal = WorkCalendar()
    assert not cal.is_working_day(date(2026, 10, 1))
    assert not cal.is_working_day(date(2026, 10, 7))
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday make-up day
    assert cal.is_working_day(date(2026, 9, 20))  # Sunday make-up day
    # 3 working days from Wed 09-30: Thu 10-08, Fri 10-09, Sat 10-10 (make-up)
    assert cal.add_working_days(datetime(2026, 9, 30, 10, 0, tzinfo=SH), 3) == datetime(
        2026, 10, 10, 10, 0, tzinfo=SH
    )


def test_spring_festival_2026() -> None:
    cal = WorkCalendar()
    assert cal.is_working_day(date(2026, 2, 14))  # Saturday make-up
    assert not cal.is_working_day(date(2026, 2, 16))
    assert cal.is_working_day(date(2026, 2, 28))  # Saturday make-up
    # from Fri 02-13: Sat 02-14 (1), then holiday until 02-23, Tue 02-24 (2)
    assert cal.add_working_days(datetime(2026, 2, 13, 9, 0, tzinfo=SH), 2) == datetime(
        2026, 2, 24, 9, 0, tzinfo=SH
    )


def test_overrides_win() -> None:
    cal = WorkCalendar(
        extra_holidays=frozenset({date(2026, 11, 30)}), extra_workdays=frozenset({date(2026, 11, 29)})
    )
    assert not cal.is_working_day(date(2026, 11, 30))
    assert cal.is_working_day(date(2026, 11, 29))


def test_ordinary_week() -> None:
    cal = WorkCalendar()
    # Wed 2026-11-25 16:40 + 3 working days = Mon 2026-11-30 16:40
    assert cal.add_working_days(datetime(2026, 11, 25, 16, 40, tzinfo=SH), 3) == datetime(
        2026, 11, 30, 16, 40, tzinfo=SH
    )
