"""Waiting for a send slot of the shared limiter (bot/ratelimit.py) outside the outbox: replies an adapter
sends itself after its platform's ack (DingTalk 1:1 replies through the app robot) share the destination's
budget with the outbox notices, so a burst of commands never exceeds the platform's limit."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime

from bot import notifiers, ratelimit
from core.notices import DeliveryError, Destination
from core.timeutil import utcnow

MAX_WAIT_SECONDS = 120.0


def wait_for_slot(
    key: str,
    limit: int,
    per_seconds: float,
    *,
    max_wait: float = MAX_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Block until ``key`` (the platform's ``limit`` per ``per_seconds``, less the safety margin) has a
    slot, and take it. Raises DeliveryError(retry_after=...) when that would take over ``max_wait``."""
    dest = notifiers.paced(Destination(key, limit, per_seconds))
    waited = 0.0
    while True:
        wait = ratelimit.limiter().acquire(dest.key, dest.limit, dest.per_seconds, clock())
        if wait <= 0:
            return
        if waited + wait > max_wait:
            raise DeliveryError(f"{key}: no send slot within {max_wait:.0f} s", retry_after=wait)
        wait = math.ceil(wait * 1000) / 1000  # to the millisecond: the slot is free then
        sleep(wait)
        waited += wait
