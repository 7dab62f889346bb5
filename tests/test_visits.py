"""Visits: from a capture through the real pipeline and extractor ("今天拜访了…", "visited … today"), from the
`拜访`/`visit` command, `loopkeeper visits --json`, and undo removing a captured visit."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.handler import BotHandler
from core.db import session_scope
from core.models import Capture, Customer, Member, Visit
from tests.helpers import SH, at, msg, seed


@pytest.fixture
def seeded(db: str, tmp_path: Path) -> None:
    seed(tmp_path)


def _ingest(*messages):  # type: ignore[no-untyped-def]
    from bot.ingest import ingest

    return ingest(list(messages))


def _visits() -> list[Visit]:
    with session_scope() as s:
        return list(s.exec(select(Visit).order_by(Visit.id)).all())  # type: ignore[arg-type]


def _names(v: Visit) -> tuple[str | None, str | None]:
    with session_scope() as s:
        c = s.get(Customer, v.customer_id) if v.customer_id else None
        m = s.get(Member, v.rep_id) if v.rep_id else None
        return (c.name if c else None, m.name if m else None)


def test_captured_visit_report_becomes_a_visit_once(seeded: None) -> None:
    text = "今天拜访了杭州甲乙贸易，见了王总，演示很顺利，下一步周五前发报价"
    m = msg("v1", text, at(23, 17, 30), capture=True)
    _ingest(m)
    _ingest(m)  # the same message again
    [v] = _visits()
    assert _names(v) == ("杭州甲乙贸易", "小周")
    assert v.at == at(23, 17, 30)  # "今天" names the day; the report's time is the visit's time
    assert v.source == "capture" and v.result == text
    assert v.next_step == "周五前发报价"
    assert v.contacts_met == ["王总"]
    assert v.inbox_id is not None and v.capture_id is not None


def test_yesterdays_visit_keeps_its_day(seeded: None) -> None:
    _ingest(msg("v2", "昨天拜访了宁波丙丁电子，李经理说库存周转太慢", at(24, 9, 0), capture=True))
    [v] = _visits()
    assert _names(v)[0] == "宁波丙丁电子"
    assert v.at.astimezone(SH).date() == datetime(2026, 11, 23).date()


def test_english_report_with_past_verb(seeded: None) -> None:
    _ingest(msg("v3", "Visited JiaYi today, next step: send the quote", at(23, 16, 0), capture=True))
    [v] = _visits()
    assert _names(v)[0] == "杭州甲乙贸易" and v.next_step == "send the quote"


@pytest.mark.parametrize(
    "text",
    [
        "明天去拜访杭州甲乙贸易，谈一下样品",  # a plan
        "下周三拜访杭州甲乙贸易",  # a plan
        "杭州甲乙贸易说价格太贵了",  # no visit at all
    ],
)
def test_plans_and_other_captures_are_no_visit(seeded: None, text: str) -> None:
    _ingest(msg("p1", text, at(23, 10, 0), capture=True))
    assert _visits() == []


def test_undo_removes_the_captured_visit(seeded: None) -> None:
    from core.actions import undo_capture

    _ingest(msg("v4", "今天拜访了杭州甲乙贸易，结果不错", at(23, 17, 0), capture=True))
    assert len(_visits()) == 1
    with session_scope() as s:
        zhou = s.exec(select(Member).where(Member.name == "小周")).one()
        cap = s.exec(select(Capture)).one()
        undo_capture(s, zhou, f"C{cap.id}", at(23, 18, 0))
    assert _visits() == []


def test_visit_command_records_outcome_and_next_step(seeded: None) -> None:
    handler = BotHandler(enqueue=None, clock=lambda: at(23, 18, 0))
    m = msg("c1", "@loopkeeper 拜访 甲乙 演示顺利，王总认可方案，下一步周五前报价", at(23, 18, 0))
    reply = handler.on_message(m.model_copy(update={"addressed": True}))
    assert reply is not None and reply.private and "已记录拜访" in reply.title
    [v] = _visits()
    assert _names(v) == ("杭州甲乙贸易", "小周") and v.source == "command"
    assert v.result == "演示顺利，王总认可方案，下一步周五前报价" and v.next_step == "周五前报价"
    # the same chat message delivered again: still one visit
    again = handler.on_message(m.model_copy(update={"addressed": True}))
    assert again is not None and "已记录过" in again.title
    assert len(_visits()) == 1


def test_visit_command_refuses_customers_out_of_scope_and_unknown_ones(seeded: None) -> None:
    handler = BotHandler(enqueue=None, clock=lambda: at(23, 18, 0))
    # 小陈 is a rep; 杭州甲乙贸易 belongs to 小周
    r = handler.on_message(msg("c2", "@lk visit 杭州甲乙贸易 ok", at(23, 18), sender="wm-chen").model_copy(
        update={"addressed": True}))  # fmt: skip
    assert r is not None and r.title == "无权限 Not allowed" and "杭州甲乙贸易" in r.body
    r = handler.on_message(
        msg("c3", "@lk 拜访 不存在的公司", at(23, 18)).model_copy(update={"addressed": True})
    )
    assert r is not None and "No customer matches" in r.body
    assert _visits() == []


def test_cli_visits_json(seeded: None) -> None:
    from bot.cli import main

    handler = BotHandler(enqueue=None, clock=lambda: at(23, 18, 0))
    handler.on_message(msg("c4", "@lk 拜访 丙丁 在宁波办公室开会，下一步寄样", at(23, 18)).model_copy(
        update={"addressed": True}))  # fmt: skip
    out = CliRunner().invoke(main, ["visits", "--json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    keys = (
        "id customer rep at outcome_recorded place result next_step contacts_met source evidence created_at"
    )
    assert set(row) >= set(keys.split())
    assert (row["customer"], row["rep"], row["place"], row["next_step"]) == (
        "宁波丙丁电子",
        "小周",
        "宁波办公室",
        "寄样",
    )
    assert row["at"] == "2026-11-23T18:00:00+08:00" and row["evidence"]["claim_ids"] == []
    assert row["outcome_recorded"] is True
    text = CliRunner().invoke(main, ["visits"])
    assert "宁波丙丁电子" in text.output


def test_report_shows_visit_and_claim_figures(seeded: None) -> None:
    from core.models import ExpenseClaim

    handler = BotHandler(enqueue=None, clock=lambda: at(23, 18, 0))
    for mid, text in (("r1", "@lk 拜访 甲乙 演示顺利"), ("r2", "@lk 拜访 丙丁")):
        handler.on_message(msg(mid, text, at(23, 18)).model_copy(update={"addressed": True}))
    with session_scope() as s:
        zhou = s.exec(select(Member).where(Member.name == "小周")).one()
        v = s.exec(select(Visit)).first()
        assert v is not None
        s.add(ExpenseClaim(platform="wecom", instance_id="sp1", applicant_id=zhou.id, visit_id=v.id,
                           created_at=at(23, 9)))  # fmt: skip
        s.add(ExpenseClaim(platform="wecom", instance_id="sp2", applicant_id=zhou.id, created_at=at(23, 9)))
    r = handler.on_message(
        msg("r3", "@lk 健康度", at(23, 18), sender="wm-mgr").model_copy(update={"addressed": True})
    )
    assert r is not None
    # 2 visits in 4 weeks: 0.5 a week for 小周, none for 小陈; 1 of 2 with an outcome; 1 of 2 claims linked
    assert "| 小周 | 0.5 |" in r.body and "| 小陈 | 0 |" in r.body
    assert "visits with an outcome: **50%** (1/2)" in r.body
    assert "claims linked to a visit: **50%** (1/2)" in r.body
