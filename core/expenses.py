"""Expense claims and the visits they paid for (issue 8) — the one place for the linking rule.

Flow: the bot stores every approval event once (`record_event`: unique on (platform, event_id) and on
(platform, instance, status)), keeps the claim's status by event time (`apply_status`), a bot task fetches the
form and hands the mapped values to `set_claim_fields`, then `link_claim` either links the claim to the
applicant's visit of that customer on that date (within the configured tolerance) or keeps it pending,
asks the applicant in chat (buttons: their recent visits, "record it from this claim") and tells the
approver the link is missing. A visit recorded later links waiting claims (`relink_for_visit`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from config.approvals import Approvals, LinkRules, get_approvals
from core.inbox import member_for
from core.messages import Action, ApprovalEvent, OutboundMessage
from core.models import ApprovalEventLog, AuditEvent, Customer, ExpenseClaim, Member, Visit
from core.notices import create_notice
from core.people import context_for_id, manager_of
from core.scope import NotAllowed
from core.sqlutil import insert_ignore, table_of

log = logging.getLogger(__name__)

#: ApprovalEvent.status → claim status (a deleted instance is withdrawn; a paid one was approved)
CLAIM_STATUS = {
    "submitted": "submitted",
    "approved": "approved",
    "rejected": "rejected",
    "revoked": "revoked",
    "deleted": "revoked",
    "paid": "approved",
}
TERMINAL = frozenset({"approved", "rejected", "revoked"})


class ClaimError(ValueError):
    """A claim action that cannot be done (unknown claim or visit); the message is for the user."""


# --- status ---------------------------------------------------------------------------------------


def apply_status(claim: ExpenseClaim, event_status: str, at: datetime) -> bool:
    """Move the claim to the event's status when the event may change it; True when it did.

    Precedence: a terminal state (approved, rejected, revoked) is never undone by "submitted" (a start
    pushed after the finish); between terminal states the later event wins (revoked after approval);
    "submitted" only sets the status of a claim that has none yet or refreshes its time."""
    new = CLAIM_STATUS.get(event_status, "submitted")
    cur, cur_at = claim.status, claim.status_at
    if cur_at is None:
        claim.status, claim.status_at = new, at
        return True
    if new == "submitted":
        if cur == "submitted" and at < cur_at:
            claim.status_at = at
        return False
    if cur not in TERMINAL or at > cur_at:
        changed = cur != new
        claim.status, claim.status_at = new, at
        return changed
    return False


# --- events ---------------------------------------------------------------------------------------


def _insert_log(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING on either unique key ((platform, event_id) or (platform, instance,
    status)); the new id or None for a duplicate."""
    obj = ApprovalEventLog(**values)
    table = table_of(ApprovalEventLog)
    row = {c.name: getattr(obj, c.name) for c in table.columns if c.name != "id"}
    dialect = session.get_bind().dialect.name
    ins: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    got = session.execute(ins.values(**row).on_conflict_do_nothing().returning(table.c.id)).first()
    return None if got is None else int(got[0])


@dataclass
class Recorded:
    claim_id: int | None
    new_event: bool
    status_changed: bool


def _category(event: ApprovalEvent) -> str | None:
    data = (event.raw or {}).get("data")
    return data.get("bizCategoryId") if isinstance(data, dict) else None


