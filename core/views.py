"""Read models for the CLI and the REST API: the documented JSON shapes (README "JSON outputs")."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from sqlmodel import Session, col, select

from config.settings import get_settings
from core.models import (
    Activity,
    Alert,
    Customer,
    InboxMessage,
    Meeting,
    Member,
    Notice,
    PainPoint,
    SampleCommitment,
    Todo,
)
from core.scope import visible_customer_ids, visible_members
from core.timeutil import iso, parse_tz


def _tz() -> tzinfo:
    return parse_tz(get_settings().timezone)


def _names(session: Session) -> dict[int, str]:
    return {m.id or 0: m.name for m in session.exec(select(Member)).all()}


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else v


def todo_json(t: Todo, members: dict[int, str], customers: dict[int, str], tz: tzinfo) -> dict[str, Any]:
    return {
        "id": f"T{t.id}",
        "title": t.title,
        "kind": t.kind,
        "customer": customers.get(t.customer_id or 0),
        "owner": members.get(t.owner_id or 0),
        "due": iso(t.due, tz),
        "status": t.status,
        "origin_rule": t.origin_rule,
        "subject": f"{t.subject_type}:{t.subject_id}" if t.subject_type else None,
        "created_at": iso(t.created_at, tz),
        "done_at": iso(t.done_at, tz),
    }


def alert_json(
    a: Alert,
    members: dict[int, str],
    customers: dict[int, str],
    tz: tzinfo,
    told: list[int | None] | None = None,
) -> dict[str, Any]:
    return {
        "id": f"A{a.id}",
        "rule": a.rule,
        "title": a.title,
        "customer": customers.get(a.customer_id or 0),
        "subject": f"{a.subject_type}:{a.subject_id}",
        "recipient": members.get(a.recipient_id or 0),
        "level": a.level,
        "state": a.state,
        "due_at": iso(a.due_at, tz),
        "escalation_step": a.escalation_step,
        "created_at": iso(a.created_at, tz),
        "sent_at": iso(a.sent_at, tz),
        "acked_at": iso(a.acked_at, tz),
        "snoozed_until": iso(a.snoozed_until, tz),
        "snooze_reason": a.snooze_reason,
        "resolved_at": iso(a.resolved_at, tz),
        "next_escalation_at": iso(a.next_escalation_at, tz),
        # everyone the alert was sent to, in order (owner, people copied, each escalation step)
        "recipients": [members.get(m or 0) for m in (told or [])],
    }


def customer_json(session: Session, c: Customer) -> dict[str, Any]:
    tz = _tz()
    members = _names(session)
    cust_names = {c.id or 0: c.name}
    pains = session.exec(select(PainPoint).where(PainPoint.customer_id == c.id)).all()
    pains = sorted(pains, key=lambda p: (p.first_seen, p.category, p.phrase_key))
    meetings = session.exec(select(Meeting).where(Meeting.customer_id == c.id)).all()
    meetings = sorted(meetings, key=lambda m: (m.start, m.what))
    samples = session.exec(select(SampleCommitment).where(SampleCommitment.customer_id == c.id)).all()
    samples = sorted(samples, key=lambda s: (s.model, s.status))
    todos = session.exec(select(Todo).where(Todo.customer_id == c.id)).all()
    todos = sorted(todos, key=_todo_order)
    acts = session.exec(
        select(Activity, InboxMessage)
        .join(InboxMessage, col(InboxMessage.id) == col(Activity.inbox_id))
        .where(Activity.customer_id == c.id)
        .order_by(col(Activity.occurred_at), col(InboxMessage.message_id))
    ).all()
    return {
        "name": c.name,
        "region": c.region,
        "owner": members.get(c.owner_id or 0),
        "stage": c.stage,
        "level": c.level,
        "pain_points": [
            {
                "text": p.phrase,
                "category": p.category,
                "mentions": p.mentions,
                "last_seen": iso(p.last_seen, tz),
            }
            for p in pains
        ],
        "meetings": [
            {"start": iso(m.start, tz), "end": iso(m.end, tz), "what": m.what, "status": m.status}
            for m in meetings
        ],
        "samples": [
            {
                "model": s.model,
                "quantity": _num(s.quantity),
                "unit": s.unit,
                "status": s.status,
                "due": iso(s.due, tz),
            }
            for s in samples
        ],
        "todos": [todo_json(t, members, cust_names, tz) for t in todos],
        "activities": [
            {
                "kind": a.kind,
                "at": iso(a.occurred_at, tz),
                "by": members.get(a.captured_by_id or 0) or m.sender_name,
                "source": f"{m.platform}:{m.message_id}",
                "summary": a.summary,
            }
            for a, m in acts
        ],
    }


def customers_json(session: Session, *, member: Member | None = None) -> list[dict[str, Any]]:
    """Every customer, or those ``member`` may see (core.scope)."""
    ids = visible_customer_ids(session, member) if member is not None else None
    customers = [c for c in session.exec(select(Customer)).all() if ids is None or (c.id or 0) in ids]
    # sorted in Python: SQLite and PostgreSQL collate Chinese differently
    return [customer_json(session, c) for c in sorted(customers, key=lambda c: c.name)]


def todos_json(
    session: Session, *, status: str | None = None, member: Member | None = None
) -> list[dict[str, Any]]:
    """Todos, or those owned by someone in ``member``'s scope."""
    tz = _tz()
    q = select(Todo).order_by(col(Todo.due), col(Todo.title), col(Todo.id))
    if status:
        q = q.where(Todo.status == status)
    owners = visible_members(session, member) if member is not None else None
    if owners is not None:
        q = q.where(col(Todo.owner_id).in_(owners))
    members = _names(session)
    customers = {c.id or 0: c.name for c in session.exec(select(Customer)).all()}
    return [todo_json(t, members, customers, tz) for t in sorted(session.exec(q).all(), key=_todo_order)]


def alerts_json(
    session: Session, *, state: str | None = None, member: Member | None = None
) -> list[dict[str, Any]]:
    """Alerts, or those addressed to someone in ``member``'s scope."""
    tz = _tz()
    q = select(Alert).order_by(col(Alert.due_at), col(Alert.title), col(Alert.id))
    if state:
        q = q.where(Alert.state == state)
    recipients = visible_members(session, member) if member is not None else None
    if recipients is not None:
        q = q.where(col(Alert.recipient_id).in_(recipients))
    members = _names(session)
    customers = {c.id or 0: c.name for c in session.exec(select(Customer)).all()}
    told: dict[int, list[int | None]] = {}
    member_notices = select(Notice).where(  # team-channel posts (no recipient) are not "who was told"
        col(Notice.alert_id).is_not(None), col(Notice.recipient_id).is_not(None)
    )
    for n in session.exec(member_notices.order_by(col(Notice.id))):
        told.setdefault(n.alert_id or 0, []).append(n.recipient_id)
    return [
        alert_json(a, members, customers, tz, told.get(a.id or 0, []))
        for a in sorted(session.exec(q).all(), key=_alert_order)
    ]


def _todo_order(t: Todo) -> tuple[Any, ...]:
    return (t.due is None, t.due or 0, t.title, t.id)


def _alert_order(a: Alert) -> tuple[Any, ...]:
    return (a.due_at is None, a.due_at or 0, a.title, a.id)
