"""One rules pass (`loopkeeper scan`, Celery beat every minute): due timers become Alerts.

Timers are database state; every alert has a dedup key (rule, subject, period), so repeated scans and
two scanners running at once create no duplicates. Rules implemented here: the 1-hour meeting reminder
and overdue todos (owner). The full SLA/escalation engine builds on this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core.messages import Action, OutboundMessage
from core.models import Alert, Customer, Meeting, Todo
from core.notices import create_notice
from core.sqlutil import insert_ignore
from core.timeutil import iso

MEETING_REMINDER_BEFORE = timedelta(hours=1)


@dataclass
class ScanResult:
    created: int = 0
    resolved: int = 0


def _raise(session: Session, result: ScanResult, **values: object) -> None:
    values.setdefault("state", "open")
    values.setdefault("escalation_step", 0)
    alert_id = insert_ignore(session, Alert, values, ["dedup_key"])  # type: ignore[arg-type]
    if alert_id is None:
        return
    result.created += 1
    create_notice(
        session,
        key=f"alert:{alert_id}:{values.get('recipient_id')}",
        recipient_id=values.get("recipient_id"),  # type: ignore[arg-type]
        kind="alert",
        alert_id=alert_id,
        message=OutboundMessage(
            title=str(values["title"]),
            body=str(values.get("body") or ""),
            actions=[
                Action(kind="ack", label="知道了 Ack", value=f"alert:{alert_id}:ack"),
                Action(kind="snooze", label="稍后 Snooze", value=f"alert:{alert_id}:snooze"),
            ],
        ),
    )


def scan(session: Session, now: datetime) -> ScanResult:
    result = ScanResult()
    customers = {c.id: c for c in session.exec(select(Customer)).all()}

    upcoming = session.exec(
        select(Meeting).where(
            col(Meeting.status).in_(("scheduled", "moved")),
            Meeting.start > now,
            Meeting.start <= now + MEETING_REMINDER_BEFORE,
        )
    ).all()
    for m in upcoming:
        customer: Customer | None = customers.get(m.customer_id)
        _raise(
            session,
            result,
            rule="meeting.reminder",
            subject_type="meeting",
            subject_id=m.id,
            customer_id=m.customer_id,
            recipient_id=m.owner_id or (customer.owner_id if customer else None),
            level="info",
            dedup_key=f"meeting.reminder:{m.id}:{iso(m.start)}",
            title=f"1 小时后：{customer.name if customer else ''} {m.what}",
            body=f"开始时间 {iso(m.start)}",
            due_at=m.start - MEETING_REMINDER_BEFORE,
        )

    overdue = session.exec(select(Todo).where(Todo.status == "open", Todo.due < now)).all()  # type: ignore[operator]
    for t in overdue:
        _raise(
            session,
            result,
            rule="todo.overdue",
            subject_type="todo",
            subject_id=t.id,
            customer_id=t.customer_id,
            recipient_id=t.owner_id,
            level="warning",
            dedup_key=f"todo.overdue:{t.id}:{iso(t.due)}",
            title=f"待办已逾期 T{t.id}：{t.title}",
            body=f"截止 {iso(t.due)}",
            due_at=t.due,
        )

    # alerts whose subject is no longer due resolve themselves
    open_todo_alerts = session.exec(
        select(Alert).where(Alert.rule == "todo.overdue", col(Alert.state).in_(("open", "snoozed")))
    ).all()
    for a in open_todo_alerts:
        todo = session.get(Todo, a.subject_id)
        if todo is None or todo.status != "open":
            a.state = "resolved"
            a.resolved_at = now
            session.add(a)
            result.resolved += 1
    return result
