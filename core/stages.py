"""Stage and deal-level changes (DESIGN §5): each target enforces the evidence its rules ask for
(config/rules.yaml `stages[].requires`, `levels[].requires`) and every change writes an AuditEvent
(who, when, from, to, evidence).

Moving forward needs the requirements of every stage (level) after the current one up to the target;
moving back needs none. Evidence comes from the records (pain points, meetings and visits held, contacts,
attachments of a kind) and from ``evidence`` given with the request, e.g.
``{"signed_quote": "file-ref", "quote_valid_until": "2026-12-20"}`` — what was given is kept in the
AuditEvent and on the opportunity.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from config.rules import Requirement, Rules, get_rules
from core.actions import ActionError
from core.models import (
    Alert,
    Attachment,
    AuditEvent,
    Contact,
    Customer,
    Meeting,
    Member,
    Opportunity,
    PainPoint,
    Todo,
    Visit,
)
from core.scope import require_customer
from core.sla import STAGE_TODO_KIND
from core.timeutil import parse_iso

Deal = Customer | Opportunity


class EvidenceMissing(ActionError):
    """A stage or level change was refused; ``missing`` lists what is missing (labels from rules.yaml)."""

    def __init__(self, what: str, target: str, missing: list[str]) -> None:
        self.target = target
        self.missing = missing
        lines = "\n".join(f"- {m}" for m in missing)
        super().__init__(f"不能改为{what}「{target}」，缺少 (missing evidence):\n{lines}")


def _customer_of(session: Session, subject: Deal) -> Customer:
    if isinstance(subject, Customer):
        return subject
    c = session.get(Customer, subject.customer_id)
    if c is None:
        raise ActionError(f"opportunity {subject.id} has no customer")
    return c


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(stmt).one() or 0)


def _as_datetime(value: Any, tz: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.max.time(), tzinfo=tz)
    if isinstance(value, str) and value:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.max.time(), tzinfo=tz)
        return parse_iso(value)
    return None


def satisfied(
    session: Session, req: Requirement, subject: Deal, evidence: Mapping[str, Any], now: datetime
) -> bool:
    cust = _customer_of(session, subject)
    cid = cust.id
    if req.check == "pain_points":
        return (
            _count(session, select(func.count()).select_from(PainPoint).where(PainPoint.customer_id == cid))
            >= req.min
        )
    if req.check == "contact":
        return (
            _count(session, select(func.count()).select_from(Contact).where(Contact.customer_id == cid))
            >= req.min
        )
    if req.check == "meeting_held":
        meetings = _count(
            session,
            select(func.count())
            .select_from(Meeting)
            .where(Meeting.customer_id == cid, col(Meeting.status) != "cancelled", Meeting.start <= now),
        )
        visits = _count(
            session, select(func.count()).select_from(Visit).where(Visit.customer_id == cid, Visit.at <= now)
        )
        return meetings + visits >= req.min or bool(evidence.get("meeting_held"))
    if req.check == "attachment":
        if evidence.get(req.kind or ""):
            return True
        return (
            _count(
                session,
                select(func.count())
                .select_from(Attachment)
                .where(Attachment.customer_id == cid, Attachment.kind == req.kind),
            )
            >= req.min
        )
    if req.check == "valid_days":
        until = _as_datetime(evidence.get(req.key or ""), now.tzinfo)
        return until is not None and until >= now + timedelta(days=req.min)
    if req.check == "evidence":
        return bool(evidence.get(req.key or ""))
    if req.check == "amount":
        amount = evidence.get("amount") or (subject.amount if isinstance(subject, Opportunity) else None)
        return amount is not None and float(amount) > 0
    return False  # pragma: no cover - the schema admits no other check


def _stored_evidence(subject: Deal, given: Mapping[str, Any] | None) -> dict[str, Any]:
    stored = dict(subject.evidence or {}) if isinstance(subject, Opportunity) else {}
    stored.update(given or {})
    return stored


def missing_for(
    session: Session,
    subject: Deal,
    names: list[str],
    requirements: dict[str, list[Requirement]],
    current: str | None,
    target: str,
    evidence: Mapping[str, Any],
    now: datetime,
) -> list[str]:
    start = names.index(current) + 1 if current in names else 0
    end = names.index(target)
    if current in names and end <= names.index(current):
        return []  # moving back needs no evidence
    missing: list[str] = []
    for name in names[start : end + 1]:
        for req in requirements.get(name, []):
            if not satisfied(session, req, subject, evidence, now) and req.label not in missing:
                missing.append(req.label)
    return missing


def _audit(
    session: Session,
    actor: Member,
    action: str,
    subject: Deal,
    frm: str | None,
    to: str,
    evidence: Mapping[str, Any],
    now: datetime,
) -> AuditEvent:
    ev = AuditEvent(
        at=now,
        actor_id=actor.id,
        action=action,
        subject_type="opportunity" if isinstance(subject, Opportunity) else "customer",
        subject_id=subject.id,
        from_value=frm,
        to_value=to,
        detail={
            "evidence": {
                k: (v if isinstance(v, str | int | float | bool) else str(v)) for k, v in evidence.items()
            }
        },
    )
    session.add(ev)
    session.flush()
    return ev


def _settle(session: Session, subject: Deal, rule_prefix: str, now: datetime) -> None:
    stype = "opportunity" if isinstance(subject, Opportunity) else "customer"
    for a in session.exec(
        select(Alert).where(
            Alert.subject_type == stype,
            Alert.subject_id == subject.id,
            col(Alert.rule).startswith(rule_prefix),
            col(Alert.state).in_(("open", "snoozed", "acked")),
        )
    ).all():
        a.state, a.resolved_at, a.next_escalation_at = "resolved", now, None
        session.add(a)


def change_stage(
    session: Session,
    actor: Member,
    subject: Deal,
    stage: str,
    now: datetime,
    *,
    evidence: Mapping[str, Any] | None = None,
    rules: Rules | None = None,
) -> AuditEvent:
    """Move a customer or opportunity to ``stage``. Raises NotAllowed (outside the actor's scope),
    ActionError (unknown stage, already there) or EvidenceMissing (``.missing`` lists what is missing)."""
    rules = rules or get_rules()
    cust = _customer_of(session, subject)
    require_customer(session, actor, cust)
    names = rules.stage_names()
    stage = stage.strip()
    if stage not in names:
        raise ActionError(f"没有阶段「{stage}」；阶段依次为 (stages): {' → '.join(names)}")
    if subject.stage == stage:
        raise ActionError(f"{cust.name} 已经在「{stage}」")
    given = _stored_evidence(subject, evidence)
    reqs = {s.name: list(s.requires) for s in rules.stages}
    missing = missing_for(session, subject, names, reqs, subject.stage, stage, given, now)
    if missing:
        raise EvidenceMissing("阶段", stage, missing)
    frm = subject.stage
    subject.stage = stage
    if isinstance(subject, Opportunity):
        subject.stage_entered_at = now
        if evidence:
            subject.evidence = {**(subject.evidence or {}), **dict(evidence)}
        others = session.exec(select(Opportunity).where(Opportunity.customer_id == cust.id)).all()
        if len(others) == 1:  # the customer's only deal: its stage is the customer's stage
            cust.stage, cust.stage_since = stage, now
            session.add(cust)
    else:
        subject.stage_since = now
    session.add(subject)
    _settle(session, subject, "stage.", now)
    for todo in session.exec(
        select(Todo).where(Todo.customer_id == cust.id, Todo.kind == STAGE_TODO_KIND, Todo.status == "open")
    ).all():
        todo.status, todo.done_at = "done", now
        session.add(todo)
    return _audit(session, actor, "stage.change", subject, frm, stage, given, now)


def change_level(
    session: Session,
    actor: Member,
    subject: Deal,
    level: str,
    now: datetime,
    *,
    evidence: Mapping[str, Any] | None = None,
    rules: Rules | None = None,
) -> AuditEvent:
    """Set the deal level (A–E) of a customer or opportunity; same errors as :func:`change_stage`."""
    rules = rules or get_rules()
    cust = _customer_of(session, subject)
    require_customer(session, actor, cust)
    names = rules.level_names()
    level = level.strip().upper()
    if level not in names:
        raise ActionError(f"没有级别「{level}」；级别为 (levels): {' '.join(names)}")
    if (subject.level or "").upper() == level:
        raise ActionError(f"{cust.name} 已经是 {level} 级")
    given = _stored_evidence(subject, evidence)
    reqs: dict[str, list[Requirement]] = {lv.name: list(lv.requires) for lv in rules.levels}
    current = (subject.level or "").upper() or None
    missing = missing_for(session, subject, names, reqs, current, level, given, now)
    if missing:
        raise EvidenceMissing("级别", level, missing)
    frm = subject.level
    subject.level = level
    if isinstance(subject, Opportunity):
        subject.level_entered_at = now
        if evidence:
            subject.evidence = {**(subject.evidence or {}), **dict(evidence)}
        others = session.exec(select(Opportunity).where(Opportunity.customer_id == cust.id)).all()
        if len(others) == 1:
            cust.level, cust.level_since = level, now
            session.add(cust)
    else:
        subject.level_since = now
    session.add(subject)
    _settle(session, subject, "level.", now)
    return _audit(session, actor, "level.change", subject, frm, level, given, now)


def find_deal(session: Session, ref: str) -> Deal | None:
    """A customer by name or alias, or an opportunity by ``O<id>``."""
    from core.customers import find_by_name

    r = ref.strip()
    if r[:1].upper() == "O" and r[1:].isdigit():
        return session.get(Opportunity, int(r[1:]))
    found = find_by_name(session, r)
    return found[0] if len(found) == 1 else None
