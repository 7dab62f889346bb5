"""No exception on any input, and the invariants of every extraction (property tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp import CatalogueEntry, Extraction, GazetteerEntry, extract
from nlp.normalize import without_surrogates

SH = ZoneInfo("Asia/Shanghai")
GAZ = [GazetteerEntry(name="杭州百润商贸", aliases=["百润", "Bairun"])]
CAT = [CatalogueEntry(model="XR-200", aliases=["XR200"])]

# send times where day and week boundaries bite: Sunday 21:30 and 23:30, Monday 00:10, New Year's Eve
NOWS = [
    datetime(2026, 11, 29, 21, 30, tzinfo=SH),
    datetime(2026, 11, 29, 23, 30, tzinfo=SH),
    datetime(2026, 11, 30, 0, 10, tzinfo=SH),
    datetime(2026, 12, 31, 23, 59, tzinfo=SH),
    datetime(2026, 11, 23, 9, 12, tzinfo=timezone(timedelta(hours=-2))),
]


def check_invariants(ex: Extraction, text: str) -> None:
    n = len(text)
    assert len(ex.text) == n
    text = without_surrogates(text)
    assert ex.text == text
    assert ex.now.tzinfo is not None and ex.now.utcoffset() is not None
    for t in ex.times:
        a, b = t.span
        assert 0 <= a < b <= n, (t, n)
        assert t.text == text[a:b]
        assert t.start.tzinfo is not None and t.start.utcoffset() is not None, t
        if t.end is not None:
            assert t.end.tzinfo is not None and t.end.utcoffset() is not None, t
            assert t.end >= t.start, t
    for m in ex.meetings:
        assert 0 <= m.time < len(ex.times)
    for group in (ex.pain_points, ex.samples, ex.contacts, ex.customers):
        for item in group:
            a, b = item.span
            assert 0 <= a < b <= n, (item, n)
    for p in ex.pain_points:
        assert p.text == text[p.span[0] : p.span[1]]
    for s in ex.samples:
        assert s.due is None or 0 <= s.due < len(ex.times)
        assert s.quantity is None or s.quantity >= 0
    ex.model_dump_json()  # serialisable (lone surrogates would not be)


NASTY = [
    "",
    " ",
    "\x00",
    "\ud800",
    "明天\udfff下午3点拜访",
    "\ud83d明天",  # half of an emoji's surrogate pair
    "👍 好的 周末愉快 🎉🎉",
    "明\u200b天\u200d下午\ufeff3点",
    "\x07\x1b[31m明天下午3点\x1b[0m\r\n",
    "下周日晚上\u202e11点\u202c开会",
    "ＸＲ－２００ 两台 ３点",
    "𠀀𠀁 明天 𪚥",
    "\t\n\r\x0b\x0c" * 50,
    "9" * 5000,
    "下" * 5000,
    "2026-13-45 25:61 第99点 99月99日 二〇二六年十三月三十二日",
    "明天到昨天 下午5点到3点 12月31日到1月2日",
]


@pytest.mark.parametrize("text", NASTY)
@pytest.mark.parametrize("now", NOWS[:3])
def test_nasty_inputs(text: str, now: datetime) -> None:
    ex = extract(text, now, gazetteer=GAZ, catalogue=CAT)
    check_invariants(ex, text)


def test_100_kb_inputs() -> None:
    now = NOWS[0]
    for unit in (
        "王总说库存周转太慢，明天下午3点拜访百润，寄两台XR-200样机。",
        "call tomorrow 10am; 2 x XR-200. ",
        "啊",
        "9",  # one run of digits: the number rules would take quadratic time on it
        "三",
        "9" * 16 + " ",
        "9.",
        "二〇二六年",
        "。",  # one long run without spaces: spaCy's rule-based tokenizer is quadratic on it
        ":.",
    ):
        text = (unit * (100_000 // len(unit) + 1))[:100_000]
        ex = extract(text, now, gazetteer=GAZ, catalogue=CAT)
        check_invariants(ex, text)


_WORDS = [
    "明天", "后天", "下周", "周日", "星期天", "礼拜", "上午", "下午", "晚上", "凌晨", "点", "半", "一刻",
    "到", "至",
    "月底前", "年底", "国庆节后", "春节前", "两天后", "3天内", "号", "日", "月", "年", "第二点", "点钟", "整",
    "拜访", "开会", "电话", "取消", "改到", "寄", "样机", "两台", "XR-200", "王总", "李经理", "百润", "价格",
    "库存", "不是问题", "tomorrow", "next", "Tuesday", "at", "2pm", "10am", "EOD", "by", "Friday", "call",
    "3", "12", "15:30", "2026-03-05", "3.5", "-", "~", "，", "。", " ", "\n", "\u200b", "😀", "\ud800",
]  # fmt: skip

messages = st.lists(st.sampled_from(_WORDS) | st.text(max_size=3), max_size=14).map("".join)
send_times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2098, 12, 31),
    timezones=st.sampled_from([SH, UTC, ZoneInfo("America/Sao_Paulo"), timezone(timedelta(hours=-2))]),
)


@given(text=messages, now=send_times)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_message_any_time(text: str, now: datetime) -> None:
    ex = extract(text, now, gazetteer=GAZ, catalogue=CAT)
    check_invariants(ex, text)


@given(text=st.text(max_size=80), now=st.sampled_from(NOWS))
@settings(max_examples=300, deadline=None)
def test_any_unicode(text: str, now: datetime) -> None:
    ex = extract(text, now)
    check_invariants(ex, text)


@given(text=messages)
@settings(max_examples=100, deadline=None)
def test_fixed_offset_zones(text: str) -> None:
    for tz in ("-02:00", "+05:45", "Asia/Shanghai", "America/New_York"):
        ex = extract(text, NOWS[0], tz=tz)
        check_invariants(ex, text)
        assert ex.tz == tz
        for t in ex.times:
            assert t.start.utcoffset() == ex.now.astimezone(t.start.tzinfo).utcoffset() or tz.startswith(
                "America"
            )


def test_long_numbers_are_masked_not_shifted() -> None:
    from nlp.normalize import mask_long_numbers

    assert mask_long_numbers("单号12345678901234567的货") == "单号" + "#" * 17 + "的货"
    assert mask_long_numbers("电话13800138000，2026年3月5日") == "电话13800138000，2026年3月5日"
    ex = extract("订单号1234567890123456789的样品明天下午3点寄出", NOWS[0])
    assert [t.text for t in ex.times] == ["明天下午3点"]
    assert ex.samples == []


def test_english_tokenizer_guard_keeps_the_text() -> None:
    from nlp.pipeline import get_pipeline

    en = get_pipeline("en")
    for text in ["call tomorrow 10am", "。" * 300 + " ok  then", "x" * 250 + ", fine"]:
        assert en.tokenizer(text).text == text
    assert [t.text for t in en.tokenizer("call tomorrow 10am.")] == ["call", "tomorrow", "10", "am", "."]
