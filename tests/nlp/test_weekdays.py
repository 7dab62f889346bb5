"""Weekday arithmetic from every day of a week, including a Sunday night.

Calendar used (checked by hand): Mon 2026-11-23 .. Sun 2026-11-29; next week Mon 11-30 .. Sun 12-06;
previous week Mon 11-16 .. Sun 11-22. Weeks start on Monday; 周日/周天/星期天 is the last day of a week."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from nlp import extract

SH = ZoneInfo("Asia/Shanghai")

# (now, label)
DAYS = [
    (datetime(2026, 11, 23, 9, 0, tzinfo=SH), "Mon"),
    (datetime(2026, 11, 24, 9, 0, tzinfo=SH), "Tue"),
    (datetime(2026, 11, 25, 9, 0, tzinfo=SH), "Wed"),
    (datetime(2026, 11, 26, 9, 0, tzinfo=SH), "Thu"),
    (datetime(2026, 11, 27, 9, 0, tzinfo=SH), "Fri"),
    (datetime(2026, 11, 28, 9, 0, tzinfo=SH), "Sat"),
    (datetime(2026, 11, 29, 22, 30, tzinfo=SH), "Sun night"),
]


def one(text: str, now: datetime) -> date:
    ts = extract(text, now).times
    assert len(ts) == 1, [(t.text, t.start) for t in ts]
    return ts[0].start.date()


@pytest.mark.parametrize(("now", "label"), DAYS)
def test_next_wednesday_is_in_next_week(now: datetime, label: str) -> None:
    assert one("下周三", now) == date(2026, 12, 2)
    assert one("下礼拜三", now) == date(2026, 12, 2)
    assert one("下星期三", now) == date(2026, 12, 2)


@pytest.mark.parametrize(("now", "label"), DAYS)
def test_this_sunday_is_the_end_of_this_week(now: datetime, label: str) -> None:
    assert one("本周日", now) == date(2026, 11, 29)
    assert one("这周天", now) == date(2026, 11, 29)


@pytest.mark.parametrize(("now", "label"), DAYS)
def test_bare_sunday_is_next_occurrence(now: datetime, label: str) -> None:
    # on or after today: every day of this week, including Sunday itself, maps to 11-29
    assert one("周日", now) == date(2026, 11, 29)
    assert one("星期天", now) == date(2026, 11, 29)


@pytest.mark.parametrize(("now", "label"), DAYS)
def test_next_sunday(now: datetime, label: str) -> None:
    assert one("下周日", now) == date(2026, 12, 6)


@pytest.mark.parametrize(("now", "label"), DAYS)
def test_last_friday(now: datetime, label: str) -> None:
    assert one("上周五", now) == date(2026, 11, 20)


BARE_WED = {
    "Mon": date(2026, 11, 25),
    "Tue": date(2026, 11, 25),
    "Wed": date(2026, 11, 25),
    "Thu": date(2026, 12, 2),
    "Fri": date(2026, 12, 2),
    "Sat": date(2026, 12, 2),
    "Sun night": date(2026, 12, 2),
}


@pytest.mark.parametrize(("now", "label"), DAYS)
def test_bare_wednesday(now: datetime, label: str) -> None:
    assert one("周三", now) == BARE_WED[label]


def test_sunday_night_trap() -> None:
    sun = datetime(2026, 11, 29, 22, 30, tzinfo=SH)
    assert one("明天", sun) == date(2026, 11, 30)
    assert one("下周一", sun) == date(2026, 11, 30)  # next week starts tomorrow
    assert one("周一", sun) == date(2026, 11, 30)
    assert one("本周一", sun) == date(2026, 11, 23)
    assert one("下下周一", sun) == date(2026, 12, 7)
    t = extract("明早9点", sun).times[0]
    assert t.start == datetime(2026, 11, 30, 9, tzinfo=SH)


def test_english_weekdays_from_sunday_night() -> None:
    sun = datetime(2026, 11, 29, 22, 30, tzinfo=SH)
    assert one("next Tuesday", sun) == date(2026, 12, 1)
    assert one("on Friday", sun) == date(2026, 12, 4)
    assert one("tomorrow", sun) == date(2026, 11, 30)
