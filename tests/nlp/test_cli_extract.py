"""`loopkeeper extract`: DESIGN §7's JSON, --jsonl (id echoed, per-line now/tz) and --gazetteer."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

FIELDS = {"text", "now", "tz", "times", "meetings", "pain_points", "samples", "contacts"}


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return res.exit_code, res.output


def test_single_text_design_shape() -> None:
    code, out = run(
        "extract",
        "--now",
        "2026-11-29T21:30:00+08:00",
        "--tz",
        "Asia/Shanghai",
        "王总说下周三下午3点来公司聊，价格倒不是问题，账期太短。寄两台XR-200样机",
    )
    assert code == 0, out
    data = json.loads(out)
    assert set(data) >= FIELDS
    assert "customers" not in data  # only with a gazetteer
    assert data["now"] == "2026-11-29T21:30:00+08:00"
    assert data["tz"] == "Asia/Shanghai"
    # Sunday night: "下周三" is Wednesday 2 December (weeks start on Monday)
    assert data["times"] == [
        {
            "text": "下周三下午3点",
            "span": [3, 10],
            "kind": "point",
            "start": "2026-12-02T15:00:00+08:00",
            "end": None,
            "grain": "hour",
        }
    ]
    assert data["meetings"] == [{"time": 0, "what": "meeting", "status": "scheduled"}]
    assert [(p["text"], p["category"], p["negated"]) for p in data["pain_points"]] == [
        ("价格倒不是问题", "price", True),
        ("账期太短", "payment", False),
    ]
    s = data["samples"][0]
    assert (s["model"], s["quantity"], s["unit"], s["committed"], s["span"]) == (
        "XR-200",
        2,
        "台",
        True,
        [31, 37],
    )
    assert data["contacts"] == [{"name": "王总", "title": "总", "span": [0, 2]}]


def test_offset_in_now_wins_over_a_disagreeing_zone() -> None:
    code, out = run("extract", "--now", "2026-11-29T23:30:00+08:00", "--tz", "-02:00", "明天上午十点")
    assert code == 0, out
    data = json.loads(out)
    assert data["tz"] == "+08:00"
    assert data["times"][0]["start"] == "2026-11-30T10:00:00+08:00"


def test_naive_now_is_read_in_the_zone() -> None:
    code, out = run("extract", "--now", "2026-11-29T23:30:00", "--tz", "-02:00", "明天上午十点")
    assert code == 0, out
    data = json.loads(out)
    assert (data["now"], data["tz"]) == ("2026-11-29T23:30:00-02:00", "-02:00")
    assert data["times"][0]["start"] == "2026-11-30T10:00:00-02:00"


def test_jsonl_with_gazetteer(tmp_path: Path) -> None:
    gaz = tmp_path / "customers.csv"
    gaz.write_text(
        "name,aliases,region\n杭州百润商贸,百润|百润商贸,华东\n上海启明科技,启明|Qiming,华东\n",
        encoding="utf-8",
    )
    lines = [
        {"id": 7, "text": "Call with Qiming tomorrow 10am", "now": "2026-11-29T23:30:00", "tz": "-02:00"},
        {"id": "b", "text": "百润王总说库存周转太慢"},
        {"id": None, "text": "", "now": "2026-11-30T08:00:00+08:00"},
        {"id": "sun", "text": "下周一上午拜访百润", "now": "2026-11-29T21:30:00+08:00"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8")
    code, out = run(
        "extract", "--jsonl", str(src), "--gazetteer", str(gaz), "--now", "2026-11-23T09:00:00+08:00"
    )
    assert code == 0, out
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r.get("id") for r in rows] == [7, "b", None, "sun"]
    r0 = rows[0]
    assert (r0["now"], r0["tz"]) == ("2026-11-29T23:30:00-02:00", "-02:00")
    assert r0["times"][0]["start"] == "2026-11-30T10:00:00-02:00"
    assert r0["customers"] == [{"name": "上海启明科技", "span": [10, 16], "alias": "Qiming"}]
    assert r0["meetings"] == [{"time": 0, "what": "call", "status": "scheduled"}]
    r1 = rows[1]
    assert r1["now"] == "2026-11-23T09:00:00+08:00"  # --now for lines without one
    assert r1["customers"] == [{"name": "杭州百润商贸", "span": [0, 2], "alias": "百润"}]
    assert r1["pain_points"][0]["category"] == "inventory"
    assert rows[2]["times"] == [] and rows[2]["customers"] == []
    # sent on Sunday evening: next Monday is the 30th
    assert rows[3]["times"][0]["start"].startswith("2026-11-30T")
    assert rows[3]["meetings"][0]["what"] == "visit"


def test_jsonl_from_stdin_and_bad_line() -> None:
    code, out = run(
        "extract", "--jsonl", "-", "--now", "2026-11-23T09:00:00+08:00", stdin='{"id": 1, "text": "明天"}\n'
    )
    assert code == 0
    assert json.loads(out)["id"] == 1
    res = CliRunner().invoke(main, ["extract", "--jsonl", "-"], input='{"id": 1}\n')
    assert res.exit_code != 0
    assert "line 1" in res.output


def test_text_or_jsonl_required() -> None:
    res = CliRunner().invoke(main, ["extract"])
    assert res.exit_code != 0


def test_jsonl_odd_lines() -> None:
    # a lone surrogate (escaped in the JSON input) in the id and the text: still valid JSON out
    code, out = run(
        "extract",
        "--jsonl",
        "-",
        "--now",
        "2026-11-23T09:00:00+08:00",
        stdin='{"id": "\\ud800x", "text": "明天\\udfff"}\n',
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["id"] == "\ud800x"
    assert data["text"] == "明天\ufffd"
    res = CliRunner().invoke(main, ["extract", "--jsonl", "-"], input="[1, 2]\n")
    assert res.exit_code != 0
    assert "line 1" in res.output
