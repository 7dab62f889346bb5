"""Team alert channels (LOOPKEEPER_ALERT_CHANNELS, core/channels.py): an escalation reaching a manager or a
director and a daily team summary go to the team's DingTalk custom group robot, WeCom group robot and
Slack channel through the outbox, paced 20 a minute per robot.

Escalation times are those of tests/test_guard_sla.py (国庆 2026: 10-01..10-07 off, Saturday 10-10 a
make-up working day). Outbound calls go to a fake server on 127.0.0.1; the DingTalk robot URL is checked
against the documented signature (platforms.md §2: HMAC-SHA256 of "timestamp\\nsecret", base64).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot import delivery, notifiers, ratelimit
from core.db import session_scope
from core.messages import OutboundMessage
from core.models import Notice
from core.notices import create_notice
from tests.fakeserver import Call, FakeServer
from tests.guard_helpers import add_todo, alerts, run_scan, setup, t

DT_WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=TEAMTOKEN"
DT_SOUTH = "https://oapi.dingtalk.com/robot/send?access_token=SOUTHTOKEN"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        srv.route("POST", "/robot/send", body={"errcode": 0, "errmsg": "ok"})
        srv.route("POST", "/cgi-bin/webhook/send", body={"errcode": 0, "errmsg": "ok"})
        srv.route("POST", "/api/chat.postMessage", body={"ok": True, "ts": "1.1"})
        yield srv


@pytest.fixture
def team(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeServer) -> Iterator[None]:
    from config.settings import reset_settings

    setup(tmp_path)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__API_URL", fake.url)
    monkeypatch.setenv("LOOPKEEPER_WECOM__API_URL", fake.url + "/cgi-bin/")
    monkeypatch.setenv("LOOPKEEPER_SLACK__BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("LOOPKEEPER_SLACK__SIGNING_SECRET", "s" * 32)
    monkeypatch.setenv("LOOPKEEPER_SLACK__API_URL", fake.url + "/api/")
    channels = [
        {"platform": "dingtalk", "team": "华东", "webhook": DT_WEBHOOK, "secret": "SECteam"},
        {"platform": "wecom", "team": "华东-浙沪", "webhook": "WECOMKEY"},
        {"platform": "slack", "channel": "C0SALES"},  # no team: every team
        {"platform": "dingtalk", "team": "华南", "webhook": DT_SOUTH},  # nobody of the roster
    ]
    monkeypatch.setenv("LOOPKEEPER_ALERT_CHANNELS", json.dumps(channels))
    reset_settings()
    notifiers.reset()
    ratelimit.reset_limiter()
    yield
    notifiers.reset()
    ratelimit.reset_limiter()
    reset_settings()


def channel_notices(kind: str | None = None) -> list[Notice]:
    with session_scope() as s:
        q = select(Notice).where(col(Notice.recipient_id).is_(None)).order_by(col(Notice.id))
        if kind:
            q = q.where(Notice.kind == kind)
        return list(s.exec(q).all())


def by_channel(rows: list[Notice]) -> dict[str, Notice]:
    return {(n.payload.get("extra") or {})["channel"]: n for n in rows}


def refs() -> dict[str, str]:
    from config.settings import get_settings

    return {c.team or c.platform: c.ref for c in get_settings().alert_channels}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def slack_args(call: Call) -> dict[str, Any]:
    if call.headers.get("content-type", "").startswith("application/json"):
        return dict(call.json)
    return {k: v[0] for k, v in call.form.items()}


def test_escalations_to_manager_and_director_reach_the_team_channels(team: None, fake: FakeServer) -> None:
    r = refs()
    add_todo("小周", t(2026, 9, 30, 18, 0))
    run_scan(t(2026, 9, 30, 18, 1))  # the owner's own reminder: private
    [a] = alerts("todo.overdue")
    assert channel_notices("channel_alert") == []
    run_scan(t(2026, 10, 8, 18, 1))  # one working day later: the manager
    step1 = by_channel(channel_notices("channel_alert"))
    # 华东 covers the region 华东-浙沪; the Slack channel has no team; 华南 is not 小周's team
    assert set(step1) == {r["华东"], r["华东-浙沪"], "C0SALES"}
    assert all(n.alert_id == a.id and n.platform for n in step1.values())
    assert step1["C0SALES"].platform == "slack" and step1[r["华东"]].platform == "dingtalk"
    assert all(f"[A{a.id}]" in n.title and "王经理" in n.title for n in step1.values())
    assert all("TEAMTOKEN" not in json.dumps(n.payload) for n in step1.values())  # the ref, not the URL
    run_scan(t(2026, 10, 8, 18, 2))  # a second scan: nothing new
    assert len(channel_notices("channel_alert")) == 3
    run_scan(t(2026, 10, 10, 18, 1))  # three working days (the make-up Saturday): the director
    alerts_posted = channel_notices("channel_alert")
    assert len(alerts_posted) == 6 and all("林总监" in n.title for n in alerts_posted[3:])
    from core.alerts import recipients
    from core.views import alerts_json

    with session_scope() as s:  # "who was told" lists members only, not the channel posts
        assert [step for step, _m in recipients(s, a.id or 0)] == [0, 1, 2]
        assert None not in recipients(s, a.id or 0)[0] and alerts_json(s)[0]["recipients"] == [
            "小周",
            "王经理",
            "林总监",
        ]

    start = t(2026, 10, 10, 18, 2)
    for i in range(30):
        delivery.deliver_pending(now=start + timedelta(seconds=i))
    # two escalations and three daily summaries (09-30, 10-08, 10-10) in each of 3 channels
    assert [n.state for n in channel_notices()] == ["sent"] * 15
    robot = [
        c for c in fake.calls_to("/robot/send") if f"[A{a.id}]" in json.dumps(c.json, ensure_ascii=False)
    ]
    assert len(robot) == 2  # the DingTalk 华东 robot, twice; 华南 never
    assert all(c.query["access_token"] == ["TEAMTOKEN"] for c in fake.calls_to("/robot/send"))
    for c in robot:
        ts = c.query["timestamp"][0]
        assert c.query["sign"][0] == dingtalk_sign("SECteam", ts)
    wecom = [c for c in fake.calls_to("/cgi-bin/webhook/send") if c.json["msgtype"] == "markdown"]
    assert {c.query["key"][0] for c in wecom} == {"WECOMKEY"}
    assert sum(f"[A{a.id}]" in c.json["markdown"]["content"] for c in wecom) == 2
    posts = [slack_args(c) for c in fake.calls_to("/api/chat.postMessage")]
    slack = [p for p in posts if p["channel"] == "C0SALES"]  # the others are the members' own DMs
    assert len(slack) == 5
    escalations = [p for p in slack if f"[A{a.id}]" in p["text"]]
    assert len(escalations) == 2
    assert all('"actions"' not in json.dumps(p.get("blocks", "")) for p in escalations)  # no buttons


def test_an_escalation_at_night_waits_for_the_team_morning(team: None) -> None:
    add_todo("小周", t(2026, 11, 24, 21, 0))  # a Tuesday
    run_scan(t(2026, 11, 24, 21, 1))
    run_scan(t(2026, 11, 25, 22, 30))  # the manager step falls due in the quiet hours
    [n] = [n for n in channel_notices("channel_alert") if n.platform == "slack"]
    assert n.next_attempt_at is not None
    assert n.next_attempt_at.astimezone(t(2026, 1, 1).tzinfo) == t(2026, 11, 26, 8, 0)
    delivery.deliver_pending(now=t(2026, 11, 25, 23, 0))
    assert {x.state for x in channel_notices("channel_alert")} == {"pending"}
    for i in range(10):
        delivery.deliver_pending(now=t(2026, 11, 26, 8, 0) + timedelta(seconds=i))
    assert {x.state for x in channel_notices("channel_alert")} == {"sent"}


def test_team_summary_once_per_working_day_with_each_members_figures(team: None, fake: FakeServer) -> None:
    r = refs()
    add_todo("小周", t(2026, 11, 20, 10, 0), title="寄出样品")
    add_todo("小周", t(2026, 11, 23, 10, 0), title="跟进报价")
    run_scan(t(2026, 11, 28, 10, 0))  # a Saturday (no make-up day): no summary
    assert channel_notices("channel_summary") == []
    run_scan(t(2026, 11, 30, 8, 29))  # Monday before the morning hour
    assert channel_notices("channel_summary") == []
    run_scan(t(2026, 11, 30, 8, 31))
    summaries = by_channel(channel_notices("channel_summary"))
    assert set(summaries) == {r["华东"], r["华东-浙沪"], "C0SALES"}  # 华南 has no members
    run_scan(t(2026, 11, 30, 15, 0))  # later that day: not again
    assert len(channel_notices("channel_summary")) == 3
    body = summaries[r["华东-浙沪"]].body or ""
    assert "小周：逾期 2 · 提醒 2" in body and "小陈" not in body
    assert summaries[r["华东-浙沪"]].payload["fields"]["overdue"] == "2"

    delivery.deliver_pending(now=t(2026, 11, 30, 8, 32))
    [wecom] = [
        c for c in fake.calls_to("/cgi-bin/webhook/send") if "团队早报" in c.json["markdown"]["content"]
    ]
    assert "小周：逾期 2" in wecom.json["markdown"]["content"]
    run_scan(t(2026, 12, 1, 8, 31))  # the next working day: a new one
    assert len(channel_notices("channel_summary")) == 6


def test_channel_posts_are_paced_twenty_a_minute_per_robot(team: None, fake: FakeServer) -> None:
    """A DingTalk robot throttles for 10 minutes after 20 messages in a minute: 25 posts to one robot,
    two workers every second, at most 18 in the first minute (20 less the safety margin; with one-second
    ticks a slot every 3.33 s is taken on the next whole second: 15); the Slack channel is paced apart."""
    ref = refs()["华东"]
    with session_scope() as s:
        for i in range(25):
            create_notice(
                s,
                key=f"channel:{ref}:test:{i}",
                recipient_id=None,
                kind="channel_alert",
                message=OutboundMessage(title=f"升级 {i}"),
                platform="dingtalk",
                extra={"channel": ref},
            )
    start = t(2026, 11, 25, 10, 0)
    for second in range(60):
        now = start + timedelta(seconds=second)
        delivery.deliver_pending(now=now)  # worker A
        delivery.deliver_pending(now=now)  # worker B
    assert 15 <= len(fake.calls_to("/robot/send")) <= 18
    for second in range(60, 120):
        delivery.deliver_pending(now=start + timedelta(seconds=second))
    assert len(fake.calls_to("/robot/send")) == 25
    assert all(n.state == "sent" and n.attempts == 1 for n in channel_notices())


def test_a_channel_no_longer_configured_fails_without_a_call(team: None, fake: FakeServer) -> None:
    with session_scope() as s:
        nid = create_notice(
            s,
            key="channel:robot-gone:alert:1:1",
            recipient_id=None,
            kind="channel_alert",
            message=OutboundMessage(title="x"),
            platform="dingtalk",
            extra={"channel": "robot-gone"},
        )
    assert nid is not None
    assert delivery.deliver(nid, now=t(2026, 11, 25, 10, 0)) == "failed"
    [n] = channel_notices()
    assert n.state == "failed" and "no longer configured" in (n.last_error or "")
    assert fake.calls == []


def test_no_channels_configured_creates_nothing(db: str, tmp_path: Path) -> None:
    setup(tmp_path)
    add_todo("小周", t(2026, 9, 30, 18, 0))
    run_scan(t(2026, 9, 30, 18, 1))
    run_scan(t(2026, 10, 8, 18, 1))
    assert channel_notices() == []


def test_a_large_team_summary_lists_the_busiest_and_fits_one_robot_message(team: None) -> None:
    from config.rules import get_rules
    from core.calendar import context_for
    from core.channels import MAX_LINES, team_summary
    from core.models import Member, Todo

    with session_scope() as s:
        for i in range(MAX_LINES + 5):
            m = Member(name=f"销售{i:02d}", role="rep", region="华东-浙沪")
            s.add(m)
            s.flush()
            for j in range(i % 3 + 1):  # 1 to 3 overdue todos each
                s.add(Todo(owner_id=m.id, title="跟进", due=t(2026, 11, 20, 10), dedup_key=f"big:{i}:{j}"))
    with session_scope() as s:
        members = list(s.exec(select(Member)).all())
        msg = team_summary(s, members, "华东", context_for(get_rules()), t(2026, 11, 25, 9))
    body = msg.body
    assert body.count("：逾期 ") == MAX_LINES and "- … +5" in body
    assert body.index("：逾期 3") < body.index("：逾期 1")  # the busiest first
    assert len(body.encode()) < 4096 and msg.fields["overdue"] == str(sum(i % 3 + 1 for i in range(20)))
