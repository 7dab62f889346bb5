"""core.seen: the first claim of a key wins, a released key can be claimed again, old keys are purged."""

from __future__ import annotations

from datetime import timedelta

from core import seen
from tests.dingtalk.conftest import NOW


def test_claim_release_purge(db: str) -> None:
    assert seen.claim("dingtalk", ["event:e1", "instance:P1:finish:agree"], NOW)
    assert not seen.claim("dingtalk", ["event:e1"], NOW)
    assert not seen.claim("dingtalk", ["event:e2", "instance:P1:finish:agree"], NOW)  # second guard
    assert seen.claim("slack", ["event:e1"], NOW)  # keys are per platform
    seen.release("dingtalk", ["event:e1"])
    assert seen.claim("dingtalk", ["event:e1"], NOW)
    assert seen.purge(timedelta(days=14), now=NOW + timedelta(days=13)) == 0
    assert seen.purge(timedelta(days=14), now=NOW + timedelta(days=15)) == 4  # e1, instance, e2, slack e1
    assert seen.claim("dingtalk", ["event:e1"], NOW + timedelta(days=15))
