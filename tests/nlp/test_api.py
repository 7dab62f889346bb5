"""The public API: arguments, zones, pipelines, serialisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import nlp
from nlp import EXTRACTOR_VERSION, Extraction, extract


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError):
        extract("明天", datetime(2026, 11, 23, 9, 0))


def test_unknown_zone_is_rejected() -> None:
    with pytest.raises(ValueError):
        extract("明天", datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tz="Mars/Olympus")


def test_zone_from_now_offset() -> None:
    now = datetime.fromisoformat("2026-11-23T09:12:00+08:00")
    ex = extract("明天下午3点", now)
    assert ex.tz == "+08:00"
    assert ex.times[0].start.isoformat() == "2026-11-24T15:00:00+08:00"


def test_zone_from_zoneinfo_now() -> None:
    ex = extract("明天", datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert ex.tz == "Asia/Shanghai"


def test_explicit_zone_converts_now() -> None:
    # 2026-11-23 01:00 UTC is 2026-11-22 23:00 at UTC-2: "明天" is the 23rd there
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    ex = extract("明天", now, tz="-02:00")
    assert ex.tz == "-02:00"
    assert ex.now.utcoffset() == timedelta(hours=-2)
    assert ex.times[0].start.isoformat() == "2026-11-23T00:00:00-02:00"
    # the same instant in Shanghai is the 23rd 09:00: "明天" is the 24th
    ex = extract("明天", now, tz="Asia/Shanghai")
    assert ex.times[0].start.isoformat() == "2026-11-24T00:00:00+08:00"


def test_result_shape_and_version() -> None:
    ex = extract("下周三下午3点去公司聊补货节奏", datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert isinstance(ex, Extraction)
    assert ex.extractor_version == EXTRACTOR_VERSION
    data = json.loads(ex.model_dump_json())
    assert data["times"][0]["span"] == [0, 7]
    assert data["times"][0]["start"] == "2026-12-02T15:00:00+08:00"
    assert data["meetings"] == [{"time": 0, "what": "visit", "status": "scheduled"}]


def test_language_detection() -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert extract("Follow-up call tomorrow 10am.", now).language == "en"
    assert extract("明天上午十点半电话沟通", now).language == "zh"
    assert extract("XR-200样机已经发顺丰了", now).language == "zh"
    assert extract("", now).times == []


def test_pipelines_are_spacy_and_cached() -> None:
    from nlp.pipeline import get_pipeline

    zh = get_pipeline("zh")
    assert zh is get_pipeline("zh")
    assert zh.lang == "zh"
    assert zh.tokenizer.segmenter == "rjieba"  # type: ignore[attr-defined]
    en = get_pipeline("en")
    assert en.lang == "en"
    expected = [
        "lk_normalize",
        "lk_times",
        "lk_meetings",
        "lk_samples",
        "lk_pain_points",
        "lk_contacts",
        "lk_customers",
    ]
    assert zh.pipe_names == expected
    assert en.pipe_names == expected
    doc = zh.make_doc("下周三下午3点")
    assert [t.text for t in doc][:2] == ["下", "周三"]


def test_nlp_imports_no_upper_layers() -> None:
    import sys

    for name in list(sys.modules):
        if name.startswith("nlp"):
            mod = sys.modules[name]
            src = getattr(mod, "__file__", "") or ""
            if not src.endswith(".py"):
                continue
            with open(src, encoding="utf-8") as fh:
                text = fh.read()
            for banned in (
                "import core",
                "from core",
                "import bot",
                "from bot",
                "from integrations",
                "import sqlmodel",
            ):
                assert banned not in text, (name, banned)
    assert nlp.__name__ == "nlp"
