"""Read-side questions the bot commands, the CLI and the REST API ask, always within the asker's scope
(core.scope is the one place the scope rule lives). Each returns plain data; the bot renders it.

Refusals are `NotAllowed` (someone else's customer), unknown names are `ActionError`; neither leaks data.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from sqlmodel import Session, col, select

from config.rules import get_rules
from config.settings import get_settings
from core.actions import ActionError
from core.calendar import DEFAULT_CALENDAR, WorkCalendar
from core.customers import find_by_name, name_key
from core.models import (
    Activity,
    Alert,
    Capture,
    Customer,
    Meeting,
    Member,
    Opportunity,
    PainPoint,
    PlatformIdentity,
    Policy,
    PolicyAck,
    PolicyApplication,
    SampleCommitment,
    Todo,
)
from core.scope import NotAllowed, visible_customer_ids, visible_members
from core.timeutil import parse_tz

DEFAULT_STUCK_WORKING_DAYS = 3


def stage_order() -> list[str]:
    """The stages in order (config/rules.yaml)."""
    return get_rules().stage_names()


def stuck_after_working_days() -> int:
    """The "stage unchanged" SLA threshold in working days (config/rules.yaml), default 3."""
    for rule in get_rules().sla:
        if rule.condition == "stage_unchanged" and rule.enabled and rule.threshold.working_days:
            return int(rule.threshold.working_days)
    return DEFAULT_STUCK_WORKING_DAYS


def team_tz() -> tzinfo:
    return parse_tz(get_settings().timezone)


def working_days_between(start: datetime, end: datetime, calendar: WorkCalendar = DEFAULT_CALENDAR) -> int:
    """Working days that have passed from ``start`` to ``end`` (dates in the team's zone): the working
    days after start's date up to and including end's date."""
    tz = team_tz()
    d0, d1 = start.astimezone(tz).date(), end.astimezone(tz).date()
    n, d = 0, d0
    while d < d1:
        d += timedelta(days=1)
        if calendar.is_working_day(d):
            n += 1
    return n


# --- who --------------------------------------------------------------------------------------------


def find_member(session: Session, who: str) -> Member | None:
    """A member by name, email or any platform user id (the CLI's ``--as`` and the API's header)."""
    who = who.strip()
    if not who:
        return None
    m = session.exec(select(Member).where(Member.name == who)).first()
    if m is None and "@" in who:
        m = session.exec(select(Member).where(col(Member.email).ilike(who))).first()
    if m is None:
        ident = session.exec(select(PlatformIdentity).where(PlatformIdentity.user_id == who)).first()
        m = session.get(Member, ident.member_id) if ident else None
    return m if m is not None and m.active else None


def _names(session: Session) -> dict[int, str]:
    return {m.id or 0: m.name for m in session.exec(select(Member)).all()}


# --- customers --------------------------------------------------------------------------------------


def customer_for(session: Session, member: Member, typed: str) -> Customer:
    """The one customer ``typed`` names, if the member may see it.

    A name that only matches customers outside the member's scope is refused (NotAllowed); when it
    matches several visible ones, the member is asked to be precise."""
    typed = typed.strip()
    if not typed:
        raise ActionError("请写客户名称 (name a customer)")
    hits = find_by_name(session, typed)
    if not hits:
        raise ActionError(f"没有找到客户 “{typed}” (no such customer)")
    exact = [c for c in hits if name_key(c.name) == name_key(typed)]
    if len(exact) == 1:
        hits = exact
    ids = visible_customer_ids(session, member)
    visible = [c for c in hits if ids is None or (c.id or 0) in ids]
    if not visible:  # refuse naming only what was typed: not even the full name leaks
        raise NotAllowed(f"“{typed}” 不在你的权限范围内 (not in your scope)")
    if len(visible) > 1:
        raise ActionError(
            f"“{typed}” 对应多个客户，请写全名 (several match): " + "、".join(c.name for c in visible)
        )
    return visible[0]


def stage_since(session: Session, c: Customer) -> datetime:
    """When the customer's current stage began: the recorded time, else its first activity, else its
    creation (as `customers import` documents)."""
    if c.stage_since is not None:
        return c.stage_since
    first = session.exec(
        select(Activity.occurred_at)
        .where(Activity.customer_id == c.id)
        .order_by(col(Activity.occurred_at))
        .limit(1)
    ).first()
    return first or c.created_at


@dataclass
class CustomerCard:
    customer: Customer
    owner: str | None
    pains: list[PainPoint]
    next_meeting: Meeting | None
    samples: list[SampleCommitment]
    open_todos: list[Todo]
    last_activity: Activity | None
    stage_days: int


def customer_card(session: Session, member: Member, typed: str, now: datetime) -> CustomerCard:
    c = customer_for(session, member, typed)
    pains = sorted(
        session.exec(select(PainPoint).where(PainPoint.customer_id == c.id)).all(),
        key=lambda p: (-p.mentions, p.first_seen, p.phrase_key),
    )
    next_meeting = session.exec(
        select(Meeting)
        .where(
            Meeting.customer_id == c.id,
            col(Meeting.status).in_(("scheduled", "moved")),
            Meeting.start >= now,
        )
        .order_by(col(Meeting.start))
        .limit(1)
    ).first()
    samples = sorted(
        session.exec(select(SampleCommitment).where(SampleCommitment.customer_id == c.id)).all(),
        key=lambda s: (s.model, s.id or 0),
    )
    todos = session.exec(
        select(Todo).where(Todo.customer_id == c.id, Todo.status == "open").order_by(col(Todo.due))
    ).all()
    last = session.exec(
        select(Activity)
        .where(Activity.customer_id == c.id)
        .order_by(col(Activity.occurred_at).desc())
        .limit(1)
    ).first()
    return CustomerCard(
        customer=c,
        owner=_names(session).get(c.owner_id or 0),
        pains=list(pains),
        next_meeting=next_meeting,
        samples=samples,
        open_todos=sorted(todos, key=lambda t: (t.due is None, t.due or now, t.id or 0)),
        last_activity=last,
        stage_days=working_days_between(stage_since(session, c), now),
    )


# --- pipeline ---------------------------------------------------------------------------------------


@dataclass
class StageRow:
    stage: str
    count: int = 0
    amount: float = 0.0


@dataclass
class StuckCustomer:
    customer: str
    owner: str | None
    stage: str
    working_days: int


@dataclass
class Pipeline:
    scope: str  # me | region | all (what the asker actually sees)
    rows: list[StageRow]
    stuck: list[StuckCustomer]
    total_count: int
    total_amount: float
    stuck_after: int


PIPELINE_SCOPES = {
    "me": "me",
    "mine": "me",
    "我": "me",
    "我的": "me",
    "region": "region",
    "区域": "region",
    "大区": "region",
    "all": "all",
    "全部": "all",
    "所有": "all",
}


def pipeline(session: Session, member: Member, scope: str, now: datetime) -> Pipeline:
    """Stage distribution (customer counts, opportunity amounts) and who is stuck, within scope.

    ``me``: customers the member owns; ``region``: customers of the member's region (a rep, who sees only
    their own, gets their own); ``all``: everything the member may see."""
    key = PIPELINE_SCOPES.get(scope.casefold())
    if key is None:
        raise ActionError(f"范围应为 me / region / all，而不是 “{scope}”")
    visible = visible_customer_ids(session, member)
    customers = [c for c in session.exec(select(Customer)).all() if visible is None or (c.id or 0) in visible]
    if key == "me":
        customers = [c for c in customers if c.owner_id == member.id]
    elif key == "region" and member.role != "rep" and member.region:
        customers = [c for c in customers if c.region and c.region.startswith(member.region)]
    if member.role == "rep":
        key = "me"  # a rep's region and all are their own customers
    amounts: dict[int, float] = defaultdict(float)
    for o in session.exec(select(Opportunity)).all():
        if o.amount:
            amounts[o.customer_id] += float(o.amount)
    order = stage_order()
    rows = {s: StageRow(s) for s in order}
    names = _names(session)
    stuck_after = stuck_after_working_days()
    stuck: list[StuckCustomer] = []
    for c in customers:
        stage = c.stage or "(未设置)"
        row = rows.setdefault(stage, StageRow(stage))
        row.count += 1
        row.amount += amounts.get(c.id or 0, 0.0)
        days = working_days_between(stage_since(session, c), now)
        last_stage = order[-1] if order else None
        if c.stage and c.stage != last_stage and days >= stuck_after:
            stuck.append(StuckCustomer(c.name, names.get(c.owner_id or 0), c.stage, days))
    stuck.sort(key=lambda s: (-s.working_days, s.customer))
    return Pipeline(
        scope=key,
        rows=list(rows.values()),
        stuck=stuck,
        total_count=len(customers),
        total_amount=sum(amounts.get(c.id or 0, 0.0) for c in customers),
        stuck_after=stuck_after,
    )


# --- todos and overdue ------------------------------------------------------------------------------


@dataclass
class TodoLine:
    todo: Todo
    owner: str | None
    customer: str | None


def _todo_lines(session: Session, todos: list[Todo]) -> list[TodoLine]:
    names = _names(session)
    custs = {c.id or 0: c.name for c in session.exec(select(Customer)).all()}
    return [TodoLine(t, names.get(t.owner_id or 0), custs.get(t.customer_id or 0)) for t in todos]


def my_todos(session: Session, member: Member) -> list[TodoLine]:
    todos = session.exec(select(Todo).where(Todo.owner_id == member.id, Todo.status == "open")).all()
    return _todo_lines(session, sorted(todos, key=lambda t: (t.due is None, t.due or 0, t.id or 0)))


def overdue(session: Session, member: Member, now: datetime) -> list[TodoLine]:
    """Open todos past due whose owner is in the member's scope (a rep: their own)."""
    owners = visible_members(session, member)
    q = select(Todo).where(Todo.status == "open", col(Todo.due).is_not(None), col(Todo.due) < now)
    if owners is not None:
        q = q.where(col(Todo.owner_id).in_(owners))
    todos = sorted(session.exec(q).all(), key=lambda t: (t.due or now, t.id or 0))
    return _todo_lines(session, list(todos))


