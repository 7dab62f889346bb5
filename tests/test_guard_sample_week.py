"""The rules scan on the shared sample week (issue 4 acceptance), hand-checked against
../shared/data/chats (Asia/Shanghai; the week is Mon 2026-11-23 .. Fri 11-27; customers are imported
without `stage_since`, so a stage counts from the customer's first activity).

`scan --now 2026-12-03T09:00:00+08:00` (a Thursday) raises:
- stage unchanged for 3 working days, all eight customers (no stage moved all week; the latest first
  activity is 星眼 on Wed 11-25 10:20 → due Mon 11-30 10:20): the owner is told, the manager copied
  (a rep's manager: 方琳 for 浙沪 reps, 郑伟 for 江苏 reps), and a todo "explain the delay" due
  Fri 12-04 18:00;
- todo past due, twelve of them (T3, the XR-200 sample, was sent; T8/T17 are due 12-04, T14 at 12:00
  today, T12 on 12-08): the owner only — the chain reaches the manager one working day after the alert;
- nothing for level C (百润 since 11-23, 启明 since 11-24: 14 days are not over) and no meeting reminder
  (新联's visit "12月3号上午" already began at 07:00).
A second scan raises nothing. The next day at 09:00 the twelve overdue todos go on to the managers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main

pytestmark = pytest.mark.slow

NOW = "2026-12-03T09:00:00+08:00"


def run(*args: str) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture
def scanned(db: str, shared: Path) -> dict[str, Any]:
    chats = shared / "data/chats"
    run("members", "import", str(chats / "members.csv"))
    run("customers", "import", str(chats / "customers.csv"))
    run("ingest", str(chats / "east-china-week.jsonl"))
    first = run("scan", "--now", NOW)
    second = run("scan", "--now", NOW)
    return {"first": first, "second": second, "alerts": json.loads(run("alerts", "--json"))}


STALE = {  # customer: (owner, manager copied, stage, due)
    "杭州百润商贸": ("周毅", "方琳", "商务谈判", "2026-11-26T09:12:00+08:00"),
    "苏州恒远医疗器械": ("陈晓", "郑伟", "方案报价", "2026-11-26T10:05:00+08:00"),
    "宁波海晟电子": ("Anna Lin", "方琳", "需求确认", "2026-11-26T11:02:00+08:00"),
    "无锡嘉丰连锁": ("刘涛", "郑伟", "合同签署", "2026-11-26T14:40:00+08:00"),
    "南通润达贸易": ("孙婷", "郑伟", "方案报价", "2026-11-26T16:18:00+08:00"),
    "上海启明科技": ("Mark Zhou", "方琳", "商务谈判", "2026-11-27T09:30:00+08:00"),
    "常州新联超市": ("周毅", "方琳", "需求确认", "2026-11-27T13:50:00+08:00"),
    "杭州星眼智能": ("吴昊", "方琳", "合同签署", "2026-11-30T10:20:00+08:00"),
}

OVERDUE = [  # (todo title, owner, due)
    ("记录电话结果 · 苏州恒远医疗器械", "陈晓", "2026-11-24T11:30:00+08:00"),
    ("寄出样品 3 units LK-90 Pro · 宁波海晟电子", "Anna Lin", "2026-11-25T11:04:00+08:00"),
    ("寄出样品 5箱 A3 · 无锡嘉丰连锁", "刘涛", "2026-11-25T14:42:00+08:00"),
    ("记录拜访结果 · 无锡嘉丰连锁", "刘涛", "2026-11-25T15:00:00+08:00"),
    ("寄出样品 2箱 B7 · 常州新联超市", "周毅", "2026-11-26T13:52:00+08:00"),
    ("记录拜访结果 · 杭州星眼智能", "吴昊", "2026-11-26T17:30:00+08:00"),
    ("记录电话结果 · 上海启明科技", "Mark Zhou", "2026-11-27T16:30:00+08:00"),
    ("跟进样品试用反馈 XR-200 · 苏州恒远医疗器械", "陈晓", "2026-11-30T16:40:00+08:00"),
    ("记录会议结果 · 南通润达贸易", "孙婷", "2026-12-01T11:00:00+08:00"),
    ("记录演示结果 · 宁波海晟电子", "Anna Lin", "2026-12-01T15:00:00+08:00"),
    ("记录会议结果 · 上海启明科技", "Mark Zhou", "2026-12-02T10:30:00+08:00"),
    ("记录拜访结果 · 杭州百润商贸", "周毅", "2026-12-02T16:00:00+08:00"),
]


def test_scan_raises_what_a_sales_manager_expects(scanned: dict[str, Any]) -> None:
    assert f"scan at {NOW}: 20 alert(s) raised, 0 resolved" in scanned["first"]
    assert f"scan at {NOW}: 0 alert(s) raised, 0 resolved" in scanned["second"]
    alerts = scanned["alerts"]
    assert len(alerts) == 20 and all(a["state"] == "open" for a in alerts)
    stale = {a["customer"]: a for a in alerts if a["rule"] == "stage.stale"}
    assert set(stale) == set(STALE)
    for name, (owner, manager, stage, due) in STALE.items():
        a = stale[name]
        assert (a["recipient"], a["recipients"], a["due_at"]) == (owner, [owner, manager], due), name
        assert f"「{stage}」" in a["title"]
    overdue = sorted(
        (a["title"].split("：", 1)[1], a["recipient"], a["due_at"])
        for a in alerts
        if a["rule"] == "todo.overdue"
    )
    assert overdue == sorted(OVERDUE)
    assert all(a["recipients"] == [a["recipient"]] for a in alerts if a["rule"] == "todo.overdue")
    assert not [a for a in alerts if a["rule"] not in ("stage.stale", "todo.overdue")]
    todos = json.loads(run("todos", "--json"))
    delay = [t for t in todos if t["origin_rule"] == "stage.stale"]
    assert len(delay) == 8 and {t["due"] for t in delay} == {"2026-12-04T18:00:00+08:00"}


def test_next_morning_the_chain_reaches_the_managers(scanned: dict[str, Any]) -> None:
    run("scan", "--now", "2026-12-04T08:59:00+08:00")
    assert all(a["escalation_step"] == 0 for a in json.loads(run("alerts", "--json")))
    run("scan", "--now", "2026-12-04T09:00:00+08:00")
    alerts = json.loads(run("alerts", "--json"))
    overdue = [
        a
        for a in alerts
        if a["rule"] == "todo.overdue" and a["title"].split("：", 1)[1] in {o[0] for o in OVERDUE}
    ]
    managers = {
        "周毅": "方琳",
        "Anna Lin": "方琳",
        "Mark Zhou": "方琳",
        "吴昊": "方琳",
        "陈晓": "郑伟",
        "刘涛": "郑伟",
        "孙婷": "郑伟",
    }
    assert len(overdue) == 12
    for a in overdue:
        assert a["escalation_step"] == 1
        assert a["recipients"] == [a["recipient"], managers[a["recipient"]]]
