"""Follow-up todos created from facts (DESIGN §5). The one place these business rules live.

- a meeting: a todo "record the outcome" due when it ends (the 1-hour reminder is an alert of the scan);
- a promised sample: "send it", due at the promised date, else 2 working days after the promise;
- a sample sent: "follow up the trial" 3 working days after it was sent.
The durations come from config/rules.yaml (`followups`); working days are the team's calendar.
Every todo has a dedup key, so re-running a capture never doubles them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from config.rules import Duration, get_rules
from core.calendar import DEFAULT_CALENDAR, WorkCalendar
from core.models import Customer, Meeting, SampleCommitment, Todo
from core.sqlutil import insert_ignore

MEETING_DEFAULT_LENGTH = timedelta(hours=1)


def _after(calendar: WorkCalendar, start: datetime, d: Duration) -> datetime:
    """``start`` + a rules.yaml duration (working days on the team calendar)."""
    if d.working_days is not None:
        return calendar.add_working_days(start, d.working_days)
    return start + timedelta(days=d.days or 0, hours=d.hours or 0, minutes=d.minutes or 0)


_WHAT_ZH = {
    "visit": "拜访",
    "meeting": "会议",
    "call": "电话",
    "demo": "演示",
    "meal": "饭局",
    "signing": "签约",
    "other": "会面",
}


def _add(session: Session, **values: object) -> int | None:
    values.setdefault("status", "open")
    return insert_ignore(session, Todo, values, ["dedup_key"])  # type: ignore[arg-type]


def meeting_end(meeting: Meeting) -> datetime:
    return meeting.end or meeting.start + MEETING_DEFAULT_LENGTH


def outcome_due(meeting: Meeting) -> datetime:
    return _after(DEFAULT_CALENDAR, meeting_end(meeting), get_rules().followups.meeting_outcome_after)


def for_meeting(session: Session, meeting: Meeting, customer: Customer, capture_id: int | None) -> None:
    key = f"meeting:{meeting.id}:outcome"
    existing = session.exec(select(Todo).where(Todo.dedup_key == key)).first()
    if existing:
        existing.due = outcome_due(meeting)
        existing.status = "cancelled" if meeting.status == "cancelled" else existing.status
        session.add(existing)
        return
    if meeting.status == "cancelled":
        return
    _add(
        session,
        owner_id=meeting.owner_id or customer.owner_id,
        customer_id=customer.id,
        title=f"记录{_WHAT_ZH.get(meeting.what, '会面')}结果 · {customer.name}",
        kind="meeting_outcome",
        due=outcome_due(meeting),
        origin_rule="meeting.record_outcome",
        subject_type="meeting",
        subject_id=meeting.id,
        dedup_key=key,
        capture_id=capture_id,
    )


def _qty(sample: SampleCommitment) -> str:
    if sample.quantity is None:
        return ""
    q = int(sample.quantity) if float(sample.quantity).is_integer() else sample.quantity
    unit = sample.unit or ""
    sep = " " if unit[:1].isascii() and unit[:1].isalpha() else ""  # "3 units", "2箱"
    return f"{q}{sep}{unit} "


def sample_due(promised_at: datetime, due: datetime | None, calendar: WorkCalendar) -> datetime:
    return due if due is not None else _after(calendar, promised_at, get_rules().followups.sample_send)


def for_sample_promised(
    session: Session, sample: SampleCommitment, customer: Customer, capture_id: int | None
) -> None:
    _add(
        session,
        owner_id=sample.promised_by_id or customer.owner_id,
        customer_id=customer.id,
        title=f"寄出样品 {_qty(sample)}{sample.model} · {customer.name}",
        kind="send_sample",
        due=sample.due,
        origin_rule="sample.send",
        subject_type="sample",
        subject_id=sample.id,
        dedup_key=f"sample:{sample.id}:send",
        capture_id=capture_id,
    )


def for_sample_sent(
    session: Session,
    sample: SampleCommitment,
    customer: Customer,
    sent_at: datetime,
    capture_id: int | None,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> None:
    send = session.exec(select(Todo).where(Todo.dedup_key == f"sample:{sample.id}:send")).first()
    if send and send.status == "open":
        send.status = "done"
        send.done_at = sent_at
        session.add(send)
    _add(
        session,
        owner_id=sample.promised_by_id or customer.owner_id,
        customer_id=customer.id,
        title=f"跟进样品试用反馈 {sample.model} · {customer.name}",
        kind="follow_up_trial",
        due=_after(calendar, sent_at, get_rules().followups.trial_follow_up),
        origin_rule="sample.follow_up_trial",
        subject_type="sample",
        subject_id=sample.id,
        dedup_key=f"sample:{sample.id}:follow_up_trial",
        capture_id=capture_id,
    )
