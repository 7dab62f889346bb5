"""The managers' morning digest (issue 4 §5): per manager and director, on the team's working days at the
team's morning hour — overdue items and open escalations in their scope, today's meetings, policies not
yet acknowledged. Created by the scan as one Notice per member per local day (key
``digest:<member>:<date>``); the bot delivers it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from config.rules import Rules
from core.alerts import ScanResult
from core.messages import Action, OutboundMessage
from core.models import Alert, Customer, Meeting, Member, Policy, PolicyAck, Todo
from core.notices import create_notice
from core.people import context_for_member
from core.scope import visible_customer_ids, visible_members
from core.timeutil import iso

DIGEST_ROLES = ("manager", "director")


def build_digest(
    session: Session, member: Member, now: datetime, rules: Rules | None = None
) -> OutboundMessage:
    ctx = context_for_member(session, member, rules)
    local = ctx.local(now)
    people = visible_members(session, member)
    cust_ids = visible_customer_ids(session, member)
    names = {m.id: m.name for m in session.exec(select(Member)).all()}
    customers = {c.id: c.name for c in session.exec(select(Customer)).all()}

    def mine(owner_id: int | None) -> bool:
        return people is None or owner_id in people

    def cust_ok(cid: int | None) -> bool:
        return cust_ids is None or (cid is not None and cid in cust_ids) or cid is None

    overdue = [
        t
        for t in session.exec(
            select(Todo)
            .where(Todo.status == "open", col(Todo.due).is_not(None), col(Todo.due) < now)
            .order_by(col(Todo.due), col(Todo.id))
        ).all()
        if mine(t.owner_id)
    ]
    escalations = [
        a
        for a in session.exec(
            select(Alert)
            .where(Alert.state == "open", Alert.escalation_step > 0)
            .order_by(col(Alert.due_at), col(Alert.id))
        ).all()
        if mine(a.recipient_id)
    ]
    day_start = datetime.combine(local.date(), datetime.min.time(), tzinfo=ctx.tz)
    meetings = [
        m
        for m in session.exec(
            select(Meeting)
            .where(
                col(Meeting.status).in_(("scheduled", "moved")),
                Meeting.start >= day_start,
                Meeting.start < day_start + timedelta(days=1),
            )
            .order_by(col(Meeting.start))
        ).all()
        if cust_ok(m.customer_id)
    ]
    from core.policies import audience_members

    unacked: list[tuple[Policy, list[str]]] = []
    for p in session.exec(select(Policy).order_by(col(Policy.id))).all():
        acked = {a.member_id for a in session.exec(select(PolicyAck).where(PolicyAck.policy_id == p.id))}
        missing = [m.name for m in audience_members(session, p) if m.id not in acked and mine(m.id)]
        if missing:
            unacked.append((p, missing))

    lines: list[str] = []
    lines.append(f"**逾期待办 Overdue ({len(overdue)})**")
    lines += [
        f"- T{t.id} {names.get(t.owner_id, '-')} · {t.title} · 截止 {ctx.local(t.due):%m-%d %H:%M}"
        for t in overdue
        if t.due is not None
    ] or ["- 无 none"]
    lines.append(f"**升级中的提醒 Open escalations ({len(escalations)})**")
    lines += [f"- A{a.id} {names.get(a.recipient_id, '-')} · {a.title}" for a in escalations] or ["- 无 none"]
    lines.append(f"**今日会议 Today's meetings ({len(meetings)})**")
    lines += [
        f"- {ctx.local(m.start):%H:%M} {customers.get(m.customer_id, '')} {m.what}" for m in meetings
    ] or ["- 无 none"]
    lines.append(f"**未确认的政策 Unacknowledged policies ({len(unacked)})**")
    lines += [f"- P{p.id} {p.title}：{'、'.join(ms)}" for p, ms in unacked] or ["- 无 none"]
    return OutboundMessage(
        title=f"早报 Morning digest {local:%Y-%m-%d}",
        body="\n".join(lines),
        fields={
            "overdue": str(len(overdue)),
            "escalations": str(len(escalations)),
            "meetings": str(len(meetings)),
            "unacknowledged_policies": str(len(unacked)),
        },
        actions=[Action(kind="open", label="逾期 Overdue", value="overdue")],
    )


def morning_digests(session: Session, result: ScanResult, rules: Rules, now: datetime) -> None:
    """Each manager's and director's digest, once per local working day, from the morning hour until the
    quiet hours start (a beat that was down at 08:30 still sends it later that day)."""
    members = session.exec(
        select(Member).where(col(Member.role).in_(DIGEST_ROLES), col(Member.active).is_(True))
    ).all()
    for member in members:
        ctx = context_for_member(session, member, rules)
        local = ctx.local(now)
        if not ctx.is_working_day(now):
            continue
        t = local.timetz().replace(tzinfo=None)
        if t < ctx.morning or ctx.in_quiet_hours(now):
            continue
        message = build_digest(session, member, now, rules)
        key = f"digest:{member.id}:{local.date().isoformat()}"
        if create_notice(
            session,
            key=key,
            recipient_id=member.id,
            kind="digest",
            message=message,
            now=now,
            extra={"date": local.date().isoformat(), "at": iso(now, ctx.tz)},
        ):
            result.digests += 1