def record_event(
    session: Session, event: ApprovalEvent, now: datetime, approvals: Approvals | None = None
) -> Recorded:
    """Store an approval event once and keep its claim's status. Events of templates the approvals file
    does not map are logged without a claim."""
    approvals = approvals or get_approvals()
    log_id = _insert_log(
        session,
        {
            "platform": event.platform,
            "event_id": event.event_id,
            "instance_id": event.instance_id,
            "status": event.status,
            "template_code": event.template_code,
            "applicant": event.applicant,
            "occurred_at": event.occurred_at,
            "received_at": now,
            "raw": {"kind": event.kind, "category": _category(event)},
        },
    )
    existing = session.exec(
        select(ExpenseClaim).where(
            ExpenseClaim.platform == event.platform, ExpenseClaim.instance_id == event.instance_id
        )
    ).first()
    if log_id is None:
        return Recorded(existing.id if existing else None, False, False)
    mapping = approvals.template_for(event.platform, event.template_code, _category(event))
    if mapping is None and existing is None:
        if event.kind == "expense":
            log.warning(
                "expense approval of an unmapped template",
                extra={"platform": event.platform, "template": event.template_code},
            )
        return Recorded(None, True, False)
    if existing is None:
        insert_ignore(
            session,
            ExpenseClaim,
            {
                "platform": event.platform,
                "instance_id": event.instance_id,
                "template_code": event.template_code,
                "created_at": now,
                "updated_at": now,
            },
            ["platform", "instance_id"],
        )
        existing = session.exec(
            select(ExpenseClaim).where(
                ExpenseClaim.platform == event.platform, ExpenseClaim.instance_id == event.instance_id
            )
        ).one()
    claim = existing
    if event.applicant and not claim.applicant_user_id:
        claim.applicant_user_id = event.applicant
        claim.applicant_id = member_for(session, event.platform, event.applicant)
    if event.template_code and not claim.template_code:
        claim.template_code = event.template_code
    if event.form and not claim.form:
        claim.form = {"fields": event.form}
    changed = apply_status(claim, event.status, event.occurred_at)
    claim.updated_at = now
    session.add(claim)
    session.flush()
    row = session.get(ApprovalEventLog, log_id)
    if row is not None:
        row.claim_id = claim.id
        session.add(row)
    return Recorded(claim.id, True, changed)


# --- form values ----------------------------------------------------------------------------------


def set_claim_fields(
    session: Session,
    claim: ExpenseClaim,
    *,
    customer_name: str | None,
    claimed_date: datetime | None,
    place: str | None,
    amount: float | None,
    form: dict[str, Any] | None,
    approvers: list[str] | None,
    applicant_user_id: str | None,
    now: datetime,
) -> None:
    """The values a form fetcher read through the template mapping; the customer is matched by name or
    alias (exactly one customer, else it stays unknown and the applicant is asked)."""
    from core.customers import find_by_name

    if customer_name:
        found = find_by_name(session, customer_name)
        claim.customer_id = found[0].id if len(found) == 1 else None
    claim.claimed_date = claimed_date or claim.claimed_date
    claim.place = place or claim.place
    claim.amount = amount if amount is not None else claim.amount
    if form is not None:
        claim.form = {"fields": form, "customer_text": customer_name}
    if approvers:
        claim.approvers = list(dict.fromkeys(approvers))
    if applicant_user_id and not claim.applicant_user_id:
        claim.applicant_user_id = applicant_user_id
    if claim.applicant_user_id and claim.applicant_id is None:
        claim.applicant_id = member_for(session, claim.platform, claim.applicant_user_id)
    claim.form_fetched_at = now
    claim.updated_at = now
    session.add(claim)
    session.flush()


# --- the linking rule -----------------------------------------------------------------------------


def _distance(session: Session, rep_id: int, a: date, b: date, rules: LinkRules) -> int:
    lo, hi = min(a, b), max(a, b)
    if rules.unit == "days":
        return (hi - lo).days
    cal = context_for_id(session, rep_id).calendar
    n, d = 0, lo
    while d < hi:
        d += timedelta(days=1)
        if cal.is_working_day(d):
            n += 1
    return n


def matching_visit(session: Session, claim: ExpenseClaim, rules: LinkRules | None = None) -> Visit | None:
    """The applicant's visit of the claim's customer whose date is within the tolerance of the claimed
    date (dates in the applicant's team zone); the nearest one, the earlier on a tie."""
    rules = rules or get_approvals().link
    if claim.applicant_id is None or claim.customer_id is None or claim.claimed_date is None:
        return None
    tz = context_for_id(session, claim.applicant_id).tz
    day = claim.claimed_date.astimezone(tz).date()
    window = timedelta(days=rules.tolerance * (3 if rules.unit == "working_days" else 1) + 12)
    candidates = session.exec(
        select(Visit).where(
            Visit.rep_id == claim.applicant_id,
            Visit.customer_id == claim.customer_id,
            Visit.at >= claim.claimed_date - window,
            Visit.at <= claim.claimed_date + window,
        )
    ).all()
    best: tuple[int, datetime, Visit] | None = None
    for v in candidates:
        dist = _distance(session, claim.applicant_id, day, v.at.astimezone(tz).date(), rules)
        if dist <= rules.tolerance and (best is None or (dist, v.at) < (best[0], best[1])):
            best = (dist, v.at, v)
    return best[2] if best else None


