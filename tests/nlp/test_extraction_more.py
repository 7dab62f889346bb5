"""More hand-checked component cases: identifiers that are not models, catalogue snapping, quantities,
negation, contacts, mixed Chinese/English, several send times, the pipeline config and user lexicons."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nlp import CatalogueEntry, GazetteerEntry, extract

SH = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 9, 12, tzinfo=SH)  # Monday (calendar-checked)
SUN_2130 = datetime(2026, 11, 29, 21, 30, tzinfo=SH)  # the Sunday that closes MON's week
SUN_2330 = datetime(2026, 11, 29, 23, 30, tzinfo=SH)
MON_0010 = datetime(2026, 11, 30, 0, 10, tzinfo=SH)  # ten minutes into the next week
CAT = [
    CatalogueEntry(model="XR-200", aliases=["XR200"]),
    CatalogueEntry(model="LK-90 Pro"),
    CatalogueEntry(model="K8网关", aliases=["K8"]),
    CatalogueEntry(model="DS-2CD3T46WD-I3"),
]


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


# ------------------------------------------------------------------ meetings at several send times


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (MON, d(2026, 12, 2, 15)),  # next week's Wednesday
        (SUN_2130, d(2026, 12, 2, 15)),  # Sunday is still the old week: next week starts 11-30
        (SUN_2330, d(2026, 12, 2, 15)),
        (MON_0010, d(2026, 12, 9, 15)),  # a new week has begun
    ],
)
def test_meeting_next_wednesday_from_several_send_times(now: datetime, start: datetime) -> None:
    ex = extract("下周三下午3点去拜访王总", now)
    assert [(m.what, m.status) for m in ex.meetings] == [("visit", "scheduled")]
    assert ex.times[ex.meetings[0].time].start == start


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (SUN_2130, d(2026, 11, 30, 10)),  # tomorrow is Monday
        (SUN_2330, d(2026, 11, 30, 10)),
        (MON_0010, d(2026, 12, 1, 10)),
    ],
)
def test_call_tomorrow_across_midnight(now: datetime, start: datetime) -> None:
    ex = extract("明天上午10点和李经理电话沟通", now)
    assert ex.meetings[0].what == "call"
    assert ex.times[ex.meetings[0].time].start == start
    ex = extract("Call with their CFO tomorrow 10am", now)
    assert ex.meetings[0].what == "call"
    assert ex.times[ex.meetings[0].time].start == start


def test_cancelled_meeting_is_not_scheduled() -> None:
    ex = extract("周五下午的演示取消了", SUN_2130)
    assert [(m.what, m.status) for m in ex.meetings] == [("demo", "cancelled")]


# ------------------------------------------------------------------ samples and models


@pytest.mark.parametrize(
    "text",
    [
        "样机寄过去了，订单号PO-20261123-007",
        "快递单号SF1234567890，样品明天到",
        "发票号INV-2026-0042的样品费还没付",
        "按GB/T 2828.1标准抽检样品",
        "样品按ISO-9001体系出厂",
        "tracking no. YT-7788 for the samples",
        "Order #SO-5521: samples are on the way",
        "样品批次号AB-778899",
    ],
)
def test_identifiers_are_not_models(text: str) -> None:
    assert extract(text, MON).samples == []


def test_identifier_beside_a_real_model() -> None:
    ex = extract("样机XR-200两台已发顺丰，运单号SF-2026112301", MON)
    assert [(s.model, s.quantity, s.unit, s.status) for s in ex.samples] == [("XR-200", 2, "台", "sent")]


@pytest.mark.parametrize(
    ("text", "model", "qty", "unit"),
    [
        ("下周寄两台XR-2OO样机给他们", "XR-200", 2, "台"),  # letter O for zero
        ("Will ship 3 units of LK90 Pro as samples next week", "LK-90 Pro", 3, "units"),
        ("送一套K8网关试用", "K8网关", 1, "套"),
        ("寄两台xr200样机", "XR-200", 2, "台"),  # an alias, any case
        ("We will send 2 x DS2CD3T46WD-I3 samples by Friday", "DS-2CD3T46WD-I3", 2, None),
    ],
)
def test_catalogue_snapping(text: str, model: str, qty: int, unit: str | None) -> None:
    ex = extract(text, MON, catalogue=CAT)
    assert [(s.model, s.quantity, s.unit) for s in ex.samples] == [(model, qty, unit)]
    assert ex.samples[0].committed


def test_no_snapping_to_a_different_model() -> None:
    # XR-20 is one character away from XR-200 but a different model: the shape stays
    ex = extract("寄两台XR-20样机", MON, catalogue=CAT)
    assert [s.model for s in ex.samples] == ["XR-20"]


def test_shape_decides_without_catalogue() -> None:
    ex = extract("下周寄两台XR-2OO样机给他们", MON)
    assert [s.model for s in ex.samples] == ["XR-2OO"]


def test_quantity_is_an_integer_when_whole() -> None:
    ex = extract("提供5箱A3型试用装", MON)
    s = ex.samples[0]
    assert (s.model, s.quantity, s.unit) == ("A3", 5, "箱")
    assert isinstance(s.quantity, int)
    assert ex.model_dump(mode="json")["samples"][0]["quantity"] == 5


def test_request_versus_promise() -> None:
    asked = extract("客户要求先寄5箱A3型试用", MON).samples[0]
    assert asked.requested and not asked.committed
    promised = extract("我们答应下周寄2台XR-200样机", MON).samples[0]
    assert promised.committed and not promised.requested


# ------------------------------------------------------------------ pain points


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("他们不觉得价格高", "price"),
        ("价格倒不是问题", "price"),
        ("质量没问题", "quality"),
        ("no complaints on quality", "quality"),
        ("They don't think the price is too high", "price"),
    ],
)
def test_negated_pains(text: str, category: str) -> None:
    ex = extract(text, MON)
    assert [(p.category, p.negated) for p in ex.pain_points] == [(category, True)]


def test_mixed_clause_pains() -> None:
    ex = extract("质量没问题，就是售后响应太慢", MON)
    assert [(p.text, p.category, p.negated) for p in ex.pain_points] == [
        ("质量没问题", "quality", True),
        ("售后响应太慢", "service", False),
    ]


# ------------------------------------------------------------------ contacts, customers, mixed languages


def test_contacts() -> None:
    ex = extract("王总、李经理和张工明天到，陈采购也来，CFO晚点进会", MON)
    assert [(c.name, c.title) for c in ex.contacts] == [
        ("王总", "总"),
        ("李经理", "经理"),
        ("张工", "工"),
        ("陈采购", "采购"),
        ("CFO", "CFO"),
    ]
    for c in ex.contacts:
        assert ex.text[c.span[0] : c.span[1]] == c.name


def test_words_that_look_like_contacts_are_not() -> None:
    ex = extract("这周工作量太大，王总部那边采购部还没回", MON)
    assert [c.name for c in ex.contacts] == []


def test_mixed_chinese_english_message() -> None:
    gaz = [GazetteerEntry(name="上海启明科技", aliases=["启明", "Qiming"])]
    ex = extract("明天下午3点和Qiming的CFO开个call，他们说integration太麻烦", MON, gazetteer=gaz)
    assert ex.language == "zh"
    assert ex.times[0].start == d(2026, 11, 24, 15)
    assert [(m.what, m.status) for m in ex.meetings] == [("call", "scheduled")]
    assert [(c.name, c.alias) for c in ex.customers] == [("上海启明科技", "Qiming")]
    assert [c.title for c in ex.contacts] == ["CFO"]
    assert [p.category for p in ex.pain_points] == ["integration"]


# ------------------------------------------------------------------ the pipelines and their config


def test_pipelines_assembled_from_the_config_file() -> None:
    import spacy

    from nlp.pipeline import CONFIG_PATH, get_pipeline

    cfg = spacy.util.load_config(CONFIG_PATH, interpolate=False)
    for lang in ("zh", "en"):
        nlp = get_pipeline(lang)
        assert nlp.pipe_names == list(cfg["nlp"]["pipeline"])
        for name in nlp.pipe_names:
            assert nlp.get_pipe_meta(name).factory == cfg["components"][name]["factory"]
    assert get_pipeline("zh").tokenizer.segmenter == cfg["nlp"]["languages"]["zh"]["tokenizer"]["segmenter"]


def test_pipeline_runs_on_a_spacy_doc_directly() -> None:
    from nlp.pipeline import Context, get_pipeline, run

    ctx = Context(MON, SH)
    doc = run("zh", "王总说库存周转太慢，明天下午3点拜访", ctx)
    assert doc._.lk_ctx is ctx
    assert [t.text for t in doc._.lk_times] == ["明天下午3点"]
    assert [p.category for p in doc._.lk_pain_points] == ["inventory"]
    assert doc.text == "王总说库存周转太慢，明天下午3点拜访"
    with pytest.raises(ValueError):
        get_pipeline("zh")("明天")  # no context: no "now" to resolve against


def test_rjieba_and_jieba_segment_alike() -> None:
    from nlp.pipeline import get_pipeline

    zh = get_pipeline("zh")
    from nlp.pipeline import ChineseTokenizer

    slow = ChineseTokenizer(zh.vocab, "jieba")
    for text in [
        "王总说他们仓库库存周转太慢，下周三下午3点再去公司聊",
        "明天下午3点和Qiming开个call  ok",
        "  ",
    ]:
        a, b = zh.tokenizer(text), slow(text)
        assert [t.text for t in a] == [t.text for t in b]
        assert a.text == b.text == text


def test_user_lexicon_files_extend_the_vocabulary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import reset_settings
    from nlp.extractors import reload_lexicon

    text = "他们觉得冷链温控不达标"
    assert extract(text, MON).pain_points == []
    extra = tmp_path / "my-lexicon.yaml"
    extra.write_text(
        "pain:\n  categories:\n    quality:\n      strong:\n        zh: [温控不达标]\n"
        "contact:\n  titles: [厂长]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LOOPKEEPER_LEXICON_FILES", f'["{extra}"]')
    reset_settings()
    reload_lexicon()
    try:
        ex = extract(text, MON)
        assert [(p.text, p.category) for p in ex.pain_points] == [("冷链温控不达标", "quality")]
        assert [c.name for c in extract("刘厂长明天来", MON).contacts] == ["刘厂长"]
        assert extract("价格太贵了", MON).pain_points[0].category == "price"  # the packaged words stay
    finally:
        monkeypatch.delenv("LOOPKEEPER_LEXICON_FILES")
        reset_settings()
        reload_lexicon()
    assert extract(text, MON).pain_points == []


def test_user_lexicon_with_unknown_category_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import reset_settings
    from nlp.extractors import lexicon, reload_lexicon

    extra = tmp_path / "bad.yaml"
    extra.write_text(
        "pain:\n  categories:\n    weather:\n      strong:\n        zh: [下雨]\n", encoding="utf-8"
    )
    monkeypatch.setenv("LOOPKEEPER_LEXICON_FILES", f'["{extra}"]')
    reset_settings()
    reload_lexicon()
    try:
        with pytest.raises(ValueError, match="weather"):
            lexicon()
    finally:
        monkeypatch.delenv("LOOPKEEPER_LEXICON_FILES")
        reset_settings()
        reload_lexicon()


def test_pipeline_rebuilt_when_its_vocabulary_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp import pipeline

    monkeypatch.setattr(pipeline, "MAX_VOCAB_STRINGS", 10)
    monkeypatch.setattr(pipeline, "_CHECK_EVERY", 1)
    old = pipeline.get_pipeline("zh")
    first = extract("订单号PO-778812的样品明天下午3点到", MON)
    new = pipeline.get_pipeline("zh")
    assert new is not old
    assert len(new.vocab.strings) < len(old.vocab.strings)
    monkeypatch.setattr(pipeline, "MAX_VOCAB_STRINGS", 10**9)
    again = extract("订单号PO-778812的样品明天下午3点到", MON)
    assert again.model_dump() == first.model_dump()


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("润达下周一下午3点的会改到下周二同一时间", d(2026, 12, 1, 15)),
        ("明天下午3点半的拜访改到后天，时间不变", d(2026, 11, 25, 15, 30)),
        ("The Friday 3pm call moved to next Tuesday, same time", d(2026, 12, 1, 15)),
    ],
)
def test_moved_meeting_same_time(text: str, start: datetime) -> None:
    ex = extract(text, MON)
    assert [(m.status) for m in ex.meetings] == ["moved"]
    assert ex.times[ex.meetings[0].time].start == start


def test_moved_meeting_without_same_time_keeps_the_day() -> None:
    ex = extract("明天下午3点的拜访改到后天", MON)
    t = ex.times[ex.meetings[0].time]
    assert (t.start, t.grain) == (d(2026, 11, 25), "day")


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (MON, d(2026, 12, 4)),
        (SUN_2130, d(2026, 12, 4)),  # Sunday night still belongs to the week of 11-23
        (SUN_2330, d(2026, 12, 4)),
        (MON_0010, d(2026, 12, 11)),
    ],
)
def test_sample_due_from_several_send_times(now: datetime, due: datetime) -> None:
    for text, model, qty in [
        ("下周五前寄2台XR-200样机", "XR-200", 2),
        ("We will send 3 units of LK-90 Pro by end of next week", "LK-90 Pro", 3),
    ]:
        ex = extract(text, now)
        s = ex.samples[0]
        assert (s.model, s.quantity, s.committed) == (model, qty, True)
        assert s.due is not None
        t = ex.times[s.due]
        assert (t.kind, t.start) == ("deadline", due)


@pytest.mark.parametrize("now", [MON, SUN_2130, SUN_2330, MON_0010])
def test_pains_and_contacts_do_not_depend_on_send_time(now: datetime) -> None:
    ex = extract("王总说账期太短，月底前要回复；李经理觉得价格倒不是问题", now)
    assert [(p.text, p.category, p.negated) for p in ex.pain_points] == [
        ("账期太短", "payment", False),
        ("价格倒不是问题", "price", True),
    ]
    assert [c.name for c in ex.contacts] == ["王总", "李经理"]
    assert ex.times[0].start == d(2026, 11, 30)  # end of November: 月底前


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("他们觉得报价太高了", "price"),
        ("Payment terms of 30 days are too short", "payment"),
        ("Stock runs out every week", "inventory"),
        ("上批货运输途中破损了十几箱", "delivery"),
        ("Three units are defective", "quality"),
        ("Support takes days to respond", "service"),
        ("陈列位置不好，顾客看不到", "display"),
        ("A competitor offered them 10% off", "competition"),
        ("The ERP integration is a nightmare", "integration"),
        ("合同审批流程太长", "compliance"),
        ("新来的采购不熟悉产品", "staffing"),
        ("Their buyer left the company", "staffing"),
    ],
)
def test_pain_categories(text: str, category: str) -> None:
    ex = extract(text, MON)
    assert [(p.category, p.negated) for p in ex.pain_points] == [(category, False)]


def test_english_contact_names_are_not_customers() -> None:
    gaz = [GazetteerEntry(name="杭州百润商贸", aliases=["Bairun"])]
    ex = extract("Call tomorrow 10am with Bairun CFO about payment terms", MON, gazetteer=gaz)
    assert [(c.name, c.title) for c in ex.contacts] == [("CFO", "CFO")]
    assert [c.name for c in ex.customers] == ["杭州百润商贸"]
    ex = extract("Call tomorrow 10am with Tom Li, the procurement lead", MON, gazetteer=gaz)
    assert [(c.name, c.title) for c in ex.contacts] == [("Tom Li", "procurement lead")]
