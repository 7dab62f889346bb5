"""Alert delivery (issue 4 item 5): shared per-destination rate limits (across processes), 429 with
Retry-After, backoff on 5xx, no retry on permanent errors, at most one delivery per alert and recipient,
digests, quiet hours, the logging notifier as fallback.

Expected behaviour comes from the platform limits (../shared/docs/platforms.md §4) and RFC 9110's
Retry-After; the fake platform API records every request it gets.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot import delivery, notifiers, ratelimit
from core.db import session_scope
from core.messages import OutboundMessage
from core.models import Alert, Member, Notice
from core.notices import DeliveryError, Destination, create_notice
from integrations.common.http_delivery import check_response, retry_after_seconds
from tests.fakeserver import FakeServer
from tests.helpers import SH, seed

T = datetime(2026, 11, 25, 10, 0, tzinfo=SH)  # a Wednesday morning, outside quiet hours


class Recorder:
    """A notifier that records sends; `script` holds exceptions to raise on the next calls."""

    def __init__(self, platform: str = "wecom", dest: Destination | None = None) -> None:
        self.platform = platform
        self.dest = dest
        self.sent: list[tuple[str, str, str]] = []
        self.script: list[Exception | None] = []

    def destination(self, user_id: str) -> Destination:
        return self.dest or Destination(f"{self.platform}:{user_id}", 28, 60.0)

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        if self.script:
            exc = self.script.pop(0)
            if exc is not None:
                raise exc
        self.sent.append((user_id, message.title, notice_key))


class HttpNotifier:
    """A minimal platform notifier over HTTP, mapping responses with the shared check_response."""

    platform = "wecom"

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        check_response(httpx.post(self.url, json={"touser": user_id, "title": message.title}, timeout=5))


@pytest.fixture
def team(db: str, tmp_path: Path) -> Iterator[dict[str, int]]:
    seed(tmp_path)
    ratelimit.reset_limiter()
    with session_scope() as s:
        ids = {m.name: m.id or 0 for m in s.exec(select(Member)).all()}
    yield ids
    for p in ("wecom", "dingtalk", "slack"):
        notifiers.unregister(p)
    ratelimit.reset_limiter()


def alert(recipient: int, n: int, *, kind: str = "alert", key: str | None = None) -> int:
    """An alert and its notice for `recipient` (as core's scan creates them): the notice id."""
    with session_scope() as s:
        a = Alert(
            rule="todo.overdue",
            subject_type="todo",
            subject_id=n,
            recipient_id=recipient,
            dedup_key=f"todo.overdue:{n}:{recipient}",
            title=f"待办已逾期 T{n}",
        )
        s.add(a)
        s.flush()
        nid = create_notice(
            s,
            key=key or f"alert:{a.id}:{recipient}",
            recipient_id=recipient,
            kind=kind,
            alert_id=a.id,
            message=OutboundMessage(title=a.title),
        )
        assert nid is not None
        return nid


def notice(recipient: int, key: str, kind: str = "capture_confirmation") -> int:
    with session_scope() as s:
        nid = create_notice(s, key=key, recipient_id=recipient, kind=kind, message=OutboundMessage(title=key))
        assert nid is not None
        return nid


def state(nid: int) -> Notice:
    with session_scope() as s:
        n = s.get(Notice, nid)
        assert n is not None
        return n


def test_logging_notifier_when_no_platform_is_configured(team: dict[str, int]) -> None:
    log = notifiers.fallback()
    before = len(log.sent)
    nid = alert(team["小周"], 1)
    assert delivery.deliver_pending(now=T) == 1
    assert log.sent[before:] == [("wm-zhou", "待办已逾期 T1")]
    n = state(nid)
    assert (n.state, n.platform, n.sent_at) == ("sent", "log", T)
    with session_scope() as s:
        a = s.get(Alert, n.alert_id)
        assert a is not None and a.sent_at == T


def test_a_connected_platform_is_preferred(team: dict[str, int]) -> None:
    """小周 has WeCom, DingTalk and Slack ids; only Slack is connected: the notice goes to Slack."""
    rec = Recorder("slack")
    notifiers.register(rec)
    nid = alert(team["小周"], 1)
    delivery.deliver_pending(now=T)
    assert rec.sent == [("UZHOU", "待办已逾期 T1", f"alert:1:{team['小周']}")]
    assert state(nid).platform == "slack"


def test_429_waits_for_retry_after_then_delivers_once(team: dict[str, int]) -> None:
    answers = iter([(429, {"errcode": 45009}, {"Retry-After": "30"}), (200, {"errcode": 0})])
    with FakeServer() as srv:
        srv.route("POST", "/send", lambda call: next(answers))
        notifiers.register(HttpNotifier(srv.url + "/send"))
        nid = alert(team["小周"], 1)
        assert delivery.deliver_pending(now=T) == 0
        n = state(nid)
        assert (n.state, n.next_attempt_at, n.attempts) == ("pending", T + timedelta(seconds=30), 1)
        assert delivery.deliver_pending(now=T + timedelta(seconds=29)) == 0
        assert len(srv.calls) == 1  # nothing before Retry-After has passed
        assert delivery.deliver_pending(now=T + timedelta(seconds=30)) == 1
        assert delivery.deliver_pending(now=T + timedelta(minutes=5)) == 0
    assert len(srv.calls) == 2
    assert [c.json["touser"] for c in srv.calls] == ["wm-zhou", "wm-zhou"]
    assert state(nid).state == "sent"


def test_permanent_error_is_not_retried(team: dict[str, int]) -> None:
    with FakeServer() as srv:
        srv.route("POST", "/send", lambda call: (400, {"errcode": 40003, "errmsg": "invalid userid"}))
        notifiers.register(HttpNotifier(srv.url + "/send"))
        nid = alert(team["小周"], 1)
        for minutes in (0, 1, 10, 60):
            delivery.deliver_pending(now=T + timedelta(minutes=minutes))
    assert len(srv.calls) == 1
    n = state(nid)
    assert (n.state, n.attempts) == ("failed", 1)
    assert "400" in (n.last_error or "")


def test_5xx_backs_off_exponentially_then_gives_up(team: dict[str, int]) -> None:
    with FakeServer() as srv:
        srv.route("POST", "/send", lambda call: (503, {"errmsg": "busy"}))
        notifiers.register(HttpNotifier(srv.url + "/send"))
        nid = alert(team["小周"], 1)
        now = T
        delays = []
        for _ in range(delivery.MAX_ATTEMPTS):
            delivery.deliver_pending(now=now)
            n = state(nid)
            if n.state == "failed":
                break
            assert n.next_attempt_at is not None
            delays.append((n.next_attempt_at - now).total_seconds())
            assert delivery.deliver_pending(now=n.next_attempt_at - timedelta(seconds=1)) == 0
            now = n.next_attempt_at
    assert len(srv.calls) == delivery.MAX_ATTEMPTS
    assert state(nid).state == "failed"
    # 5 s, 10 s, 20 s, 40 s, 80 s, each with up to 20 % jitter
    for i, d in enumerate(delays):
        base = delivery.BACKOFF_BASE_SECONDS * 2**i
        assert base <= d <= base * 1.2, (i, d)


def test_transient_then_success(team: dict[str, int]) -> None:
    rec = Recorder()
    rec.script = [DeliveryError("HTTP 502"), None]
    notifiers.register(rec)
    nid = alert(team["小周"], 1)
    delivery.deliver_pending(now=T)
    retry_at = state(nid).next_attempt_at
    assert retry_at is not None
    delivery.deliver_pending(now=retry_at)
    assert [s[1] for s in rec.sent] == ["待办已逾期 T1"]
    assert (state(nid).state, state(nid).attempts) == ("sent", 2)


def test_at_most_one_delivery_per_alert_and_recipient(team: dict[str, int]) -> None:
    rec = Recorder()
    notifiers.register(rec)
    first = alert(team["小周"], 1)
    with session_scope() as s:
        a_id = state(first).alert_id
        # the same alert and recipient queued again under another key (e.g. a re-run escalation step)
        again = create_notice(
            s,
            key="alert-again",
            recipient_id=team["小周"],
            kind="alert",
            alert_id=a_id,
            message=OutboundMessage(title="待办已逾期 T1"),
        )
        reminder = create_notice(  # "snooze ended": a new message about the alert, not a repeat
            s,
            key="alert-unsnoozed",
            recipient_id=team["小周"],
            kind="alert",
            alert_id=a_id,
            message=OutboundMessage(title="暂缓到期 待办已逾期 T1"),
        )
    assert again is not None and reminder is not None
    # two workers handing the same notice at once, then every pass again
    assert delivery.deliver(first, T) == "sent"
    assert delivery.deliver(first, T) == "skipped"
    assert delivery.deliver(again, T) == "duplicate"
    delivery.deliver_pending(now=T + timedelta(minutes=1))
    delivery.deliver_pending(now=T + timedelta(minutes=2))
    assert [t for _u, t, _k in rec.sent] == ["待办已逾期 T1", "暂缓到期 待办已逾期 T1"]
    assert state(again).state == "skipped"


def test_many_alerts_due_together_go_out_as_one_digest(team: dict[str, int]) -> None:
    rec = Recorder()
    notifiers.register(rec)
    zhou = [alert(team["小周"], n) for n in range(1, 6)]
    chen = alert(team["小陈"], 9)
    confirm = notice(team["小周"], "capture:1")
    # the digest takes 小周's pacing slot (WeCom app: 28/min per member); the confirmation follows
    assert delivery.deliver_pending(now=T) == 6
    assert delivery.deliver_pending(now=T + timedelta(seconds=1)) == 0
    assert delivery.deliver_pending(now=T + timedelta(seconds=3)) == 1
    titles = sorted(t for _u, t, _k in rec.sent)
    assert titles == sorted(["5 条提醒 5 alerts", "待办已逾期 T9", "capture:1"])
    digest = next(k for _u, t, k in rec.sent if t.startswith("5 条"))
    assert digest == "digest:" + "-".join(map(str, zhou))
    assert all(state(n).state == "sent" for n in [*zhou, chen, confirm])
    assert delivery.deliver_pending(now=T + timedelta(minutes=1)) == 0
    assert len(rec.sent) == 3
    assert all(state(n).attempts == 1 for n in [*zhou, chen, confirm])


def test_digest_lists_every_alert_with_ack_buttons(team: dict[str, int]) -> None:
    rec = Recorder()
    messages: list[OutboundMessage] = []
    rec.send = lambda *, user_id, message, notice_key: messages.append(message)  # type: ignore[method-assign]
    notifiers.register(rec)
    for n in range(1, 8):
        alert(team["小周"], n)
    delivery.deliver_pending(now=T)
    [m] = messages
    assert [line.split(" ", 2)[2] for line in m.body.splitlines()[:7]] == [
        f"待办已逾期 T{n}" for n in range(1, 8)
    ]
    assert len(m.actions) == delivery.MAX_DIGEST_BUTTONS
    assert m.actions[0].value.endswith(":ack")


def test_quiet_hours_hold_pushes_until_morning_but_not_answers(team: dict[str, int]) -> None:
    rec = Recorder()
    notifiers.register(rec)
    night = datetime(2026, 11, 25, 23, 30, tzinfo=SH)
    push = alert(team["小周"], 1)
    answer = notice(team["小周"], "capture:7")
    delivery.deliver_pending(now=night)
    assert [t for _u, t, _k in rec.sent] == ["capture:7"]
    assert state(answer).state == "sent"
    n = state(push)
    assert (n.state, n.next_attempt_at, n.attempts) == ("pending", datetime(2026, 11, 26, 8, 0, tzinfo=SH), 0)
    delivery.deliver_pending(now=datetime(2026, 11, 26, 7, 59, tzinfo=SH))
    assert len(rec.sent) == 1
    delivery.deliver_pending(now=datetime(2026, 11, 26, 8, 0, tzinfo=SH))
    assert [t for _u, t, _k in rec.sent] == ["capture:7", "待办已逾期 T1"]


def test_a_send_interrupted_by_a_killed_worker_is_not_repeated(team: dict[str, int]) -> None:
    rec = Recorder()
    notifiers.register(rec)
    nid = alert(team["小周"], 1)
    with session_scope() as s:
        assert delivery._claim(s, nid, T)  # a worker took it ... and died before marking it
    delivery.deliver_pending(now=T + delivery.SEND_LEASE + timedelta(seconds=1))
    assert rec.sent == []
    n = state(nid)
    assert n.state == "failed" and "not re-sent" in (n.last_error or "")


def test_destination_rate_limit_paces_sends(team: dict[str, int]) -> None:
    """A DingTalk group robot takes 20 messages a minute (more throttles it for 10 minutes): 30 notices
    to one robot, handed out every second by two alternating workers, never exceed 20 in any minute."""
    rec = Recorder("dingtalk", Destination("dingtalk:robot-abc", 20, 60.0))
    sent_at: list[datetime] = []
    orig = rec.send

    def timed(*, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        orig(user_id=user_id, message=message, notice_key=notice_key)
        sent_at.append(clock[0])

    rec.send = timed  # type: ignore[method-assign]
    notifiers.register(rec)
    ids = [notice(team["小周"], f"capture:{i}") for i in range(30)]
    with session_scope() as s:
        for nid in ids:
            n = s.get(Notice, nid)
            assert n is not None
            n.platform = "dingtalk"
            s.add(n)
    clock = [T]
    for second in range(0, 200):
        clock[0] = T + timedelta(seconds=second)
        delivery.deliver_pending(now=clock[0])  # worker A
        delivery.deliver_pending(now=clock[0])  # worker B, same moment
    assert len(rec.sent) == 30
    assert len({k for _u, _t, k in rec.sent}) == 30
    for start in sent_at:
        in_window = [t for t in sent_at if start <= t < start + timedelta(seconds=60)]
        assert len(in_window) <= 20
    assert all((b - a).total_seconds() >= 3 for a, b in zip(sent_at, sent_at[1:], strict=False))
    assert all(state(n).attempts == 1 for n in ids)  # waiting for a slot is no attempt


def test_one_robot_key_gets_its_full_rate_with_a_margin(team: dict[str, int]) -> None:
    """All DingTalk members are reached through one app-robot key (20/min, a 10-minute throttle after
    the 21st in a minute): 40 alerts for different members, beat ticking every 10 s, go out at the
    robot's rate less the margin -- 18 a minute -- and no closed 60 s window holds more than 18."""

    class Robot(Recorder):
        rate_limit = (20, 60.0)
        destination = None  # type: ignore[assignment]  # declared by key, as the DingTalk notifier does

        def destination_key(self, user_id: str) -> str:
            return "dingtalk:robot:app-code"

    rec = Robot("dingtalk")
    clock = [T]
    sent_at: list[datetime] = []
    orig = rec.send

    def timed(*, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        orig(user_id=user_id, message=message, notice_key=notice_key)
        sent_at.append(clock[0])

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    rec.send = timed  # type: ignore[method-assign]
    notifiers.register(rec)
    members = [team["小周"], team["小陈"], team["王经理"], team["林总监"]]
    ids = [notice(members[i % 4], f"capture:{i}") for i in range(40)]
    with session_scope() as s:
        for nid in ids:
            n = s.get(Notice, nid)
            assert n is not None
            n.platform = "dingtalk"
            s.add(n)
    for tick in range(12):  # two minutes of beat ticks
        clock[0] = max(clock[0], T + timedelta(seconds=10 * tick))
        delivery.deliver_pending(now=clock[0], budget_seconds=8.0, clock=lambda: clock[0], sleep=sleep)
    first_minute = [t for t in sent_at if t < T + timedelta(seconds=60)]
    assert len(first_minute) >= 17  # one per tick would be 6
    for start in sent_at:
        assert len([t for t in sent_at if start <= t <= start + timedelta(seconds=60)]) <= 18
    assert len({k for _u, _t, k in rec.sent}) == len(rec.sent)  # each notice once


def _acquire_many(url: str, out: Any, start: float, steps: int) -> None:
    os.environ["LOOPKEEPER_DATABASE_URL"] = url
    from datetime import UTC

    from bot.ratelimit import DbRateLimiter

    lim = DbRateLimiter()
    grants = []
    for i in range(steps):
        now = datetime.fromtimestamp(start + i * 0.5, tz=UTC)
        if lim.acquire("dingtalk:robot-xyz", 20, 60.0, now) == 0.0:
            grants.append(now.timestamp())
    out.put(grants)


def test_database_rate_limit_is_shared_across_processes(team: dict[str, int], db: str) -> None:
    _two_processes_share_one_limit(db)


def test_database_rate_limit_is_shared_across_processes_on_postgres(pg_db: str) -> None:
    _two_processes_share_one_limit(pg_db)


def _two_processes_share_one_limit(db: str) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_acquire_many, args=(db, q, T.timestamp(), 240)) for _ in range(2)]
    for p in procs:
        p.start()
    grants = sorted(q.get(timeout=120) + q.get(timeout=120))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    # two processes walking the same two minutes: every grant is 3 s after the previous one
    assert len(grants) >= 20
    assert all(b - a >= 3.0 - 1e-6 for a, b in zip(grants, grants[1:], strict=False))
    for g in grants:
        assert len([x for x in grants if g <= x < g + 60]) <= 20


def test_redis_rate_limit(redis_url: str) -> None:
    lim = ratelimit.RedisRateLimiter(redis_url, prefix=f"lk-test:{os.getpid()}:")
    key = f"slack:C{T.timestamp()}"
    assert lim.acquire(key, 1, 1.0, T) == 0.0
    assert lim.acquire(key, 1, 1.0, T) == pytest.approx(1.0)
    assert lim.acquire(key, 1, 1.0, T + timedelta(seconds=0.5)) == pytest.approx(0.5)
    assert lim.acquire(key, 1, 1.0, T + timedelta(seconds=1)) == 0.0


def test_notifier_without_destination_gets_the_platform_default(team: dict[str, int]) -> None:
    class Plain:
        platform = "slack"

        def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
            pass

    assert notifiers.destination(Plain(), "U1") == Destination("slack:U1", 1, 1.0)

    class KeyOnly(Plain):  # a destination key, the limit in `rate_limit`
        platform = "dingtalk"
        rate_limit = (20, 60.0)

        def destination_key(self, user_id: str) -> str:
            return "dingtalk:robot:code-1"

    class KeyByKind(Plain):  # a destination key, limits per kind of destination
        platform = "wecom"
        rate_limits = {"member": (30, 60), "robot": (20, 60)}

        @staticmethod
        def destination_key(user_id: str) -> str:
            return f"wecom:member:{user_id}"

    # the platform's limit less the safety margin (README: DingTalk 18/min, WeCom members 28/min)
    assert notifiers.destination(KeyOnly(), "u") == Destination("dingtalk:robot:code-1", 18, 60.0)
    assert notifiers.destination(KeyByKind(), "u1") == Destination("wecom:member:u1", 28, 60.0)
    assert notifiers.destination(notifiers.fallback(), "x").limit >= 100


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30.0), ("0", 0.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_digests_stay_within_the_smallest_platform_budget() -> None:
    # 30 alerts with 40-character Chinese titles (120 bytes each): WeCom app markdown takes 2048 bytes
    items = [(i, "客" * 40) for i in range(30)]
    chunks = delivery.digest_chunks(items)
    assert [n for c in chunks for n in c] == list(range(30))
    for c in chunks:
        assert sum(len(("客" * 40).encode()) + 12 for _ in c) <= delivery.DIGEST_BODY_BUDGET
    assert len(chunks) == 3  # 11 + 11 + 8 lines of 132 bytes under 1500
    assert delivery.digest_chunks([(1, "x" * 4000)]) == [[1]]  # one long title still goes out
