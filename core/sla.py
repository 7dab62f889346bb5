"""The SLA conditions of config/rules.yaml (DESIGN §5), one function per `condition`.

Each finds the subjects whose timer has run out at ``now`` — timers are database state (a due date, a
stage entry, a receipt time), never a broker countdown — and raises one alert per (rule, subject, period)
through core.alerts; each also knows what resolves its alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from config.rules import Rules, SlaRule
from core import alerts as al
from core.models import (
    Activity,
    Alert,
    Customer,
    Lead,
    Meeting,
    Member,
    Opportunity,
    Policy,
    PolicyAck,
    Todo,
)
from core.people import context_for_member
from core.sqlutil import insert_ignore
from core.timeutil import iso

STAGE_TODO_KIND = "stage_delay"


def _member(session: Session, member_id: int | None) -> Member | None:
    return session.get(Member, member_id) if member_id else None


Bounds = dict[int, tuple[datetime, datetime]]


def _aware(dt: datetime | str | None) -> datetime | None:
    # MIN/MAX over the custom column type come back raw on SQLite: make them aware UTC again
    if dt is None:
        return None
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def activity_bounds(session: Session) -> Bounds:
    """First and last activity per customer, in one grouped query per scan."""
    rows = session.exec(
        select(Activity.customer_id, func.min(Activity.occurred_at), func.max(Activity.occurred_at)).group_by(
            col(Activity.customer_id)
        )
    ).all()
    out: Bounds = {}
    for cid, first, last in rows:
        f, la = _aware(first), _aware(last)
        if f is not None and la is not None:
            out[cid] = (f, la)
    return out


def _first(bounds: Bounds, customer_id: int) -> datetime | None:
    b = bounds.get(customer_id)
    return b[0] if b else None


def _last(bounds: Bounds, customer_id: int) -> datetime | None:
    b = bounds.get(customer_id)
    return b[1] if b else None


def stage_clock(subject: Customer | Opportunity, bounds: Bounds) -> datetime | None:
    """Since when the subject has been in its stage: the recorded entry, else (a customer imported
    without ``stage_since``) its first activity; None when nothing tells."""
    if isinstance(subject, Opportunity):
        return subject.stage_entered_at or _first(bounds, subject.customer_id)
    return subject.stage_since or _first(bounds, subject.id or 0)


def level_clock(subject: Customer | Opportunity, bounds: Bounds) -> datetime | None:
    if isinstance(subject, Opportunity):
        return subject.level_entered_at or _first(bounds, subject.customer_id)
    return subject.level_since or _first(bounds, subject.id or 0)


def deal_subjects(session: Session) -> list[tuple[str, Customer | Opportunity, Customer]]:
    """What carries a stage and a level: a customer's opportunities when it has staged ones, else the
    customer itself."""
    customers = {c.id: c for c in session.exec(select(Customer)).all()}
    opps: dict[int, list[Opportunity]] = {}
    for o in session.exec(select(Opportunity).where(col(Opportunity.stage).is_not(None))).all():
        opps.setdefault(o.customer_id, []).append(o)
    out: list[tuple[str, Customer | Opportunity, Customer]] = []
    for cid, c in sorted(customers.items(), key=lambda kv: kv[0] or 0):
        if cid in opps:
            out += [("opportunity", o, c) for o in sorted(opps[cid], key=lambda o: o.id or 0)]
        else:
            out.append(("customer", c, c))
    return out


def _owner_id(subject: Customer | Opportunity, customer: Customer) -> int | None:
    return subject.owner_id or customer.owner_id


# --- lead first touch ------------------------------------------------------------------------------


def lead_untouched(session: Session, r: al.ScanResult, rules: Rules, rule: SlaRule, now: datetime) -> None:
    for a in al.live_alerts(session, [rule.id]):
        lead = session.get(Lead, a.subject_id)
        if lead is None or lead.first_touch_at is not None:
            al.resolve(session, r, a, now)
    leads = session.exec(select(Lead).where(col(Lead.first_touch_at).is_(None))).all()
    for lead in leads:
        owner = _member(session, lead.owner_id)
        ctx = context_for_member(session, owner, rules)
        due = ctx.add(lead.received_at, rule.threshold)
        if due > now:
            continue
        alert = al.raise_alert(
            session,
            r,
            rules,
            rule,
            subject_type="lead",
            subject_id=lead.id or 0,
            period=iso(lead.received_at) or "",
            person=owner,
            customer_id=None,
            title=f"新线索 {lead.company} 超过 15 分钟未跟进 (lead not touched)",
            body=f"来源 {lead.source}，收到 {iso(lead.received_at, ctx.tz)}；请立即联系并记录。",
            due_at=due,
            now=now,
        )
        if alert is not None and rule.lower_priority_to:
            lead.priority = rule.lower_priority_to
            session.add(lead)


# --- stage unchanged ---------------------------------------------------------------------------------


def stage_unchanged(session: Session, r: al.ScanResult, rules: Rules, rule: SlaRule, now: datetime) -> None:
    subjects = deal_subjects(session)
    bounds = activity_bounds(session)
    by_key = {(t, s.id): (s, c) for t, s, c in subjects}
    for a in al.live_alerts(session, [rule.id]):
        found = by_key.get((a.subject_type, a.subject_id))
        if found is None:
            al.resolve(session, r, a, now)
            continue
        subj, cust = found
        since = stage_clock(subj, bounds)
        moved = since is None or since > a.created_at
        active = _last(bounds, cust.id or 0)
        if moved or (active is not None and active > a.created_at):
            al.resolve(session, r, a, now)
    resolved: dict[tuple[str, int], datetime] = {}
    for stype, sid, at in session.exec(
        select(Alert.subject_type, Alert.subject_id, func.max(Alert.resolved_at))
        .where(Alert.rule == rule.id, col(Alert.resolved_at).is_not(None))
        .group_by(col(Alert.subject_type), col(Alert.subject_id))
    ).all():
        when = _aware(at)
        if when is not None:
            resolved[(stype, sid)] = when
    for stype, subj, cust in subjects:
        if not subj.stage:
            continue
        since = stage_clock(subj, bounds)
        if since is None:
            continue
        # after an alert was resolved by new activity, the clock restarts from that moment
        last_resolved = resolved.get((stype, subj.id or 0))
        start = max(since, last_resolved) if last_resolved else since
        owner = _member(session, _owner_id(subj, cust))
        ctx = context_for_member(session, owner, rules)
        due = ctx.add(start, rule.threshold)
        if due > now:
            continue
        alert = al.raise_alert(
            session,
            r,
            rules,
            rule,
            subject_type=stype,
            subject_id=subj.id or 0,
            period=iso(start) or "",
            person=owner,
            customer_id=cust.id,
            title=f"{cust.name} 停留在「{subj.stage}」已超过 {_threshold_text(rule)} (stage unchanged)",
            body=f"自 {iso(start, ctx.tz)} 起阶段未变化；请说明原因并更新下一步。",
            due_at=due,
            now=now,
        )
        if alert is not None and rule.todo is not None and owner is not None:
            todo_due = ctx.add(now, rule.todo.due)
            todo_due = datetime.combine(ctx.local(todo_due).date(), ctx.end_of_day, tzinfo=ctx.tz)
            new_id = insert_ignore(
                session,
                Todo,
                {
                    "owner_id": owner.id,
                    "customer_id": cust.id,
                    "opportunity_id": subj.id if stype == "opportunity" else None,
                    "title": f"{rule.todo.title} · {cust.name}",
                    "kind": STAGE_TODO_KIND,
                    "due": todo_due,
                    "status": "open",
                    "origin_rule": rule.id,
                    "subject_type": stype,
                    "subject_id": subj.id,
                    "dedup_key": f"{alert.dedup_key}:todo",
                    "created_at": now,
                },
                ["dedup_key"],
            )
            if new_id is not None:
                r.todos += 1


def _threshold_text(rule: SlaRule) -> str:
    t = rule.threshold
    if t.working_days is not None:
        return f"{t.working_days} 个工作日"
    if t.days is not None:
        return f"{t.days} 天"
    if t.hours is not None:
        return f"{t.hours} 小时"
    return f"{t.minutes} 分钟"


# --- todo past due -------------------------------------------------------------------------------------


def todo_past_due(session: Session, r: al.ScanResult, rules: Rules, rule: SlaRule, now: datetime) -> None:
    for a in al.live_alerts(session, [rule.id]) + _acked(session, rule.id):
        todo = session.get(Todo, a.subject_id)
        if (
            todo is None
            or todo.status != "open"
            or (a.due_at and todo.due and _threshold_due(session, rules, rule, todo) != a.due_at)
        ):
            al.resolve(session, r, a, now)
    todos = session.exec(
        select(Todo).where(Todo.status == "open", col(Todo.due).is_not(None), col(Todo.due) < now)
    ).all()
    for todo in todos:
        assert todo.due is not None
        due = _threshold_due(session, rules, rule, todo)
        if due > now:
            continue
        owner = _member(session, todo.owner_id)
        ctx = context_for_member(session, owner, rules)
        al.raise_alert(
            session,
            r,
            rules,
            rule,
            subject_type="todo",
            subject_id=todo.id or 0,
            period=iso(todo.due) or "",
            person=owner,
            customer_id=todo.customer_id,
            title=f"待办已逾期 T{todo.id}：{todo.title}",
            body=f"截止 {iso(todo.due, ctx.tz)}",
            due_at=due,
            now=now,
        )


def _threshold_due(session: Session, rules: Rules, rule: SlaRule, todo: Todo) -> datetime:
    assert todo.due is not None
    if not (rule.threshold.minutes == 0 and rule.threshold.working_days is None):
        ctx = context_for_member(session, _member(session, todo.owner_id), rules)
        return ctx.add(todo.due, rule.threshold)
    return todo.due


def _acked(session: Session, rule_id: str) -> list[Alert]:
    return list(session.exec(select(Alert).where(Alert.rule == rule_id, Alert.state == "acked")).all())


# --- level held too long ---------------------------------------------------------------------------------


def level_unchanged(session: Session, r: al.ScanResult, rules: Rules, rule: SlaRule, now: datetime) -> None:
    subjects = deal_subjects(session)
    bounds = activity_bounds(session)
    by_key = {(t, s.id): (s, c) for t, s, c in subjects}
    for a in al.live_alerts(session, [rule.id]):
        found = by_key.get((a.subject_type, a.subject_id))
        if found is None or found[0].level != rule.deal_level:
            al.resolve(session, r, a, now)
            continue
        active = _last(bounds, found[1].id or 0)
        if active is not None and active > a.created_at:
            al.resolve(session, r, a, now)
    for stype, subj, cust in subjects:
        if subj.level != rule.deal_level:
            continue
        since = level_clock(subj, bounds)
        if since is None:
            continue
        owner = _member(session, _owner_id(subj, cust))
        ctx = context_for_member(session, owner, rules)
        due = ctx.add(since, rule.threshold)
        if due > now:
            continue
        al.raise_alert(
            session,
            r,
            rules,
            rule,
            subject_type=stype,
            subject_id=subj.id or 0,
            period=f"{rule.deal_level}@{iso(since)}",
            person=owner,
            customer_id=cust.id,
            title=(
                f"风险：{cust.name} 停留在 {rule.deal_level} 级已超过 {_threshold_text(rule)} (deal at risk)"
            ),
            body=f"自 {iso(since, ctx.tz)} 起为 {rule.deal_level} 级。",
            due_at=due,
            now=now,
        )


# --- meeting reminder ---------------------------------------------------------------------------------------


def meeting_upcoming(session: Session, r: al.ScanResult, rules: Rules, rule: SlaRule, now: datetime) -> None:
    before = timedelta(
        minutes=(rule.threshold.minutes or 0)
        + 60 * (rule.threshold.hours or 0)
        + 1440 * (rule.threshold.days or 0)
    )
    for a in al.live_alerts(session, [rule.id]):
        m = session.get(Meeting, a.subject_id)
        if m is None or m.status == "cancelled" or a.due_at != m.start - before or m.start <= now:
            al.resolve(session, r, a, now)
    upcoming = session.exec(
        select(Meeting).where(
            col(Meeting.status).in_(("scheduled", "moved")),
            Meeting.start > now,
            Meeting.start <= now + before,
        )
    ).all()
    for m in upcoming:
        customer = session.get(Customer, m.customer_id)
        owner = _member(session, m.owner_id or (customer.owner_id if customer else None))
        ctx = context_for_member(session, owner, rules)
        al.raise_alert(
            session,
            r,
            rules,
            rule,
            subject_type="meeting",
            subject_id=m.id or 0,
            period=iso(m.start) or "",
            person=owner,
            customer_id=m.customer_id,
            title=f"即将开始：{customer.name if customer else ''} {m.what} {ctx.local(m.start):%H:%M}",
            body=f"开始时间 {iso(m.start, ctx.tz)}",
            due_at=m.start - before,
            now=now,
        )


# --- policy not acknowledged -------------------------------------------------------------------------------


def policy_unacknowledged(
    session: Session, r: al.ScanResult, rules: Rules, rule: SlaRule, now: datetime
) -> None:
    from core.policies import audience_members

    for a in al.live_alerts(session, [rule.id]):
        acked = session.exec(
            select(PolicyAck).where(
                PolicyAck.policy_id == a.subject_id, PolicyAck.member_id == a.recipient_id
            )
        ).first()
        if acked is not None:
            al.resolve(session, r, a, now)
    for policy in session.exec(select(Policy).order_by(col(Policy.id))).all():
        acked_ids = {
            a.member_id for a in session.exec(select(PolicyAck).where(PolicyAck.policy_id == policy.id)).all()
        }
        for member in audience_members(session, policy):
            if member.id in acked_ids:
                continue
            ctx = context_for_member(session, member, rules)
            due = ctx.add(policy.published_at, rule.threshold)
            if due > now:
                continue
            al.raise_alert(
                session,
                r,
                rules,
                rule,
                subject_type="policy",
                subject_id=policy.id or 0,
                period=f"v{policy.version}:m{member.id}",
                person=member,
                customer_id=None,
                title=f"请确认政策 P{policy.id}：{policy.title} (policy not acknowledged)",
                body=f"发布于 {iso(policy.published_at, ctx.tz)}；回复「政策 ack P{policy.id}」确认。",
                due_at=due,
                now=now,
            )


CONDITIONS: dict[str, Callable[[Session, al.ScanResult, Rules, SlaRule, datetime], None]] = {
    "lead_untouched": lead_untouched,
    "stage_unchanged": stage_unchanged,
    "todo_past_due": todo_past_due,
    "level_unchanged": level_unchanged,
    "meeting_upcoming": meeting_upcoming,
    "policy_unacknowledged": policy_unacknowledged,
}
