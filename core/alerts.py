"""Alerts and their escalation chains (DESIGN §5 "Escalation"). The one place these mechanics live.

- One Alert row per dedup key ``rule:subject_type:subject_id:period`` (a UNIQUE column, written with
  INSERT … ON CONFLICT DO NOTHING), so repeated scans and two scanners at once raise it once.
- Who is told is in config/rules.yaml: ``notify`` (Alert.recipient_id is the first of them) and ``copy``
  get a Notice when the alert is raised; each ``escalation`` step, due ``after`` the moment the alert was
  raised (the scan runs every minute, so that is when the rule fell due — and a backfill does not page
  the whole chain at once), sends the alert on to the next person. Every Notice is keyed
  ``alert:<id>:<step>:<member>``: at most one per alert, step and recipient.
- Acknowledging stops the chain; a snooze (reason and end required) holds it and reopens the alert when it
  ends (the chain resumes one working day later); new activity on the subject resolves it.
- An escalation reaching a manager or a director is also posted to the team's alert channels
  (core/channels.py decides what a team channel receives).
- Pushes created in the recipient's quiet hours are held until the next morning (Notice.next_attempt_at).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from config.rules import Rules, SlaRule
from core import channels
from core.messages import Action, OutboundMessage
from core.models import Alert, Capture, InboxMessage, Meeting, Member, Notice, SampleCommitment, Todo
from core.notices import create_notice
from core.people import context_for_member, resolve_role
from core.sqlutil import insert_ignore, table_of


@dataclass
class ScanResult:
    created: int = 0
    resolved: int = 0
    escalated: int = 0
    reopened: int = 0
    todos: int = 0
    digests: int = 0
    alert_ids: list[int] = field(default_factory=list)
    #: dedup keys already in the database, per rule, read once per pass (the UNIQUE column still decides)
    known: dict[str, set[str]] = field(default_factory=dict)


def _known(session: Session, result: ScanResult, rule_id: str) -> set[str]:
    if rule_id not in result.known:
        result.known[rule_id] = set(session.exec(select(Alert.dedup_key).where(Alert.rule == rule_id)).all())
    return result.known[rule_id]


def dedup_key(rule_id: str, subject_type: str, subject_id: int, period: str) -> str:
    return f"{rule_id}:{subject_type}:{subject_id}:{period}"


def _actions(alert_id: int) -> list[Action]:
    return [
        Action(kind="ack", label="收到 Ack", value=f"alert:{alert_id}:ack"),
        Action(kind="snooze", label="暂缓 Snooze", value=f"alert:{alert_id}:snooze"),
    ]


def origin_platform(session: Session, alert: Alert) -> str | None:
    """The platform the alert's fact came from (a todo's capture, a meeting's or sample's message): the
    recipient is told there when they are reachable on it (delivery falls back to another platform)."""
    inbox_id: int | None = None
    if alert.subject_type == "todo":
        todo = session.get(Todo, alert.subject_id)
        capture = session.get(Capture, todo.capture_id) if todo and todo.capture_id else None
        inbox_id = capture.inbox_id if capture else None
    elif alert.subject_type == "meeting":
        meeting = session.get(Meeting, alert.subject_id)
        inbox_id = meeting.inbox_id if meeting else None
    elif alert.subject_type == "sample":
        sample = session.get(SampleCommitment, alert.subject_id)
        inbox_id = sample.inbox_id if sample else None
    row = session.get(InboxMessage, inbox_id) if inbox_id else None
    return row.platform if row else None


def notify(
    session: Session,
    alert: Alert,
    member: Member,
    step: int,
    now: datetime,
    *,
    prefix: str = "",
    tag: str | None = None,
    rules: Rules | None = None,
) -> int | None:
    """One Notice of ``alert`` to ``member`` (held through the member's quiet hours)."""
    ctx = context_for_member(session, member, rules)
    alert_id = alert.id or 0
    key = f"alert:{alert_id}:{tag or step}:{member.id}"
    return create_notice(
        session,
        key=key,
        recipient_id=member.id,
        kind="alert",
        alert_id=alert_id,
        now=now,
        not_before=ctx.release_time(now),
        message=OutboundMessage(
            title=f"{prefix}{alert.title} [A{alert_id}]",
            body=alert.body or "",
            fields={"id": f"A{alert_id}", "rule": alert.rule, "level": alert.level},
            actions=_actions(alert_id),
        ),
        extra={"step": step},
        platform=origin_platform(session, alert),
    )


def raise_alert(
    session: Session,
    result: ScanResult,
    rules: Rules,
    rule: SlaRule,
    *,
    subject_type: str,
    subject_id: int,
    period: str,
    person: Member | None,
    customer_id: int | None,
    title: str,
    body: str,
    due_at: datetime,
    now: datetime,
) -> Alert | None:
    """Raise ``rule`` for one subject and period; None when that alert already exists (any state)."""
    key = dedup_key(rule.id, subject_type, subject_id, period)
    if key in _known(session, result, rule.id):
        return None
    notify_members = [m for m in (resolve_role(session, r, person) for r in rule.notify) if m is not None]
    copy_members = [m for m in (resolve_role(session, r, person) for r in rule.copy_to) if m is not None]
    first = notify_members[0] if notify_members else (copy_members[0] if copy_members else None)
    ctx = context_for_member(session, person or first, rules)
    next_at = ctx.add(now, rule.escalation[0].after) if rule.escalation else None
    values = {
        "rule": rule.id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "customer_id": customer_id,
        "recipient_id": first.id if first else None,
        "level": rule.level,
        "dedup_key": key,
        "title": title,
        "body": body,
        "state": "open",
        "due_at": due_at,
        "created_at": now,
        "escalation_step": 0,
        "next_escalation_at": next_at,
    }
    alert_id = insert_ignore(session, Alert, values, ["dedup_key"])
    _known(session, result, rule.id).add(key)
    if alert_id is None:
        return None
    alert = session.get(Alert, alert_id)
    assert alert is not None
    result.created += 1
    result.alert_ids.append(alert_id)
    seen: set[int] = set()
    for m in notify_members:
        if (m.id or 0) not in seen:
            seen.add(m.id or 0)
            notify(session, alert, m, 0, now, rules=rules)
    for m in copy_members:
        if (m.id or 0) not in seen:
            seen.add(m.id or 0)
            notify(session, alert, m, 0, now, prefix="抄送 (cc) ", rules=rules)
    return alert


def escalate_due(session: Session, result: ScanResult, rules: Rules, now: datetime) -> None:
    """Send every open alert whose next escalation step is due on to the next person in its chain."""
    due = session.exec(
        select(Alert).where(
            Alert.state == "open",
            col(Alert.next_escalation_at).is_not(None),
            col(Alert.next_escalation_at) <= now,
        )
    ).all()
    for alert in due:
        rule = rules.rule(alert.rule)
        step = alert.escalation_step
        chain = rule.escalation if rule else []
        person = session.get(Member, alert.recipient_id) if alert.recipient_id else None
        ctx = context_for_member(session, person, rules)
        next_at = ctx.add(alert.created_at, chain[step + 1].after) if step + 1 < len(chain) else None
        if step >= len(chain):
            next_at = None
        # conditional UPDATE: of two scanners, exactly one moves the chain on
        res = session.execute(
            update(table_of(Alert))
            .where(
                table_of(Alert).c.id == alert.id,
                table_of(Alert).c.escalation_step == step,
                table_of(Alert).c.state == "open",
            )
            .values(
                escalation_step=min(step + 1, len(chain)),
                next_escalation_at=next_at,
            )
        )
        session.refresh(alert)
        if not res.rowcount or step >= len(chain):  # type: ignore[attr-defined]
            continue
        target = resolve_role(session, chain[step].to, person)
        if target is not None:
            notify(session, alert, target, step + 1, now, prefix="升级 (escalated) ", rules=rules)
            channels.escalated(session, alert, step + 1, person, target, now, rules)
        result.escalated += 1


def reopen_snoozed(session: Session, result: ScanResult, rules: Rules, now: datetime) -> None:
    """A snooze that has ended reopens its alert, reminds the recipient, and the chain resumes no earlier
    than one working day later."""
    ended = session.exec(
        select(Alert).where(
            Alert.state == "snoozed", col(Alert.snoozed_until).is_not(None), col(Alert.snoozed_until) <= now
        )
    ).all()
    for alert in ended:
        until = alert.snoozed_until
        assert until is not None
        res = session.execute(
            update(table_of(Alert))
            .where(table_of(Alert).c.id == alert.id, table_of(Alert).c.state == "snoozed")
            .values(state="open")
        )
        if not res.rowcount:  # type: ignore[attr-defined]
            continue
        session.refresh(alert)
        person = session.get(Member, alert.recipient_id) if alert.recipient_id else None
        ctx = context_for_member(session, person, rules)
        if alert.next_escalation_at is not None:
            alert.next_escalation_at = max(alert.next_escalation_at, ctx.add_working_days(until, 1))
            session.add(alert)
        if person is not None:
            tag = f"unsnooze-{until.isoformat()}"
            notify(
                session, alert, person, alert.escalation_step, now, prefix="暂缓到期 ", tag=tag, rules=rules
            )
        result.reopened += 1


def resolve(session: Session, result: ScanResult, alert: Alert, now: datetime) -> None:
    if alert.state in ("open", "snoozed", "acked"):
        alert.state, alert.resolved_at, alert.next_escalation_at = "resolved", now, None
        session.add(alert)
        result.resolved += 1


def live_alerts(session: Session, rule_ids: list[str]) -> list[Alert]:
    """Alerts of these rules that are still open or snoozed."""
    return list(
        session.exec(
            select(Alert).where(col(Alert.rule).in_(rule_ids), col(Alert.state).in_(("open", "snoozed")))
        ).all()
    )


def recipients(session: Session, alert_id: int) -> list[tuple[int, int | None]]:
    """(step, member id) of every Notice sent for an alert to a member, in order (team-channel posts,
    which have no recipient, are left out)."""
    rows = session.exec(
        select(Notice)
        .where(Notice.alert_id == alert_id, col(Notice.recipient_id).is_not(None))
        .order_by(col(Notice.id))
    ).all()
    return [(int((n.payload.get("extra") or {}).get("step", 0)), n.recipient_id) for n in rows]