def open_alerts(session: Session, member: Member) -> list[Alert]:
    return list(
        session.exec(
            select(Alert)
            .where(Alert.recipient_id == member.id, col(Alert.state).in_(("open", "snoozed")))
            .order_by(col(Alert.id))
        ).all()
    )


# --- policies ---------------------------------------------------------------------------------------


@dataclass
class PolicyLine:
    policy: Policy
    acked: bool
    acks: int
    audience_size: int


def policy_audience(session: Session, policy: Policy) -> list[Member]:
    """Reps a policy concerns: every active rep, or those of the region it names (``audience``)."""
    reps = session.exec(select(Member).where(Member.role == "rep", col(Member.active).is_(True))).all()
    aud = (policy.audience or "").strip()
    if aud and aud not in ("all", "全部"):
        reps = [m for m in reps if m.region and m.region.startswith(aud)]
    return list(reps)


def policies(session: Session, member: Member) -> list[PolicyLine]:
    acked = {
        a.policy_id for a in session.exec(select(PolicyAck).where(PolicyAck.member_id == member.id)).all()
    }
    counts = Counter(a.policy_id for a in session.exec(select(PolicyAck)).all())
    out = []
    for p in session.exec(select(Policy).order_by(col(Policy.published_at).desc())).all():
        aud = policy_audience(session, p)
        if member.role == "rep" and member.id not in {m.id for m in aud}:
            continue
        out.append(PolicyLine(p, (p.id or 0) in acked, counts.get(p.id or 0, 0), len(aud)))
    return out


