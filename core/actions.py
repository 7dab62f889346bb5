"""State changes people ask for (commands and buttons): complete a todo, acknowledge or snooze an alert,
undo a capture, bind a conversation. Each writes an AuditEvent."""

from __future__ import annotations

from datetime import datetime, time

from sqlmodel import Session, col, select

from core.calendar import WorkCalendar
from core.models import (
    Activity,
    Alert,
    AuditEvent,
    Capture,
    Conversation,
    Customer,
    ExpenseClaim,
    Meeting,
    Member,
    PainPoint,
    PainPointMention,
    SampleCommitment,
    Todo,
    Visit,
)
from core.scope import NotAllowed, visible_members

SNOOZE_UNTIL = time(9, 0)


class ActionError(ValueError):
    """The request cannot be carried out; the message says why (shown to the user)."""


def parse_short_id(value: str, prefix: str) -> int:
    v = value.strip().upper()
    if v.startswith(prefix):
        v = v[len(prefix) :]
    if not v.isdigit():
        raise ActionError(f"{value!r} 不是有效的编号 (expected {prefix}<number>)")
    return int(v)


def _audit(
    session: Session,
    actor: Member,
    action: str,
    subject: str,
    sid: int | None,
    frm: str | None,
    to: str | None,
    at: datetime | None = None,
) -> None:
    event = AuditEvent(
        actor_id=actor.id,
        action=action,
        subject_type=subject,
        subject_id=sid,
        from_value=frm,
        to_value=to,
    )
    if at is not None:
        event.at = at
    session.add(event)


def _may_act_for(session: Session, member: Member, owner_id: int | None) -> bool:
    allowed = visible_members(session, member)
    return allowed is None or owner_id in allowed


def complete_todo(session: Session, member: Member, todo_ref: str, now: datetime) -> Todo:
    todo = session.get(Todo, parse_short_id(todo_ref, "T"))
    if todo is None:
        raise ActionError(f"没有待办 {todo_ref}")
    if not _may_act_for(session, member, todo.owner_id):
        raise NotAllowed(f"T{todo.id} 不是你的待办")
    if todo.status != "open":
        raise ActionError(f"T{todo.id} 已经是 {todo.status}")
    todo.status, todo.done_at = "done", now
    session.add(todo)
    _audit(session, member, "todo.done", "todo", todo.id, "open", "done", now)
    for alert in session.exec(
        select(Alert).where(
            Alert.subject_type == "todo",
            Alert.subject_id == todo.id,
            col(Alert.state).in_(("open", "snoozed")),
        )
    ):
        alert.state, alert.resolved_at = "resolved", now
        session.add(alert)
    return todo


def _alert_for(session: Session, member: Member, alert_ref: str) -> Alert:
    alert = session.get(Alert, parse_short_id(alert_ref, "A"))
    if alert is None:
        raise ActionError(f"没有提醒 {alert_ref}")
    if alert.recipient_id != member.id and not _may_act_for(session, member, alert.recipient_id):
        raise NotAllowed(f"A{alert.id} 不是发给你的提醒")
    return alert


def ack_alert(session: Session, member: Member, alert_ref: str, now: datetime) -> Alert:
    alert = _alert_for(session, member, alert_ref)
    if alert.state in ("acked", "resolved"):
        return alert
    frm = alert.state
    alert.state, alert.acked_at, alert.acked_by_id = "acked", now, member.id
    alert.next_escalation_at = None
    session.add(alert)
    _audit(session, member, "alert.ack", "alert", alert.id, frm, "acked", now)
    return alert


def snooze_alert(
    session: Session,
    member: Member,
    alert_ref: str,
    working_days: int,
    reason: str,
    now: datetime,
    calendar: WorkCalendar | None = None,
    tz: object = None,
) -> Alert:
    """Snooze an alert for ``working_days`` working days of the member's team calendar (until 09:00
    local that day); a reason is required. The scan reopens it when the snooze ends."""
    if working_days < 1 or working_days > 30:
        raise ActionError("暂缓天数应在 1 到 30 个工作日之间")
    if not reason.strip():
        raise ActionError("暂缓需要写明原因 (a snooze needs a reason)")
    alert = _alert_for(session, member, alert_ref)
    if alert.state == "resolved":
        raise ActionError(f"A{alert.id} 已解决")
    from core.people import context_for_member

    ctx = context_for_member(session, member)
    cal = calendar or ctx.calendar
    local_now = now.astimezone(ctx.tz)
    until = cal.add_working_days(local_now, working_days)
    until = datetime.combine(until.date(), SNOOZE_UNTIL, tzinfo=ctx.tz)
    frm = alert.state
    alert.state, alert.snoozed_until, alert.snooze_reason = "snoozed", until, reason.strip()[:500]
    session.add(alert)
    _audit(session, member, "alert.snooze", "alert", alert.id, frm, until.isoformat(), now)
    return alert