def _link(session: Session, claim: ExpenseClaim, visit: Visit, now: datetime, how: str) -> None:
    claim.visit_id = visit.id
    claim.link_state = "linked"
    claim.linked_at = now
    claim.updated_at = now
    session.add(claim)
    ev = dict(visit.evidence or {})
    ids = sorted({*ev.get("claim_ids", []), claim.id})
    visit.evidence = {**ev, "claim_ids": ids}
    session.add(visit)
    session.add(
        AuditEvent(
            at=now,
            actor_id=claim.applicant_id,
            action=f"claim.link.{how}",
            subject_type="expense_claim",
            subject_id=claim.id,
            to_value=f"visit:{visit.id}",
        )
    )
    session.flush()


def _approver_ids(session: Session, claim: ExpenseClaim) -> list[int]:
    ids = [member_for(session, claim.platform, u) for u in claim.approvers or []]
    found = [i for i in dict.fromkeys(ids) if i is not None and i != claim.applicant_id]
    if found:
        return found
    applicant = session.get(Member, claim.applicant_id) if claim.applicant_id else None
    manager = manager_of(session, applicant)
    return [manager.id] if manager is not None and manager.id is not None else []


def _claim_line(session: Session, claim: ExpenseClaim) -> str:
    customer = session.get(Customer, claim.customer_id) if claim.customer_id else None
    who = (claim.form or {}).get("customer_text") or (customer.name if customer else "未填写客户")
    day = (
        claim.claimed_date.astimezone(context_for_id(session, claim.applicant_id).tz).date()
        if (claim.claimed_date)
        else "日期未知"
    )
    amount = f"，¥{claim.amount:g}" if claim.amount is not None else ""
    return f"报销单 E{claim.id}（{who}，{day}{amount}）"


def link_claim(session: Session, claim: ExpenseClaim, now: datetime) -> str:
    """Link the claim to its visit, or keep it pending and ask. Returns "linked", "asked", "pending" (asked
    before) or "skipped" (withdrawn claim, or no applicant on the roster). Safe to call again."""
    approvals = get_approvals()
    if claim.visit_id is not None:
        return "linked"
    visit = matching_visit(session, claim, approvals.link)
    if visit is not None:
        _link(session, claim, visit, now, "auto")
        return "linked"
    claim.link_state = "pending"
    session.add(claim)
    if claim.status in ("rejected", "revoked") or claim.applicant_id is None:
        return "skipped"
    line = _claim_line(session, claim)
    offered = _offer(session, claim, now, approvals.link)
    buttons = [
        Action(
            kind="choose",
            label=f"{_local(session, v):%m-%d} {_customer_name(session, v)}",
            value=f"claim:{claim.id}:visit:{v.id}",
        )
        for v in offered
    ]
    if claim.customer_id is not None and claim.claimed_date is not None:
        buttons.append(
            Action(kind="choose", label="按报销单登记拜访 Record it now", value=f"claim:{claim.id}:record")
        )
    body = (
        f"{line} 没有对应的拜访记录。请选择它对应的拜访"
        + ("（下面是你最近的拜访）" if offered else "（最近没有你的拜访记录）")
        + "，或者现在补录：发送 `拜访 客户名 结果`（例如 `拜访 "
        + (_customer_name_id(session, claim.customer_id) or "客户名")
        + " 演示顺利，下一步报价`）。\n"
        f"No visit matches {line}: pick the visit it paid for, or record the visit now "
        "(`visit CUSTOMER outcome`)."
    )
    asked = create_notice(
        session,
        key=f"claim:{claim.id}:ask",
        recipient_id=claim.applicant_id,
        kind="question",
        message=OutboundMessage(title="这笔报销对应哪次拜访？ Which visit?", body=body, actions=buttons),
        platform=claim.platform,
        extra={"private": True, "claim_id": claim.id},
        now=now,
    )
    applicant = session.get(Member, claim.applicant_id)
    for approver_id in _approver_ids(session, claim):
        create_notice(
            session,
            key=f"claim:{claim.id}:approver:{approver_id}",
            recipient_id=approver_id,
            kind="notice",
            message=OutboundMessage(
                title="报销单缺少拜访记录 Claim without a visit",
                body=(
                    f"{applicant.name if applicant else '申请人'} 的{line}还没有关联拜访记录，"
                    "已请申请人补充。\nThe claim is not linked to a recorded visit yet; the applicant "
                    "has been asked."
                ),
                fields={"claim": f"E{claim.id}", "instance": claim.instance_id},
            ),
            platform=claim.platform,
            extra={"private": True, "claim_id": claim.id},
            now=now,
        )
    if asked is not None:
        claim.asked_at = now
        session.add(claim)
        return "asked"
    return "pending"


