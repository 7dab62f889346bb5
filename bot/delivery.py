"""Delivering the outbox (Notice rows) through the recipient's platform notifier.

- Claim: a notice is taken with a conditional UPDATE (pending → sending), so two workers never send it
  twice; a notice repeating an earlier one (same alert, recipient and title) is a duplicate and is never
  sent (at most one delivery per alert and recipient, whatever the keys; an escalation or a "snooze
  ended" reminder is a new message, not a repeat).
- Quiet hours: pushes (alerts, reminders, digests, policies) falling in the recipient's quiet hours wait
  for the end of them (their team's quiet hours and time zone, config/rules.yaml via core.people); answers
  to what the member just did (capture confirmations, questions, replies) go out at once.
- Pacing: before each send the destination's rate limit is taken from the shared limiter
  (bot/ratelimit.py: Redis or the database); a send that has to wait is put back with
  ``next_attempt_at`` and does not count as an attempt.
- Digests: when ``DIGEST_MIN`` or more pushes are due together for one recipient they go out as one
  message listing them all (one rate-limit slot, one platform message, each notice marked sent).
- Failures: ``DeliveryError(retry_after=S)`` (429) waits S seconds; other transient errors back off
  exponentially with jitter up to ``MAX_ATTEMPTS``; ``permanent`` errors are never retried.
- Team channels: a notice with no recipient and ``extra.channel`` (core/channels.py) goes through that
  channel's notifier (bot.notifiers.channel_notifier), paced per robot / channel like any other.
- At most once: a notice left in ``sending`` by a killed worker is not re-sent (it may have gone out); it
  is marked failed with the reason, for an operator to see.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot import notifiers, ratelimit
from core.db import session_scope
from core.messages import Action, OutboundMessage
from core.models import Alert, Member, Notice, PlatformIdentity
from core.notices import DeliveryError
from core.people import context_for_id
from core.sqlutil import table_of
from core.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
SEND_LEASE = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 600.0
DIGEST_MIN = 3  # this many pushes due together for one recipient go out as one digest
DIGEST_MAX = 20
# a digest's list stays under this many UTF-8 bytes: WeCom app markdown takes 2048 bytes, DingTalk and
# Slack more (platforms.md §4); what does not fit goes out in the next digest
DIGEST_BODY_BUDGET = 1500
MAX_DIGEST_BUTTONS = 5
# answers to something the member just did: sent at once, never held by quiet hours or folded in digests
RESPONSE_KINDS = frozenset({"capture_confirmation", "question", "reply"})


# --- quiet hours (the one place delivery asks) -------------------------------------------------------------


def quiet_until(session: Session, recipient_id: int | None, now: datetime) -> datetime | None:
    """When a push to the recipient may go out: None (now) outside their team's quiet hours, else the
    end of them (core.people: the team's time zone and quiet hours from config/rules.yaml)."""
    released = context_for_id(session, recipient_id).release_time(now)
    return released if isinstance(released, datetime) else None


# --- claiming --------------------------------------------------------------------------------------------


def _due(c: Any, now: datetime) -> Any:
    return (c.next_attempt_at.is_(None)) | (c.next_attempt_at <= now)


def _claim(session: Session, notice_id: int, now: datetime) -> bool:
    c = table_of(Notice).c
    res = session.execute(
        update(table_of(Notice))
        .where(c.id == notice_id, c.state == "pending", _due(c, now))
        .values(state="sending", lease_until=now + SEND_LEASE, attempts=c.attempts + 1)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def _expire_stuck(session: Session, now: datetime) -> int:
    """Notices a killed worker left in `sending`: not re-sent (at most one delivery), marked failed."""
    c = table_of(Notice).c
    res = session.execute(
        update(table_of(Notice))
        .where(c.state == "sending", c.lease_until < now)
        .values(state="failed", last_error="interrupted during send; not re-sent (at most one delivery)")
    )
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def channel_of(n: Notice) -> str | None:
    """The team channel (its ``ref``) a channel notice goes to (core/channels.py), else None."""
    ref = (n.payload.get("extra") or {}).get("channel") if isinstance(n.payload, dict) else None
    return str(ref) if ref and n.recipient_id is None else None


def _is_duplicate(session: Session, n: Notice) -> bool:
    """An earlier notice says the same thing about the same alert to the same recipient (whatever its
    key): this one is never sent. Only the earliest counts, so two workers cannot both skip. A different
    message about the alert (an escalation, "snooze ended") is a new occasion, not a duplicate. (A team
    channel's notices are keyed per channel, alert and step by core.)"""
    if n.alert_id is None or channel_of(n) is not None:
        return False
    earlier = session.exec(
        select(Notice.id).where(
            Notice.alert_id == n.alert_id,
            Notice.recipient_id == n.recipient_id,
            Notice.title == n.title,
            col(Notice.id) < (n.id or 0),
            col(Notice.state).in_(("pending", "sending", "sent")),
        )
    ).first()
    if earlier is None:
        return False
    n.state, n.last_error = "skipped", f"duplicate of notice {earlier} (same alert and recipient)"
    session.add(n)
    return True


def _hold(session: Session, n: Notice, now: datetime) -> bool:
    if n.kind in RESPONSE_KINDS or channel_of(n) is not None:  # a channel's team hours: set by core
        return False
    until = quiet_until(session, n.recipient_id, now)
    if until is None:
        return False
    n.next_attempt_at = until
    session.add(n)
    return True


# --- sending ---------------------------------------------------------------------------------------------


@dataclass
class _Job:
    ids: list[int]
    platform: str | None
    user_id: str
    message: OutboundMessage
    key: str
    alert_ids: list[int] = field(default_factory=list)
    channel: str | None = None  # a team channel's ref: sent through that channel's notifier


def _recipient_address(
    session: Session, recipient_id: int | None, platform: str | None
) -> tuple[str | None, str]:
    """(platform, user id): the notice's own platform if the member has an identity there and that
    platform is connected; else the member's first identity on a connected platform; else their first
    identity (delivered to the log); else the log."""
    if recipient_id is None:
        return None, "(nobody)"
    idents = session.exec(
        select(PlatformIdentity)
        .where(PlatformIdentity.member_id == recipient_id)
        .order_by(col(PlatformIdentity.id))
    ).all()
    connected = [i for i in idents if notifiers.is_connected(i.platform)]
    for ident in connected:
        if ident.platform == platform:
            return ident.platform, ident.user_id
    if connected:
        return connected[0].platform, connected[0].user_id
    for ident in idents:
        if ident.platform == platform:
            return ident.platform, ident.user_id
    if idents:
        return idents[0].platform, idents[0].user_id
    member = session.get(Member, recipient_id)
    return None, member.name if member else str(recipient_id)


def _message_of(n: Notice) -> OutboundMessage:
    return OutboundMessage.model_validate(
        {k: v for k, v in n.payload.items() if k in OutboundMessage.model_fields}
    )


def digest_message(notices: list[Notice]) -> OutboundMessage:
    """Several pushes for one recipient as one message: every title, with ack buttons for alerts."""
    lines = []
    buttons: list[Action] = []
    for n in notices:
        ref = f"A{n.alert_id} " if n.alert_id and f"A{n.alert_id}" not in n.title else ""
        lines.append(f"- {ref}{n.title}")
        if n.alert_id and len(buttons) < MAX_DIGEST_BUTTONS:
            buttons.append(Action(kind="ack", label=f"收到 A{n.alert_id}", value=f"alert:{n.alert_id}:ack"))
    return OutboundMessage(
        title=f"{len(notices)} 条提醒 {len(notices)} alerts",
        body="\n".join(lines) + "\n\n回复 `收到 A编号` 确认，`暂缓 A编号 天数 原因` 暂缓。",
        actions=buttons,
    )


def _job(session: Session, notices: list[Notice]) -> _Job:
    first = notices[0]
    ref = channel_of(first)
    if ref is not None:  # never folded into a digest: channel notices have no recipient
        return _Job(
            [first.id or 0], first.platform, ref, _message_of(first), first.idempotency_key, channel=ref
        )
    platform, user_id = _recipient_address(session, first.recipient_id, first.platform)
    ids = [n.id or 0 for n in notices]
    if len(notices) == 1:
        return _Job(ids, platform, user_id, _message_of(first), first.idempotency_key, [first.alert_id or 0])
    return _Job(
        ids,
        platform,
        user_id,
        digest_message(notices),
        "digest:" + "-".join(str(i) for i in ids),
        [n.alert_id for n in notices if n.alert_id],
    )


def _backoff(attempts: int) -> float:
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base * (1 + 0.2 * random.random())  # jitter: workers that failed together retry apart


def _fail(job: _Job, err: DeliveryError, now: datetime) -> str:
    with session_scope() as session:
        for nid in job.ids:
            n = session.get(Notice, nid)
            if n is None or n.state != "sending":
                continue
            n.last_error = str(err)[:500]
            if err.permanent or n.attempts >= MAX_ATTEMPTS:
                n.state = "failed"
                log.warning("notice %s failed for good after %s attempt(s)", nid, n.attempts)
            else:
                n.state = "pending"
                delay = err.retry_after if err.retry_after is not None else _backoff(n.attempts)
                n.next_attempt_at = now + timedelta(seconds=delay)
            session.add(n)
    return "failed"


def _send(job: _Job, now: datetime) -> str:
    if job.channel is not None:
        found = notifiers.channel_notifier(job.platform, job.channel)
        if found is None:
            err = DeliveryError(f"team channel {job.channel} is no longer configured", permanent=True)
            return _fail(job, err, now)
        notifier = found
    else:
        notifier = notifiers.notifier_for(job.platform)
    dest = notifiers.destination(notifier, job.user_id)
    wait = ratelimit.limiter().acquire(dest.key, dest.limit, dest.per_seconds, now)
    c = table_of(Notice).c
    if wait > 0:
        with session_scope() as session:  # put back; waiting for a slot is no attempt
            session.execute(
                update(table_of(Notice))
                .where(c.id.in_(job.ids), c.state == "sending")
                .values(
                    state="pending",
                    # rounded up to the millisecond: the slot is free then (timestamps keep microseconds)
                    next_attempt_at=now + timedelta(seconds=math.ceil(wait * 1000) / 1000),
                    attempts=c.attempts - 1,
                )
            )
        return "throttled"
    try:
        notifier.send(user_id=job.user_id, message=job.message, notice_key=job.key)
    except Exception as exc:  # noqa: BLE001 - anything but DeliveryError counts as transient
        err = exc if isinstance(exc, DeliveryError) else DeliveryError(f"{type(exc).__name__}: {exc}")
        return _fail(job, err, now)
    with session_scope() as session:
        session.execute(
            update(table_of(Notice))
            .where(c.id.in_(job.ids), c.state == "sending")
            .values(state="sent", sent_at=now, platform=notifier.platform, last_error=None)
        )
        for aid in job.alert_ids:
            alert = session.get(Alert, aid) if aid else None
            if alert is not None and alert.sent_at is None:
                alert.sent_at = now
                session.add(alert)
    return "sent"


def deliver(notice_id: int, now: datetime | None = None) -> str:
    """Deliver one notice: sent | throttled | held | failed | duplicate | skipped (not due or taken)."""
    now = now or utcnow()
    with session_scope() as session:
        n = session.get(Notice, notice_id)
        if n is None or n.state != "pending" or (n.next_attempt_at is not None and n.next_attempt_at > now):
            return "skipped"
        if _is_duplicate(session, n):
            return "duplicate"
        if _hold(session, n, now):
            return "held"
        if not _claim(session, notice_id, now):
            return "skipped"
        session.refresh(n)
        job = _job(session, [n])
    return _send(job, now)


def deliver_digest(recipient_id: int, notice_ids: list[int], now: datetime | None = None) -> tuple[str, int]:
    """Deliver several pushes for one recipient as one message (those another worker took are left
    out): the outcome and how many notices it covered."""
    now = now or utcnow()
    with session_scope() as session:
        taken: list[Notice] = []
        for nid in notice_ids:
            n = session.get(Notice, nid)
            if n is None or n.state != "pending" or _is_duplicate(session, n):
                continue
            if _hold(session, n, now):
                continue
            if _claim(session, nid, now):
                session.refresh(n)
                taken.append(n)
        if not taken:
            return "skipped", 0
        job = _job(session, taken)
    return _send(job, now), len(job.ids)


def digest_chunks(items: list[tuple[int, str]]) -> list[list[int]]:
    """Notice ids split into digests of at most DIGEST_MAX lines and DIGEST_BODY_BUDGET bytes."""
    chunks: list[list[int]] = [[]]
    size = 0
    for nid, title in items:
        line = len(title.encode()) + 12  # "- A123 " and the newline
        if chunks[-1] and (len(chunks[-1]) >= DIGEST_MAX or size + line > DIGEST_BODY_BUDGET):
            chunks.append([])
            size = 0
        chunks[-1].append(nid)
        size += line
    return chunks


def deliver_pending(
    limit: int = 200,
    now: datetime | None = None,
    *,
    budget_seconds: float = 0.0,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Outbox passes (beat runs this every 10 s): the notices sent. With ``budget_seconds`` the pass is
    repeated while notices come due within the budget (a destination's next rate-limit slot, a short
    backoff), sleeping until then, so a destination gets its full rate (DingTalk's one app-robot key: 18
    a minute, not one per beat tick)."""
    start = now or clock()
    sent = _deliver_pass(limit, start)
    deadline = start + timedelta(seconds=budget_seconds)
    last = start
    while budget_seconds > 0:
        with session_scope() as session:
            c = table_of(Notice).c
            nxt = session.execute(
                select(func.min(c.next_attempt_at)).where(c.state == "pending", c.next_attempt_at <= deadline)
            ).scalar()
        if nxt is None:
            break
        nxt = nxt if nxt.tzinfo is not None else nxt.replace(tzinfo=UTC)
        if nxt <= last:  # nothing new came due (a notice the last pass could not take): next tick
            break
        now_ = clock()
        if nxt > now_:
            sleep((nxt - now_).total_seconds())
            now_ = clock()
        if now_ > deadline:
            break
        last = max(now_, nxt)
        sent += _deliver_pass(limit, last)
    return sent


def _deliver_pass(limit: int, now: datetime) -> int:
    """One outbox pass: the notices sent."""
    with session_scope() as session:
        _expire_stuck(session, now)
        c = table_of(Notice).c
        rows = session.execute(
            select(c.id, c.recipient_id, c.kind, c.title)
            .where(c.state == "pending", _due(c, now))
            .order_by(c.id)
            .limit(limit)
        ).all()
    pushes: dict[int, list[tuple[int, str]]] = {}
    singles: list[int] = []
    for nid, recipient_id, kind, title in rows:
        if recipient_id is not None and kind not in RESPONSE_KINDS and kind != "digest":
            pushes.setdefault(recipient_id, []).append((nid, title or ""))
        else:
            singles.append(nid)
    sent = 0
    for recipient_id, items in pushes.items():
        if len(items) >= DIGEST_MIN:
            for chunk in digest_chunks(items):
                outcome, count = deliver_digest(recipient_id, chunk, now)
                sent += count if outcome == "sent" else 0
        else:
            singles.extend(nid for nid, _t in items)
    for nid in sorted(singles):
        if deliver(nid, now) == "sent":
            sent += 1
    return sent
