"""WeCom test fixtures: settings pointing the API client at a FakeServer, a seeded database, a recording
handler, and request builders that encrypt with wechatpy (never with our own code)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from wechatpy.enterprise.crypto import WeChatCrypto

from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, CommandInvocation, Reply
from tests.fakeserver import FakeServer
from tests.helpers import seed

CORP = "wwloopkeeper0001"
TOKEN = "lkToken123"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
SECRET = "app-secret-for-tests"
AIBOT_TOKEN = "botToken456"
AIBOT_AES = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


@dataclass
class RecordingHandler:
    """An InboundHandler that records what the adapter hands over."""

    messages: list[ChatMessage] = field(default_factory=list)
    actions: list[ActionInvocation] = field(default_factory=list)
    approvals: list[ApprovalEvent] = field(default_factory=list)
    reply: Reply | None = None

    def on_message(self, msg: ChatMessage) -> Reply | None:
        self.messages.append(msg)
        return self.reply

    def on_command(self, inv: CommandInvocation) -> Reply:
        return Reply(title="cmd")

    def on_action(self, action: ActionInvocation) -> Reply | None:
        self.actions.append(action)
        return Reply(title="done", private=True)

    def on_approval(self, event: ApprovalEvent) -> None:
        self.approvals.append(event)


def standard_routes(srv: FakeServer) -> None:
    srv.route(
        "GET",
        "/cgi-bin/gettoken",
        body={"errcode": 0, "errmsg": "ok", "access_token": "AT1", "expires_in": 7200},
    )
    srv.route(
        "POST", "/cgi-bin/message/send", body={"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m1"}
    )


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        standard_routes(srv)
        yield srv


@pytest.fixture
def wecom_env(db: str, tmp_path: Path, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    from config.settings import reset_settings

    env = {
        "CORP_ID": CORP,
        "AGENT_ID": "1000002",
        "SECRET": SECRET,
        "TOKEN": TOKEN,
        "ENCODING_AES_KEY": AES,
        "AIBOT_TOKEN": AIBOT_TOKEN,
        "AIBOT_AES_KEY": AIBOT_AES,
        "API_URL": fake.url + "/cgi-bin/",
    }
    for k, v in env.items():
        monkeypatch.setenv(f"LOOPKEEPER_WECOM__{k}", v)
    reset_settings()
    seed(tmp_path)
    return fake


def delivered(fake: FakeServer) -> list[Any]:
    """Replies go through the outbox: run one delivery pass (as the beat does) and return the app
    messages the fake WeCom API received."""
    from bot import delivery, notifiers, ratelimit

    notifiers.reset()
    ratelimit.reset_limiter()
    try:
        delivery.deliver_pending()
    finally:
        notifiers.reset()
    return fake.calls_to("/cgi-bin/message/send")


def make_client(handler: Any) -> TestClient:
    from bot.app import create_app

    return TestClient(create_app(handler))


def text_xml(content: str, *, user: str = "wm-zhou", msg_id: str = "7001", created: int | None = None) -> str:
    created = created or int(time.time())
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>1000002</AgentID></xml>"
    )


@dataclass
class Signed:
    params: dict[str, str]
    body: str


def encrypt(
    inner: str, *, corp: str = CORP, token: str = TOKEN, nonce: str = "n1", ts: int | None = None
) -> Signed:
    """An encrypted callback POST exactly as WeCom sends it, built with wechatpy."""
    ts = ts or int(time.time())
    out = WeChatCrypto(token, AES, corp).encrypt_message(inner, nonce, ts)
    root = ET.fromstring(out)
    enc = root.findtext("Encrypt") or ""
    params = {"msg_signature": root.findtext("MsgSignature") or "", "timestamp": str(ts), "nonce": nonce}
    body = (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>"
        f"<Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    )
    return Signed(params, body)
