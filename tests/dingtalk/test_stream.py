"""Stream mode through the SDK's own parsing, routing and ack code: frames go to
`DingTalkStreamClient.route_message` and the acks are read off a fake websocket (platforms.md §2(a)
"Testing a handler offline"). Expected acks are DingTalk's documented examples."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
import websockets
from sqlmodel import select

from core.db import session_scope
from core.models import InboxMessage
from integrations.dingtalk.adapter import DingTalkAdapter
from integrations.dingtalk.stream import StreamClient
from tests.dingtalk.conftest import (
    APP_KEY,
    APP_SECRET,
    NOW_MS,
    RecordingHandler,
    fixture,
    make_adapter,
    robot_payload,
)
from tests.fakeserver import FakeServer


class FakeWS:
    """A websocket as the stream client uses it: frames in through `recv`, acks out through `send`."""

    def __init__(self, answer_pings: bool = True) -> None:
        self.sent: list[dict[str, Any]] = []
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()
        self.answer_pings = answer_pings
        self.closed = False

    async def send(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def recv(self) -> str:
        item = await self.frames.get()
        if item is None:
            raise websockets.ConnectionClosed(None, None)
        return item

    async def ping(self) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.answer_pings:
            fut.set_result(0.001)
        return fut

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeWS:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True


def make_client(adapter: DingTalkAdapter, fake: FakeServer, **kw: Any) -> StreamClient:
    return StreamClient(
        adapter, client_id=APP_KEY, client_secret=APP_SECRET, api_url=fake.url, start_jitter=0, **kw
    )


def callback_frame(payload: dict[str, Any], message_id: str = "stream-m-1") -> dict[str, Any]:
    return {
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {
            "appId": "app-1",
            "contentType": "application/json",
            "messageId": message_id,
            "time": str(NOW_MS),
            "topic": "/v1.0/im/bot/messages/get",
        },
        "data": json.dumps(payload, ensure_ascii=False),
    }


def event_frame(event_type: str, data: dict[str, Any], event_id: str, message_id: str) -> dict[str, Any]:
    return {
        "specVersion": "1.0",
        "type": "EVENT",
        "headers": {
            "topic": "dingTalk",
            "messageId": message_id,
            "contentType": "application/json",
            "time": str(NOW_MS),
            "eventType": event_type,
            "eventId": event_id,
            "eventCorpId": "dingcorp01",
            "eventBornTime": str(NOW_MS),
            "eventUnifiedAppId": "app-1",
        },
        "data": json.dumps(data),
    }


async def _route(client: StreamClient, *frames: dict[str, Any]) -> FakeWS:
    ws = FakeWS()
    client.websocket = ws
    for f in frames:
        await client.route_message(f)
    await client.drain()
    return ws


def _inbox() -> list[InboxMessage]:
    with session_scope() as s:
        return list(s.exec(select(InboxMessage)).all())


def _data(ack: dict[str, Any]) -> Any:
    return json.loads(ack["data"])


# --- robot messages ------------------------------------------------------------


def test_documented_frame_gets_the_documented_ack(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    frame = fixture("stream", "developerpedia_frame_callback_bot_message_group.json")
    expected = fixture("stream", "developerpedia_ack_callback_bot_message.json")
    ws = asyncio.run(_route(make_client(bot_adapter, fake), frame))
    assert len(ws.sent) == 1
    ack = ws.sent[0]
    assert (ack["code"], ack["headers"]["messageId"], _data(ack)) == (
        expected["code"],
        frame["headers"]["messageId"],
        json.loads(expected["data"]),
    )
    # the sender is no member: nothing stored, and the refusal went to them privately, not to the group
    assert _inbox() == []
    sends = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert [c.json["userIds"] for c in sends] == [["16650***698"]]
    assert fake.calls_to("/robot/sendBySession") == []


def test_quote_reply_capture_is_stored_then_confirmed_privately(
    bot_adapter: DingTalkAdapter, fake: FakeServer
) -> None:
    webhook = f"{fake.url}/robot/sendBySession?session=s1"
    payload = robot_payload(
        " 记一下 甲乙",
        webhook=webhook,
        extra_text={"isReplyMsg": True, "repliedMsg": {"msgId": "q1", "content": {"text": "账期太短"}}},
    )
    ws = asyncio.run(_route(make_client(bot_adapter, fake), callback_frame(payload)))
    assert [a["code"] for a in ws.sent] == [200]
    rows = _inbox()
    assert [(r.intent, r.quoted_text, r.customer_hint, r.sender_id) for r in rows] == [
        ("capture", "账期太短", "甲乙", "dt-zhou")
    ]
    # a group: the confirmation goes 1:1 to the rep, never into the group (not even via the session webhook)
    assert fake.calls_to("/robot/sendBySession") == []
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert send.json["userIds"] == ["dt-zhou"] and send.json["robotCode"] == APP_KEY
    assert send.headers["x-acs-dingtalk-access-token"] == "tok-1"
    assert "Capturing" in json.loads(send.json["msgParam"])["title"]


def test_direct_message_is_captured_and_answered_in_the_chat(
    bot_adapter: DingTalkAdapter, fake: FakeServer
) -> None:
    webhook = f"{fake.url}/robot/sendBySession?session=s2"
    payload = robot_payload("甲乙说账期太短，要月结", group=False, webhook=webhook)
    asyncio.run(_route(make_client(bot_adapter, fake), callback_frame(payload)))
    assert [(r.intent, r.text) for r in _inbox()] == [("capture", "甲乙说账期太短，要月结")]
    [reply] = fake.calls_to("/robot/sendBySession")
    assert reply.query == {"session": ["s2"]} and reply.json["msgtype"] in ("markdown", "actionCard")


def test_voice_message_to_the_bot_is_captured(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    payload = robot_payload(
        group=False,
        msgtype="audio",
        content={"downloadCode": "d1", "recognition": "记一下 丙丁 样机下周寄两台"},
    )
    del payload["text"]
    asyncio.run(_route(make_client(bot_adapter, fake), callback_frame(payload)))
    assert [(r.intent, r.text, r.customer_hint) for r in _inbox()] == [
        ("capture", "记一下 丙丁 样机下周寄两台", "丙丁")
    ]


def test_group_command_is_answered_privately(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    webhook = f"{fake.url}/robot/sendBySession?session=s3"
    asyncio.run(
        _route(make_client(bot_adapter, fake), callback_frame(robot_payload(" 帮助", webhook=webhook)))
    )
    assert _inbox() == []
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert "commands" in json.loads(send.json["msgParam"])["title"]


def test_same_msgid_twice_has_one_effect(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    payload = robot_payload(" 帮助")
    ws = asyncio.run(
        _route(make_client(bot_adapter, fake), callback_frame(payload, "m-1"), callback_frame(payload, "m-2"))
    )
    assert [a["code"] for a in ws.sent] == [200, 200]  # both frames acknowledged
    assert len(fake.calls_to("/v1.0/robot/oToMessages/batchSend")) == 1


def test_quote_with_only_an_id_asks_to_paste(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    payload = robot_payload(" 记一下", extra_text={"isReplyMsg": True}, originalMsgId="orig-1")
    asyncio.run(_route(make_client(bot_adapter, fake), callback_frame(payload)))
    assert _inbox() == []
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert "paste" in json.loads(send.json["msgParam"])["title"].lower()


def test_handler_runs_off_the_event_loop(fake: FakeServer, db: str) -> None:
    """While one message's handler is busy (in its thread), pings are still answered."""
    release = threading.Event()

    class Slow(RecordingHandler):
        def on_message(self, msg: Any) -> Any:
            release.wait(5)
            return None

    client = make_client(make_adapter(Slow(), fake), fake)
    ping = fixture("stream", "developerpedia_frame_system_ping.json")

    async def go() -> FakeWS:
        ws = FakeWS()
        client.websocket = ws
        client.spawn(client.route_message(callback_frame(robot_payload(" hi"))))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await client.route_message(ping)
        assert time.monotonic() - t0 < 0.5
        assert [a["headers"]["messageId"] for a in ws.sent] == [ping["headers"]["messageId"]]
        release.set()
        await client.drain()
        return ws

    ws = asyncio.run(go())
    assert len(ws.sent) == 2 and ws.sent[1]["code"] == 200


