"""Lead intake (issue 4 §4): ``POST /api/leads`` creates a Lead; the owner is the matching customer's
owner, else the active rep with the fewest untouched leads. The first-touch SLA (15 minutes, in
config/rules.yaml) is the scan's `lead_untouched` rule; touching the lead resolves its alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from core.actions import ActionError, _audit, parse_short_id
from core.customers import find_by_name
from core.models import Lead, Member
from core.timeutil import ensure_aware


def _least_loaded_rep(session: Session) -> Member | None:
    reps = session.exec(
        select(Member).where(Member.role == "rep", col(Member.active).is_(True)).order_by(col(Member.id))
    ).all()
    if not reps:
        return None
    load = dict(
        session.exec(
            select(Lead.owner_id, func.count())
            .where(col(Lead.first_touch_at).is_(None))
            .group_by(col(Lead.owner_id))
        ).all()
    )
    return min(reps, key=lambda m: (load.get(m.id, 0), m.id or 0))


def create_lead(
    session: Session,
    *,
    source: str,
    company: str,
    now: datetime,
    contact: str | None = None,
    message: str | None = None,
    owner: Member | None = None,
) -> Lead:
    ensure_aware(now, "now")
    if not source.strip() or not company.strip():
        raise ActionError("a lead needs a source and a company")
    if owner is None:
        known = find_by_name(session, company)
        if len(known) == 1 and known[0].owner_id:
            owner = session.get(Member, known[0].owner_id)
    owner = owner or _least_loaded_rep(session)
    lead = Lead(
        source=source.strip()[:100],
        company=company.strip()[:200],
        contact=(contact or "").strip()[:200] or None,
        message=message,
        owner_id=owner.id if owner else None,
        received_at=now,
        priority="normal",
    )
    session.add(lead)
    session.flush()
    return lead


def touch_lead(session: Session, actor: Member, lead_ref: str | int, now: datetime) -> Lead:
    """Record the first touch (call, message, visit) of a lead; later touches change nothing."""
    lead_id = lead_ref if isinstance(lead_ref, int) else parse_short_id(lead_ref, "L")
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise ActionError(f"没有线索 L{lead_id}")
    if lead.first_touch_at is None:
        lead.first_touch_at = now
        session.add(lead)
        _audit(session, actor, "lead.touch", "lead", lead.id, None, now.isoformat(), now)
    return lead


def lead_json(session: Session, lead: Lead) -> dict[str, Any]:
    from config.settings import get_settings
    from core.timeutil import iso, parse_tz

    tz = parse_tz(get_settings().timezone)
    owner = session.get(Member, lead.owner_id) if lead.owner_id else None
    return {
        "id": f"L{lead.id}",
        "source": lead.source,
        "company": lead.company,
        "contact": lead.contact,
        "owner": owner.name if owner else None,
        "priority": lead.priority,
        "received_at": iso(lead.received_at, tz),
        "first_touch_at": iso(lead.first_touch_at, tz),
    }
