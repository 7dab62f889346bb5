"""Hand-checked time expressions. Reference: 2026-11-23 is a Monday; week of 23..29 Nov 2026, next week
30 Nov..6 Dec. Expected values were worked out on a calendar, never with the code under test."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from nlp import extract

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 12, tzinfo=SH)  # Monday


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def times(text: str, now: datetime = NOW, tz: str | None = None):
    return extract(text, now, tz=tz).times


def only(text: str, now: datetime = NOW, tz: str | None = None):
    ts = times(text, now, tz)
    assert len(ts) == 1, [(t.text, t.kind, t.start) for t in ts]
    return ts[0]


@pytest.mark.parametrize(
    ("text", "start", "grain"),
    [
        ("2026-03-05", d(2026, 3, 5), "day"),
        ("2026/3/5", d(2026, 3, 5), "day"),
        ("二〇二六年三月五日", d(2026, 3, 5), "day"),
        ("2026年3月5日", d(2026, 3, 5), "day"),
        ("12月8日", d(2026, 12, 8), "day"),
        ("12月3号", d(2026, 12, 3), "day"),
        # year-less: more than ~2 months in the past rolls to next year
        ("3月5号", d(2027, 3, 5), "day"),
        ("9月1日", d(2027, 9, 1), "day"),
        ("11月1号", d(2026, 11, 1), "day"),
        ("1月10日", d(2027, 1, 10), "day"),
        ("今天", d(2026, 11, 23), "day"),
        ("明天", d(2026, 11, 24), "day"),
        ("后天", d(2026, 11, 25), "day"),
        ("大后天", d(2026, 11, 26), "day"),
        ("昨天", d(2026, 11, 22), "day"),
        ("前天", d(2026, 11, 21), "day"),
        ("明早9点", d(2026, 11, 24, 9), "hour"),
        ("今晚8点", d(2026, 11, 23, 20), "hour"),
        ("下午3点", d(2026, 11, 23, 15), "hour"),
        ("凌晨2点", d(2026, 11, 23, 2), "hour"),
        ("早上8点", d(2026, 11, 23, 8), "hour"),
        ("上午10点", d(2026, 11, 23, 10), "hour"),
        ("中午12点", d(2026, 11, 23, 12), "hour"),
        ("中午1点", d(2026, 11, 23, 13), "hour"),
        ("傍晚6点", d(2026, 11, 23, 18), "hour"),
        ("晚上11点", d(2026, 11, 23, 23), "hour"),
        ("明天上午十点半", d(2026, 11, 24, 10, 30), "minute"),
        ("明天3点半", d(2026, 11, 24, 15, 30), "minute"),
        ("3点一刻", d(2026, 11, 23, 15, 15), "minute"),
        ("15:30", d(2026, 11, 23, 15, 30), "minute"),
        ("10点整", d(2026, 11, 23, 10, 0), "minute"),
        ("两点四十五", d(2026, 11, 23, 14, 45), "minute"),
        ("十点半", d(2026, 11, 23, 10, 30), "minute"),
        ("十一点", d(2026, 11, 23, 11), "hour"),
        ("11点", d(2026, 11, 23, 11), "hour"),
        ("下周三下午3点", d(2026, 12, 2, 15), "hour"),
        ("周四下午四点半", d(2026, 11, 26, 16, 30), "minute"),
        ("后天下午两点", d(2026, 11, 25, 14), "hour"),
        ("下周一上午九点", d(2026, 11, 30, 9), "hour"),
        ("两天后", d(2026, 11, 25), "day"),
        ("半个月后", d(2026, 12, 8), "day"),
        ("3天后", d(2026, 11, 26), "day"),
        ("下周", d(2026, 11, 30), "week"),
        ("下个月", d(2026, 12, 1), "month"),
        ("现在", d(2026, 11, 23, 9, 12), "second"),
    ],
)
def test_point(text: str, start: datetime, grain: str) -> None:
    t = only(text)
    assert t.kind == "point"
    assert t.start == start
    assert t.grain == grain
    assert t.text == text


def test_bare_clock_business_hours() -> None:
    # a bare 1-6点 is afternoon, 7-11 morning
    assert only("4点开会", NOW).start == d(2026, 11, 23, 16)
    assert only("约2点见", NOW).start == d(2026, 11, 23, 14)
    assert only("9点到公司", NOW).start == d(2026, 11, 23, 9)
    assert only("明天10点", NOW).start == d(2026, 11, 24, 10)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("下午1点半到3点", d(2026, 11, 23, 13, 30), d(2026, 11, 23, 15)),
        ("12月8日下午三点到四点", d(2026, 12, 8, 15), d(2026, 12, 8, 16)),
        ("明天9点到11点", d(2026, 11, 24, 9), d(2026, 11, 24, 11)),
        ("明天上午10点到下午2点", d(2026, 11, 24, 10), d(2026, 11, 24, 14)),
        ("11点到1点", d(2026, 11, 23, 11), d(2026, 11, 23, 13)),
        ("周一到周三", d(2026, 11, 23), d(2026, 11, 26)),
        ("12月8日至12月10日", d(2026, 12, 8), d(2026, 12, 11)),
        ("周末", d(2026, 11, 28), d(2026, 11, 30)),
        ("明年一季度", d(2027, 1, 1), d(2027, 4, 1)),
        ("季度末", d(2026, 12, 1), d(2027, 1, 1)),
        ("下个月初", d(2026, 12, 1), d(2026, 12, 6)),
    ],
)
def test_range(text: str, start: datetime, end: datetime) -> None:
    t = only(text)
    assert t.kind == "range"
    assert (t.start, t.end) == (start, end)
    assert t.end is not None and t.end > t.start


def test_year_end_is_a_range_ending_new_year() -> None:
    t = only("年底")
    assert t.kind == "range"
    assert t.end == d(2027, 1, 1)
    assert t.start.year == 2026 and t.start.month in (11, 12)


@pytest.mark.parametrize(
    ("text", "start", "grain"),
    [
        ("月底前", d(2026, 11, 30), "day"),
        ("周五之前", d(2026, 11, 27), "day"),
        ("下周三之前", d(2026, 12, 2), "day"),
        ("下周五之前", d(2026, 12, 4), "day"),
        ("年底前", d(2026, 12, 31), "day"),
        ("3天内", d(2026, 11, 26), "day"),
        ("一周内", d(2026, 11, 30), "day"),
        ("下班前", d(2026, 11, 23, 18), "hour"),
        ("明天下班前", d(2026, 11, 24, 18), "hour"),
        ("12月5号前", d(2026, 12, 5), "day"),
        ("本周内", d(2026, 11, 29), "day"),
    ],
)
def test_deadline(text: str, start: datetime, grain: str) -> None:
    t = only(text)
    assert t.kind == "deadline"
    assert t.start == start
    assert t.grain == grain


def test_holidays() -> None:
    # 2027 Lunar New Year is 6 Feb 2027
    t = only("春节前")
    assert (t.kind, t.start) == ("deadline", d(2027, 2, 6))
    # the National Day break is 1-7 Oct: "after" means 8 Oct
    sept = datetime(2026, 9, 20, 10, tzinfo=SH)
    assert only("国庆节后", sept).start == d(2026, 10, 8)
    assert only("元旦后").start == d(2027, 1, 2)
    assert only("元旦").start == d(2027, 1, 1)


@pytest.mark.parametrize(
    ("text", "kind", "start"),
    [
        ("tomorrow 10am", "point", d(2026, 11, 24, 10)),
        ("next Tuesday at 2pm", "point", d(2026, 12, 1, 14)),
        ("Friday 3:30pm", "point", d(2026, 11, 27, 15, 30)),
        ("Dec 2 at 9:30 am", "point", d(2026, 12, 2, 9, 30)),
        ("on December 8th", "point", d(2026, 12, 8)),
        ("end of next week", "deadline", d(2026, 12, 4)),
        ("EOD", "deadline", d(2026, 11, 23, 18)),
        ("by Friday", "deadline", d(2026, 11, 27)),
        ("in 3 days", "point", d(2026, 11, 26)),
        ("tonight at 8pm", "point", d(2026, 11, 23, 20)),
    ],
)
def test_english(text: str, kind: str, start: datetime) -> None:
    ts = times(f"Let's do it {text}.")
    assert len(ts) == 1, ts
    assert (ts[0].kind, ts[0].start) == (kind, start)


def test_by_friday_span_includes_by() -> None:
    t = only("Please send it by Friday.")
    assert t.text == "by Friday"


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("聽日下午三點", d(2026, 11, 24, 15)),
        ("禮拜三", d(2026, 11, 25)),
        ("後天", d(2026, 11, 25)),
        ("下個禮拜一", d(2026, 11, 30)),
        ("星期天", d(2026, 11, 29)),
        ("尋日", d(2026, 11, 22)),
        ("今晚八點", d(2026, 11, 23, 20)),
    ],
)
def test_traditional_and_cantonese(text: str, start: datetime) -> None:
    t = only(text)
    assert t.start == start
    assert t.text == text


def test_cantonese_now() -> None:
    t = only("而家")
    assert t.start == NOW


@pytest.mark.parametrize(
    "text",
    [
        "寄两台样机",
        "带5箱试吃装",
        "上个季度压了2000箱货",
        "下个季度想压价5个点",
        "第二点，价格要再谈",
        "有两点要说明",
        "便宜一点",
        "快一点发货",
        "在3楼会议室A区",
        "快递单号SF1234567890123",
        "订单号202611230015",
        "身份证号140302197706220124",
        "增长了3.5%",
        "二十七点三",
        "调高24点5度",
        "0点一",
        "这个玩具一点都不好玩",
        "有十分之一的概率",
        "5号楼",
        "3号线",
    ],
)
def test_not_times(text: str) -> None:
    ts = [t for t in times(text) if t.kind != "duration"]
    assert ts == [] or all(t.grain in ("quarter", "month") for t in ts), [(t.text, t.kind) for t in ts]
    assert not any(t.grain in ("hour", "minute") for t in ts)


def test_price_points_are_not_clock_times() -> None:
    ts = times("嘉丰钱经理说下个季度想压价5个点，不然就换供应商")
    assert [t.text for t in ts] == ["下个季度"]


def test_id_and_tracking_numbers_are_not_dates() -> None:
    assert times("身份证号140302197706220124。") == []
    assert times("查询202403073计划") == []


def test_compact_date_is_a_date() -> None:
    t = only("查询20240307计划")
    assert t.start == d(2024, 3, 7)


def test_dotted_date_needs_context() -> None:
    assert times("版本3.5比较稳定") == []
    assert only("3.5号上午").start.date() == d(2027, 3, 5).date()
    t = only("定在12.8下午3点")
    assert t.start == d(2026, 12, 8, 15)


def test_unresolvable_is_dropped_not_now() -> None:
    assert times("过几天再说") == []
    for t in times("腊月初十见"):
        assert t.start != NOW


def test_duration() -> None:
    t = only("保质期只剩两个月")
    assert t.kind == "duration"
    assert t.start == NOW
    assert t.end == d(2027, 1, 23, 9, 12)


def test_mixed_zh_en() -> None:
    t = only("明天下午3点和Qiming开个call")
    assert t.start == d(2026, 11, 24, 15)
    t = only("Follow-up call 明天上午10点")
    assert t.start == d(2026, 11, 24, 10)
    t = only("next Tuesday 下午两点 demo")
    assert t.start == d(2026, 12, 1, 14)


def test_range_end_never_before_start() -> None:
    for text in ("晚上10点到12点", "11点到1点", "下午5点到8点", "12月30日到1月2日"):
        for t in times(text):
            if t.end is not None:
                assert t.end > t.start, text


def test_output_datetimes_are_aware_in_zone() -> None:
    ex = extract("下周三下午3点, 月底前, 两个月, 周末", NOW)
    for t in ex.times:
        assert t.start.tzinfo is not None
        assert t.start.utcoffset() == timedelta(hours=8)
        if t.end is not None:
            assert t.end.utcoffset() == timedelta(hours=8)


def test_fixed_offset_zone() -> None:
    # 04:30 at UTC-2 on Tue 2013-02-12 (Duckling's test clock)
    now = datetime.fromisoformat("2013-02-12T04:30:00-02:00")
    t = only("明天下午三点", now, "-02:00")
    assert t.start.isoformat() == "2013-02-13T15:00:00-02:00"
