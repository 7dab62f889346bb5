"""`POST /wecom/aibot`: the smart bot's JSON crypto (receive id ""), built with wechatpy's PrpCrypto; a
quote-reply with an @-mention captures the quoted message, and the answer goes privately to the member."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import select
from wechatpy.crypto import PrpCrypto, _get_signature

from core.db import session_scope
from core.models import InboxMessage
from tests.fakeserver import FakeServer
from tests.wecom.conftest import AIBOT_AES, AIBOT_TOKEN, RecordingHandler, delivered, make_client


def _signed(payload: dict, *, receive_id: str = "", nonce: str = "b1") -> tuple[dict[str, str], bytes]:
    import base64

    key = base64.b64decode(AIBOT_AES + "=")
    enc = PrpCrypto(key).encrypt(json.dumps(payload, ensure_ascii=False), receive_id)
    enc = enc.decode() if isinstance(enc, bytes) else enc
    ts = str(int(time.time()))
    params = {"msg_signature": _get_signature(AIBOT_TOKEN, ts, nonce, enc), "timestamp": ts, "nonce": nonce}
    return params, json.dumps({"encrypt": enc}).encode()


def _quote_reply(msgid: str = "CAIQ16HMjQYY") -> dict:
    # the documented group text message with a quote (/document/path/100719)
    return {
        "msgid": msgid,
        "aibotid": "AIBOTID",
        "chatid": "CHAT-team-1",
        "chattype": "group",
        "from": {"userid": "wm-zhou"},
        "response_url": "http://127.0.0.1:9/should-not-be-called",
        "msgtype": "text",
        "text": {"content": "@loopkeeper 记一下 甲乙"},
        "quote": {"msgtype": "text", "text": {"content": "他们说账期太短，下周三下午3点来拜访"}},
    }


def test_quote_reply_is_captured_and_answered_privately(wecom_env: FakeServer) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    params, body = _signed(_quote_reply())
    r = client.post("/wecom/aibot", params=params, content=body)
    assert r.status_code == 200
    with session_scope() as s:
        [row] = s.exec(select(InboxMessage)).all()
    assert (row.intent, row.quoted_text, row.customer_hint) == (
        "capture",
        "他们说账期太短，下周三下午3点来拜访",
        "甲乙",
    )
    assert wecom_env.calls_to("/cgi-bin/message/send") == []  # nothing sent from the web request
    [send] = delivered(wecom_env)  # the outbox delivers it
    assert send.json["touser"] == "wm-zhou"  # private app message, nothing posted into the group


def test_wrong_receive_id_and_replay(wecom_env: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    handler = RecordingHandler()
    client = make_client(handler)
    params, body = _signed(_quote_reply(), receive_id="wwcorp")  # the bot's receive id is ""
    assert client.post("/wecom/aibot", params=params, content=body).status_code == 403
    assert "wecom aibot refused: receive id does not match" in caplog.text
    params, body = _signed(_quote_reply("M2"))
    assert client.post("/wecom/aibot", params=params, content=body).status_code == 200
    params2, body2 = _signed(_quote_reply("M2"), nonce="b2")
    assert client.post("/wecom/aibot", params=params2, content=body2).status_code == 200
    assert [m.message_id for m in handler.messages] == ["aibot:M2"]
    assert "wecom aibot refused: replay (msgid)" in caplog.text


def test_aibot_url_verification(wecom_env: FakeServer) -> None:
    import base64

    key = base64.b64decode(AIBOT_AES + "=")
    enc = PrpCrypto(key).encrypt("echo-123", "")
    enc = enc.decode() if isinstance(enc, bytes) else enc
    ts = str(int(time.time()))
    sig = _get_signature(AIBOT_TOKEN, ts, "x", enc)
    r = make_client(RecordingHandler()).get(
        "/wecom/aibot", params={"msg_signature": sig, "timestamp": ts, "nonce": "x", "echostr": enc}
    )
    assert r.status_code == 200 and r.content == b"echo-123"


def test_html_in_a_bot_message_is_fine(wecom_env: FakeServer) -> None:
    """JSON bodies are never parsed as XML: markup a member pastes is just text."""
    handler = RecordingHandler()
    payload = _quote_reply("M9")
    payload["quote"]["text"]["content"] = '<!DOCTYPE html><p>报价单</p> <!ENTITY x "y">'
    params, body = _signed(payload)
    assert make_client(handler).post("/wecom/aibot", params=params, content=body).status_code == 200
    assert handler.messages[0].quoted_text == '<!DOCTYPE html><p>报价单</p> <!ENTITY x "y">'
