"""Database lookups the Slack adapter needs (sync; the adapter runs them in a worker thread).

- whether a channel's traffic is recorded (bound to a customer with auto-record on, DESIGN §4);
- whether a Slack user is a member, and linking one by email (``users.info``) when the team allows it;
- the capture modal's preview: `nlp.extract` with the customer gazetteer, and the customer the pipeline's
  own resolution order would pick (`core.customers.resolve`, run in a transaction that is rolled back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, func, select

import nlp
from core.customers import find_by_name, gazetteer, resolve
from core.db import get_engine, session_scope
from core.inbox import member_for
from core.models import Conversation, Member, PlatformIdentity

PLATFORM = "slack"


def is_recorded(channel: str) -> bool:
    """True when the channel is bound to a customer and its traffic is recorded."""
    with Session(get_engine()) as session:
        conv = session.exec(
            select(Conversation).where(
                Conversation.platform == PLATFORM, Conversation.conversation_id == channel
            )
        ).first()
        return bool(conv and conv.customer_id and conv.auto_record)


def is_member(user_id: str) -> bool:
    with Session(get_engine()) as session:
        member_id = member_for(session, PLATFORM, user_id)
        member = session.get(Member, member_id) if member_id is not None else None
        return bool(member and member.active)


def link_by_email(user_id: str, email: str) -> bool:
    """Link the Slack user to the one active member with this email; False when none (or several) match."""
    if not email or "@" not in email:
        return False
    with session_scope() as session:
        if member_for(session, PLATFORM, user_id) is not None:
            return True
        found = session.exec(
            select(Member).where(func.lower(Member.email) == email.strip().lower(), Member.active == True)  # noqa: E712
        ).all()
        if len(found) != 1:
            return False
        session.add(PlatformIdentity(platform=PLATFORM, user_id=user_id, member_id=found[0].id or 0))
    return True


def customer_check(typed: str) -> list[str]:
    """The customers a typed name can mean (the pipeline's own lookup)."""
    with Session(get_engine()) as session:
        return [c.name for c in find_by_name(session, typed)]


@dataclass
class Preview:
    customer: str | None = None
    candidates: list[str] = field(default_factory=list)
    pains: list[str] = field(default_factory=list)
    meetings: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)


def _qty(q: float | None) -> str:
    if q is None:
        return ""
    return str(int(q)) if float(q).is_integer() else str(q)


def capture_preview(text: str, sent_at: datetime, tz: str, channel: str, user_id: str) -> Preview:
    with Session(get_engine()) as session:
        extraction = nlp.extract(text, now=sent_at, tz=tz, gazetteer=gazetteer(session))
        conv = session.exec(
            select(Conversation).where(
                Conversation.platform == PLATFORM, Conversation.conversation_id == channel
            )
        ).first()
        res = resolve(
            session,
            typed=None,
            extraction=extraction,
            conversation=conv,
            sender_member_id=member_for(session, PLATFORM, user_id),
        )
        preview = Preview(
            customer=res.customer.name if res.customer else None,
            candidates=[c.name for c in res.candidates],
        )
        session.rollback()  # resolution may bind a conversation; a preview changes nothing
    preview.pains = [f"[{p.category}] {p.text}" for p in extraction.pain_points if not p.negated]
    for m in extraction.meetings:
        t = extraction.times[m.time] if 0 <= m.time < len(extraction.times) else None
        when = t.start.isoformat(timespec="minutes") if t else "?"
        preview.meetings.append(f"{when} {m.what} ({m.status})")
    preview.samples = [
        " ".join(x for x in (f"{_qty(s.quantity)}{s.unit or ''}", s.model, f"({s.status})") if x)
        for s in extraction.samples
    ]
    return preview