# --- events ------------------------------------------------------------


def _approval_data() -> dict[str, Any]:
    return fixture("stream", "opendoc_event_bpms_instance_change_stream_body.json")["data"]


def test_event_ack_is_the_documented_success(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler()
    frame = event_frame("bpms_instance_change", _approval_data(), "ev-1", "m-1")
    expected = fixture("stream", "developerpedia_ack_event_success.json")
    ws = asyncio.run(_route(make_client(make_adapter(handler, fake), fake), frame))
    [ack] = ws.sent
    assert ack["code"] == expected["code"] == 200
    assert _data(ack) == json.loads(expected["data"]) == {"status": "SUCCESS", "message": "success"}
    assert [(e.event_id, e.status, e.instance_id) for e in handler.approvals] == [
        ("ev-1", "approved", "9Qgx5QqjR7axMwxxxx")
    ]


def test_redelivered_event_has_one_effect(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler()
    data = _approval_data()
    ws = asyncio.run(
        _route(
            make_client(make_adapter(handler, fake), fake),
            event_frame("bpms_instance_change", data, "ev-1", "m-1"),
            event_frame("bpms_instance_change", data, "ev-1", "m-2"),  # redelivery: same eventId
            event_frame("bpms_instance_change", data, "ev-9", "m-3"),  # new eventId, same instance change
        )
    )
    assert [_data(a)["status"] for a in ws.sent] == ["SUCCESS"] * 3
    assert len(handler.approvals) == 1


def test_failed_event_is_acked_later_and_processed_on_redelivery(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler(fail_approvals=1)
    data = _approval_data()
    ws = asyncio.run(
        _route(
            make_client(make_adapter(handler, fake), fake),
            event_frame("bpms_instance_change", data, "ev-1", "m-1"),
            event_frame("bpms_instance_change", data, "ev-1", "m-2"),
        )
    )
    assert [_data(a)["status"] for a in ws.sent] == ["LATER", "SUCCESS"]
    assert len(handler.approvals) == 1


def test_other_events_are_acknowledged_and_ignored(fake: FakeServer, db: str) -> None:
    handler = RecordingHandler()
    frame = fixture("stream", "developerpedia_frame_event_user_add_org.json")
    ws = asyncio.run(_route(make_client(make_adapter(handler, fake), fake), frame))
    assert _data(ws.sent[0])["status"] == "SUCCESS" and handler.approvals == []


def test_ping_echoed_and_disconnect_not_answered(fake: FakeServer, db: str) -> None:
    client = make_client(make_adapter(RecordingHandler(), fake), fake)
    ping = fixture("stream", "developerpedia_frame_system_ping.json")
    expected = fixture("stream", "developerpedia_ack_system_ping.json")
    ws = asyncio.run(_route(client, ping, fixture("stream", "developerpedia_frame_system_disconnect.json")))
    assert len(ws.sent) == 1 and _data(ws.sent[0]) == json.loads(expected["data"])
    assert client._reconnect.is_set()


# --- connection management ------------------------------------------------------------


def _open_route(fake: FakeServer) -> None:
    n = {"i": 0}

    def opened(call: Any) -> tuple[int, dict[str, str]]:
        n["i"] += 1
        return 200, {"endpoint": "wss://stream.invalid/connect", "ticket": f"t-{n['i']}"}

    fake.route("POST", "/v1.0/gateway/connections/open", opened)


def test_watchdog_replaces_a_silent_connection(fake: FakeServer, db: str) -> None:
    _open_route(fake)
    sockets: list[FakeWS] = []
    uris: list[str] = []

    def connect(uri: str) -> FakeWS:
        uris.append(uri)
        sockets.append(FakeWS(answer_pings=False))  # half-open: no frames, pings unanswered
        return sockets[-1]

    client = make_client(
        make_adapter(RecordingHandler(), fake), fake, idle_timeout=0.3, ping_interval=0.1, connect=connect
    )

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if client.connections >= 2:
                break
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert client.connections >= 2 and uris[:2] == [
        "wss://stream.invalid/connect?ticket=t-1",
        "wss://stream.invalid/connect?ticket=t-2",
    ]
    opened = fake.calls_to("/v1.0/gateway/connections/open")
    assert opened[0].json["clientId"] == APP_KEY
    assert {"type": "EVENT", "topic": "*"} in opened[0].json["subscriptions"]
    assert {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"} in opened[0].json["subscriptions"]
    assert {"type": "CALLBACK", "topic": "/v1.0/card/instances/callback"} in opened[0].json["subscriptions"]


def test_live_connection_with_pongs_is_kept(fake: FakeServer, db: str) -> None:
    _open_route(fake)
    client = make_client(
        make_adapter(RecordingHandler(), fake),
        fake,
        idle_timeout=0.3,
        ping_interval=0.05,
        connect=lambda uri: FakeWS(),
    )

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert client.connections == 1


def test_stop_acknowledges_in_flight_frames_first(fake: FakeServer, db: str) -> None:
    _open_route(fake)
    handler = RecordingHandler()
    ws = FakeWS()
    client = make_client(make_adapter(handler, fake), fake, connect=lambda uri: ws)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        ws.frames.put_nowait(json.dumps(event_frame("bpms_instance_change", _approval_data(), "ev-5", "m-5")))
        while not ws.sent:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert _data(ws.sent[0])["status"] == "SUCCESS" and len(handler.approvals) == 1


def test_disconnect_frame_opens_a_new_connection(fake: FakeServer, db: str) -> None:
    _open_route(fake)
    sockets: list[FakeWS] = []

    def connect(uri: str) -> FakeWS:
        ws = FakeWS()
        if not sockets:
            ws.frames.put_nowait(json.dumps(fixture("stream", "developerpedia_frame_system_disconnect.json")))
        sockets.append(ws)
        return ws

    client = make_client(make_adapter(RecordingHandler(), fake), fake, connect=connect)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if client.connections >= 2:
                break
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert client.connections >= 2 and sockets[0].sent == []


@pytest.mark.parametrize("status", [500, 403])
def test_refused_open_is_retried_with_backoff(fake: FakeServer, db: str, status: int) -> None:
    fake.route("POST", "/v1.0/gateway/connections/open", lambda c: (status, {"code": "x"}))
    client = make_client(make_adapter(RecordingHandler(), fake), fake, connect=lambda uri: FakeWS())

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    # first attempt at once, the next only after a backoff of at least one second
    assert len(fake.calls_to("/v1.0/gateway/connections/open")) == 1 and client.connections == 0


def test_a_failing_connection_never_ends_the_client(fake: FakeServer, db: str) -> None:
    _open_route(fake)
    attempts: list[str] = []

    def connect(uri: str) -> FakeWS:
        attempts.append(uri)
        raise RuntimeError("TLS handshake went wrong")

    client = make_client(make_adapter(RecordingHandler(), fake), fake, connect=connect)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop))
        await asyncio.sleep(0.3)
        assert not task.done()  # still trying, backing off
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert len(attempts) == 1 and client.connections == 0


@pytest.mark.parametrize("text", [" 帮助", "@loopkeeper 帮助", " /help", "@loopkeeper\u2005/HELP capture"])
def test_group_commands_in_the_shapes_dingtalk_delivers(
    bot_adapter: DingTalkAdapter, fake: FakeServer, text: str
) -> None:
    """DingTalk strips the bot's own @-mention from text.content (leaving a leading space); some clients keep
    it. Either way the shared registry sees the command."""
    asyncio.run(_route(make_client(bot_adapter, fake), callback_frame(robot_payload(text))))
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert (
        "帮助" in json.loads(send.json["msgParam"])["title"]
        or "commands" in json.loads(send.json["msgParam"])["title"]
    )
    assert _inbox() == []


# --- interactive card buttons (topic /v1.0/card/instances/callback) ------------------------------------


def card_frame(value: str | None, user: str = "dt-zhou", message_id: str = "card-m-1", **extra: Any) -> dict:
    """A card callback frame whose data is what the SDK's own `CardCallbackMessage.to_dict` produces."""
    from dingtalk_stream import CardCallbackMessage

    card = CardCallbackMessage()
    card.corp_id = "dingcorp01"
    card.user_id = user
    card.card_instance_id = "out-track-7"
    params = {"value": value} if value is not None else {}
    card.content = {"cardPrivateData": {"actionIds": ["ack_button"], "params": params}}
    data = card.to_dict() | {"spaceType": "IM_ROBOT", "spaceId": "dt-zhou", **extra}
    frame = callback_frame({}, message_id)
    frame["headers"]["topic"] = "/v1.0/card/instances/callback"
    frame["data"] = json.dumps(data, ensure_ascii=False)
    return frame


def _zhou_alert() -> int:
    from core.models import Alert, Member

    with session_scope() as s:
        zhou = s.exec(select(Member).where(Member.name == "小周")).one()
        a = Alert(
            rule="todo.overdue",
            subject_type="todo",
            subject_id=5,
            recipient_id=zhou.id,
            dedup_key="todo.overdue:todo:5:x",
            title="待办逾期 T5",
        )
        s.add(a)
        s.flush()
        return a.id or 0


def _alert_state(alert_id: int) -> str:
    from core.models import Alert

    with session_scope() as s:
        a = s.get(Alert, alert_id)
        assert a is not None
        return a.state


def test_card_button_press_acknowledges_the_alert(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    alert_id = _zhou_alert()
    frame = card_frame(f"alert:{alert_id}:ack")
    ws = asyncio.run(_route(make_client(bot_adapter, fake), frame))
    [ack] = ws.sent
    assert (ack["code"], ack["headers"]["messageId"], _data(ack)) == (200, "card-m-1", {"response": None})
    assert _alert_state(alert_id) == "acked"
    # the answer goes to the member who pressed, 1:1, after the ack
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert send.json["userIds"] == ["dt-zhou"]
    assert json.loads(send.json["msgParam"])["title"] == f"A{alert_id} 已确认 Acknowledged"


def test_card_callback_redelivered_has_one_effect(bot_adapter: DingTalkAdapter, fake: FakeServer) -> None:
    alert_id = _zhou_alert()
    frame = card_frame(f"alert:{alert_id}:ack", message_id="card-dup")
    ws = asyncio.run(_route(make_client(bot_adapter, fake), frame, frame))
    assert [a["code"] for a in ws.sent] == [200, 200]
    assert len(fake.calls_to("/v1.0/robot/oToMessages/batchSend")) == 1


def test_card_callback_normalized_for_the_handler(fake: FakeServer, db: str) -> None:
    rec = RecordingHandler()
    client = make_client(make_adapter(rec, fake), fake)
    frames = [
        card_frame("todo:5:done", message_id="c1", spaceType="IM_GROUP", spaceId="cidGROUP=="),
        card_frame(None, message_id="c2"),  # no params.value: the button's action id is the value
        card_frame("x", user="", message_id="c3"),  # no user: refused
    ]
    ws = asyncio.run(_route(client, *frames))
    assert [a["code"] for a in ws.sent] == [200, 200, 400]
    first, second = rec.actions
    assert (first.platform, first.sender.platform_user_id, first.value) == (
        "dingtalk",
        "dt-zhou",
        "todo:5:done",
    )
    assert first.conversation is not None and (first.conversation.id, first.conversation.kind) == (
        "cidGROUP==",
        "group",
    )
    assert second.value == "ack_button" and second.conversation is not None
    assert second.conversation.kind == "direct"
    assert (first.reply_handle or {})["card_instance_id"] == "out-track-7"
