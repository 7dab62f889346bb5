"""Slack adapter acceptance tests (issue 5).

Inbound requests are signed with slack_sdk's own `SignatureVerifier` and posted to the real FastAPI app
(`bot.app.create_app`); every outbound Web API call and `response_url` post goes to a recording fake server
on 127.0.0.1 (`LOOPKEEPER_SLACK__API_URL`). Payload shapes follow Slack's documented formats
(platforms.md §1.3-1.6; bolt-python's test bodies); expected behaviour comes from the issue and Slack's
docs: 401 on a bad or 5-minute-old signature, one effect per message however often it is delivered, private
confirmations, answers to the slash command through its response_url.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from sqlmodel import select

from bot.app import create_app
from bot.handler import BotHandler
from core.db import session_scope
from core.messages import CommandInvocation, Reply
from core.models import Alert, Conversation, Customer, InboxMessage, Member, PlatformIdentity
from integrations.slack.app import RecentKeys
from tests.fakeserver import Call, FakeServer
from tests.helpers import seed

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # bolt-python's test signing secret
TOKEN = "xoxb-1111-2222-abcdefghijklmnop"
BOT = "UBOTLK01"
TS = "1764122400.000100"  # 2025-11-26 02:00:00 UTC

HISTORY: dict[tuple[str, str], dict[str, Any]] = {}


def _history(call: Call) -> tuple[int, dict[str, Any]]:
    ch, latest = call.query["channel"][0], call.query["latest"][0]
    m = HISTORY.get((ch, latest))
    return 200, {"ok": True, "messages": [m] if m else [], "has_more": False}


def _replies(call: Call) -> tuple[int, dict[str, Any]]:
    ch, ts = call.query["channel"][0], call.query["ts"][0]
    m = HISTORY.get((ch, ts))
    return 200, {"ok": True, "messages": [m] if m else []}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    HISTORY.clear()
    with FakeServer() as srv:
        srv.route("POST", "/api/chat.postMessage", body={"ok": True, "ts": "9.1"})
        srv.route("POST", "/api/chat.postEphemeral", body={"ok": True, "message_ts": "9.2"})
        srv.route("POST", "/api/views.open", body={"ok": True, "view": {"id": "V0OPEN", "hash": "h-1"}})
        srv.route("POST", "/api/views.update", body={"ok": True, "view": {"id": "V0OPEN", "hash": "h-2"}})
        srv.route("GET", "/api/conversations.history", _history)
        srv.route("GET", "/api/conversations.replies", _replies)
        srv.route("POST", "/respond/1", body="")
        yield srv
        # never a token check or any other call Slack would answer from its servers unasked
        assert srv.calls_to("/api/auth.test") == []


@pytest.fixture
def env(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeServer) -> FakeServer:
    seed(tmp_path)
    monkeypatch.setenv("LOOPKEEPER_SLACK__BOT_TOKEN", TOKEN)
    monkeypatch.setenv("LOOPKEEPER_SLACK__SIGNING_SECRET", SECRET)
    monkeypatch.setenv("LOOPKEEPER_SLACK__API_URL", fake.url + "/api/")
    from config.settings import reset_settings

    reset_settings()
    return fake


class Slack:
    """The real app behind a TestClient, plus helpers to sign and post like Slack does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.adapter = client.app.state.slack  # type: ignore[attr-defined]

    def post(
        self,
        body: str,
        content_type: str,
        *,
        ts: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
        drain: bool = True,
    ) -> Any:
        stamp = str(int(time.time()) if ts is None else ts)
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
        h = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            "Content-Type": content_type,
            **(headers or {}),
        }
        resp = self.client.post("/slack/events", content=body, headers=h)
        if drain:
            self.client.portal.call(self.adapter.drain)  # type: ignore[union-attr]
        return resp

    def event(self, event: dict[str, Any], event_id: str = "Ev001", **kw: Any) -> Any:
        envelope = {
            "token": "legacy",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(float(event.get("event_ts") or event.get("ts") or TS)),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": "T0TEAM",
                    "user_id": BOT,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return self.post(json.dumps(envelope), "application/json", **kw)

    def interaction(self, payload: dict[str, Any], **kw: Any) -> Any:
        return self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw
        )

    def command(self, text: str, user: str = "UZHOU", response_url: str | None = None, **kw: Any) -> Any:
        form = {
            "token": "legacy",
            "team_id": "T0TEAM",
            "team_domain": "example",
            "channel_id": "C0SALES",
            "channel_name": "sales",
            "user_id": user,
            "user_name": "zhou",
            "command": "/lk",
            "text": text,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": response_url or self.respond_url,
            "trigger_id": "111.222.abc",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kw)

    respond_url = ""


@pytest.fixture
def slack(env: FakeServer) -> Iterator[Slack]:
    app = create_app(BotHandler(enqueue=None))
    assert env.calls == []  # nothing called at start-up
    with TestClient(app) as client:
        s = Slack(client)
        s.respond_url = env.url + "/respond/1"
        yield s


def _inbox() -> list[InboxMessage]:
    with session_scope() as s:
        return list(s.exec(select(InboxMessage).order_by(InboxMessage.id)).all())  # type: ignore[arg-type]


def _bind(channel: str, customer: str, auto_record: bool = True) -> None:
    with session_scope() as s:
        c = s.exec(select(Customer).where(Customer.name == customer)).one()
        s.add(
            Conversation(platform="slack", conversation_id=channel, customer_id=c.id, auto_record=auto_record)
        )


def _args(call: Call) -> dict[str, Any]:
    out: dict[str, Any] = {k: v[0] for k, v in call.query.items()}
    if call.body:
        if call.headers.get("content-type", "").startswith("application/json"):
            out.update(call.json)
        else:
            out.update({k: v[0] for k, v in call.form.items()})
    return out


def _text(call: Call) -> str:
    a = _args(call)
    return str(a.get("text", "")) + json.dumps(a.get("blocks", []), ensure_ascii=False)


def msg_event(
    text: str, *, channel: str = "C0CUST", user: str = "UCUSTOMER", ts: str = TS, **extra: Any
) -> dict:
    return {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
        **extra,
    }


# --- verification ----------------------------------------


