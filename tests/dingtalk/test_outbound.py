"""Outbound calls, recorded by the fake API server that LOOPKEEPER_DINGTALK__API_URL (and the session
webhooks) point at: access-token caching, session webhook vs OpenAPI, private replies, throttling as
DeliveryError(retry_after), custom group robots (signed URL, ActionCard body as DingtalkChatbot builds it)
and the Notifier wired into the bot's delivery of the outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlmodel import select

from core.db import session_scope
from core.messages import Action, OutboundMessage, Reply
from core.models import Conversation, Customer, Member
from core.notices import DeliveryError, create_notice
from integrations.dingtalk.client import DingTalkClient
from integrations.dingtalk.normalize import robot_message
from integrations.dingtalk.notifier import GroupRobotNotifier
from integrations.dingtalk.render import digest, webhook_body
from integrations.dingtalk.signing import robot_sign
from tests.dingtalk.conftest import (
    APP_KEY,
    APP_SECRET,
    NOW,
    NOW_MS,
    RecordingHandler,
    make_adapter,
    robot_payload,
)
from tests.fakeserver import FakeServer

PUBLIC = Reply(title="本周漏斗 Pipeline", body="- 需求确认 2\n- 方案报价 1")


def _client(fake: FakeServer, clock: list[float]) -> DingTalkClient:
    return DingTalkClient(
        client_id=APP_KEY, client_secret=APP_SECRET, api_url=fake.url, clock=lambda: clock[0]
    )


def test_access_token_is_cached_until_near_expiry(fake: FakeServer) -> None:
    clock = [NOW.timestamp()]
    c = _client(fake, clock)
    for _ in range(3):
        c.send_to_users(["dt-zhou"], "sampleMarkdown", {"title": "t", "text": "x"})
    [tok] = fake.calls_to("/v1.0/oauth2/accessToken")
    assert tok.json == {"appKey": APP_KEY, "appSecret": APP_SECRET}
    clock[0] += 7200 - 299  # inside the 5-minute margin: renewed
    c.send_to_users(["dt-zhou"], "sampleMarkdown", {"title": "t", "text": "x"})
    assert len(fake.calls_to("/v1.0/oauth2/accessToken")) == 2


def test_expired_token_is_renewed_once(fake: FakeServer) -> None:
    answers = iter([(401, {"code": "InvalidAuthentication"}), (200, {"processQueryKey": "q"})])
    fake.route("POST", "/v1.0/robot/groupMessages/send", lambda c: next(answers))
    c = _client(fake, [NOW.timestamp()])
    c.send_group("cidGroupA==", "sampleMarkdown", {"title": "t", "text": "x"})
    assert len(fake.calls_to("/v1.0/oauth2/accessToken")) == 2


@pytest.mark.parametrize(
    ("route", "answer", "permanent", "retry_after"),
    [
        (
            "/v1.0/robot/oToMessages/batchSend",
            (429, {"code": "Throttling"}, {"Retry-After": "7"}),
            False,
            7.0,
        ),
        (
            "/v1.0/robot/oToMessages/batchSend",
            (403, {"code": "Forbidden.AccessDenied.QpsLimitForApi"}),
            False,
            5.0,
        ),
        ("/v1.0/robot/oToMessages/batchSend", (200, {"flowControlledStaffIdList": ["dt-zhou"]}), False, 60.0),
        ("/v1.0/robot/oToMessages/batchSend", (200, {"invalidStaffIdList": ["dt-zhou"]}), True, None),
        ("/v1.0/robot/oToMessages/batchSend", (400, {"code": "invalidParameter"}), True, None),
        ("/v1.0/robot/oToMessages/batchSend", (503, {}), False, None),
    ],
)
def test_openapi_failures(
    fake: FakeServer, route: str, answer: tuple[Any, ...], permanent: bool, retry_after: float | None
) -> None:
    fake.route("POST", route, lambda c: answer)
    with pytest.raises(DeliveryError) as err:
        _client(fake, [NOW.timestamp()]).send_to_users(
            ["dt-zhou"], "sampleMarkdown", {"title": "t", "text": "x"}
        )
    assert (err.value.permanent, err.value.retry_after) == (permanent, retry_after)


@pytest.mark.parametrize(("errcode", "retry_after"), [(130101, 600.0), (90030, 600.0)])
def test_custom_robot_throttled_for_ten_minutes(fake: FakeServer, errcode: int, retry_after: float) -> None:
    fake.route("POST", "/robot/send", body={"errcode": errcode, "errmsg": "send too fast"})
    n = GroupRobotNotifier(
        _client(fake, [NOW.timestamp()]), "https://oapi.dingtalk.com/robot/send?access_token=T1", "SECxyz"
    )
    with pytest.raises(DeliveryError) as err:
        n.send(user_id="", message=PUBLIC, notice_key="k1")
    assert (err.value.permanent, err.value.retry_after) == (False, retry_after)


def test_custom_robot_signed_url_and_action_card(fake: FakeServer) -> None:
    from dingtalkchatbot.chatbot import ActionCard, CardItem

    n = GroupRobotNotifier(
        _client(fake, [NOW.timestamp()]),
        "https://oapi.dingtalk.com/robot/send?access_token=T1",
        "SECxyz",
        "华东",
    )
    msg = OutboundMessage(
        title="A3 逾期",
        body="T5 寄出样品 已逾期 1 个工作日",
        actions=[
            Action(kind="open", label="查看", value="open:5", url="https://crm.example.com/t/5"),
            Action(kind="ack", label="确认", value="alert:3:ack"),  # no member to bind in a group: dropped
        ],
    )
    n.send(user_id="", message=msg, notice_key="k1")
    [call] = fake.calls_to("/robot/send")  # oapi.dingtalk.com rebased onto LOOPKEEPER_DINGTALK__API_URL
    q = {k: v[0] for k, v in call.query.items()}
    assert q["access_token"] == "T1" and q["timestamp"] == str(NOW_MS)
    assert q["sign"] == robot_sign("SECxyz", str(NOW_MS))
    theirs = ActionCard(
        title=msg.title,
        text=call.json["actionCard"]["text"],
        btns=[CardItem("查看", "https://crm.example.com/t/5")],
    ).get_data()
    for key in ("title", "text", "singleTitle", "singleURL"):
        assert call.json["actionCard"][key] == theirs["actionCard"][key]
    assert call.json["msgtype"] == theirs["msgtype"] == "actionCard"
    assert (
        n.destination_key()
        == GroupRobotNotifier(n.client, "https://x/robot/send?access_token=T1", None).destination_key()
    )
    assert "T1" not in n.destination_key()


def test_multi_button_card_matches_dingtalkchatbot() -> None:
    from dingtalkchatbot.chatbot import ActionCard, CardItem

    msg = OutboundMessage(
        title="T",
        body="b",
        actions=[
            Action(kind="open", label=f"b{i}", value=f"v{i}", url=f"https://x.example/{i}") for i in range(3)
        ],
    )
    ours = webhook_body(msg)
    theirs = ActionCard(
        "T", ours["actionCard"]["text"], [CardItem(f"b{i}", f"https://x.example/{i}") for i in range(3)]
    ).get_data()
    assert ours["actionCard"]["btns"] == theirs["actionCard"]["btns"]


def test_digest_fits_the_budget_and_keeps_every_item() -> None:
    notices = [
        OutboundMessage(title=f"A{i} 待办逾期 寄出样品 · 杭州甲乙贸易", body="已逾期 1 个工作日")
        for i in range(150)
    ]
    parts = digest(notices)
    assert 1 < len(parts) < 10
    assert all(len(p.body.encode()) <= 4000 for p in parts)
    assert sum(p.body.count("\n") + 1 for p in parts) == 150


# --- reply routing ------------------------------------------------------------


def _msg(**kw: Any) -> Any:
    return robot_message(robot_payload("hi", **kw), received_at=NOW)


def test_public_reply_goes_through_a_valid_session_webhook(fake: FakeServer, db: str) -> None:
    a = make_adapter(RecordingHandler(), fake)
    assert a.deliver_reply(_msg(webhook=f"{fake.url}/robot/sendBySession?session=s1"), PUBLIC) == "session"
    [call] = fake.calls
    assert call.json == {
        "msgtype": "markdown",
        "markdown": {"title": PUBLIC.title, "text": f"#### {PUBLIC.title}\n\n{PUBLIC.body}"},
    }


def test_expired_session_webhook_falls_back_to_the_group_openapi(fake: FakeServer, db: str) -> None:
    a = make_adapter(RecordingHandler(), fake)
    msg = _msg(webhook=f"{fake.url}/robot/sendBySession?session=s1", expires_ms=NOW_MS + 30_000)
    assert a.deliver_reply(msg, PUBLIC) == "group"
    assert fake.calls_to("/robot/sendBySession") == []
    [send] = fake.calls_to("/v1.0/robot/groupMessages/send")
    assert send.json["openConversationId"] == "cidGroupA==" and send.json["msgKey"] == "sampleMarkdown"


def test_failing_session_webhook_falls_back(fake: FakeServer, db: str) -> None:
    fake.route("POST", "/robot/sendBySession", body={"errcode": 300001, "errmsg": "session invalid"})
    a = make_adapter(RecordingHandler(), fake)
    assert a.deliver_reply(_msg(webhook=f"{fake.url}/robot/sendBySession?session=s1"), PUBLIC) == "group"


@pytest.mark.parametrize(
    "webhook",
    [
        "https://oapi.dingtalk.com.evil.test/robot/sendBySession?session=s",
        "https://oapi.dingtalk.com@127.0.0.1:9/robot/sendBySession?session=s",
        "http://oapi.dingtalk.com/robot/sendBySession?session=s",
        "https://oapi.dingtalk.com/robot/other?session=s",
        "https://127.0.0.1:9/robot/sendBySession?session=s",
    ],
)
def test_foreign_session_webhooks_are_never_called(fake: FakeServer, db: str, webhook: str) -> None:
    a = make_adapter(RecordingHandler(), fake)
    assert a.client.session_webhook_url(webhook) is None
    assert a.deliver_reply(_msg(webhook=webhook), PUBLIC) == "group"
    assert {c.path for c in fake.calls} == {"/v1.0/oauth2/accessToken", "/v1.0/robot/groupMessages/send"}


def test_dingtalk_session_webhook_is_rebased_onto_the_api_url(fake: FakeServer, db: str) -> None:
    a = make_adapter(RecordingHandler(), fake)
    assert (
        a.deliver_reply(_msg(webhook="https://oapi.dingtalk.com/robot/sendBySession?session=real"), PUBLIC)
        == "session"
    )
    assert fake.calls[0].path == "/robot/sendBySession" and fake.calls[0].query == {"session": ["real"]}


def test_group_with_customers_gets_no_public_reply(fake: FakeServer, db: str) -> None:
    a = make_adapter(RecordingHandler(), fake)
    webhook = f"{fake.url}/robot/sendBySession?session=s1"
    assert a.deliver_reply(_msg(webhook=webhook, senderCorpId="dingCUSTOMER"), PUBLIC) == "direct"
    # a group bound to a customer counts as a customer group too
    with session_scope() as s:
        cust = Customer(name="杭州甲乙贸易")
        s.add(cust)
        s.flush()
        s.add(Conversation(platform="dingtalk", conversation_id="cidGroupA==", customer_id=cust.id))
    assert a.deliver_reply(_msg(webhook=webhook), PUBLIC) == "direct"
    assert fake.calls_to("/robot/sendBySession") == []
    assert [c.json["userIds"] for c in fake.calls_to("/v1.0/robot/oToMessages/batchSend")] == [
        ["dt-zhou"]
    ] * 2


# --- the notifier in the bot's delivery ------------------------------------------------------------


def test_outbox_notice_is_delivered_through_the_dingtalk_notifier(
    fake: FakeServer, seeded: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot import delivery, notifiers
    from config.settings import reset_settings

    monkeypatch.setenv("LOOPKEEPER_DINGTALK__CLIENT_ID", APP_KEY)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__CLIENT_SECRET", APP_SECRET)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__API_URL", fake.url)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__PUBLIC_URL", "https://lk.example.com")
    monkeypatch.setenv(
        "LOOPKEEPER_ALERT_CHANNELS",
        json.dumps(
            [
                {
                    "platform": "dingtalk",
                    "team": "华东",
                    "webhook": "https://oapi.dingtalk.com/robot/send?access_token=T9",
                    "secret": "SECabc",
                }
            ]
        ),
    )
    reset_settings()
    notifiers.reset()
    try:
        with session_scope() as s:
            zhou = s.exec(select(Member).where(Member.name == "小周")).one()
            msg = OutboundMessage(
                title="T5 寄出样品 今天到期",
                body="杭州甲乙贸易",
                actions=[Action(kind="ack", label="完成", value="todo:5:done")],
            )
            notice_id = create_notice(
                s, key="todo:5:due", recipient_id=zhou.id, kind="alert", message=msg, platform="dingtalk"
            )
        assert notice_id is not None
        assert delivery.deliver(notice_id) == "sent"
        [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
        assert send.json["userIds"] == ["dt-zhou"] and send.json["msgKey"] == "sampleActionCard"
        url = json.loads(send.json["msgParam"])["singleURL"]
        token = parse_qs(url.split("?", 1)[1])["token"][0]
        member = notifiers.notifier_for("dingtalk")
        assert member.links.verify(token)[0] == "todo:5:done"  # type: ignore[attr-defined]
        assert member.destination_key("dt-zhou") == f"dingtalk:robot:{APP_KEY}"  # type: ignore[attr-defined]
        [channel] = notifiers.channels_for("dingtalk", "华东")
        channel.send(user_id="", message=msg, notice_key="digest-1")
        assert len(fake.calls_to("/robot/send")) == 1
    finally:
        notifiers.reset()
        reset_settings()
