"""Stream mode (platforms.md §2(a)): the long-lived websocket client of the Procfile `dingtalk` process.

Built on dingtalk-stream's own frame parsing, routing and ack code (`DingTalkStreamClient.route_message`),
with what its `start()` lacks:

- robot messages (`ChatbotMessage.TOPIC`): the handler runs in a worker thread (`asyncio.to_thread`: the
  bot's handler touches the database) and the frame is acknowledged as soon as it returns (inbox insert
  only); the reply is sent afterwards, also off the event loop;
- interactive card button presses (`Card_Callback_Router_Topic`, `/v1.0/card/instances/callback`): parsed
  by the SDK's `CardCallbackMessage`, handed to the handler as an `ActionInvocation` in a worker thread,
  acknowledged with `{"response": null}` (the card itself is left as it is: an answer that does not name
  `cardUpdateOptions` would overwrite the card's data), and answered to the member privately afterwards;
- EVENT pushes: acknowledged with the documented `{"status": "SUCCESS"}` (the SDK echoes the event data
  instead), or `LATER` when the handler failed so DingTalk redelivers;
- SYSTEM `disconnect`: not answered (as documented); a new connection is opened at once;
- a watchdog: the connection is replaced when neither a frame nor a pong to our pings arrived for
  `idle_timeout` seconds (a half-open socket);
- no blocking call on the event loop (the SDK opens connections with synchronous `requests`; here httpx's
  async client), jittered backoff between attempts, and a clean stop: in-flight work finishes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote_plus

import httpx
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    CardCallbackMessage,
    ChatbotHandler,
    ChatbotMessage,
    Credential,
    DingTalkStreamClient,
    EventHandler,
    EventMessage,
    SystemHandler,
    SystemMessage,
)
from dingtalk_stream.frames import Headers

from integrations.dingtalk.adapter import DingTalkAdapter, RobotOutcome
from integrations.dingtalk.client import API_BASE
from integrations.dingtalk.normalize import PayloadError

log = logging.getLogger("loopkeeper.dingtalk.stream")
# the SDK logs whole frames (message text) at WARNING for topics it does not route, e.g. every `ping`
_sdk_log = logging.getLogger("loopkeeper.dingtalk.sdk")
_sdk_log.setLevel(logging.ERROR)

OPEN_PATH = "/v1.0/gateway/connections/open"
Spawn = Callable[[Coroutine[Any, Any, Any]], None]


def _ack(message_id: str | None, code: int, data: dict[str, Any], message: str = "OK") -> AckMessage:
    ack = AckMessage()
    ack.code = code
    ack.headers.message_id = message_id
    ack.headers.content_type = Headers.CONTENT_TYPE_APPLICATION_JSON
    ack.message = message
    ack.data = data
    return ack


class RobotMessageHandler(ChatbotHandler):
    """`/v1.0/im/bot/messages/get`: store/answer in a thread, ack, then reply in the background."""

    def __init__(self, adapter: DingTalkAdapter, spawn: Spawn) -> None:
        super().__init__()
        self.adapter = adapter
        self.spawn = spawn
        self.logger = log

    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:  # type: ignore[override]
        data = callback.data if isinstance(callback.data, dict) else {}
        try:
            ChatbotMessage.from_dict(data)  # the SDK's own parsing must accept it
            outcome = await asyncio.to_thread(self.adapter.handle_robot, data)
        except (PayloadError, KeyError, TypeError, ValueError) as exc:
            log.warning("unusable robot message: %s", type(exc).__name__)
            return AckMessage.STATUS_BAD_REQUEST, None
        except Exception:
            log.exception("robot message handler failed")
            return AckMessage.STATUS_SYSTEM_EXCEPTION, None
        if outcome.reply is not None:
            self.spawn(asyncio.to_thread(self._deliver, outcome))
        return AckMessage.STATUS_OK, None  # the documented ack data {"response": null}

    def _deliver(self, outcome: RobotOutcome) -> None:
        assert outcome.reply is not None
        try:
            self.adapter.deliver_reply(outcome.message, outcome.reply)
        except Exception as exc:
            log.warning("DingTalk reply not delivered: %s", exc)


class CardCallbackHandler(CallbackHandler):
    """`/v1.0/card/instances/callback`: a button on an interactive card → `handler.on_action`."""

    def __init__(self, adapter: DingTalkAdapter, spawn: Spawn) -> None:
        super().__init__()
        self.adapter = adapter
        self.spawn = spawn
        self.logger = log

    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:  # type: ignore[override]
        data = callback.data if isinstance(callback.data, dict) else {}
        try:
            card = CardCallbackMessage.from_dict(data)  # the SDK's own parsing (JSON-decodes content)
            fields = {
                "user_id": str(card.user_id or ""),
                "content": card.content,
                "out_track_id": str(card.card_instance_id or ""),
                "space_id": str(data.get("spaceId") or ""),
                "space_type": str(data.get("spaceType") or ""),
                "corp_id": str(card.corp_id or ""),
            }
            inv, reply = await asyncio.to_thread(
                self.adapter.handle_card_action, callback.headers.message_id or "", fields
            )
        except (PayloadError, KeyError, TypeError, ValueError) as exc:
            log.warning("unusable card callback: %s", type(exc).__name__)
            return AckMessage.STATUS_BAD_REQUEST, None
        except Exception:
            log.exception("card callback handler failed")
            return AckMessage.STATUS_SYSTEM_EXCEPTION, None
        if reply is not None:
            self.spawn(asyncio.to_thread(self._deliver, inv.sender.platform_user_id, reply))
        return AckMessage.STATUS_OK, None

    def _deliver(self, staff_id: str, reply: Any) -> None:
        try:
            self.adapter.deliver_private(staff_id, reply)
        except Exception as exc:
            log.warning("DingTalk card answer not delivered: %s", exc)


class ApprovalEventHandler(EventHandler):
    """EVENT `*`: approval events to the adapter; the ack is `{"status": "SUCCESS"|"LATER", "message"}`."""

    def __init__(self, adapter: DingTalkAdapter) -> None:
        super().__init__()
        self.adapter = adapter
        self.logger = log

    async def raw_process(self, event_message: EventMessage) -> AckMessage:
        h = event_message.headers
        data = event_message.data if isinstance(event_message.data, dict) else {}
        try:
            result = await asyncio.to_thread(
                self.adapter.handle_event,
                h.event_type or "",
                data,
                event_id=h.event_id,
                occurred_ms=h.event_born_time,
                corp_id=h.event_corp_id,
            )
            status, message = "SUCCESS", "success"
        except PayloadError:
            log.warning("unusable event payload (%s); acknowledged, not retried", h.event_type)
            status, message, result = "SUCCESS", "unusable payload", "ignored"
        except Exception:
            log.exception("event handler failed; DingTalk will redeliver")
            status, message, result = "LATER", "retry later", "failed"
        log.debug("event %s: %s", h.event_type, result)
        return _ack(h.message_id, AckMessage.STATUS_OK, {"status": status, "message": message})


class QuietSystemHandler(SystemHandler):
    """`ping` is echoed (the SDK's behaviour); `disconnect` is not answered, as the protocol says."""

    async def raw_process(self, system_message: SystemMessage) -> AckMessage | None:  # type: ignore[override]
        if system_message.headers.topic == SystemMessage.TOPIC_DISCONNECT:
            return None
        return await super().raw_process(system_message)


class StreamClient(DingTalkStreamClient):
    def __init__(
        self,
        adapter: DingTalkAdapter,
        *,
        client_id: str,
        client_secret: str,
        api_url: str | None = None,
        idle_timeout: float = 75.0,
        ping_interval: float = 20.0,
        start_jitter: float = 5.0,
        max_backoff: float = 60.0,
        connect: Callable[[str], Any] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(Credential(client_id, client_secret), logger=_sdk_log)
        self.api_base = (api_url or API_BASE).rstrip("/")
        self.idle_timeout = idle_timeout
        self.ping_interval = ping_interval
        self.start_jitter = start_jitter
        self.max_backoff = max_backoff
        self._connect = connect or (lambda uri: websockets.connect(uri, ping_interval=None, max_size=2**22))
        self._http = http
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_activity = 0.0
        self._reconnect = asyncio.Event()
        self.connections = 0  # websocket connections opened so far (the watchdog and tests read it)
        self.system_handler = QuietSystemHandler()
        self.register_callback_handler(ChatbotMessage.TOPIC, RobotMessageHandler(adapter, self.spawn))
        self.register_callback_handler(
            CallbackHandler.TOPIC_CARD_CALLBACK, CardCallbackHandler(adapter, self.spawn)
        )
        self.register_all_event_handler(ApprovalEventHandler(adapter))

    # -- background work ----------------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for in-flight frames and replies (clean shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def route_message(self, json_message: dict[str, Any]) -> str:
        result = await super().route_message(json_message)
        if result == DingTalkStreamClient.TAG_DISCONNECT:
            log.info("DingTalk asked to disconnect; opening a new connection")
            self._reconnect.set()
        return str(result)

    async def _frame(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("non-JSON stream frame ignored")
            return
        try:
            await self.route_message(frame)
        except Exception:
            log.exception("stream frame not processed")

    # -- connection -----------------------------------------------------------------------------------------
    async def open_connection_async(self) -> dict[str, Any] | None:
        topics: list[dict[str, str]] = []
        if self._is_event_required:
            topics.append({"type": "EVENT", "topic": "*"})
        topics += [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": "loopkeeper-dingtalk-stream",
            "localIp": socket.gethostname(),
        }
        client = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            resp = await client.post(self.api_base + OPEN_PATH, json=body)
            if resp.status_code != 200:
                log.error("stream connections/open refused: HTTP %s", resp.status_code)
                return None
            data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.error("stream connections/open failed: %s", type(exc).__name__)
            return None
        finally:
            if self._http is None:
                await client.aclose()
        if not isinstance(data, dict) or not data.get("endpoint") or not data.get("ticket"):
            log.error("stream connections/open answered without endpoint/ticket")
            return None
        return data

    async def _keepalive(self, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                waiter = await ws.ping()
                await asyncio.wait_for(waiter, timeout=self.idle_timeout)
                self._last_activity = loop.time()
            except (TimeoutError, websockets.ConnectionClosed):
                return
            except Exception:  # a closed transport and the like: the watchdog decides
                return

    async def _serve(self, ws: Any, stop: asyncio.Event) -> str:
        """Read frames until stop, disconnect, a closed socket or the watchdog; the reason."""
        loop = asyncio.get_running_loop()
        self._last_activity = loop.time()
        self._reconnect.clear()
        pinger = loop.create_task(self._keepalive(ws))
        stopped = loop.create_task(stop.wait())
        asked = loop.create_task(self._reconnect.wait())
        recv: asyncio.Task[Any] | None = None
        try:
            while True:
                remaining = self.idle_timeout - (loop.time() - self._last_activity)
                if remaining <= 0:
                    log.warning("no frame from DingTalk for %.0f s; reconnecting", self.idle_timeout)
                    return "watchdog"
                if recv is None:
                    recv = loop.create_task(ws.recv())
                done, _ = await asyncio.wait(
                    {recv, stopped, asked}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if stopped in done:
                    return "stopped"
                if asked in done:
                    return "disconnect requested"
                if recv in done:
                    task, recv = recv, None
                    try:
                        raw = task.result()
                    except websockets.ConnectionClosed:
                        return "closed"
                    self._last_activity = loop.time()
                    self.spawn(self._frame(raw))
        finally:
            for t in (pinger, stopped, asked, recv):
                if t is not None:
                    t.cancel()
            await asyncio.gather(
                *(t for t in (pinger, stopped, asked, recv) if t is not None), return_exceptions=True
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, serve, reconnect with jittered backoff until `stop` is set; then drain."""
        self.pre_start()
        if self.start_jitter > 0:  # many replicas restarted at once do not open connections together
            await _sleep_unless(stop, random.uniform(0, self.start_jitter))
        backoff = 1.0
        while not stop.is_set():
            conn = await self.open_connection_async()
            if conn is None:
                await _sleep_unless(stop, backoff + random.uniform(0, backoff))
                backoff = min(backoff * 2, self.max_backoff)
                continue
            uri = f"{conn['endpoint']}?ticket={quote_plus(conn['ticket'])}"
            try:
                async with self._connect(uri) as ws:
                    self.websocket = ws
                    self.connections += 1
                    backoff = 1.0
                    log.info("stream connected (connection %d)", self.connections)
                    reason = await self._serve(ws, stop)
                    log.info("stream connection ended: %s", reason)
            except Exception as exc:  # never let one bad connection end the process (honcho stops them all)
                log.warning("stream connection failed: %s", type(exc).__name__)
                await _sleep_unless(stop, backoff + random.uniform(0, backoff))
                backoff = min(backoff * 2, self.max_backoff)
        await self.drain()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
