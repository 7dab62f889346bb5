"""The outbox (Notice rows) and the `Notifier` protocol the bot implements per platform.

Core decides what to say and to whom; the bot delivers. A notice is created once per idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlmodel import Session, select

from core.messages import OutboundMessage
from core.models import Notice, PlatformIdentity
from core.sqlutil import insert_ignore


class DeliveryError(Exception):
    """A delivery failed. `permanent` errors are not retried; `retry_after` (seconds) is honoured."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Destination(NamedTuple):
    """Where a send is paced: every send to the same ``key`` shares one limit of ``limit`` messages per
    ``per_seconds``, across all workers (bot/ratelimit.py)."""

    key: str
    limit: int
    per_seconds: float


class Notifier(Protocol):
    """Delivers one message to one platform user. Implemented once per platform (bot/notifiers.py
    registers them; the logging notifier stands in when none is configured).

    ``send`` must either return (delivered) or raise ``DeliveryError``:

    - ``DeliveryError(msg, retry_after=S)`` for HTTP 429 / a platform "too many requests" code: the next
      attempt waits at least S seconds (pass the ``Retry-After`` header when there is one);
    - ``DeliveryError(msg)`` for 5xx, timeouts, connection errors and other transient failures: retried
      with exponential backoff, at most ``bot.delivery.MAX_ATTEMPTS`` attempts;
    - ``DeliveryError(msg, permanent=True)`` for errors a retry cannot fix (unknown user, bad token,
      4xx other than 429, message rejected): never retried.
    ``integrations.common.http_delivery.check_response`` maps an httpx response to these.

    Rate limits. A notifier may also define ``destination(user_id) -> Destination`` naming the key its
    platform limits by and the limit (e.g. Slack: the DM channel, 1/s; a DingTalk or WeCom group robot:
    the robot's webhook key, 20/min; a WeCom app message: the member, 30/min). Without it the delivery
    paces by ``(platform, user_id)`` with ``bot.notifiers.DEFAULT_LIMITS``. (Also understood:
    ``destination_key(user_id) -> str`` with ``rate_limit = (limit, per_seconds)`` or ``rate_limits =
    {kind: (limit, per_seconds)}`` for keys ``platform:kind:id``.) Delivery never calls
    ``send`` faster than that, across every worker, so notifiers need no limiter of their own.

    A notifier never retries by itself and never sends twice for one ``notice_key`` (it may pass the key
    on as the platform's idempotency/dedup id where one exists).
    """

    platform: str

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        """Deliver to one platform user; raise DeliveryError on failure."""


class RateLimitedNotifier(Notifier, Protocol):
    def destination(self, user_id: str) -> Destination:
        """The rate-limit destination of a send to ``user_id``."""


def create_notice(
    session: Session,
    *,
    key: str,
    recipient_id: int | None,
    kind: str,
    message: OutboundMessage,
    platform: str | None = None,
    alert_id: int | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """One outbox row per ``key``. ``not_before`` holds it (quiet hours: until the next morning);
    ``now`` is the creation time (a scan run with ``--now``)."""
    payload = message.model_dump(mode="json")
    if extra:
        payload["extra"] = extra
    values = {
        "recipient_id": recipient_id,
        "platform": platform,
        "kind": kind,
        "title": message.title,
        "body": message.body,
        "payload": payload,
        "idempotency_key": key,
        "state": "pending",
        "attempts": 0,
        "alert_id": alert_id,
        "next_attempt_at": not_before,
    }
    if now is not None:
        values["created_at"] = now
    return insert_ignore(session, Notice, values, ["idempotency_key"])  # type: ignore[arg-type]


def reply_notice(
    session: Session, *, platform: str, user_id: str, key: str, message: OutboundMessage
) -> int | None:
    """An answer to what a member just did, as an outbox row (kind ``reply``: never held by quiet hours,
    never folded into a digest), so a crash between the request and the send loses nothing. ``key`` comes
    from the inbound event's unique key, so a redelivered event creates no second row. None when the
    platform user is no member (there is nobody to address through the outbox) or the row exists."""
    ident = session.exec(
        select(PlatformIdentity).where(
            PlatformIdentity.platform == platform, PlatformIdentity.user_id == user_id
        )
    ).first()
    if ident is None:
        return None
    return create_notice(
        session,
        key=key,
        recipient_id=ident.member_id,
        kind="reply",
        platform=platform,
        message=OutboundMessage(
            title=message.title, body=message.body, fields=message.fields, actions=message.actions
        ),
    )
