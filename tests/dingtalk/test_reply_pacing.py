"""DingTalk direct replies (1:1 through the app robot, oToMessages/batchSend) take their slot from the shared
limiter with the outbox (breaker #4): 25 commands answered at once go out at the robot's 20/min less the
safety margin, never 21 in a minute (DingTalk then throttles the robot for 10 minutes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from bot import ratelimit
from bot.pacing import wait_for_slot
from core.messages import Reply
from integrations.dingtalk.adapter import DingTalkAdapter
from tests.dingtalk.conftest import NOW
from tests.fakeserver import FakeServer


def test_direct_replies_are_paced_by_the_shared_limiter(
    bot_adapter: DingTalkAdapter, fake: FakeServer
) -> None:
    ratelimit.reset_limiter()
    clock = [NOW]
    sent_at: list[datetime] = []

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    bot_adapter.pace = partial(wait_for_slot, sleep=sleep, clock=lambda: clock[0])
    send = bot_adapter.client.send_to_users

    def timed(*args, **kw):  # type: ignore[no-untyped-def]
        sent_at.append(clock[0])
        return send(*args, **kw)

    bot_adapter.client.send_to_users = timed  # type: ignore[method-assign]
    for i in range(25):
        bot_adapter.deliver_private(f"dt-{i}", Reply(title=f"好的 {i}"))
    assert len(fake.calls_to("/v1.0/robot/oToMessages/batchSend")) == 25
    for start in sent_at:
        assert len([t for t in sent_at if start <= t <= start + timedelta(seconds=60)]) <= 18
    ratelimit.reset_limiter()


def test_a_reply_that_would_wait_too_long_is_refused_for_later(bot_adapter: DingTalkAdapter) -> None:
    from core.notices import DeliveryError

    ratelimit.reset_limiter()
    waits: list[float] = []
    pace = partial(wait_for_slot, max_wait=5.0, sleep=waits.append, clock=lambda: NOW)
    pace("dingtalk:robot:x", 20, 60.0)
    try:
        pace("dingtalk:robot:x", 20, 60.0)  # the clock never moves: the slot stays 3.33 s away
    except DeliveryError as exc:
        assert exc.retry_after is not None and exc.retry_after > 0
    else:
        raise AssertionError("expected DeliveryError")
    ratelimit.reset_limiter()
