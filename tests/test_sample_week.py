"""The main job on real input (issue 2 §8): the shared sample week through the real NLP pipeline.

Every expected value below was checked by hand against ../shared/data/chats/east-china-week.jsonl
(Asia/Shanghai; the week starts on Monday 2026-11-23):

- 百润 09:12 Mon "下周三下午3点再去公司聊" -> a visit on Wed 2026-12-02 15:00;
- 恒远 10:07 Mon "答应先寄两台XR-200样机…周五之前发出" -> 2 台 XR-200 due Fri 11-27 (end of the working
  day), sent Wed 11-25 16:40 ("已经发顺丰了") -> "follow up the trial" 3 working days later: Mon 11-30 16:40;
- 润达 "下周一上午九点…视频会" (Mon 11-23) then "润达下周一的会改到下周二上午十点了" (Thu 11-26): one meeting,
  moved to Tue 12-01 10:00;
- 启明 "2 x DS-2CD3T46WD-I3 cameras by end of next week" (Tue 11-24): a request, owed by Fri 12-04;
- 百润's "@loopkeeper 记一下" quotes the customer's own stored words: the pain is counted once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main

pytestmark = pytest.mark.slow


def run(*args: str) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture
def week(db: str, shared: Path) -> dict[str, Any]:
    chats = shared / "data/chats"
    run("members", "import", str(chats / "members.csv"))
    run("customers", "import", str(chats / "customers.csv"))
    out = run("ingest", str(chats / "east-china-week.jsonl"))
    customers = {c["name"]: c for c in json.loads(run("customers", "--json"))}
    todos = json.loads(run("todos", "--json"))
    return {"out": out, "customers": customers, "todos": todos}


def _todos(week: dict[str, Any], customer: str) -> dict[str, dict[str, Any]]:
    return {t["title"].split(" · ")[0]: t for t in week["todos"] if t["customer"] == customer}


def test_summary_and_chatter(week: dict[str, Any]) -> None:
    assert "new: 40, already stored: 0" in week["out"]
    # 收到, 好的, 👍 好的 周末愉快 and the team announcements create nothing
    assert "captured 3" in week["out"]


def test_meetings_resolved_against_each_messages_send_time(week: dict[str, Any]) -> None:
    c = week["customers"]
    assert [(m["start"], m["what"]) for m in c["杭州百润商贸"]["meetings"]] == [
        ("2026-12-02T15:00:00+08:00", "visit")
    ]
    assert [(m["start"], m["status"]) for m in c["南通润达贸易"]["meetings"]] == [
        ("2026-12-01T10:00:00+08:00", "moved")
    ]
    starts = sorted(m["start"] for m in c["无锡嘉丰连锁"]["meetings"])
    assert starts == ["2026-11-25T14:00:00+08:00", "2026-12-08T15:00:00+08:00"]
    jiafeng = {m["start"]: m for m in c["无锡嘉丰连锁"]["meetings"]}
    assert jiafeng["2026-12-08T15:00:00+08:00"]["end"] == "2026-12-08T16:00:00+08:00"
    assert ("2026-11-27T15:30:00+08:00", "call", "moved") in [
        (m["start"], m["what"], m["status"]) for m in c["上海启明科技"]["meetings"]
    ]


def test_samples_promised_sent_and_requested(week: dict[str, Any]) -> None:
    hy = _todos(week, "苏州恒远医疗器械")
    assert hy["寄出样品 2台 XR-200"]["status"] == "done"
    assert hy["寄出样品 2台 XR-200"]["due"] == "2026-11-27T18:00:00+08:00"
    assert hy["跟进样品试用反馈 XR-200"]["due"] == "2026-11-30T16:40:00+08:00"
    qm = _todos(week, "上海启明科技")
    assert qm["寄出样品 2 DS-2CD3T46WD-I3"]["due"] == "2026-12-04T18:00:00+08:00"
    assert qm["寄出样品 2 DS-2CD3T46WD-I3"]["owner"] == "Mark Zhou"
    hs = _todos(week, "宁波海晟电子")
    assert "寄出样品 3 units LK-90 Pro" in hs


def test_capture_of_a_stored_message_counts_the_pain_once(week: dict[str, Any]) -> None:
    pains = {p["text"]: p for p in week["customers"]["杭州百润商贸"]["pain_points"]}
    assert pains["账期太短"]["mentions"] == 1
    assert pains["账期太短"]["category"] == "payment"
    # "你们的价格倒不是问题" is negated: no price pain
    assert all(p["category"] != "price" for p in pains.values())


def test_ingesting_twice_changes_nothing(week: dict[str, Any], shared: Path) -> None:
    before = run("customers", "--json"), run("todos", "--json")
    out = run("ingest", str(shared / "data/chats/east-china-week.jsonl"))
    assert "new: 0, already stored: 40" in out
    assert (run("customers", "--json"), run("todos", "--json")) == before
