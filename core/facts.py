"""Recording extracted facts against a customer, each with its evidence (message, span, version,
confidence). Re-applying the same evidence never counts a pain twice or duplicates a meeting."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapidfuzz import fuzz
from sqlmodel import Session, col, select

from core import followups
from core.calendar import DEFAULT_CALENDAR, WorkCalendar
from core.models import (
    AuditEvent,
    Contact,
    Customer,
    InboxMessage,
    Meeting,
    PainPoint,
    PainPointMention,
    SampleCommitment,
)
from core.sqlutil import insert_ignore
from nlp.types import Extraction

_PUNCT = re.compile(r"[\s，。！？、,.!?;；:：\"'“”‘’()（）]+")
PAIN_MERGE_SCORE = 70
SAMPLE_MERGE_SCORE = 80
#: a deadline this coarse names a day, not an instant
COARSE_GRAINS = frozenset({"year", "quarter", "month", "week", "day"})


def phrase_key(text: str) -> str:
    return _PUNCT.sub("", text).casefold()[:120]


@dataclass
class Recorded:
    pain_points: list[int] = field(default_factory=list)
    new_pain_mentions: int = 0
    meetings: list[int] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "pain_points": self.pain_points,
            "meetings": self.meetings,
            "samples": self.samples,
            "contacts": self.contacts,
            "visits": self.visits,
        }


def _pain_point_for(
    session: Session, customer: Customer, category: str, text: str, at: datetime
) -> PainPoint:
    key = phrase_key(text)
    existing = session.exec(
        select(PainPoint).where(PainPoint.customer_id == customer.id, PainPoint.category == category)
    ).all()
    for pp in existing:
        if pp.phrase_key == key or fuzz.partial_ratio(pp.phrase_key, key) >= PAIN_MERGE_SCORE:
            return pp
    pp = PainPoint(
        customer_id=customer.id or 0,
        phrase=text,
        phrase_key=key,
        category=category,
        first_seen=at,
        last_seen=at,
        mentions=0,
    )
    session.add(pp)
    session.flush()
    return pp


def record(
    session: Session,
    *,
    row: InboxMessage,
    customer: Customer,
    extraction: Extraction,
    evidence: InboxMessage,
    capture_id: int | None,
    owner_id: int | None,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> Recorded:
    out = Recorded()
    at = evidence.sent_at
    version = extraction.extractor_version

    for pain in extraction.pain_points:
        if pain.negated:
            continue
        pp = _pain_point_for(session, customer, pain.category, pain.text, at)
        mention_id = insert_ignore(
            session,
            PainPointMention,
            {
                "pain_point_id": pp.id,
                "inbox_id": evidence.id,
                "span_start": pain.span[0],
                "span_end": pain.span[1],
                "text": pain.text,
                "confidence": 0.8,
                "extractor_version": version,
                "capture_id": capture_id,
            },
            ["pain_point_id", "inbox_id"],
        )
        if mention_id is not None:
            pp.mentions += 1
            pp.last_seen = max(pp.last_seen, at)
            session.add(pp)
            out.new_pain_mentions += 1
        if pp.id not in out.pain_points:
            out.pain_points.append(pp.id or 0)

    for mm in extraction.meetings:
        if mm.time >= len(extraction.times):
            continue
        t = extraction.times[mm.time]
        meeting = _apply_meeting(
            session, customer, mm.status, mm.what, t.start, t.end, evidence, row, version
        )
        if meeting is None:
            continue
        meeting.owner_id = meeting.owner_id or owner_id
        meeting.capture_id = meeting.capture_id or capture_id
        session.add(meeting)
        session.flush()
        followups.for_meeting(session, meeting, customer, capture_id)
        out.meetings.append(meeting.id or 0)

    for sm in extraction.samples:
        due = None
        if sm.due is not None and sm.due < len(extraction.times):
            bound = extraction.times[sm.due]
            # "周五之前" / "by Friday" with no clock time: due at the end of that working day, not at 00:00
            due = calendar.end_of_working_day(bound.start) if bound.grain in COARSE_GRAINS else bound.start
        if sm.status == "sent":
            sample = _find_sample(session, customer, sm.model)
            if sample is None:
                sample = _new_sample(session, customer, sm, evidence, owner_id, version, capture_id, due, at)
            sample.status = "sent"
            sample.sent_at = sample.sent_at or at
            session.add(sample)
            session.flush()
            followups.for_sample_sent(session, sample, customer, at, capture_id, calendar)
            out.samples.append(sample.id or 0)
        elif sm.committed or sm.requested:
            # a promise, or the customer's request the rep now owes (both become "send it")
            dup = session.exec(
                select(SampleCommitment).where(
                    SampleCommitment.customer_id == customer.id, SampleCommitment.inbox_id == evidence.id
                )
            ).all()
            if any(d.model == sm.model for d in dup):
                continue
            sample = _new_sample(session, customer, sm, evidence, owner_id, version, capture_id, due, at)
            sample.due = followups.sample_due(at, due, calendar)
            session.add(sample)
            session.flush()
            followups.for_sample_promised(session, sample, customer, capture_id)
            out.samples.append(sample.id or 0)

    for cm in extraction.contacts:
        cid = insert_ignore(
            session,
            Contact,
            {
                "customer_id": customer.id,
                "name": cm.name,
                "title": cm.title,
                "first_seen": at,
                "inbox_id": evidence.id,
            },
            ["customer_id", "name"],
        )
        if cid is not None:
            out.contacts.append(cid)

    _record_visit(session, row, customer, extraction, evidence, capture_id, out)
    return out


def _record_visit(
    session: Session,
    row: InboxMessage,
    customer: Customer,
    extraction: Extraction,
    evidence: InboxMessage,
    capture_id: int | None,
    out: Recorded,
) -> None:
    """A member's report of a visit made today or earlier ("今天拜访了…", "visited … today") is a Visit
    (one per evidence message); a customer's own words never are."""
    from core.timeutil import parse_tz
    from core.visits import create_visit, next_step_of, place_of, visit_time

    if row.sender_member_id is None:
        return
    sent = extraction.now.astimezone(parse_tz(extraction.tz))
    when = visit_time(extraction.text, extraction, sent)
    if when is None:
        return
    visit, _new = create_visit(
        session,
        key=f"capture:{evidence.id}",
        customer_id=customer.id,
        rep_id=row.sender_member_id,
        at=when,
        source="capture",
        place=place_of(extraction.text),
        result=extraction.text,
        next_step=next_step_of(extraction.text),
        contacts=[c.name for c in extraction.contacts],
        inbox_id=evidence.id,
        capture_id=capture_id,
        evidence={"inbox_ids": [evidence.id]},
        now=row.sent_at,
    )
    out.visits.append(visit.id or 0)


