"""Inbound deduplication for deliveries that are not inbox rows (platform events, commands).

`claim` is one INSERT … ON CONFLICT DO NOTHING: the first caller for a key wins, on every process sharing
the database. A caller whose processing fails `release`s its keys so the platform's redelivery is handled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col

from core.db import session_scope
from core.models import InboundSeen
from core.sqlutil import insert_ignore
from core.timeutil import utcnow


def claim(platform: str, keys: Iterable[str], now: datetime | None = None) -> bool:
    """Record every key; True only when none of them was seen before (all in one transaction)."""
    at = now or utcnow()
    fresh = True
    with session_scope() as session:
        for key in keys:
            new = insert_ignore(
                session,
                InboundSeen,  # type: ignore[arg-type]
                {"platform": platform, "key": key[:255], "seen_at": at},
                ["platform", "key"],
            )
            fresh = fresh and new is not None
    return fresh


def release(platform: str, keys: Iterable[str]) -> None:
    """Forget keys whose processing failed, so the redelivery is processed."""
    keys = [k[:255] for k in keys]
    with session_scope() as session:
        session.execute(
            delete(InboundSeen).where(col(InboundSeen.platform) == platform, col(InboundSeen.key).in_(keys))
        )


def purge(older_than: timedelta = timedelta(days=14), now: datetime | None = None) -> int:
    """Drop keys older than any platform's redelivery window."""
    cutoff = (now or utcnow()) - older_than
    with session_scope() as session:
        res = session.execute(delete(InboundSeen).where(col(InboundSeen.seen_at) < cutoff))
        return int(res.rowcount or 0)  # type: ignore[attr-defined]
