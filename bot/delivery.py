"""Delivering the outbox: each Notice is claimed with a conditional UPDATE (pending → sending), sent
through the recipient's platform notifier, and marked sent — at most one delivery per idempotency key.
Permanent errors are not retried; others back off exponentially."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bot import notifiers
from core.db import session_scope
from core.messages import OutboundMessage
from core.models import Member, Notice, PlatformIdentity
from core.notices import DeliveryError
from core.sqlutil import table_of
from core.timeutil import utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
SEND_LEASE = timedelta(minutes=2)


def _claim(session: Session, notice_id: int, now: datetime) -> bool:
    c = table_of(Notice).c
    res = session.execute(
        update(table_of(Notice))
        .where(
            c.id == notice_id,
            or_(c.state == "pending", (c.state == "sending") & (c.lease_until < now)),
            or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        )
        .values(state="sending", lease_until=now + SEND_LEASE, attempts=c.attempts + 1)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def _destination(session: Session, notice: Notice) -> tuple[str | None, str]:
    """(platform, user id) for the recipient: the notice's own platform if the member has an identity
    there, else the member's first identity, else the log."""
    if notice.recipient_id is None:
        return None, "(nobody)"
    idents = session.exec(
        select(PlatformIdentity).where(PlatformIdentity.member_id == notice.recipient_id)
    ).all()
    for ident in idents:
        if ident.platform == notice.platform:
            return ident.platform, ident.user_id
    if idents:
        return idents[0].platform, idents[0].user_id
    member = session.get(Member, notice.recipient_id)
    return None, member.name if member else str(notice.recipient_id)


def deliver(notice_id: int, now: datetime | None = None) -> str:
    now = now or utcnow()
    with session_scope() as session:
        if not _claim(session, notice_id, now):
            return "skipped"
        notice = session.get(Notice, notice_id)
        assert notice is not None
        platform, user_id = _destination(session, notice)
        message = OutboundMessage.model_validate(
            {k: v for k, v in notice.payload.items() if k in OutboundMessage.model_fields}
        )
        key = notice.idempotency_key
    try:
        notifiers.notifier_for(platform).send(user_id=user_id, message=message, notice_key=key)
    except DeliveryError as exc:
        with session_scope() as session:
            n = session.get(Notice, notice_id)
            assert n is not None
            n.last_error = str(exc)[:500]
            if exc.permanent or n.attempts >= MAX_ATTEMPTS:
                n.state = "failed"
            else:
                n.state = "pending"
                delay = exc.retry_after if exc.retry_after is not None else min(600, 2**n.attempts * 5)
                n.next_attempt_at = utcnow() + timedelta(seconds=delay)
            session.add(n)
        return "failed"
    with session_scope() as session:
        n = session.get(Notice, notice_id)
        assert n is not None
        n.state = "sent"
        n.sent_at = utcnow()
        n.platform = platform or "log"
        session.add(n)
    return "sent"


def deliver_pending(limit: int = 200) -> int:
    now = utcnow()
    with session_scope() as session:
        ids = session.exec(
            select(Notice.id)
            .where(
                or_(
                    col(Notice.state) == "pending",
                    (col(Notice.state) == "sending") & (col(Notice.lease_until) < now),
                ),
                or_(col(Notice.next_attempt_at).is_(None), col(Notice.next_attempt_at) <= now),
            )
            .order_by(col(Notice.id))
            .limit(limit)
        ).all()
    sent = 0
    for notice_id in ids:
        if notice_id is not None and deliver(notice_id, now) == "sent":
            sent += 1
    return sent
