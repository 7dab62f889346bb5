"""Shared pieces of the DingTalk adapter tests: the shared fixtures folder, a fake API server with
DingTalk's routes, a seeded database and an adapter wired to the real BotHandler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.handler import BotHandler
from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, CommandInvocation, Reply
from integrations.dingtalk.adapter import DingTalkAdapter
from integrations.dingtalk.client import DingTalkClient
from integrations.dingtalk.links import ActionLinks
from tests.conftest import shared_dir
from tests.fakeserver import FakeServer
from tests.helpers import seed

APP_KEY = "dingtestappkey0001"
APP_SECRET = "test-app-secret-Vq3xZ"
PUBLIC_URL = "https://lk.example.com"
# 2026-11-23 09:00 +08:00, a working Monday
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def fixture(*parts: str) -> Any:
    """A file of ../shared/fixtures/dingtalk (parsed JSON), or skip when the shared folder is absent."""
    base = shared_dir()
    if base is None or not (base / "fixtures" / "dingtalk").is_dir():
        pytest.skip("../shared/fixtures/dingtalk is absent: set LOOPKEEPER_SHARED_DIR to run this test")
    return json.loads(Path(base, "fixtures", "dingtalk", *parts).read_text(encoding="utf-8"))


class RecordingHandler:
    """An InboundHandler that records what the adapter hands over."""

    def __init__(self, fail_approvals: int = 0) -> None:
        self.messages: list[ChatMessage] = []
        self.approvals: list[ApprovalEvent] = []
        self.actions: list[ActionInvocation] = []
        self.fail_approvals = fail_approvals

    def on_message(self, msg: ChatMessage) -> Reply | None:
        self.messages.append(msg)
        return Reply(title="ok", private=True)

    def on_command(self, inv: CommandInvocation) -> Reply:
        return Reply(title="ok")

    def on_action(self, action: ActionInvocation) -> Reply | None:
        self.actions.append(action)
        return Reply(title="done", private=True)

    def on_approval(self, event: ApprovalEvent) -> None:
        if self.fail_approvals > 0:
            self.fail_approvals -= 1
            raise RuntimeError("handler down")
        self.approvals.append(event)


def dingtalk_routes(srv: FakeServer) -> None:
    srv.route("POST", "/v1.0/oauth2/accessToken", body={"accessToken": "tok-1", "expireIn": 7200})
    srv.route("POST", "/v1.0/robot/oToMessages/batchSend", body={"processQueryKey": "q1"})
    srv.route("POST", "/v1.0/robot/groupMessages/send", body={"processQueryKey": "q2"})
    srv.route("POST", "/robot/sendBySession", body={"errcode": 0, "errmsg": "ok"})
    srv.route("POST", "/robot/send", body={"errcode": 0, "errmsg": "ok"})


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        dingtalk_routes(srv)
        yield srv


def make_adapter(handler: Any, srv: FakeServer, now: datetime = NOW) -> DingTalkAdapter:
    client = DingTalkClient(
        client_id=APP_KEY, client_secret=APP_SECRET, api_url=srv.url, clock=lambda: now.timestamp()
    )
    links = ActionLinks(APP_SECRET, PUBLIC_URL, clock=lambda: now.timestamp())
    return DingTalkAdapter(handler, client, links, clock=lambda: now)


@pytest.fixture
def seeded(db: str, tmp_path: Path) -> None:
    seed(tmp_path)


@pytest.fixture
def bot_adapter(seeded: None, fake: FakeServer) -> DingTalkAdapter:
    return make_adapter(BotHandler(enqueue=None, clock=lambda: NOW), fake)


def robot_payload(
    text: str = "记一下",
    *,
    msg_id: str = "msgA1==",
    sender: str = "dt-zhou",
    group: bool = True,
    webhook: str | None = None,
    expires_ms: int | None = None,
    extra_text: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A robot message written from the documented field table (platforms.md §2(b))."""
    body: dict[str, Any] = {
        "conversationId": "cidGroupA==" if group else "cidDirectZ==",
        "chatbotCorpId": "dingcorp01",
        "chatbotUserId": "$:LWCP_v1:$bot",
        "msgId": msg_id,
        "senderNick": "小周",
        "isAdmin": False,
        "senderStaffId": sender,
        "sessionWebhookExpiredTime": expires_ms if expires_ms is not None else NOW_MS + 5_400_000,
        "createAt": NOW_MS - 1000,
        "senderCorpId": "dingcorp01",
        "conversationType": "2" if group else "1",
        "senderId": "$:LWCP_v1:$sender",
        "robotCode": APP_KEY,
        "msgtype": "text",
        "text": {"content": text, **(extra_text or {})},
    }
    if group:
        body["conversationTitle"] = "华东销售群"
        body["isInAtList"] = True
        body["atUsers"] = [{"dingtalkId": "$:LWCP_v1:$bot"}]
    if webhook is not None:
        body["sessionWebhook"] = webhook
    body.update(top)
    return body
