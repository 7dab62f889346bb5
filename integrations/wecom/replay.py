"""A short replay guard for callbacks: a key seen within `ttl` seconds is a replay.

The durable guard is the inbox's unique ``(platform, message_id)``; this one stops a replayed or retried
request before it reaches the handler (no second reply, no second approval event), including events that
carry no MsgId (keyed on a hash of the decrypted body). It is per process and forgets after `ttl`, which
is longer than the signature's timestamp window, so a replay either hits this cache or fails the window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class ReplayGuard:
    def __init__(
        self, ttl: float = 900.0, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        """True if `key` was seen within the ttl; otherwise remember it and return False."""
        now = self.clock()
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at <= self.ttl and len(self._seen) < self.max_keys:
                    break
                self._seen.popitem(last=False)
            if key in self._seen and now - self._seen[key] <= self.ttl:
                return True
            self._seen[key] = now
            return False

    def forget(self, key: str) -> None:
        """Drop a key (the request failed before it was handled, so a retry must go through)."""
        with self._lock:
            self._seen.pop(key, None)