def test_url_verification_is_answered(slack: Slack) -> None:
    body = json.dumps(
        {
            "token": "legacy",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    resp = slack.post(body, "application/json")
    assert resp.status_code == 200
    assert resp.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_bad_signature_is_401_and_nothing_happens(slack: Slack, env: FakeServer) -> None:
    _bind("C0CUST", "杭州甲乙贸易")
    resp = slack.event(msg_event("甲乙说库存周转太慢"), secret="another-signing-secret-0123456789")
    assert resp.status_code == 401
    assert _inbox() == [] and env.calls == []


def test_timestamp_older_than_five_minutes_is_401(slack: Slack, env: FakeServer) -> None:
    _bind("C0CUST", "杭州甲乙贸易")
    old = int(time.time()) - 301
    assert slack.event(msg_event("甲乙说库存周转太慢"), ts=old).status_code == 401
    form = urlencode(
        {"command": "/lk", "text": "help", "user_id": "UZHOU", "response_url": slack.respond_url}
    )
    assert slack.post(form, "application/x-www-form-urlencoded", ts=old).status_code == 401
    # within the window (4 minutes old) the same request is accepted
    assert slack.event(msg_event("甲乙说库存周转太慢"), ts=int(time.time()) - 240).status_code == 200
    assert len(_inbox()) == 1
    assert env.calls_to("/respond/1") == []


# --- events ----------------------------------------


def test_bound_channel_traffic_is_stored_once_and_unbound_chatter_not_at_all(
    slack: Slack, env: FakeServer
) -> None:
    slack.event(msg_event("你好", channel="C0OTHER"), event_id="Ev-other")
    assert _inbox() == []  # unbound channel: nothing stored
    _bind("C0CUST", "杭州甲乙贸易")
    e = msg_event("我们仓库库存周转太慢")
    assert slack.event(e, event_id="Ev1").status_code == 200
    # Slack's retry (same event id) and the same message under another event id: one row
    slack.event(e, event_id="Ev1", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    slack.event(e, event_id="Ev2")
    rows = _inbox()
    assert [(r.message_id, r.intent, r.sender_id, r.text) for r in rows] == [
        (f"C0CUST:{TS}", "chat", "UCUSTOMER", "我们仓库库存周转太慢")
    ]
    assert env.calls == []  # traffic is recorded silently, nothing is posted into the channel


def test_bound_but_auto_record_off_is_not_stored(slack: Slack) -> None:
    _bind("C0CUST", "杭州甲乙贸易", auto_record=False)
    slack.event(msg_event("我们仓库库存周转太慢"))
    assert _inbox() == []


@pytest.mark.parametrize(
    "extra",
    [
        {"user": BOT},  # the bot itself
        {"bot_id": "B0OTHER", "subtype": "bot_message"},
        {"bot_id": "B0OTHER"},  # a bot posting with a user token shape
        {"subtype": "message_changed"},
        {"subtype": "channel_join"},
    ],
)
def test_bot_and_system_messages_are_ignored(slack: Slack, env: FakeServer, extra: dict[str, Any]) -> None:
    _bind("C0CUST", "杭州甲乙贸易")
    slack.event(msg_event("库存周转太慢 <@UBOTLK01> help", **extra))
    assert _inbox() == [] and env.calls == []


def test_app_mention_runs_the_command_once_and_answers_privately(slack: Slack, env: FakeServer) -> None:
    mention = {
        "type": "app_mention",
        "channel": "C0SALES",
        "user": "UZHOU",
        "text": f"<@{BOT}> help",
        "ts": TS,
        "event_ts": TS,
    }
    assert slack.event(mention, event_id="EvM1").status_code == 200
    # the same message as a `message` event, and a retry of the mention: no second answer
    slack.event(msg_event(f"<@{BOT}> help", channel="C0SALES", user="UZHOU"), event_id="EvM2")
    slack.event(
        mention, event_id="EvM1", headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}
    )
    calls = env.calls_to("/api/chat.postEphemeral")
    assert len(calls) == 1
    a = _args(calls[0])
    assert (a["channel"], a["user"], a["thread_ts"]) == ("C0SALES", "UZHOU", TS)
    assert "capture" in _text(calls[0])  # the help lists the commands
    assert env.calls_to("/api/chat.postMessage") == [] and _inbox() == []


PARENT_TS = "1764122000.000200"


def test_capture_in_a_thread_captures_the_threads_parent(slack: Slack, env: FakeServer) -> None:
    """ "@bot 记一下 甲乙" as a reply in a thread: the parent (read with conversations.replies) is what is
    captured, like a quote-reply on the other platforms; the confirmation is private, in the thread."""
    HISTORY[("C0SALES", PARENT_TS)] = {
        "type": "message",
        "user": "UCUSTOMER",
        "text": "我们这边账期太短，资金压力很大",
        "ts": PARENT_TS,
        "thread_ts": PARENT_TS,
        "reply_count": 1,
    }
    mention = {
        "type": "app_mention",
        "channel": "C0SALES",
        "user": "UZHOU",
        "text": f"<@{BOT}> 记一下 甲乙",
        "ts": TS,
        "thread_ts": PARENT_TS,
        "event_ts": TS,
    }
    assert slack.event(mention, event_id="EvT1").status_code == 200
    slack.event(msg_event(f"<@{BOT}> 记一下 甲乙", channel="C0SALES", user="UZHOU", thread_ts=PARENT_TS))
    [read] = env.calls_to("/api/conversations.replies")
    assert (read.query["channel"], read.query["ts"]) == (["C0SALES"], [PARENT_TS])
    [row] = _inbox()
    assert (row.intent, row.quoted_text, row.customer_hint, row.sender_id) == (
        "capture",
        "我们这边账期太短，资金压力很大",
        "甲乙",
        "UZHOU",
    )
    [answer] = env.calls_to("/api/chat.postEphemeral")
    a = _args(answer)
    assert (a["channel"], a["user"], a["thread_ts"]) == ("C0SALES", "UZHOU", PARENT_TS)
    assert env.calls_to("/api/chat.postMessage") == []


@pytest.mark.parametrize(
    ("text", "thread_ts", "asks"),
    [
        (f"<@{BOT}> capture", PARENT_TS, True),
        (f"<@{BOT}> /capture 甲乙", PARENT_TS, True),
        (f"<@{BOT}> 记一下甲乙", PARENT_TS, True),
        (f"<@{BOT}> help", PARENT_TS, False),  # another command in a thread: the parent is not read
        (f"<@{BOT}> 记一下 甲乙", None, False),  # not in a thread
        (f"<@{BOT}> 记一下 甲乙", TS, False),  # the thread's parent itself
        (f"<@{BOT}> captured it", PARENT_TS, False),
    ],
)
def test_which_thread_replies_read_the_parent(text: str, thread_ts: str | None, asks: bool) -> None:
    from integrations.slack.payloads import asks_thread_capture

    event = {"text": text, "ts": TS} | ({"thread_ts": thread_ts} if thread_ts else {})
    assert asks_thread_capture(event) is asks


def test_thread_help_does_not_read_the_parent(slack: Slack, env: FakeServer) -> None:
    event = msg_event(f"<@{BOT}> help", channel="C0SALES", user="UZHOU", thread_ts=PARENT_TS)
    slack.event(event)
    assert env.calls_to("/api/conversations.replies") == [] and _inbox() == []
    assert len(env.calls_to("/api/chat.postEphemeral")) == 1


def test_direct_message_to_the_bot_is_a_capture_confirmed_in_the_dm(slack: Slack, env: FakeServer) -> None:
    dm = msg_event("戊己那边说账期太短，资金压力大", channel="D0DM", user="UCHEN", channel_type="im")
    slack.event(dm, event_id="EvD1")
    slack.event(dm, event_id="EvD1", headers={"X-Slack-Retry-Num": "1"})
    rows = _inbox()
    assert [(r.message_id, r.intent, r.sender_id) for r in rows] == [(f"D0DM:{TS}", "capture", "UCHEN")]
    posts = env.calls_to("/api/chat.postMessage")
    assert len(posts) == 1 and _args(posts[0])["channel"] == "D0DM"
    assert "Capturing" in _text(posts[0])


def test_non_member_gets_an_explanation_and_nothing_is_stored(slack: Slack, env: FakeServer) -> None:
    dm = msg_event("帮我记一下 甲乙库存周转太慢", channel="D0X", user="USTRANGER", channel_type="im")
    slack.event(dm)
    assert _inbox() == []
    posts = env.calls_to("/api/chat.postMessage")
    assert len(posts) == 1 and "nothing was stored" in _text(posts[0])


# --- reaction capture ----------------------------------------


def _reaction(reaction: str = "memo", user: str = "UZHOU", channel: str = "C0CUST", ts: str = TS) -> dict:
    return {
        "type": "reaction_added",
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": reaction,
        "item_user": "UCUSTOMER",
        "event_ts": "1764122500.000200",
    }


def test_memo_reaction_captures_the_message_without_a_modal(slack: Slack, env: FakeServer) -> None:
    HISTORY[("C0CUST", TS)] = {
        "type": "message",
        "user": "UCUSTOMER",
        "text": "甲乙仓库库存周转太慢",
        "ts": TS,
    }
    slack.event(_reaction("heart_eyes"), event_id="EvR0")
    assert env.calls == [] and _inbox() == []  # not the capture reaction
    slack.event(_reaction(), event_id="EvR1")
    slack.event(_reaction(), event_id="EvR1", headers={"X-Slack-Retry-Num": "1"})
    history = env.calls_to("/api/conversations.history")
    assert len(history) == 1
    assert (history[0].query["channel"], history[0].query["latest"]) == (["C0CUST"], [TS])
    rows = _inbox()
    assert [(r.message_id, r.intent, r.sender_id, r.quoted_text, r.quoted_message_id) for r in rows] == [
        (f"C0CUST:{TS}:capture:UZHOU", "capture", "UZHOU", "甲乙仓库库存周转太慢", f"C0CUST:{TS}")
    ]
    assert rows[0].quoted_sent_at is not None and rows[0].quoted_sent_at.timestamp() == float(TS)
    confirm = env.calls_to("/api/chat.postEphemeral")
    assert len(confirm) == 1 and _args(confirm[0])["user"] == "UZHOU"
    assert env.calls_to("/api/chat.postMessage") == []  # never a message into the customer channel
    assert env.calls_to("/api/views.open") == []


def test_reaction_in_a_thread_fetches_the_reply(slack: Slack, env: FakeServer) -> None:
    reply_ts = "1764122450.000300"
    HISTORY[("C0CUST", reply_ts)] = {
        "type": "message",
        "user": "UCUSTOMER",
        "text": "丙丁要2台XR-200样机",
        "ts": reply_ts,
    }
    env.route("GET", "/api/conversations.history", body={"ok": True, "messages": []})  # not in the history
    slack.event(_reaction(ts=reply_ts))
    assert len(env.calls_to("/api/conversations.replies")) == 1
    assert [r.quoted_text for r in _inbox()] == ["丙丁要2台XR-200样机"]


def test_configured_reaction_setting_is_used(env: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__CAPTURE_REACTION", "pushpin")
    from config.settings import reset_settings

    reset_settings()
    HISTORY[("C0CUST", TS)] = {"type": "message", "user": "UCUSTOMER", "text": "甲乙库存周转太慢", "ts": TS}
    with TestClient(create_app(BotHandler(enqueue=None))) as client:
        s = Slack(client)
        s.event(_reaction("memo"), event_id="EvP0")
        assert _inbox() == []
        s.event(_reaction("pushpin"), event_id="EvP1")
    assert len(_inbox()) == 1


def test_reaction_by_non_member_stores_nothing_and_explains_privately(slack: Slack, env: FakeServer) -> None:
    HISTORY[("C0CUST", TS)] = {"type": "message", "user": "UCUSTOMER", "text": "甲乙库存周转太慢", "ts": TS}
    slack.event(_reaction(user="USTRANGER"))
    assert _inbox() == []
    dm = env.calls_to("/api/chat.postMessage")
    assert len(dm) == 1 and _args(dm[0])["channel"] == "USTRANGER" and "nothing was stored" in _text(dm[0])


# --- message shortcut and modal ----------------------------------------

SHORTCUT_TEXT = "甲乙的王总说他们仓库库存周转太慢，下周三下午3点来拜访，顺便带2台XR-200样机"


def _shortcut(user: str = "UZHOU") -> dict[str, Any]:
    return {
        "type": "message_action",
        "token": "legacy",
        "action_ts": "1764122600.000500",
        "team": {"id": "T0TEAM", "domain": "example"},
        "user": {"id": user, "name": "zhou"},
        "channel": {"id": "C0CUST", "name": "jiayi-shared"},
        "callback_id": "capture_to_customer",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "message_ts": TS,
        "message": {"type": "message", "user": "UCUSTOMER", "text": SHORTCUT_TEXT, "ts": TS},
        "response_url": "",  # filled in by the test
    }


def _submission(view: dict[str, Any], customer: str | None, user: str = "UZHOU") -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0TEAM", "domain": "example"},
        "user": {"id": user, "name": "zhou"},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": "12345.98765.abcd",
        "view": {
            **view,
            "id": "V0OPEN",
            "type": "modal",
            "team_id": "T0TEAM",
            "state": {
                "values": {"customer": {"customer_input": {"type": "plain_text_input", "value": customer}}}
            },
            "hash": "h-2",
        },
        "response_urls": [],
    }


def test_shortcut_opens_the_modal_first_then_shows_the_preview(slack: Slack, env: FakeServer) -> None:
    payload = _shortcut() | {"response_url": slack.respond_url}
    resp = slack.interaction(payload)
    assert resp.status_code == 200
    paths = [c.path for c in env.calls]
    assert paths == ["/api/views.open", "/api/views.update"]  # open at once, then fill in
    opened = _args(env.calls[0])
    assert opened["trigger_id"] == payload["trigger_id"] and opened["view"]["type"] == "modal"
    assert {c.headers["authorization"] for c in env.calls} == {f"Bearer {TOKEN}"}
    assert "submit" not in opened["view"]  # nothing to save until the preview is there
    updated = _args(env.calls[1])
    assert (updated["view_id"], updated["hash"]) == ("V0OPEN", "h-1")
    view = updated["view"]
    customer = next(b for b in view["blocks"] if b.get("block_id") == "customer")
    assert customer["element"]["initial_value"] == "杭州甲乙贸易"  # guessed from the alias 甲乙
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "库存周转太慢" in shown and "XR-200" in shown and "visit" in shown
    assert _inbox() == []  # nothing is stored until the rep saves


def test_modal_submission_saves_the_capture_with_the_confirmed_customer(
    slack: Slack, env: FakeServer
) -> None:
    slack.interaction(_shortcut() | {"response_url": slack.respond_url})
    view = _args(env.calls_to("/api/views.update")[0])["view"]
    # the rep corrects the customer to another one (alias 丙丁) and saves; then a double submit
    resp = slack.interaction(_submission(view, "丙丁"))
    assert resp.status_code == 200
    slack.interaction(_submission(view, "丙丁"))
    rows = _inbox()
    assert [(r.message_id, r.intent, r.customer_hint, r.quoted_text, r.sender_id) for r in rows] == [
        (f"C0CUST:{TS}:capture:UZHOU", "capture", "宁波丙丁电子", SHORTCUT_TEXT, "UZHOU")
    ]
    answers = env.calls_to("/respond/1")
    assert len(answers) >= 1
    assert all(a.json["response_type"] == "ephemeral" for a in answers)
    assert env.calls_to("/api/chat.postMessage") == []


def test_modal_submission_with_unknown_customer_keeps_the_modal_open(slack: Slack, env: FakeServer) -> None:
    slack.interaction(_shortcut() | {"response_url": slack.respond_url})
    view = _args(env.calls_to("/api/views.update")[0])["view"]
    resp = slack.interaction(_submission(view, "完全不存在的公司"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_action"] == "errors" and "customer" in body["errors"]
    assert _inbox() == []


def test_shortcut_by_non_member_explains_in_the_modal(slack: Slack, env: FakeServer) -> None:
    slack.interaction(_shortcut(user="USTRANGER") | {"response_url": slack.respond_url})
    update = env.calls_to("/api/views.update")
    assert len(update) == 1
    view = _args(update[0])["view"]
    assert "submit" not in view and "nothing was stored" in json.dumps(view, ensure_ascii=False)
    assert _inbox() == []


# --- slash command ----------------------------------------


def test_slash_command_is_acked_and_answered_through_response_url(slack: Slack, env: FakeServer) -> None:
    resp = slack.command("help")
    assert resp.status_code == 200
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1
    body = answers[0].json
    assert body["response_type"] == "ephemeral" and "capture" in body["text"]
    assert body["blocks"][0]["type"] == "section"


@pytest.mark.parametrize("text", ["", "no-such-command now", "？？"])
def test_slash_command_unknown_input_gets_the_help(slack: Slack, env: FakeServer, text: str) -> None:
    slack.command(text)
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1 and "commands" in answers[0].json["text"]


def test_slash_command_from_non_member(slack: Slack, env: FakeServer) -> None:
    slack.command("help", user="USTRANGER")
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1 and "nothing was stored" in answers[0].json["text"]


def test_email_match_links_a_new_slack_user(env: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__EMAIL_MATCH", "true")
    from config.settings import reset_settings

    reset_settings()
    with session_scope() as s:
        s.add(Member(name="新人", role="rep", email="New.Rep@example.com"))
    env.route(
        "GET",
        "/api/users.info",
        lambda c: (
            200,
            {"ok": True, "user": {"id": c.query["user"][0], "profile": {"email": "new.rep@example.com"}}},
        ),
    )
    with TestClient(create_app(BotHandler(enqueue=None))) as client:
        s = Slack(client)
        s.respond_url = env.url + "/respond/1"
        s.command("help", user="UNEWREP")
    assert [c.query["user"] for c in env.calls_to("/api/users.info")] == [["UNEWREP"]]
    answers = env.calls_to("/respond/1")
    assert "nothing was stored" not in answers[0].json["text"] and "capture" in answers[0].json["text"]
    with session_scope() as s:
        ident = s.exec(select(PlatformIdentity).where(PlatformIdentity.user_id == "UNEWREP")).one()
        assert s.get(Member, ident.member_id).name == "新人"  # type: ignore[union-attr]


# --- alerts with buttons ----------------------------------------


def _alert_for(member: str) -> int:
    with session_scope() as s:
        m = s.exec(select(Member).where(Member.name == member)).one()
        a = Alert(
            rule="todo_overdue",
            subject_type="todo",
            subject_id=1,
            recipient_id=m.id,
            dedup_key=f"todo_overdue:1:{member}",
            title="待办逾期 T1",
        )
        s.add(a)
        s.flush()
        assert a.id is not None
        return a.id


def test_alert_buttons_round_trip_to_the_handler(slack: Slack, env: FakeServer) -> None:
    from core.messages import Action, OutboundMessage
    from integrations.slack.notifier import SlackNotifier

    alert_id = _alert_for("小周")
    notifier = SlackNotifier(TOKEN, env.url + "/api/")
    notifier.send(
        user_id="UZHOU",
        message=OutboundMessage(
            title="待办逾期 T1",
            body="**杭州甲乙贸易**：记录拜访结果",
            fields={"客户": "杭州甲乙贸易"},
            actions=[
                Action(kind="ack", label="确认 Ack", value=f"alert:{alert_id}:ack"),
                Action(kind="snooze", label="暂缓 Snooze", value=f"alert:{alert_id}:snooze"),
                Action(
                    kind="open",
                    label="打开 Open",
                    value=f"alert:{alert_id}:open",
                    url="https://example.com/a",
                ),
            ],
        ),
        notice_key=f"alert:{alert_id}",
    )
    posted = _args(env.calls_to("/api/chat.postMessage")[0])
    assert posted["channel"] == "UZHOU" and posted["text"].startswith("待办逾期 T1")
    assert "*杭州甲乙贸易*" in json.dumps(posted["blocks"], ensure_ascii=False)  # markdown → mrkdwn
    buttons = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"]
    assert [b["value"] for b in buttons] == [
        f"alert:{alert_id}:ack",
        f"alert:{alert_id}:snooze",
        f"alert:{alert_id}:open",
    ]
    assert buttons[2]["url"] == "https://example.com/a"

    ack = buttons[0]
    payload = {
        "type": "block_actions",
        "user": {"id": "UZHOU", "username": "zhou", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "9.1", "channel_id": "D0DM", "is_ephemeral": False},
        "trigger_id": "1.2.3",
        "team": {"id": "T0TEAM", "domain": "example"},
        "channel": {"id": "D0DM", "name": "directmessage"},
        "message": {
            "type": "message",
            "user": BOT,
            "ts": "9.1",
            "text": posted["text"],
            "blocks": posted["blocks"],
        },
        "response_url": slack.respond_url,
        "actions": [
            {
                "action_id": ack["action_id"],
                "block_id": "b1",
                "text": ack["text"],
                "value": ack["value"],
                "type": "button",
                "action_ts": "1764122700.1",
            }
        ],
    }
    assert slack.interaction(payload).status_code == 200
    with session_scope() as s:
        assert s.get(Alert, alert_id).state == "acked"  # type: ignore[union-attr]
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1 and "Acknowledged" in answers[0].json["text"]
    assert answers[0].json["response_type"] == "ephemeral" and answers[0].json["replace_original"] is False


def test_notifier_maps_rate_limit_and_permanent_errors(env: FakeServer) -> None:
    from core.messages import OutboundMessage
    from core.notices import DeliveryError
    from integrations.slack.notifier import SlackNotifier

    n = SlackNotifier(TOKEN, env.url + "/api")
    env.route(
        "POST",
        "/api/chat.postMessage",
        lambda c: (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}),
    )
    with pytest.raises(DeliveryError) as exc:
        n.send(user_id="C0ALERTS", message=OutboundMessage(title="x"), notice_key="k1")
    assert exc.value.retry_after == 7.0 and not exc.value.permanent
    for code in ("channel_not_found", "not_in_channel", "invalid_auth"):
        env.route("POST", "/api/chat.postMessage", lambda c, code=code: (200, {"ok": False, "error": code}))
        with pytest.raises(DeliveryError) as exc:
            n.send(user_id="C0ALERTS", message=OutboundMessage(title="x"), notice_key="k2")
        assert exc.value.permanent, code
    env.route("POST", "/api/chat.postMessage", lambda c: (200, {"ok": False, "error": "internal_error"}))
    with pytest.raises(DeliveryError) as exc:
        n.send(user_id="C0ALERTS", message=OutboundMessage(title="x"), notice_key="k3")
    assert not exc.value.permanent


def test_notifier_declares_one_per_second_per_channel_and_never_waits(env: FakeServer) -> None:
    """Pacing belongs to the delivery layer: the notifier names the bucket (one per channel, 1/s as in
    platforms.md §1.10) and sends at once when called."""
    from bot import notifiers
    from core.messages import OutboundMessage
    from core.notices import Destination
    from integrations.slack.notifier import SlackNotifier

    n = SlackNotifier(TOKEN, env.url + "/api/")
    assert notifiers.destination(n, "C1") == Destination("slack:channel:C1", 1, 1.0)
    assert notifiers.destination(n, "UCHEN") != notifiers.destination(n, "C1")
    start = time.monotonic()
    for key in "abc":
        n.send(user_id="C1", message=OutboundMessage(title="x"), notice_key=key)
    assert time.monotonic() - start < 0.9  # three posts to one channel, no sleeping in the notifier
    assert len(env.calls_to("/api/chat.postMessage")) == 3


def _slack_notices(keys_and_members: list[tuple[str, str]]) -> list[int]:
    """Answers (sent at once, never folded into a digest) to members with a Slack identity."""
    from core.messages import OutboundMessage
    from core.notices import create_notice

    ids = []
    with session_scope() as s:
        for key, name in keys_and_members:
            m = s.exec(select(Member).where(Member.name == name)).one()
            nid = create_notice(
                s,
                key=key,
                recipient_id=m.id,
                kind="reply",
                message=OutboundMessage(title=key),
                platform="slack",
            )
            assert nid is not None
            ids.append(nid)
    return ids


def _posted_channels(env: FakeServer) -> list[str]:
    return [_args(c)["channel"] for c in env.calls_to("/api/chat.postMessage")]


def test_delivery_paces_slack_posts_per_channel(slack: Slack, env: FakeServer) -> None:
    """Two workers delivering at the same instant: one post per channel per second, other channels
    unaffected, the held notice goes out a second later (and the wait is no attempt)."""
    from datetime import UTC, datetime, timedelta

    from bot import delivery, notifiers, ratelimit
    from core.models import Notice

    notifiers.reset()
    ratelimit.reset_limiter()
    t0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    ids = _slack_notices([("n1", "小陈"), ("n2", "小陈"), ("n3", "小周")])
    try:
        delivery.deliver_pending(now=t0)  # worker A
        delivery.deliver_pending(now=t0)  # worker B
        assert sorted(_posted_channels(env)) == ["UCHEN", "UZHOU"]
        delivery.deliver_pending(now=t0 + timedelta(seconds=0.5))
        assert len(_posted_channels(env)) == 2  # still inside the channel's second
        delivery.deliver_pending(now=t0 + timedelta(seconds=1))
        assert sorted(_posted_channels(env)) == ["UCHEN", "UCHEN", "UZHOU"]
        with session_scope() as s:
            rows = [s.get(Notice, i) for i in ids]
            assert all(r is not None and r.state == "sent" and r.attempts == 1 for r in rows)
    finally:
        notifiers.reset()
        ratelimit.reset_limiter()


def test_delivery_goes_through_the_registered_slack_notifier(slack: Slack, env: FakeServer) -> None:
    from bot import notifiers
    from bot.delivery import deliver
    from core.messages import OutboundMessage
    from core.notices import create_notice

    notifiers.reset()
    with session_scope() as s:
        m = s.exec(select(Member).where(Member.name == "小陈")).one()
        nid = create_notice(
            s,
            key="test:1",
            recipient_id=m.id,
            kind="notice",
            message=OutboundMessage(title="你好"),
            platform="slack",
        )
    assert nid is not None
    try:
        assert deliver(nid) == "sent"
        assert deliver(nid) == "skipped"  # at most once per idempotency key
    finally:
        notifiers.reset()
    posts = env.calls_to("/api/chat.postMessage")
    assert len(posts) == 1 and _args(posts[0])["channel"] == "UCHEN"


# --- rendering ----------------------------------------


def test_markdown_becomes_mrkdwn_and_limits_hold() -> None:
    from core.messages import OutboundMessage
    from integrations.slack.render import blocks, mrkdwn

    assert mrkdwn("**甲乙** see [the todo](https://x.example/t/1) a<b & c") == (
        "*甲乙* see <https://x.example/t/1|the todo> a&lt;b &amp; c"
    )
    assert mrkdwn("## 标题") == "*标题*"
    assert mrkdwn("*slow* stock, **A17** 2*3*4") == "_slow_ stock, *A17* 2*3*4"
    out = blocks(OutboundMessage(title="t", body="x" * 7000, fields={str(i): "v" for i in range(12)}))
    assert all(len(b["text"]["text"]) <= 3000 for b in out if b.get("text"))
    assert [len(b["fields"]) for b in out if "fields" in b] == [10, 2]


# --- what runs before the acknowledgement --------------------------------------------------------


class GatedHandler(BotHandler):
    """The bot's handler, but commands wait for the test to open a gate (a slow command)."""

    def __init__(self) -> None:
        super().__init__(enqueue=None)
        self.gate = threading.Event()

    def on_command(self, inv: CommandInvocation) -> Reply:
        assert self.gate.wait(10)
        return super().on_command(inv)


def test_slash_command_is_acknowledged_before_the_command_runs(env: FakeServer) -> None:
    handler = GatedHandler()
    with TestClient(create_app(handler)) as client:
        s = Slack(client)
        s.respond_url = env.url + "/respond/1"
        resp = s.command("help", drain=False)  # the command is still blocked: the ack came first
        assert resp.status_code == 200 and env.calls_to("/respond/1") == []
        handler.gate.set()
        client.portal.call(s.adapter.drain)
    assert len(env.calls_to("/respond/1")) == 1


def test_bound_traffic_is_in_the_inbox_when_slack_gets_its_ack(slack: Slack) -> None:
    _bind("C0CUST", "杭州甲乙贸易")
    assert slack.event(msg_event("我们仓库库存周转太慢"), drain=False).status_code == 200
    assert [r.message_id for r in _inbox()] == [f"C0CUST:{TS}"]


# --- Socket Mode -----------------------------------------------------------------------------------------


def test_socket_mode_serves_the_same_listeners(env: FakeServer) -> None:
    """A local websocket server plays Slack's Socket Mode endpoint (as bolt's own tests do): hello, then a
    slash-command envelope; the app acks the envelope id and answers through the response_url."""
    from aiohttp import WSMsgType, web

    from config.settings import get_settings
    from integrations.slack.app import SlackAdapter

    received: list[dict[str, Any]] = []

    async def scenario() -> None:
        async def ws_handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
            envelope = {
                "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "token": "legacy",
                    "team_id": "T0TEAM",
                    "channel_id": "C0SALES",
                    "user_id": "UZHOU",
                    "command": "/lk",
                    "text": "help",
                    "api_app_id": "A0APP",
                    "response_url": env.url + "/respond/1",
                    "trigger_id": "1.2.3",
                },
            }
            await ws.send_str(json.dumps(envelope))
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    received.append(json.loads(frame.data))
            return ws

        web_app = web.Application()
        web_app.router.add_get("/link", ws_handler)
        runner = web.AppRunner(web_app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        env.route(
            "POST", "/api/apps.connections.open", body={"ok": True, "url": f"ws://127.0.0.1:{port}/link"}
        )
        adapter = SlackAdapter(get_settings().slack, BotHandler(enqueue=None))
        handler = adapter.socket_mode("xapp-1-A0APP-1234-abcdef")
        await handler.connect_async()
        try:
            for _ in range(200):
                if received and env.calls_to("/respond/1"):
                    break
                await asyncio.sleep(0.05)
            await adapter.drain()
        finally:
            await handler.close_async()
            await runner.cleanup()

    asyncio.run(scenario())
    assert received and received[0]["envelope_id"] == "57d6a792-4d35-4d0b-b6aa-3361493e1caf"
    opened = env.calls_to("/api/apps.connections.open")
    assert len(opened) == 1 and opened[0].headers["authorization"] == "Bearer xapp-1-A0APP-1234-abcdef"
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1 and "capture" in answers[0].json["text"]


def test_socket_mode_process_idles_without_an_app_token() -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKEEPER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.slack_socket"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3)
        assert proc.poll() is None  # still running, idle
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Socket Mode idle" in err
    assert "slack-socket:" in (REPO / "Procfile").read_text()


# --- real captured payloads (shared fixtures, re-signed) -----------------------------------------------


def test_captured_payloads_from_real_workspaces(slack: Slack, env: FakeServer, shared: Path) -> None:
    """Events captured from real workspaces (fixtures/README.md): a person's message in a bound channel is
    stored, a bot's thread reply and an edit are not."""
    events = shared / "fixtures" / "slack" / "events"
    normal = json.loads((events / "zulip_event_callback_message_normal_text.json").read_text())
    bot_reply = json.loads((events / "opsdroid_event_callback_bot_message_in_thread.json").read_text())
    edited = json.loads((events / "opsdroid_event_callback_message_changed.json").read_text())
    _bind(normal["event"]["channel"], "杭州甲乙贸易")
    _bind(edited["event"]["channel"], "宁波丙丁电子")
    for body in (
        normal,
        edited,
        bot_reply if "event" in bot_reply else {"type": "event_callback", "event": bot_reply},
    ):
        assert slack.post(json.dumps(body), "application/json").status_code == 200
    rows = _inbox()
    ev = normal["event"]
    assert [(r.message_id, r.text) for r in rows] == [(f"{ev['channel']}:{ev['ts']}", ev["text"])]


def test_captured_message_action_opens_the_modal(slack: Slack, env: FakeServer, shared: Path) -> None:
    raw = (shared / "fixtures" / "slack" / "interactivity" / "opsdroid_message_action.urlencoded").read_text()
    payload = json.loads(parse_qs(raw)["payload"][0])
    payload["callback_id"] = "capture_to_customer"  # the shortcut as our manifest names it
    assert slack.interaction(payload).status_code == 200
    assert [c.path for c in env.calls] == ["/api/views.open", "/api/views.update"]
    assert _args(env.calls[0])["trigger_id"] == payload["trigger_id"]


# --- replays of interactions and failure paths -------------------------------------------------------


def test_replayed_slash_command_is_answered_once(slack: Slack, env: FakeServer) -> None:
    slack.command("help")
    slack.command("help")  # the same signed request again (same trigger id)
    assert len(env.calls_to("/respond/1")) == 1


def test_replayed_slash_command_reaching_another_process_is_answered_once(
    slack: Slack, env: FakeServer
) -> None:
    slack.command("help")
    slack.adapter.recent = RecentKeys()  # the retry lands on another web process: its memory is empty
    slack.command("help")
    assert len(env.calls_to("/respond/1")) == 1


def test_replayed_button_press_has_one_effect(slack: Slack, env: FakeServer) -> None:
    alert_id = _alert_for("小周")
    payload = {
        "type": "block_actions",
        "user": {"id": "UZHOU", "username": "zhou", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "9.1", "channel_id": "D0DM", "is_ephemeral": False},
        "trigger_id": "7.8.9",
        "team": {"id": "T0TEAM", "domain": "example"},
        "channel": {"id": "D0DM", "name": "directmessage"},
        "response_url": slack.respond_url,
        "actions": [
            {
                "action_id": "lk:ack:0",
                "block_id": "b1",
                "value": f"alert:{alert_id}:ack",
                "type": "button",
                "action_ts": "1764122700.1",
            }
        ],
    }
    slack.interaction(payload)
    slack.interaction(payload)
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1 and "Acknowledged" in answers[0].json["text"]
    slack.adapter.recent = RecentKeys()  # a retry on another web process (empty memory): still one effect
    slack.interaction(payload)
    assert len(env.calls_to("/respond/1")) == 1


def test_reaction_where_the_bot_cannot_read_tells_the_rep(slack: Slack, env: FakeServer) -> None:
    env.route("GET", "/api/conversations.history", body={"ok": False, "error": "not_in_channel"})
    slack.event(_reaction(channel="C0PRIVATE"))
    assert _inbox() == []
    dm = env.calls_to("/api/chat.postMessage")
    assert len(dm) == 1 and _args(dm[0])["channel"] == "UZHOU" and "Cannot read" in _text(dm[0])


def test_expired_trigger_tells_the_rep_through_the_response_url(slack: Slack, env: FakeServer) -> None:
    env.route("POST", "/api/views.open", body={"ok": False, "error": "expired_trigger_id"})
    slack.interaction(_shortcut() | {"response_url": slack.respond_url})
    answers = env.calls_to("/respond/1")
    assert len(answers) == 1 and answers[0].json["response_type"] == "ephemeral"
    assert env.calls_to("/api/views.update") == [] and _inbox() == []


def test_configured_command_name(env: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__COMMAND", "ask")  # without the slash
    from config.settings import reset_settings

    reset_settings()
    with TestClient(create_app(BotHandler(enqueue=None))) as client:
        s = Slack(client)
        form = {
            "command": "/ask",
            "text": "help",
            "user_id": "UZHOU",
            "channel_id": "C0SALES",
            "response_url": env.url + "/respond/1",
            "trigger_id": "5.5.5",
        }
        assert s.post(urlencode(form), "application/x-www-form-urlencoded").status_code == 200
    assert len(env.calls_to("/respond/1")) == 1


# --- hostile input (reliability.md B2, B13, S7) -----------------------------------------------------------


def test_future_timestamp_and_unsigned_handshake_are_401(slack: Slack) -> None:
    _bind("C0CUST", "杭州甲乙贸易")
    assert slack.event(msg_event("甲乙库存周转太慢"), ts=int(time.time()) + 301).status_code == 401
    handshake = json.dumps({"token": "legacy", "challenge": "abc", "type": "url_verification"})
    resp = slack.client.post("/slack/events", content=handshake, headers={"Content-Type": "application/json"})
    assert resp.status_code == 401 and "abc" not in resp.text
    assert _inbox() == []


@pytest.mark.parametrize(
    "template",
    [
        "https://hooks.slack.com.evil.test/x",
        "https://hooks.slack.com@127.0.0.1:{port}/",
        "http://127.0.0.1:{port}/respond/1",
        "http://hooks.slack.com/commands/1",
        "https://hooks.slack.com:{port}/x",
    ],
)
def test_forged_response_url_is_never_called(slack: Slack, env: FakeServer, template: str) -> None:
    with FakeServer() as canary:
        canary.route("POST", "/respond/1", body="")
        canary.route("POST", "/", body="")
        url = template.format(port=canary._server.server_address[1])
        slack.command("help", response_url=url)
        assert canary.calls == []
    # the answer still reaches the member, privately: the app's direct message
    dm = env.calls_to("/api/chat.postMessage")
    assert len(dm) == 1 and _args(dm[0])["channel"] == "UZHOU"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/commands/T0/1/abc", True),
        ("https://hooks.slack.com:443/actions/T0/1/abc", True),
        ("https://hooks.slack.com.evil.test/x", False),
        ("https://evil.test/hooks.slack.com/", False),
        ("https://user@hooks.slack.com/x", False),
        ("http://hooks.slack.com/x", False),
        ("http://127.0.0.1:8999/respond", True),  # the configured API origin below
        ("http://127.0.0.1:9000/respond", False),
        ("http://[::1", False),
    ],
)
def test_response_url_allow_list(url: str, ok: bool) -> None:
    from integrations.slack.payloads import is_slack_response_url

    assert is_slack_response_url(url, "http://127.0.0.1:8999/api/") is ok


@pytest.mark.redis
def test_slack_posts_from_two_workers_share_the_channel_limit_in_redis(
    slack: Slack, env: FakeServer, redis_url: str
) -> None:
    """The same channel pacing with the Redis limiter the workers share when Redis is configured."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from bot import delivery, notifiers, ratelimit

    notifiers.reset()
    channel = "UCHEN"
    _slack_notices([("r1", "小陈"), ("r2", "小陈")])
    t0 = datetime.now(UTC).replace(microsecond=0)  # Lua keeps 14 significant digits
    try:
        prefix = f"lk-test:{uuid.uuid4().hex}:"
        ratelimit._limiter = ratelimit.RedisRateLimiter(redis_url, prefix=prefix)
        delivery.deliver_pending(now=t0)
        ratelimit._limiter = ratelimit.RedisRateLimiter(redis_url, prefix=prefix)
        delivery.deliver_pending(now=t0)  # another "worker" with its own connection
        assert _posted_channels(env) == [channel]
        delivery.deliver_pending(now=t0 + timedelta(seconds=1))
        assert _posted_channels(env) == [channel, channel]
    finally:
        notifiers.reset()
        ratelimit.reset_limiter()


def test_unsubscribed_events_and_rate_limit_notices_get_200(slack: Slack, env: FakeServer) -> None:
    notice = {
        "token": "legacy",
        "type": "app_rate_limited",
        "team_id": "T0TEAM",
        "minute_rate_limited": 1518467820,
    }
    assert slack.post(json.dumps(notice), "application/json").status_code == 200
    removed = _reaction() | {"type": "reaction_removed"}
    assert slack.event(removed).status_code == 200
    assert env.calls == [] and _inbox() == []


@pytest.mark.parametrize(
    ("body", "content_type", "stamp"),
    [
        ("{oops", "application/json", None),
        ("payload=%7B", "application/x-www-form-urlencoded", None),
        (json.dumps({"type": "x"}), "application/json", "abc"),
        (json.dumps({"type": "x"}), "application/json", "-5"),
    ],
)
def test_unsigned_junk_and_non_numeric_timestamp_are_401(
    slack: Slack, body: str, content_type: str, stamp: str | None
) -> None:
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp or str(int(time.time())),
        "X-Slack-Signature": "v0=00",
    }
    assert slack.client.post("/slack/events", content=body, headers=headers).status_code == 401


def test_a_refused_request_never_logs_its_body(slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps(
        {"type": "event_callback", "event": {"type": "message", "text": "客户手机 13800138000"}}
    )
    caplog.set_level("INFO")
    for name in ("slack_bolt", "slack_bolt.RequestVerification", "slack_bolt.AsyncApp"):
        caplog.set_level("INFO", logger=name)
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=1",
    }
    assert slack.client.post("/slack/events", content=body, headers=headers).status_code == 401
    assert not [r for r in caplog.records if r.levelno > 10 and "13800138000" in r.getMessage()]


def test_a_signed_body_over_one_mib_is_refused_and_not_stored(slack: Slack) -> None:
    _bind("C0CUST", "杭州甲乙贸易")
    resp = slack.event(msg_event("甲乙库存周转太慢" + "x" * (1 << 20)))
    assert resp.status_code == 413
    assert _inbox() == []


def test_shortcut_on_a_long_message_keeps_the_metadata_under_slacks_limit_and_refetches(
    slack: Slack, env: FakeServer
) -> None:
    """Slack refuses a view whose private_metadata is over 3,000 characters (views.open reference): the
    text is left out and fetched again when the rep saves."""
    long_text = ("甲乙说库存周转太慢，账期也太短。" * 300)[:2990]
    payload = _shortcut() | {"response_url": slack.respond_url}
    payload["message"] = {**payload["message"], "text": long_text}
    HISTORY[("C0CUST", TS)] = {"type": "message", "user": "UCUSTOMER", "text": long_text, "ts": TS}
    slack.interaction(payload)
    opened = _args(env.calls_to("/api/views.open")[0])["view"]
    assert len(opened["private_metadata"]) <= 3000
    view = _args(env.calls_to("/api/views.update")[0])["view"]
    assert len(view["private_metadata"]) <= 3000
    assert slack.interaction(_submission(view, "甲乙")).status_code == 200
    rows = _inbox()
    assert [(r.customer_hint, r.quoted_text) for r in rows] == [("杭州甲乙贸易", long_text)]
    assert env.calls_to("/api/conversations.history")


def test_reaction_without_a_channel_is_acknowledged_and_ignored(slack: Slack, env: FakeServer) -> None:
    event = _reaction()
    event["item"] = {"type": "message", "ts": TS}  # no channel (as on items Slack does not place in one)
    assert slack.event(event).status_code == 200
    assert _inbox() == [] and env.calls == []