def _local(session: Session, v: Visit) -> datetime:
    return v.at.astimezone(context_for_id(session, v.rep_id).tz)


def _customer_name(session: Session, v: Visit) -> str:
    return _customer_name_id(session, v.customer_id) or "?"


def _customer_name_id(session: Session, customer_id: int | None) -> str | None:
    c = session.get(Customer, customer_id) if customer_id else None
    return c.name if c else None


def _offer(session: Session, claim: ExpenseClaim, now: datetime, rules: LinkRules) -> list[Visit]:
    from core.visits import recent_visits

    if claim.applicant_id is None:
        return []
    ref = claim.claimed_date or now
    return recent_visits(session, claim.applicant_id, max(now, ref), rules.recent_days, rules.offer_visits)


def relink_for_visit(session: Session, visit: Visit, now: datetime) -> list[int]:
    """A new visit links the rep's pending claims of that customer that it fits (same rule)."""
    if visit.rep_id is None or visit.customer_id is None:
        return []
    linked = []
    rules = get_approvals().link
    pending = session.exec(
        select(ExpenseClaim).where(
            ExpenseClaim.applicant_id == visit.rep_id,
            ExpenseClaim.customer_id == visit.customer_id,
            col(ExpenseClaim.visit_id).is_(None),
        )
    ).all()
    for claim in pending:
        if (
            matching_visit(session, claim, rules) is not None
            and matching_visit(session, claim, rules) == visit
        ):
            _link(session, claim, visit, now, "visit_recorded")
            linked.append(claim.id or 0)
    return linked


# --- answers from chat -----------------------------------------------------------------------------


def _claim_for(session: Session, member: Member, claim_id: str) -> ExpenseClaim:
    try:
        claim = session.get(ExpenseClaim, int(claim_id.lstrip("Ee")))
    except ValueError:
        claim = None
    if claim is None:
        raise ClaimError(f"没有报销单 E{claim_id}")
    if claim.applicant_id != member.id and member.role not in ("manager", "director", "admin"):
        raise NotAllowed("只能关联自己的报销单")
    return claim


def choose_visit(session: Session, member: Member, claim_id: str, visit_id: str, now: datetime) -> Visit:
    """The applicant picked the visit a claim paid for (button `claim:<id>:visit:<visit id>`)."""
    claim = _claim_for(session, member, claim_id)
    try:
        visit = session.get(Visit, int(visit_id))
    except ValueError:
        visit = None
    if visit is None or visit.rep_id != claim.applicant_id:
        raise ClaimError("这次拜访不是申请人的拜访记录")
    if claim.visit_id == visit.id:
        return visit
    _link(session, claim, visit, now, "chosen")
    return visit


