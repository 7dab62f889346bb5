"""The Slack adapter: a slack-bolt `AsyncApp` serving ``POST /slack/events`` (Events API, interactivity and
the slash command share the URL), or a Socket Mode connection (`run_socket_mode`).

What happens before Slack gets its acknowledgement, and what after:

- bolt verifies ``X-Slack-Signature`` on the raw body and rejects a timestamp more than 5 minutes away
  with 401 before anything is parsed (skipped in Socket Mode, where the socket is authenticated);
- no network call at start-up or before the ack: the bot token comes from the environment through
  ``authorize=`` (no ``auth.test``), the bot's own user id from the event envelope's ``authorizations``;
- before the ack only the inbox INSERT runs (traffic of a channel bound to a customer; a capture saved from
  the modal); everything else — opening the modal, the extraction preview, commands, replies, reaction
  captures (which must fetch the message first) — runs after it as a background task;
- duplicates: a message is keyed ``<channel>:<ts>`` whichever event carried it (``message`` and
  ``app_mention`` for one mention; a retry with ``X-Slack-Retry-Num``), in the inbox (unique key) and, for
  what the inbox does not store (commands, replies), in an in-process memory of recent keys;
- the bot's own messages and any message with a ``bot_id`` are ignored;
- replies to a member are private: ephemeral (or the ``response_url``'s ephemeral response) in a channel,
  the app's direct message otherwise — never a message into a channel shared with customers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import SlackSettings
from core import seen
from core.messages import Reply
from core.timeutil import utcnow
from integrations.common.inbound import InboundHandler
from integrations.slack import lookups, payloads, render

log = logging.getLogger(__name__)

#: Slack's own payloads are a few KB (a message is at most 40,000 characters); refuse anything over 1 MiB
MAX_BODY = 1 << 20


TOO_SLOW = Reply(
    title="没能打开窗口 Could not open the capture window",
    body="Slack 只给 3 秒，请再试一次，或给消息加 :memo: 反应。\n"
    "Slack allows 3 seconds to open it; try again, or react to the message with :memo:.",
    private=True,
)


class RecentKeys:
    """Keys seen in the last `ttl` seconds (bounded): Slack retries within minutes (platforms.md §1.3)."""

    def __init__(self, ttl: float = 3600.0, size: int = 50_000, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.size, self.clock = ttl, size, clock
        self._keys: OrderedDict[str, float] = OrderedDict()

    def first(self, key: str) -> bool:
        """True the first time `key` is seen (then remembers it)."""
        now = self.clock()
        while self._keys and (
            next(iter(self._keys.values())) < now - self.ttl or len(self._keys) > self.size
        ):
            self._keys.popitem(last=False)
        if key in self._keys:
            return False
        self._keys[key] = now
        return True


async def fetch_message(client: AsyncWebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """One message by channel and ts: the channel history, else the thread replies (a reply in a thread
    is not in the history). Needs the channels:history / groups:history / im:history scopes."""
    resp = await client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
    for m in resp.get("messages") or []:
        if m.get("ts") == ts:
            return dict(m)
    resp = await client.conversations_replies(channel=channel, ts=ts)
    for m in resp.get("messages") or []:
        if m.get("ts") == ts:
            return dict(m)
    return None


async def fetch_thread_parent(client: AsyncWebClient, channel: str, thread_ts: str) -> dict[str, Any] | None:
    """The parent message of a thread (``conversations.replies`` lists it first)."""
    resp = await client.conversations_replies(channel=channel, ts=thread_ts, limit=1, inclusive=True)
    for m in resp.get("messages") or []:
        if m.get("ts") == thread_ts:
            return dict(m)
    return None


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class SlackAdapter:
    """Builds the bolt app around an `InboundHandler` (the bot's, injected by `bot/`)."""

    def __init__(
        self,
        settings: SlackSettings,
        handler: InboundHandler,
        *,
        timezone: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if settings.bot_token is None or settings.signing_secret is None:
            raise ValueError("Slack needs LOOPKEEPER_SLACK__BOT_TOKEN and LOOPKEEPER_SLACK__SIGNING_SECRET")
        self.settings = settings
        self.handler = handler
        self.timezone = timezone
        self.clock = clock
        self.recent = RecentKeys()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        token = settings.bot_token.get_secret_value()

        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            # single workspace, token from the environment: no auth.test (no network before the ack)
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

        #: the Web API client for work after the ack (bolt's own per-request clients get the token from
        #: `authorize`; its base client carries only the base URL)
        self.client = AsyncWebClient(token=token, base_url=_base(settings.api_url))
        self.app = AsyncApp(
            signing_secret=settings.signing_secret.get_secret_value(),
            client=AsyncWebClient(base_url=_base(settings.api_url)),
            authorize=authorize,
            # listeners return right after the inbox INSERT; slow work is spawned as tasks (see module doc)
            process_before_response=True,
        )
        self.http = AsyncSlackRequestHandler(self.app)
        self._register()

    # -- wiring ---------------------------------------------------------------------------------------
    def router(self) -> APIRouter:
        router = APIRouter()
        assert self.settings.signing_secret is not None
        verifier = SignatureVerifier(self.settings.signing_secret.get_secret_value())

        @router.post("/slack/events", include_in_schema=False)
        async def slack_events(req: Request) -> Response:
            # size and signature are checked here, before bolt parses anything: bolt answers unsigned junk
            # with 500 (it parses first) and logs the whole body of a bad signature at INFO
            length = req.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_BODY:
                return Response("body too large", status_code=413)
            body = await req.body()
            if len(body) > MAX_BODY:
                return Response("body too large", status_code=413)
            stamp = req.headers.get("x-slack-request-timestamp", "")
            signature = req.headers.get("x-slack-signature", "")
            if not stamp.isascii() or not stamp.isdigit() or not verifier.is_valid(body, stamp, signature):
                log.info("slack request refused: bad or missing signature", extra={"size": len(body)})
                return Response("invalid request", status_code=401)
            return await self.http.handle(req)

        return router

    def socket_mode(self, app_token: str) -> Any:
        """bolt's `AsyncSocketModeHandler` for this app (``apps.connections.open`` goes to the API URL)."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        return AsyncSocketModeHandler(self.app, app_token)

    async def run_socket_mode(self, app_token: str) -> None:
        await self.socket_mode(app_token).start_async()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the background work started so far (tests; graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception:
            log.exception("slack background work failed")

    def _register(self) -> None:
        app = self.app

        @app.middleware
        async def log_retries(request: Any, next: Callable[[], Any]) -> Any:  # noqa: A002 (bolt's name)
            retry = request.headers.get("x-slack-retry-num")
            if retry:
                reason = request.headers.get("x-slack-retry-reason")
                log.info("slack redelivery", extra={"retry_num": retry[0], "reason": (reason or ["?"])[0]})
            return await next()

        app.event("message")(self._on_message_event)
        app.event("app_mention")(self._on_app_mention)
        app.event("reaction_added")(self._on_reaction)
        app.shortcut({"type": "message_action", "callback_id": render.CAPTURE_CALLBACK})(self._on_shortcut)
        app.view(render.CAPTURE_VIEW)(self._on_capture_submit)
        app.action(re.compile("^" + re.escape(render.ACTION_PREFIX)))(self._on_button)
        app.command("/" + self.settings.command.lstrip("/"))(self._on_command)

        @app.middleware
        async def rate_limited_notice(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002
            if body.get("type") == "app_rate_limited":  # Slack is dropping our events for this minute
                log.warning("slack app_rate_limited", extra={"minute": body.get("minute_rate_limited")})
                return BoltResponse(status=200, body="")
            return await next()

        async def other_event() -> None:
            """Events nobody listens to still get a 200: Slack disables subscriptions that keep failing."""

        app.event(re.compile(".*"))(other_event)

    # -- events ---------------------------------------------------------------------------------------
    async def _on_message_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        bot = payloads.bot_user_id(body)
        if not payloads.is_person_message(event, bot):
            return
        channel = str(event["channel"])
        external = bool(body.get("is_ext_shared_channel"))
        if event.get("channel_type") == "im" or payloads.mentions(event.get("text") or "", bot):
            self._addressed(event, external)
            return
        if not await asyncio.to_thread(lookups.is_recorded, channel):
            return  # chatter of an unbound channel is not stored (DESIGN §4)
        msg = payloads.chat_message(event, addressed=False, external=external)
        await asyncio.to_thread(self.handler.on_message, msg)  # the inbox INSERT, before the ack

    async def _on_app_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if payloads.is_person_message(event, payloads.bot_user_id(body)):
            self._addressed(event, bool(body.get("is_ext_shared_channel")))

    def _addressed(self, event: dict[str, Any], external: bool) -> None:
        # one effect per message, whichever of `message` / `app_mention` / a retry arrives first
        if self.recent.first(f"msg:{event['channel']}:{event['ts']}"):
            self.spawn(self._answer(event, external))

    async def _answer(self, event: dict[str, Any], external: bool) -> None:
        user, channel = str(event["user"]), str(event["channel"])
        await self._ensure_identity(user)
        parent = None
        if payloads.asks_thread_capture(event):  # "@bot 记一下 …" in a thread: capture the thread's parent
            try:
                parent = await fetch_thread_parent(self.client, channel, str(event["thread_ts"]))
            except SlackApiError as exc:
                log.info("thread capture: cannot read the parent (%s)", exc.response.get("error"))
        msg = payloads.chat_message(event, addressed=True, external=external, quoted=parent)
        reply = await asyncio.to_thread(self.handler.on_message, msg)
        if reply is None:
            return
        direct = msg.conversation.kind == "direct"
        thread = None if direct else (event.get("thread_ts") or event.get("ts"))
        if direct:
            await self._post(channel, reply, thread_ts=event.get("thread_ts"))
        elif reply.private or external:
            await self._ephemeral(channel, user, reply, thread_ts=thread)
        else:
            await self._post(channel, reply, thread_ts=thread)

    async def _on_reaction(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if (
            event.get("reaction") != self.settings.capture_reaction.strip(":")
            or item.get("type") != "message"
        ):
            return
        user = str(event.get("user") or "")
        if not user or user == payloads.bot_user_id(body):
            return
        channel, ts = str(item.get("channel") or ""), str(item.get("ts") or "")
        if not channel or not ts:  # e.g. a reaction on a file: nothing to capture
            return
        if self.recent.first(f"reaction:{channel}:{ts}:{user}"):
            at = payloads.ts_datetime(str(event.get("event_ts") or body.get("event_time") or time.time()))
            self.spawn(self._capture_reacted(user, channel, ts, at))

    async def _capture_reacted(self, user: str, channel: str, ts: str, at: datetime) -> None:
        await self._ensure_identity(user)
        if not await asyncio.to_thread(lookups.is_member, user):
            await self._refuse(user, channel, ts, at, via="reaction", response_url=None)
            return
        try:
            message = await fetch_message(self.client, channel, ts)
        except SlackApiError as exc:
            log.info("reaction capture: cannot read the message (%s)", exc.response.get("error"))
            message = None
        if message is None:
            await self._dm(
                user,
                Reply(
                    title="读不到这条消息 Cannot read that message",
                    body="请把我加进这个频道，或用消息菜单里的 “Capture to customer”。\n"
                    "Invite me to the channel, or use the message shortcut “Capture to customer”.",
                    private=True,
                ),
            )
            return
        msg = payloads.capture_message(
            channel=channel, message=message, capturer=user, captured_at=at, via="reaction"
        )
        reply = await asyncio.to_thread(self.handler.on_message, msg)
        if reply is not None:
            await self._private(user, channel, reply, response_url=None)

    async def _refuse(
        self, user: str, channel: str, ts: str, at: datetime, *, via: str, response_url: str | None
    ) -> Reply | None:
        """A non-member's capture: the handler answers (politely) and stores nothing."""
        stub = payloads.capture_message(
            channel=channel, message={"ts": ts, "text": ""}, capturer=user, captured_at=at, via=via
        )
        reply = await asyncio.to_thread(self.handler.on_message, stub)
        if reply is not None and via == "reaction":
            await self._dm(user, reply)
        return reply

    # -- the message shortcut and its modal ----------------------------------------------------------
    def _once(self, kind: str, body: dict[str, Any], *parts: object) -> bool:
        """True the first time this interaction arrives (a replayed request has the same trigger id)."""
        key = ":".join(str(p) for p in (kind, body.get("trigger_id"), *parts))
        return not body.get("trigger_id") or self.recent.first(key)

    async def _on_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        if self._once("shortcut", body):
            self.spawn(self._open_capture(body))

    async def _open_capture(self, body: dict[str, Any]) -> None:
        client = self.client
        message = body.get("message") or {}
        channel, user = str(body["channel"]["id"]), str(body["user"]["id"])
        text, ts = message.get("text") or "", str(message.get("ts") or body.get("message_ts"))
        meta = render.encode_metadata({"c": channel, "ts": ts, "r": body.get("response_url"), "t": text})
        # the trigger id lives about 3 seconds: open the modal first, fill it in afterwards
        try:
            opened = await client.views_open(
                trigger_id=body["trigger_id"], view=render.loading_view(text, meta)
            )
        except SlackApiError as exc:  # e.g. expired_trigger_id
            log.info("views.open failed: %s", exc.response.get("error"))
            if body.get("response_url"):
                await self._respond(str(body["response_url"]), TOO_SLOW)
            return
        view = opened.get("view") or {}
        view_id, view_hash = view.get("id"), view.get("hash")
        await self._ensure_identity(user)
        if not await asyncio.to_thread(lookups.is_member, user):
            refusal = await self._refuse(user, channel, ts, self.clock(), via="shortcut", response_url=None)
            if refusal is not None:
                await self._update_view(
                    view_id=view_id,
                    hash=view_hash,
                    view=render.notice_view(refusal.title, refusal.body, meta),
                )
            return
        preview = await asyncio.to_thread(
            lookups.capture_preview, text, payloads.ts_datetime(ts), self.timezone, channel, user
        )
        await self._update_view(
            view_id=view_id,
            hash=view_hash,
            view=render.preview_view(
                text,
                meta,
                customer=preview.customer,
                candidates=preview.candidates,
                pains=preview.pains,
                meetings=preview.meetings,
                samples=preview.samples,
            ),
        )

    async def _update_view(self, **kwargs: Any) -> None:
        try:
            await self.client.views_update(**kwargs)
        except SlackApiError as exc:  # the rep closed the modal already, or edited it meanwhile
            log.info("views.update failed: %s", exc.response.get("error"))

    async def _on_capture_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = render.decode_metadata(view.get("private_metadata"))
        user = str(body["user"]["id"])
        channel, ts, response_url = str(meta.get("c") or ""), str(meta.get("ts") or ""), meta.get("r")
        typed = render.submitted_customer(view)
        if typed:
            names = await asyncio.to_thread(lookups.customer_check, typed)
            if len(names) != 1:
                error = (
                    f"没有找到这个客户 No customer named “{typed}”"
                    if not names
                    else "不止一个客户 More than one customer: " + ", ".join(names[:5])
                )
                await ack(response_action="errors", errors={render.CUSTOMER_BLOCK: error[:150]})
                return
            typed = names[0]
        if not channel or not ts:
            await ack()
            return
        if "t" not in meta:  # too long to carry in the view: fetch it again, after the ack
            await ack()
            self.spawn(self._save_fetched(user, channel, ts, typed, response_url))
            return
        msg = payloads.capture_message(
            channel=channel,
            message={"ts": ts, "text": meta["t"]},
            capturer=user,
            captured_at=self.clock(),
            customer_hint=typed,
            via="shortcut",
            response_url=response_url,
        )
        reply = await asyncio.to_thread(self.handler.on_message, msg)  # the inbox INSERT, before the ack
        await ack()
        if reply is not None:
            self.spawn(self._private(user, channel, reply, response_url=response_url))

    async def _save_fetched(
        self, user: str, channel: str, ts: str, typed: str | None, response_url: str | None
    ) -> None:
        message = await fetch_message(self.client, channel, ts)
        if message is None:
            return
        msg = payloads.capture_message(
            channel=channel,
            message=message,
            capturer=user,
            captured_at=self.clock(),
            customer_hint=typed,
            via="shortcut",
            response_url=response_url,
        )
        reply = await asyncio.to_thread(self.handler.on_message, msg)
        if reply is not None:
            await self._private(user, channel, reply, response_url=response_url)

    # -- slash command and buttons ----------------------------------------------------------------------
    async def _first_everywhere(self, kind: str, body: dict[str, Any], *parts: object) -> list[str] | None:
        """A command or button press changes state: besides this process's memory (`_once`), its key is
        claimed in the shared database (core.seen), so a retry reaching another web process does not run
        it twice. The claimed keys, or None when another process had it first."""
        if not body.get("trigger_id"):
            return []
        keys = [":".join(str(p) for p in (kind, body.get("trigger_id"), *parts))]
        return keys if await asyncio.to_thread(seen.claim, "slack", keys) else None

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await ack()  # within 3 s; the answer goes to the response_url
        if self._once("command", command):
            self.spawn(self._run_command(command))

    async def _run_command(self, command: dict[str, Any]) -> None:
        keys = await self._first_everywhere("command", command)
        if keys is None:
            log.info("slash command already handled by another process")
            return
        await self._ensure_identity(str(command["user_id"]))
        inv = payloads.command_invocation(command)
        try:
            reply = await asyncio.to_thread(self.handler.on_command, inv)
        except Exception:
            await asyncio.to_thread(seen.release, "slack", keys)  # Slack's retry runs it
            raise
        # answers are ephemeral: a command may run in a channel shared with customers
        await self._private(str(command["user_id"]), None, reply, response_url=command.get("response_url"))

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        if self._once("action", body, action.get("action_id"), action.get("action_ts")):
            self.spawn(self._press(body, action))

    async def _press(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        keys = await self._first_everywhere("action", body, action.get("action_id"), action.get("action_ts"))
        if keys is None:
            log.info("button press already handled by another process")
            return
        user = str(body["user"]["id"])
        await self._ensure_identity(user)
        inv = payloads.action_invocation(body, action)
        try:
            reply = await asyncio.to_thread(self.handler.on_action, inv)
        except Exception:
            await asyncio.to_thread(seen.release, "slack", keys)
            raise
        if reply is not None:
            channel = (inv.reply_handle or {}).get("channel")
            await self._private(user, channel, reply, response_url=body.get("response_url"))

    # -- identity -----------------------------------------------------------------------------------------
    async def _ensure_identity(self, user: str) -> None:
        """Link an unknown Slack user to a member by email (users.info) when the team allows it."""
        if not self.settings.email_match or await asyncio.to_thread(lookups.is_member, user):
            return
        if not self.recent.first(f"users.info:{user}:{int(time.monotonic() // 600)}"):
            return  # asked in the last ten minutes
        try:
            info = await self.client.users_info(user=user)
        except SlackApiError as exc:
            log.info("users.info failed: %s", exc.response.get("error"))
            return
        profile = (info.get("user") or {}).get("profile") or {}
        if profile.get("email"):
            await asyncio.to_thread(lookups.link_by_email, user, str(profile["email"]))

    # -- sending ------------------------------------------------------------------------------------------
    async def _post(self, channel: str, reply: Reply, *, thread_ts: str | None = None) -> None:
        await self.client.chat_postMessage(
            channel=channel,
            text=render.fallback_text(reply),
            blocks=render.blocks(reply),
            thread_ts=thread_ts,
            unfurl_links=False,
        )

    async def _dm(self, user: str, reply: Reply) -> None:
        """The app's direct message with the member (posting to a user id opens it)."""
        await self._post(user, reply)

    async def _ephemeral(
        self, channel: str, user: str, reply: Reply, *, thread_ts: str | None = None
    ) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=render.fallback_text(reply),
                blocks=render.blocks(reply),
                thread_ts=thread_ts,
            )
        except SlackApiError as exc:  # e.g. not_in_channel: the DM is private too
            log.info("ephemeral failed (%s); sending a direct message", exc.response.get("error"))
            await self._dm(user, reply)

    async def _respond(self, response_url: str, reply: Reply) -> bool:
        """POST to a ``response_url`` — only Slack's own host (or the configured API host, for tests and
        staging), no redirects followed: a forged URL must not make us call anything else."""
        if not payloads.is_slack_response_url(response_url, self.settings.api_url):
            log.warning("response_url refused: not a Slack host")
            return False
        if self._http is None:  # one client (its TLS context is costly to build) per adapter
            self._http = httpx.AsyncClient(timeout=10, follow_redirects=False)
        resp = await self._http.post(response_url, json=render.response_body(reply))
        if resp.status_code >= 300:
            log.info("response_url answered %s", resp.status_code)
            return False
        return True

    async def _private(
        self, user: str, channel: str | None, reply: Reply, *, response_url: str | None
    ) -> None:
        """Only the member sees it: the response_url's ephemeral answer, else ephemeral, else a DM."""
        if response_url:
            try:
                if await self._respond(response_url, reply.model_copy(update={"private": True})):
                    return
            except Exception:
                log.info("response_url failed; falling back", exc_info=True)
        if channel and not channel.startswith("D"):
            await self._ephemeral(channel, user, reply)
        else:
            await self._dm(user, reply)
