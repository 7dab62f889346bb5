"""The `stage`, `level` and `policy` commands against the core services that enforce the rules
(core.stages: evidence + audit; core.policies: publish / acknowledge / apply). Expected labels are read
from the shipped rules (config/rules.yaml), the rest is hand-checked against tests/commandworld.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.commands import NOT_ALLOWED
from core.db import session_scope
from core.messages import ActionInvocation, Sender
from core.models import Attachment, AuditEvent, Customer, Meeting, Notice, PolicyAck
from tests.commandworld import IDS, NOW, build
from tests.test_commands import handler, via_chat


@pytest.fixture
def world(db: str, tmp_path: Path) -> Path:
    build(tmp_path)
    return tmp_path


def _labels(kind: str, name: str) -> list[str]:
    from config.rules import get_rules

    rules = get_rules()
    items = rules.stages if kind == "stage" else rules.levels
    return [r.label for r in next(x for x in items if x.name == name).requires]


def _customer(name: str) -> Customer:
    with session_scope() as s:
        c = s.exec(select(Customer).where(Customer.name == name)).one()
        return c


def _audits() -> list[tuple[str, str | None, str | None]]:
    with session_scope() as s:
        return [(a.action, a.from_value, a.to_value) for a in s.exec(select(AuditEvent)).all()]


def test_stage_blocked_lists_the_missing_evidence_and_changes_nothing(world: Path) -> None:
    reply = via_chat("wecom", "小周", "阶段 甲乙 商务谈判")
    assert reply is not None and "missing evidence" in reply.title
    for label in _labels("stage", "商务谈判"):
        assert f"- {label}" in reply.body
    assert _customer("杭州甲乙贸易").stage == "方案报价"
    assert _audits() == []


def test_stage_moves_once_its_evidence_exists_and_is_audited(world: Path) -> None:
    blocked = via_chat("dingtalk", "小周", "阶段 丙丁 方案报价")
    assert blocked is not None and _labels("stage", "方案报价")[0] in blocked.body
    c = _customer("宁波丙丁电子")
    with session_scope() as s:  # a visit held yesterday
        s.add(Meeting(customer_id=c.id or 0, start=NOW - timedelta(days=1), what="visit", inbox_id=1))
    reply = via_chat("dingtalk", "小周", "阶段 丙丁 方案报价")
    assert reply is not None and reply.title == "宁波丙丁电子：阶段 需求确认 → 方案报价"
    assert _customer("宁波丙丁电子").stage == "方案报价"
    assert _audits() == [("stage.change", "需求确认", "方案报价")]


def test_level_needs_its_own_evidence(world: Path) -> None:
    blocked = via_chat("slack", "小周", "级别 丙丁 b")
    assert blocked is not None and _labels("level", "B")[0] in blocked.body
    c = _customer("宁波丙丁电子")
    with session_scope() as s:
        s.add(Attachment(customer_id=c.id, kind="solution"))
    reply = via_chat("slack", "小周", "级别 丙丁 B")
    assert reply is not None and reply.title == "宁波丙丁电子：级别 A → B"
    assert _audits() == [("level.change", "A", "B")]


def test_stage_of_someone_elses_customer_is_refused(world: Path) -> None:
    for who in ("小陈", "赵经理"):
        reply = via_chat("wecom", who, "阶段 甲乙 商务谈判")
        assert reply is not None and reply.title == NOT_ALLOWED
        reply = via_chat("wecom", who, "阶段 O1 商务谈判")
        assert reply is not None and reply.title == NOT_ALLOWED
    assert _audits() == []


def test_policy_publish_list_and_ack(world: Path) -> None:
    reply = via_chat("wecom", "王经理", "政策 发布 to:华东-浙沪 年底返点 | 12 月签约返点 3%")
    assert reply is not None and reply.title == "P1 已发布 Published: 年底返点"
    with session_scope() as s:
        recipients = sorted(
            n.recipient_id or 0 for n in s.exec(select(Notice).where(Notice.kind == "policy"))
        )
    ids = {name: i for i, name in enumerate(["林总监", "王经理", "赵经理", "小周", "小陈", "小李"], start=1)}
    assert recipients == [ids["小周"], ids["小陈"]]
    listed = via_chat("wecom", "小周", "政策 list")
    assert listed is not None and "P1 年底返点" in listed.body and "待确认" in listed.body
    assert [a.value for a in listed.actions] == ["policy:1:ack"]
    other = via_chat("wecom", "小李", "政策 list")
    assert other is not None and other.title == "没有政策 No policies"
    acked = via_chat("wecom", "小周", "政策 ack P1")
    assert acked is not None and acked.title == "P1 已确认 Acknowledged"
    # the button on the broadcast does the same for 小陈
    pressed = handler().on_action(
        ActionInvocation(
            platform="wecom", sender=Sender(platform_user_id=IDS["wecom"]["小陈"]), value="policy:1:ack"
        )
    )
    assert pressed is not None and pressed.title == "P1 已确认 Acknowledged"
    with session_scope() as s:
        assert sorted(a.member_id for a in s.exec(select(PolicyAck)).all()) == [ids["小周"], ids["小陈"]]
    rep_publish = via_chat("wecom", "小周", "政策 发布 自己的政策 | x")
    assert rep_publish is not None and rep_publish.title == NOT_ALLOWED


def test_policy_application_is_recorded_once_per_deal(world: Path) -> None:
    from core.models import PolicyApplication

    via_chat("wecom", "王经理", "政策 发布 年底返点 | 12 月签约返点 3%")
    first = via_chat("wecom", "小周", "政策 apply P1 O1")
    assert first is not None and first.title == "P1 已用于 Applied in O1"
    assert "11-25 10:00" in first.body
    again = via_chat("wecom", "小周", "政策 用于 P1 O1")
    assert again is not None and again.body == first.body
    refused = via_chat("wecom", "小陈", "政策 apply P1 甲乙")
    assert refused is not None and refused.title == NOT_ALLOWED
    with session_scope() as s:
        assert [(a.policy_id, a.opportunity_id) for a in s.exec(select(PolicyApplication)).all()] == [(1, 1)]
