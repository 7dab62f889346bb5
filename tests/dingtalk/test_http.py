"""HTTP mode: the robot callback signed per DingTalk's documented formula (computed here with hmac, see
test_signing.py for the cross-check against DingtalkChatbot), the event subscription decrypting
DingTalk's official known-answer vector and answering with an encrypted "success" that wechatpy (an
independent implementation of the same scheme) decrypts, and the action-link endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select
from wechatpy.crypto import PrpCrypto, _get_signature

from core.db import session_scope
from core.messages import Action, Reply
from core.models import InboxMessage
from integrations.common.callback_crypto import CallbackCrypto
from integrations.dingtalk.adapter import DingTalkAdapter
from integrations.dingtalk.links import ActionTokenError
from integrations.dingtalk.routes import make_router
from tests.dingtalk.conftest import (
    APP_KEY,
    APP_SECRET,
    NOW,
    NOW_MS,
    RecordingHandler,
    fixture,
    make_adapter,
    robot_payload,
)
from tests.fakeserver import FakeServer

EVENT_TOKEN = "evtoken123"
EVENT_AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def client_for(
    adapter: DingTalkAdapter, crypto: CallbackCrypto | None = None, now: float | None = None
) -> TestClient:
    app = FastAPI()
    app.include_router(
        make_router(adapter, app_secret=APP_SECRET, crypto=crypto, clock=lambda: now or NOW.timestamp())
    )
    return TestClient(app)


def signed_headers(ts_ms: int = NOW_MS, secret: str = APP_SECRET) -> dict[str, str]:
    sign = base64.b64encode(hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest())
    return {"timestamp": str(ts_ms), "sign": sign.decode(), "content-type": "application/json"}


def _inbox() -> list[InboxMessage]:
    with session_scope() as s:
        return list(s.exec(select(InboxMessage)).all())


# --- robot callback ------------------------------------------------------------


def test_signed_capture_is_stored_and_confirmed(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    payload = robot_payload(
        " 记一下",
        extra_text={"isReplyMsg": True, "repliedMsg": {"msgId": "q1", "content": {"text": "样机什么时候到"}}},
    )
    r = client_for(bot_adapter).post("/dingtalk/robot", content=json.dumps(payload), headers=signed_headers())
    assert (r.status_code, r.json()) == (200, {})
    assert [(x.intent, x.quoted_text) for x in _inbox()] == [("capture", "样机什么时候到")]
    assert [c.json["userIds"] for c in fake.calls_to("/v1.0/robot/oToMessages/batchSend")] == [["dt-zhou"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        signed_headers(secret="another-secret"),
        signed_headers(ts_ms=NOW_MS - 3_601_000),
        signed_headers(ts_ms=NOW_MS + 3_601_000),
        {**signed_headers(), "sign": signed_headers()["sign"][:-2]},
    ],
)
def test_unsigned_or_stale_requests_store_nothing(
    bot_adapter: DingTalkAdapter, fake: FakeServer, headers: dict[str, str]
) -> None:
    r = client_for(bot_adapter).post(
        "/dingtalk/robot", content=json.dumps(robot_payload(" 记一下")), headers=headers
    )
    assert r.status_code == 401
    assert _inbox() == [] and fake.calls == []


def test_duplicate_msgid_over_http_has_one_effect(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    c = client_for(bot_adapter)
    body = json.dumps(robot_payload("甲乙要月结", group=False))
    assert [
        c.post("/dingtalk/robot", content=body, headers=signed_headers()).status_code for _ in range(3)
    ] == [200] * 3
    assert len(_inbox()) == 1
    assert (
        len(fake.calls_to("/robot/sendBySession") + fake.calls_to("/v1.0/robot/oToMessages/batchSend")) == 1
    )


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", json.dumps({"msgtype": "text"}).encode()])
def test_bad_bodies_are_400_after_the_signature(bot_adapter: DingTalkAdapter, body: bytes) -> None:
    assert (
        client_for(bot_adapter).post("/dingtalk/robot", content=body, headers=signed_headers()).status_code
        == 400
    )


# --- event subscription ------------------------------------------------------------


def test_official_known_answer_check_url(fake: FakeServer, db: str) -> None:
    v = fixture("crypto", "callback_crypto_known_answer.json")
    crypto = CallbackCrypto(v["token"], v["encoding_aes_key"], v["owner_key"], window=3600.0)
    ts = int(v["query"]["timestamp"])
    c = client_for(make_adapter(RecordingHandler(), fake), crypto, now=ts / 1000 + 1)
    r = c.post("/dingtalk/events", params=v["query"], json=v["request_body"])
    assert r.status_code == 200
    out = r.json()
    assert set(out) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    # the reply, checked with wechatpy's implementation of the same scheme
    assert out["msg_signature"] == _get_signature(v["token"], out["timeStamp"], out["nonce"], out["encrypt"])
    key = base64.b64decode(v["encoding_aes_key"] + "=")
    assert PrpCrypto(key).decrypt(out["encrypt"], v["owner_key"]) in (b"success", "success")


def _encrypted(event: dict[str, Any], ts: str, nonce: str = "n0nce") -> tuple[dict[str, str], dict[str, str]]:
    key = base64.b64decode(EVENT_AES + "=")
    enc = PrpCrypto(key).encrypt(json.dumps(event), APP_KEY)
    enc = enc.decode() if isinstance(enc, bytes) else enc
    params = {"msg_signature": _get_signature(EVENT_TOKEN, ts, nonce, enc), "timestamp": ts, "nonce": nonce}
    return params, {"encrypt": enc}


def test_approval_push_is_handled_once(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler()
    crypto = CallbackCrypto(EVENT_TOKEN, EVENT_AES, APP_KEY, window=3600.0)
    c = client_for(make_adapter(handler, fake), crypto)
    event = fixture("stream", "opendoc_event_bpms_instance_change_http_push_body.json")
    params, body = _encrypted(event, str(NOW_MS))
    for _ in range(2):  # DingTalk's retry of the same push
        assert c.post("/dingtalk/events", params=params, json=body).status_code == 200
    assert [(e.event_id, e.status, e.instance_id) for e in handler.approvals] == [
        ("c7c7120f2c07419**ebdba0318c8", "approved", "9Qgx5QqjR7axMwxxxx")
    ]


def test_failed_approval_handler_makes_dingtalk_retry(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler(fail_approvals=1)
    c = client_for(
        make_adapter(handler, fake), CallbackCrypto(EVENT_TOKEN, EVENT_AES, APP_KEY, window=3600.0)
    )
    event = {
        "EventType": "bpms_task_change",
        "eventId": "e-task-1",
        "processInstanceId": "P9",
        "taskId": 3,
        "type": "start",
    }
    params, body = _encrypted(event, str(NOW_MS))
    assert c.post("/dingtalk/events", params=params, json=body).status_code == 500
    assert c.post("/dingtalk/events", params=params, json=body).status_code == 200
    assert [e.event_id for e in handler.approvals] == ["e-task-1"]


def test_event_refusals(fake: FakeServer, db: str) -> None:
    adapter = make_adapter(RecordingHandler(), fake)
    c = client_for(adapter, CallbackCrypto(EVENT_TOKEN, EVENT_AES, APP_KEY, window=3600.0))
    params, body = _encrypted({"EventType": "check_url"}, str(NOW_MS))
    assert c.post("/dingtalk/events", params={**params, "nonce": "other"}, json=body).status_code == 401
    stale, sbody = _encrypted({"EventType": "check_url"}, str(NOW_MS - 3_700_000))
    assert c.post("/dingtalk/events", params=stale, json=sbody).status_code == 401
    assert c.post("/dingtalk/events", params=params, content=b"nope").status_code == 400
    for junk in ({"encrypt": 5}, {"encrypt": ["x"]}, {"encrypt": {"a": 1}}, {"encrypt": True}):
        assert c.post("/dingtalk/events", params=params, json=junk).status_code == 400
    assert client_for(adapter, None).post("/dingtalk/events", params=params, json=body).status_code == 503


# --- action links ------------------------------------------------------------


def test_action_link_becomes_an_action_invocation(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler()
    adapter = make_adapter(handler, fake)
    url = adapter.links.url("todo:5:done", "dt-zhou")
    assert url is not None and url.startswith("https://lk.example.com/dingtalk/action?token=")
    r = client_for(adapter).get(url.removeprefix("https://lk.example.com"))
    assert r.status_code == 200 and "done" in r.text
    assert [(a.platform, a.value, a.sender.platform_user_id) for a in handler.actions] == [
        ("dingtalk", "todo:5:done", "dt-zhou")
    ]


def test_tampered_or_expired_action_links_do_nothing(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler()
    adapter = make_adapter(handler, fake)
    token = adapter.links.token("alert:3:ack", "dt-zhou")
    payload, mac = token.split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps({"v": "alert:3:ack", "u": "dt-dir", "e": 4102444800}).encode()
    )
    c = client_for(adapter)
    for bad in (f"{forged.decode().rstrip('=')}.{mac}", f"{payload}.{mac[:-2]}AA", "", "x.y"):
        assert c.get("/dingtalk/action", params={"token": bad}).status_code == 403
    # a week later the link has expired
    adapter.links.clock = lambda: NOW.timestamp() + 8 * 24 * 3600
    assert c.get("/dingtalk/action", params={"token": token}).status_code == 403
    with pytest.raises(ActionTokenError, match="expired"):
        adapter.links.verify(token)
    assert handler.actions == []


def test_reply_buttons_link_to_signed_actions(fake: FakeServer, db: str) -> None:
    adapter = make_adapter(RecordingHandler(), fake)
    from integrations.dingtalk.normalize import robot_message

    msg = robot_message(robot_payload("hi", group=False), received_at=NOW)
    reply = Reply(
        title="T5 已到期",
        body="寄出样品",
        actions=[
            Action(kind="ack", label="完成 Done", value="todo:5:done"),
            Action(kind="undo", label="撤销", value="capture:3:undo"),
        ],
    )
    assert adapter.deliver_reply(msg, reply) == "direct"  # no session webhook in this payload
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert send.json["msgKey"] == "sampleActionCard2"
    param = json.loads(send.json["msgParam"])
    assert (param["actionTitle1"], param["actionTitle2"]) == ("完成 Done", "撤销")
    assert adapter.links.verify(param["actionURL1"].split("token=")[1]) == ("todo:5:done", "dt-zhou")


def test_web_app_mounts_the_dingtalk_routes(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import create_app
    from config.settings import reset_settings

    monkeypatch.setenv("LOOPKEEPER_DINGTALK__CLIENT_ID", APP_KEY)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__CLIENT_SECRET", APP_SECRET)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__MODE", "http")
    reset_settings()
    try:
        c = TestClient(create_app())
        assert c.post("/dingtalk/robot", json=robot_payload("hi")).status_code == 401  # unsigned
        assert (
            c.post(
                "/dingtalk/robot", content=b"{", headers=signed_headers(ts_ms=int(time.time() * 1000))
            ).status_code
            == 400
        )
        assert c.post("/dingtalk/events", json={"encrypt": "x"}).status_code == 503  # no event token/AES key
        assert c.get("/dingtalk/action", params={"token": "x.y"}).status_code == 403
    finally:
        reset_settings()


def test_web_app_without_dingtalk_has_no_dingtalk_routes(db: str) -> None:
    from bot.app import create_app

    assert TestClient(create_app()).post("/dingtalk/robot", json={}).status_code == 404


def test_web_app_hands_dingtalk_messages_to_the_injected_handler(
    db: str, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import create_app
    from config.settings import reset_settings

    monkeypatch.setenv("LOOPKEEPER_DINGTALK__CLIENT_ID", APP_KEY)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__CLIENT_SECRET", APP_SECRET)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__MODE", "http")
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__API_URL", fake.url)
    reset_settings()
    handler = RecordingHandler()
    try:
        c = TestClient(create_app(handler))
        now_ms = int(time.time() * 1000)
        payload = robot_payload(
            "甲乙要月结", group=False, createAt=now_ms, sessionWebhookExpiredTime=now_ms + 60_000
        )
        r = c.post("/dingtalk/robot", content=json.dumps(payload), headers=signed_headers(ts_ms=now_ms))
        assert r.status_code == 200
        assert [m.text for m in handler.messages] == ["甲乙要月结"]
    finally:
        reset_settings()