# --- team health ------------------------------------------------------------------------------------


@dataclass
class RepHealth:
    name: str
    captures_7d: int = 0
    captures_total: int = 0
    open_todos: int = 0
    overdue_todos: int = 0

    @property
    def overdue_share(self) -> float:
        return self.overdue_todos / self.open_todos if self.open_todos else 0.0


@dataclass
class Health:
    reps: list[RepHealth]
    overdue_share: float
    stage_ages: dict[str, tuple[int, float, int]]  # stage -> (customers, mean working days, max)
    policy_ack_hours: dict[str, float | None]  # policy title -> median hours publish → ack
    policy_first_use_hours: dict[str, float | None]  # policy title -> hours publish → first application
    since: date = field(default_factory=date.today)


def health(session: Session, member: Member, now: datetime) -> Health:
    """Team figures within the member's scope: captures per rep (last 7 days and all time), the share
    of open todos that are overdue, how long customers sit in each stage, and policy response lag."""
    scope = visible_members(session, member)
    members = [
        m
        for m in session.exec(select(Member).where(col(Member.active).is_(True))).all()
        if (scope is None or (m.id or 0) in scope) and m.role == "rep"
    ]
    by_id = {m.id or 0: RepHealth(m.name) for m in members}
    week_ago = now - timedelta(days=7)
    for cap in session.exec(select(Capture).where(col(Capture.undone_at).is_(None))).all():
        rh = by_id.get(cap.member_id or 0)
        if rh is not None:
            rh.captures_total += 1
            if cap.created_at >= week_ago:
                rh.captures_7d += 1
    for t in session.exec(select(Todo).where(Todo.status == "open")).all():
        rh = by_id.get(t.owner_id or 0)
        if rh is not None:
            rh.open_todos += 1
            if t.due is not None and t.due < now:
                rh.overdue_todos += 1
    total_open = sum(r.open_todos for r in by_id.values())
    total_over = sum(r.overdue_todos for r in by_id.values())
    visible = visible_customer_ids(session, member)
    ages: dict[str, list[int]] = defaultdict(list)
    for c in session.exec(select(Customer)).all():
        if c.stage and (visible is None or (c.id or 0) in visible):
            ages[c.stage].append(working_days_between(stage_since(session, c), now))
    order = {s: i for i, s in enumerate(stage_order())}
    stage_ages = {
        s: (len(v), round(statistics.fmean(v), 1), max(v))
        for s, v in sorted(ages.items(), key=lambda kv: order.get(kv[0], 99))
    }
    ack_h: dict[str, float | None] = {}
    use_h: dict[str, float | None] = {}
    for p in session.exec(select(Policy).order_by(col(Policy.published_at))).all():
        lags = [
            (a.at - p.published_at).total_seconds() / 3600
            for a in session.exec(select(PolicyAck).where(PolicyAck.policy_id == p.id)).all()
            if scope is None or a.member_id in scope
        ]
        ack_h[p.title] = round(statistics.median(lags), 1) if lags else None
        first = session.exec(
            select(PolicyApplication.applied_at)
            .where(PolicyApplication.policy_id == p.id)
            .order_by(col(PolicyApplication.applied_at))
            .limit(1)
        ).first()
        use_h[p.title] = round((first - p.published_at).total_seconds() / 3600, 1) if first else None
    return Health(
        reps=sorted(by_id.values(), key=lambda r: r.name),
        overdue_share=total_over / total_open if total_open else 0.0,
        stage_ages=stage_ages,
        policy_ack_hours=ack_h,
        policy_first_use_hours=use_h,
        since=week_ago.astimezone(team_tz()).date(),
    )
