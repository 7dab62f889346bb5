"""The outbox (Notice rows) and the `Notifier` protocol the bot implements per platform.

Core decides what to say and to whom; the bot delivers. A notice is created once per idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from core.messages import OutboundMessage
from core.models import Notice
from core.sqlutil import insert_ignore


class DeliveryError(Exception):
    """A delivery failed. `permanent` errors are not retried; `retry_after` (seconds) is honoured."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Notifier(Protocol):
    platform: str

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        """Deliver to one platform user; raise DeliveryError on failure."""


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