def _new_sample(
    session: Session,
    customer: Customer,
    sm: object,
    evidence: InboxMessage,
    owner_id: int | None,
    version: str,
    capture_id: int | None,
    due: datetime | None,
    at: datetime,
) -> SampleCommitment:
    from nlp.types import SampleMention

    assert isinstance(sm, SampleMention)
    sample = SampleCommitment(
        customer_id=customer.id or 0,
        model=sm.model,
        quantity=sm.quantity,
        unit=sm.unit,
        promised_by_id=owner_id,
        status="promised",
        due=due,
        inbox_id=evidence.id or 0,
        span_start=sm.span[0],
        span_end=sm.span[1],
        confidence=0.8,
        extractor_version=version,
        capture_id=capture_id,
    )
    session.add(sample)
    session.flush()
    return sample


def _find_sample(session: Session, customer: Customer, model: str) -> SampleCommitment | None:
    open_samples = session.exec(
        select(SampleCommitment)
        .where(SampleCommitment.customer_id == customer.id, SampleCommitment.status == "promised")
        .order_by(col(SampleCommitment.id).desc())
    ).all()
    for s in open_samples:
        if s.model.casefold() == model.casefold() or fuzz.ratio(s.model.casefold(), model.casefold()) >= (
            SAMPLE_MERGE_SCORE
        ):
            return s
    return None


def _apply_meeting(
    session: Session,
    customer: Customer,
    status: str,
    what: str,
    start: datetime,
    end: datetime | None,
    evidence: InboxMessage,
    row: InboxMessage,
    version: str,
) -> Meeting | None:
    if status in ("moved", "cancelled"):
        target = _meeting_to_change(session, customer, evidence.sent_at, what)
        if target is not None:
            old = target.start
            if status == "cancelled":
                target.status = "cancelled"
            else:
                target.start, target.end, target.status = start, end, "moved"
            session.add(target)
            session.add(
                AuditEvent(
                    action=f"meeting.{status}",
                    subject_type="meeting",
                    subject_id=target.id,
                    from_value=old.isoformat(),
                    to_value=None if status == "cancelled" else start.isoformat(),
                    evidence_inbox_id=evidence.id,
                    actor_id=row.sender_member_id,
                )
            )
            return target
        if status == "cancelled":
            return None
    same = session.exec(
        select(Meeting).where(
            Meeting.customer_id == customer.id, Meeting.start == start, Meeting.status != "cancelled"
        )
    ).first()
    if same is not None:
        return same
    meeting = Meeting(
        customer_id=customer.id or 0,
        start=start,
        end=end,
        what=what,
        status="scheduled",
        inbox_id=evidence.id or 0,
        confidence=0.8,
        extractor_version=version,
    )
    session.add(meeting)
    session.flush()
    return meeting


def _meeting_to_change(session: Session, customer: Customer, at: datetime, what: str) -> Meeting | None:
    """The meeting a "moved"/"cancelled" message refers to: the customer's next upcoming one (same kind
    preferred), else the most recent one."""
    upcoming = session.exec(
        select(Meeting)
        .where(
            Meeting.customer_id == customer.id,
            Meeting.status != "cancelled",
            Meeting.start >= at - timedelta(hours=1),
        )
        .order_by(col(Meeting.start))
    ).all()
    same_kind = [m for m in upcoming if m.what == what]
    if same_kind:
        return same_kind[0]
    if upcoming:
        return upcoming[0]
    return None
