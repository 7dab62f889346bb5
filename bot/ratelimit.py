"""Per-destination send pacing shared by every worker process.

GCRA (the generic cell rate algorithm): each destination key keeps one number, the "theoretical arrival
time" (TAT) of its next allowed send. A send is allowed when TAT <= now; it then moves TAT to
max(TAT, now) + per/limit. Sends to one destination are thus spaced by at least per/limit seconds, so no
window of ``per`` seconds ever holds more than ``limit`` sends — there is no window edge where two
windows' worth could slip through (DingTalk throttles a robot for 10 minutes when it sees 21 in a minute).

Backends: Redis (an atomic Lua script) when ``LOOPKEEPER_REDIS_URL`` is set or the broker is Redis;
otherwise the database (a compare-and-swap UPDATE on ``deliveryrate``), which works across processes on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import select

from config.settings import get_settings
from core.db import session_scope
from core.models import DeliveryRate
from core.sqlutil import insert_ignore, table_of

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: int, per_seconds: float, now: datetime) -> float:
        """Take a send slot for ``key``: 0.0 when granted, else the seconds to wait before asking again."""


def _interval(limit: int, per_seconds: float) -> float:
    return per_seconds / max(1, limit)


class DbRateLimiter:
    """GCRA state in the database; one short write transaction per attempt."""

    def acquire(self, key: str, limit: int, per_seconds: float, now: datetime) -> float:
        t = now.timestamp()
        interval = _interval(limit, per_seconds)
        c = table_of(DeliveryRate).c
        for _ in range(8):  # compare-and-swap retries under contention
            with session_scope() as session:
                row = session.exec(select(DeliveryRate).where(DeliveryRate.key == key)).first()
                if row is None:
                    if insert_ignore(session, DeliveryRate, {"key": key, "tat": t + interval}, ["key"]):
                        return 0.0
                    continue
                tat = row.tat
                if tat > t:
                    return tat - t
                res = session.execute(
                    update(table_of(DeliveryRate))
                    .where(c.key == key, c.tat == tat)
                    .values(tat=max(tat, t) + interval)
                )
                if res.rowcount:  # type: ignore[attr-defined]
                    return 0.0
        return interval  # heavy contention: come back later


_GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return tostring(tat - now)
end
if tat < now then tat = now end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(interval * 1000) + 60000)
return '0'
"""


class RedisRateLimiter:
    """GCRA state in Redis, updated atomically by a Lua script."""

    def __init__(self, url: str, prefix: str = "loopkeeper:rate:") -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url)
        self.prefix = prefix
        self.script = self.client.register_script(_GCRA_LUA)

    def acquire(self, key: str, limit: int, per_seconds: float, now: datetime) -> float:
        wait = self.script(
            keys=[self.prefix + key], args=[repr(now.timestamp()), repr(_interval(limit, per_seconds))]
        )
        return float(wait.decode() if isinstance(wait, bytes) else wait)


_limiter: RateLimiter | None = None


def limiter() -> RateLimiter:
    """The process's limiter: Redis when configured, else the database."""
    global _limiter
    if _limiter is None:
        url = get_settings().effective_redis_url
        _limiter = RedisRateLimiter(url) if url else DbRateLimiter()
        log.info("delivery rate limits kept in %s", "redis" if url else "the database")
    return _limiter


def reset_limiter() -> None:
    global _limiter
    _limiter = None