def undo_capture(session: Session, member: Member, capture_ref: str | None, now: datetime) -> Capture:
    if capture_ref:
        capture = session.get(Capture, parse_short_id(capture_ref, "C"))
    else:
        capture = session.exec(
            select(Capture)
            .where(Capture.member_id == member.id, col(Capture.undone_at).is_(None))
            .order_by(col(Capture.id).desc())
        ).first()
    if capture is None:
        raise ActionError("没有可以撤销的记录")
    if capture.member_id != member.id and (
        member.role == "rep" or not _may_act_for(session, member, capture.member_id)
    ):
        raise NotAllowed("只能撤销自己（或下属）的记录 (only your own or your team's captures)")
    if capture.undone_at is not None:
        raise ActionError(f"C{capture.id} 已经撤销过了")
    cid = capture.id
    for mention in session.exec(select(PainPointMention).where(PainPointMention.capture_id == cid)).all():
        pp = session.get(PainPoint, mention.pain_point_id)
        session.delete(mention)
        if pp is not None:
            pp.mentions -= 1
            if pp.mentions <= 0:
                session.flush()
                session.delete(pp)
            else:
                session.add(pp)
    for todo in session.exec(select(Todo).where(Todo.capture_id == cid)).all():
        session.delete(todo)
    session.flush()
    for visit in session.exec(select(Visit).where(Visit.capture_id == cid)).all():
        for claim in session.exec(select(ExpenseClaim).where(ExpenseClaim.visit_id == visit.id)).all():
            claim.visit_id, claim.link_state, claim.linked_at = None, "pending", None
            session.add(claim)
        session.flush()
        session.delete(visit)
    for model in (Meeting, SampleCommitment, Activity):
        for row in session.exec(select(model).where(model.capture_id == cid)).all():  # type: ignore[attr-defined]
            session.delete(row)
    capture.undone_at = now
    session.add(capture)
    _audit(session, member, "capture.undo", "capture", cid, None, None, now)
    return capture


def bind_conversation(
    session: Session,
    member: Member,
    platform: str,
    conversation_id: str,
    customer: Customer,
    auto_record: bool | None = None,
    *,
    external: bool = False,
) -> tuple[Conversation, list[str]]:
    """Bind a conversation to a customer. An external one (``external``, or already known as external)
    also binds its customer-side people as the customer's contacts (core.platform_contacts): the
    conversation and the contact ids bound now."""
    from core.platform_contacts import bind_conversation_contacts

    conv = session.exec(
        select(Conversation).where(
            Conversation.platform == platform, Conversation.conversation_id == conversation_id
        )
    ).first()
    if conv is None:
        conv = Conversation(platform=platform, conversation_id=conversation_id)
    frm = str(conv.customer_id) if conv.customer_id else None
    conv.customer_id = customer.id
    if external:
        conv.external = True
    if auto_record is not None:
        conv.auto_record = auto_record
    session.add(conv)
    session.flush()
    _audit(session, member, "conversation.bind", "conversation", conv.id, frm, customer.name)
    contacts = bind_conversation_contacts(session, conv, customer)
    if contacts:
        _audit(
            session,
            member,
            "contact.bind",
            "conversation",
            conv.id,
            None,
            f"{customer.name} ({len(contacts)})",
        )
    return conv, contacts


def answer_question(session: Session, member: Member, question_ref: str, answer: str, now: datetime) -> int:
    """A rep answers "which customer?": the capture is applied again with the chosen name as the typed
    customer. Returns the inbox id to hand back to the pipeline (after the commit)."""
    from core.models import InboxMessage, Question

    q = session.get(Question, parse_short_id(question_ref, "Q"))
    if q is None or q.member_id != member.id:
        raise ActionError("没有找到这个问题 (no such question for you)")
    if q.state != "open":
        raise ActionError("这个问题已经回答过了 (already answered)")
    if q.kind != "which_customer" or not answer.strip():
        raise ActionError("请回复客户名称 (reply with the customer's name)")
    row = session.get(InboxMessage, q.inbox_id)
    if row is None:
        raise ActionError("原消息已不存在 (the message is gone)")
    q.state, q.answer, q.answered_at = "answered", answer.strip()[:200], now
    row.customer_hint = q.answer
    row.status = "pending"
    session.add(q)
    session.add(row)
    _audit(session, member, "question.answer", "question", q.id, None, q.answer)
    return row.id or 0