def visit_from_claim(session: Session, member: Member, claim_id: str, now: datetime) -> Visit:
    """ "Record it now" from the claim itself: a visit on the claimed date at the claimed place, linked."""
    from core.visits import create_visit

    claim = _claim_for(session, member, claim_id)
    if claim.visit_id is not None:
        found = session.get(Visit, claim.visit_id)
        if found is not None:
            return found
    if claim.customer_id is None or claim.claimed_date is None:
        raise ClaimError("报销单上没有客户或日期，请用 `拜访 客户名 结果` 补录")
    visit, _new = create_visit(
        session,
        key=f"claim:{claim.id}",
        customer_id=claim.customer_id,
        rep_id=claim.applicant_id,
        at=claim.claimed_date,
        place=claim.place,
        source="approval",
        evidence={"claim_ids": [claim.id]},
        now=now,
        relink=False,
    )
    _link(session, claim, visit, now, "recorded_from_claim")
    return visit


# --- listing and figures ----------------------------------------------------------------------------


def claims_json(session: Session) -> list[dict[str, Any]]:
    out = []
    for c in session.exec(select(ExpenseClaim).order_by(col(ExpenseClaim.id))).all():
        applicant = session.get(Member, c.applicant_id) if c.applicant_id else None
        out.append(
            {
                "id": c.id,
                "platform": c.platform,
                "instance_id": c.instance_id,
                "applicant": applicant.name if applicant else None,
                "customer": _customer_name_id(session, c.customer_id),
                "claimed_date": c.claimed_date.isoformat() if c.claimed_date else None,
                "place": c.place,
                "amount": c.amount,
                "status": c.status,
                "status_at": c.status_at.isoformat() if c.status_at else None,
                "link_state": c.link_state,
                "visit_id": c.visit_id,
            }
        )
    return out


@dataclass
class VisitFigures:
    """Visit and claim figures for `report`/健康度 over [start, end)."""

    claims: int
    claims_linked: int
    visits: int
    visits_with_outcome: int
    weeks: float
    visits_per_rep_week: dict[str, float]

    @property
    def claim_link_share(self) -> float | None:
        return self.claims_linked / self.claims if self.claims else None

    @property
    def outcome_share(self) -> float | None:
        return self.visits_with_outcome / self.visits if self.visits else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "claims_linked": self.claims_linked,
            "claim_link_share": self.claim_link_share,
            "visits": self.visits,
            "visits_with_outcome": self.visits_with_outcome,
            "outcome_share": self.outcome_share,
            "weeks": self.weeks,
            "visits_per_rep_week": self.visits_per_rep_week,
        }


def visit_claim_figures(
    session: Session, *, start: datetime, end: datetime, member_ids: set[int] | None = None
) -> VisitFigures:
    """Claims submitted in [start, end) (withdrawn ones left out) and the share linked to a visit; visits
    in [start, end) per rep per week (every active rep of `member_ids`, or all reps, listed, 0 included)
    and how many have an outcome (a result or a next step) recorded. `member_ids` None: everyone."""
    claims = [
        c
        for c in session.exec(
            select(ExpenseClaim).where(ExpenseClaim.created_at >= start, ExpenseClaim.created_at < end)
        ).all()
        if c.status != "revoked" and (member_ids is None or c.applicant_id in member_ids)
    ]
    visits = [
        v
        for v in session.exec(select(Visit).where(Visit.at >= start, Visit.at < end)).all()
        if member_ids is None or v.rep_id in member_ids
    ]
    weeks = max((end - start).total_seconds() / (7 * 86400), 1e-9)
    reps = session.exec(select(Member).where(Member.role == "rep", col(Member.active).is_(True))).all()
    per: dict[str, float] = {}
    for m in reps:
        if member_ids is None or m.id in member_ids:
            per[m.name] = round(sum(1 for v in visits if v.rep_id == m.id) / weeks, 2)
    return VisitFigures(
        claims=len(claims),
        claims_linked=sum(1 for c in claims if c.visit_id is not None),
        visits=len(visits),
        visits_with_outcome=sum(1 for v in visits if (v.result or v.next_step)),
        weeks=round(weeks, 2),
        visits_per_rep_week=per,
    )
