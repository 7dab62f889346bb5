"""Builders for the guard tests: the roster of tests/helpers.py and direct rows for todos, meetings,
activities (the pipeline is tested elsewhere)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.db import session_scope
from core.models import Activity, Alert, Customer, InboxMessage, Meeting, Member, Notice, Todo
from tests.helpers import seed

SH = ZoneInfo("Asia/Shanghai")


def t(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def setup(tmp_path: Path) -> None:
    seed(tmp_path)


def member(s: Session, name: str) -> Member:
    m = s.exec(select(Member).where(Member.name == name)).one()
    return m


def customer(s: Session, name: str) -> Customer:
    return s.exec(select(Customer).where(Customer.name == name)).one()


def add_todo(owner: str, due: datetime, title: str = "跟进报价", customer_name: str = "杭州甲乙贸易") -> int:
    with session_scope() as s:
        todo = Todo(
            owner_id=member(s, owner).id,
            customer_id=customer(s, customer_name).id,
            title=title,
            due=due,
            dedup_key=f"test:{title}:{due.isoformat()}",
        )
        s.add(todo)
        s.flush()
        return todo.id or 0


_seq = [0]


def inbox_row(s: Session, at: datetime) -> int:
    _seq[0] += 1
    row = InboxMessage(
        platform="wecom",
        message_id=f"g-{_seq[0]}-{at.timestamp()}",
        sender_id="wm-zhou",
        sent_at=at,
        status="done",
    )
    s.add(row)
    s.flush()
    return row.id or 0


def add_activity(customer_name: str, at: datetime) -> None:
    with session_scope() as s:
        s.add(
            Activity(
                customer_id=customer(s, customer_name).id or 0, inbox_id=inbox_row(s, at), occurred_at=at
            )
        )


def add_meeting(customer_name: str, start: datetime, owner: str = "小周") -> int:
    with session_scope() as s:
        m = Meeting(
            customer_id=customer(s, customer_name).id or 0,
            owner_id=member(s, owner).id,
            start=start,
            what="visit",
            inbox_id=inbox_row(s, start),
        )
        s.add(m)
        s.flush()
        return m.id or 0


def run_scan(now: datetime) -> tuple[int, int]:
    import time_machine

    from core.scan import scan

    with time_machine.travel(now, tick=False), session_scope() as s:
        r = scan(s, now)
        return r.created, r.resolved


def alerts(rule: str | None = None) -> list[Alert]:
    with session_scope() as s:
        q = select(Alert).order_by(col(Alert.id))
        if rule:
            q = q.where(Alert.rule == rule)
        return list(s.exec(q).all())


def notices_of(alert_id: int) -> list[tuple[str, int, datetime, datetime | None]]:
    """(recipient name, step, created_at, held until) of an alert's notices, in order."""
    with session_scope() as s:
        names = {m.id: m.name for m in s.exec(select(Member)).all()}
        rows = s.exec(select(Notice).where(Notice.alert_id == alert_id).order_by(col(Notice.id))).all()
        return [
            (
                names.get(n.recipient_id, "?"),
                int((n.payload.get("extra") or {}).get("step", 0)),
                n.created_at.astimezone(SH),
                n.next_attempt_at.astimezone(SH) if n.next_attempt_at else None,
            )
            for n in rows
        ]
