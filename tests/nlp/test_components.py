"""Meetings, pain points, samples, contacts and customers (hand-checked)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from nlp import CatalogueEntry, GazetteerEntry, extract

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 12, tzinfo=SH)  # Monday


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


# ------------------------------------------------------------------ meetings


@pytest.mark.parametrize(
    ("text", "what", "start"),
    [
        ("下周三下午3点再去公司聊补货节奏", "visit", d(2026, 12, 2, 15)),
        ("明天上午十点半电话沟通一下整改方案", "call", d(2026, 11, 24, 10, 30)),
        ("下周一上午九点和他们采购部张工开个视频会", "meeting", d(2026, 11, 30, 9)),
        ("约了后天下午两点去门店看陈列", "visit", d(2026, 11, 25, 14)),
        ("Demo scheduled next Tuesday at 2pm.", "demo", d(2026, 12, 1, 14)),
        ("Follow-up call tomorrow 10am.", "call", d(2026, 11, 24, 10)),
        ("Contract review meeting on Dec 2 at 9:30 am.", "meeting", d(2026, 12, 2, 9, 30)),
        ("周五中午请王总吃饭", "meal", d(2026, 11, 27, 12)),
        ("下周二去嘉丰签合同", "signing", d(2026, 12, 1)),
        ("明天下午3点和Qiming开个call", "call", d(2026, 11, 24, 15)),
    ],
)
def test_meeting_scheduled(text: str, what: str, start: datetime) -> None:
    ex = extract(text, NOW)
    assert len(ex.meetings) == 1
    m = ex.meetings[0]
    assert (m.what, m.status) == (what, "scheduled")
    assert ex.times[m.time].start == start


def test_meeting_moved_points_at_new_time() -> None:
    ex = extract("润达下周一的会改到下周二上午十点了", NOW)
    assert len(ex.meetings) == 1
    m = ex.meetings[0]
    assert m.status == "moved"
    assert ex.times[m.time].start == d(2026, 12, 1, 10)
    ex = extract("Qiming pushed the call to Friday 3:30pm.", NOW)
    m = ex.meetings[0]
    assert (m.what, m.status) == ("call", "moved")
    assert ex.times[m.time].start == d(2026, 11, 27, 15, 30)


def test_meeting_cancelled_points_at_old_time() -> None:
    ex = extract("明天下午的拜访取消了", NOW)
    assert len(ex.meetings) == 1
    m = ex.meetings[0]
    assert (m.what, m.status) == ("visit", "cancelled")
    assert ex.times[m.time].start.date() == d(2026, 11, 24).date()
    ex = extract("The demo on Friday is cancelled.", NOW)
    assert ex.meetings[0].status == "cancelled"


def test_range_meeting() -> None:
    ex = extract("约了12月8日下午三点到四点在嘉丰总部谈年度合同", NOW)
    m = ex.meetings[0]
    t = ex.times[m.time]
    assert (t.start, t.end) == (d(2026, 12, 8, 15), d(2026, 12, 8, 16))
    assert m.what == "visit"


def test_no_meeting_without_meeting_word_or_time() -> None:
    assert extract("月底前把本月拜访记录都补上", NOW).meetings == []
    assert extract("我们下次再沟通", NOW).meetings == []
    assert extract("今天和王总确认了，补货节奏改成每两周一次", NOW).meetings == []


# ------------------------------------------------------------------ pain points


def pains(text: str):
    return [(p.category, p.negated) for p in extract(text, NOW).pain_points]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("王总说他们仓库库存周转太慢", "inventory"),
        ("账期太短", "payment"),
        ("现款现货我们资金压力很大", "payment"),
        ("上一批的耗材退货率偏高", "quality"),
        ("竞品在搞买十送二", "competition"),
        ("我们的堆头位置也被挤到角落了", "display"),
        ("南通润达那边物流太慢了", "delivery"),
        ("售后响应太慢", "service"),
        ("你们系统查不到我们最新的下单记录", "integration"),
        ("合同里没写技术方案版本号", "compliance"),
        ("你们业务员换了三个了", "staffing"),
        ("护士培训成本高", "staffing"),
        ("价格太贵了", "price"),
        (
            "Shanghai Qiming's procurement lead complained our quote is 15% higher than the competitor's.",
            "price",
        ),
        ("Haisheng's CFO is worried about cash flow.", "payment"),
        ("Their IT team finds the API integration painful.", "integration"),
        ("Deliveries keep arriving late.", "delivery"),
        ("Price is still the main blocker.", "price"),
    ],
)
def test_pain_category(text: str, category: str) -> None:
    got = pains(text)
    assert (category, False) in got, got


def test_pain_negation_zh() -> None:
    ex = extract("你们的价格倒不是问题，主要是账期太短，现款现货我们资金压力很大", NOW)
    got = [(p.category, p.negated) for p in ex.pain_points]
    assert got[0] == ("price", True)
    assert ("payment", False) in got[1:]
    assert all(not p.negated for p in ex.pain_points[1:])
    assert ex.pain_points[1].text == "账期太短"


def test_pain_negation_en() -> None:
    ex = extract("No complaints from Haisheng on quality, the issue is really the integration effort.", NOW)
    got = [(p.category, p.negated) for p in ex.pain_points]
    assert ("quality", True) in got
    assert ("integration", False) in got


def test_pain_phrase_is_a_trimmed_clause() -> None:
    ex = extract("王总说他们仓库库存周转太慢，上个月压了快两千箱货", NOW)
    p = ex.pain_points[0]
    assert p.text == "他们仓库库存周转太慢"
    assert ex.text[p.span[0] : p.span[1]] == p.text
    for p in ex.pain_points:
        assert "，" not in p.text


@pytest.mark.parametrize(
    "text", ["好的", "收到", "👍 好的 周末愉快", "@loopkeeper 记一下", "下周三下午3点去公司聊补货节奏"]
)
def test_no_pain(text: str) -> None:
    assert pains(text) == []


# ------------------------------------------------------------------ samples


def test_samples_zh() -> None:
    ex = extract("答应先寄两台XR-200样机过去试用，周五之前发出", NOW)
    assert len(ex.samples) == 1
    s = ex.samples[0]
    assert (s.model, s.quantity, s.unit, s.committed, s.status) == ("XR-200", 2, "台", True, "promised")
    assert s.due is not None and ex.times[s.due].start == d(2026, 11, 27)
    assert ex.text[s.span[0] : s.span[1]] == "XR-200"


@pytest.mark.parametrize(
    ("text", "model", "qty", "unit"),
    [
        ("顺便带5箱A3型试吃装", "A3", 5, "箱"),
        ("带上新品B7的样品2箱", "B7", 2, "箱"),
        ("星眼要求先寄一套K8网关样品做兼容性测试", "K8", 1, "套"),
        ("Promised them 3 units of the LK-90 Pro for a two-week trial.", "LK-90 Pro", 3, "units"),
        (
            "They also asked for samples: 2 x DS-2CD3T46WD-I3 cameras by end of next week.",
            "DS-2CD3T46WD-I3",
            2,
            None,
        ),
    ],
)
def test_sample_models_and_quantities(text: str, model: str, qty: float, unit: str | None) -> None:
    ex = extract(text, NOW)
    assert [(s.model, s.quantity, s.unit) for s in ex.samples] == [(model, qty, unit)]


def test_sample_due_english_deadline() -> None:
    ex = extract("They also asked for samples: 2 x DS-2CD3T46WD-I3 cameras by end of next week.", NOW)
    s = ex.samples[0]
    assert s.due is not None
    assert ex.times[s.due].kind == "deadline"
    assert ex.times[s.due].start == d(2026, 12, 4)


def test_sample_sent() -> None:
    ex = extract("XR-200样机已经发顺丰了，单号后面补", NOW)
    assert [(s.model, s.status) for s in ex.samples] == [("XR-200", "sent")]
    ex = extract("The LK-90 Pro demo units were shipped yesterday.", NOW)
    assert [(s.model, s.status) for s in ex.samples] == [("LK-90 Pro", "sent")]


def test_sample_catalogue_alias() -> None:
    cat = [CatalogueEntry(model="XR-200", aliases=["小白盒"])]
    ex = extract("答应寄两台小白盒样机", NOW, catalogue=cat)
    assert [(s.model, s.quantity) for s in ex.samples] == [("XR-200", 2)]


def test_no_sample_without_sample_context() -> None:
    assert extract("XR-200的价格太贵了", NOW).samples == []


# ------------------------------------------------------------------ contacts


@pytest.mark.parametrize(
    ("text", "name", "title"),
    [
        ("王总说他们仓库库存周转太慢", "王总", "总"),
        ("李经理反馈上一批的耗材退货率偏高", "李经理", "经理"),
        ("和他们采购部张工开个视频会", "张工", "工"),
        ("新联的陈采购说这个月促销政策改了三次", "陈采购", "采购"),
        ("Shanghai Qiming's procurement lead complained", "procurement lead", "procurement lead"),
        ("Haisheng's CFO is worried about cash flow", "CFO", "CFO"),
    ],
)
def test_contacts(text: str, name: str, title: str) -> None:
    ex = extract(text, NOW)
    assert [(c.name, c.title) for c in ex.contacts] == [(name, title)]


@pytest.mark.parametrize("text", ["本周工作总结", "去总部对一下促销方案", "下周工作安排", "采购部门"])
def test_no_contacts(text: str) -> None:
    assert extract(text, NOW).contacts == []


# ------------------------------------------------------------------ customers

GAZ = [
    GazetteerEntry(name="杭州百润商贸", aliases=["百润", "百润商贸"]),
    GazetteerEntry(name="宁波海晟电子", aliases=["海晟", "Ningbo Haisheng", "Haisheng"]),
    GazetteerEntry(name="南通润达贸易", aliases=["润达", "南通润达"]),
]


def test_customers_longest_alias_first() -> None:
    ex = extract("南通润达那边物流太慢了", NOW, gazetteer=GAZ)
    assert [(c.name, c.alias, c.span) for c in ex.customers] == [("南通润达贸易", "南通润达", (0, 4))]


def test_customers_case_insensitive_latin() -> None:
    ex = extract("ningbo haisheng says onboarding takes too long", NOW, gazetteer=GAZ)
    assert [(c.name, c.alias) for c in ex.customers] == [("宁波海晟电子", "ningbo haisheng")]


def test_customers_canonical_name() -> None:
    ex = extract("@loopkeeper 记一下 杭州百润商贸", NOW, gazetteer=GAZ)
    assert [(c.name, c.alias) for c in ex.customers] == [("杭州百润商贸", None)]


def test_customers_need_gazetteer() -> None:
    assert extract("南通润达那边物流太慢了", NOW).customers == []
