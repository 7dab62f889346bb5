"""The DingTalk adapter: what Stream mode and HTTP mode share once a delivery is verified.

- `handle_robot`: deduplicate on `msgId`, normalize, hand the message to the bot's handler (which only
  stores and answers); the caller acknowledges DingTalk right after and sends the reply afterwards with
  `deliver_reply` (network I/O never delays the ack).
- `deliver_reply`: through the message's `sessionWebhook` while it is valid, otherwise the app robot
  OpenAPI; privately (1:1 to the asking member) when the reply is private or the group has customers in it.
- `handle_event`: approval events → `ApprovalEvent`, deduplicated on the event id → `handler.on_approval`.
- `handle_action`: a signed action link (links.py) → `ActionInvocation` → `handler.on_action`.
- `handle_card_action`: a button press on an interactive card (Stream topic
  `/v1.0/card/instances/callback`, normalize.card_action) → `handler.on_action`, deduplicated on the
  frame's message id; the answer goes to the member privately (`deliver_private`), after the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import select

from core import seen
from core.db import session_scope
from core.messages import Action, ActionInvocation, ChatMessage, Reply, Sender
from core.models import Conversation
from core.notices import DeliveryError
from core.timeutil import utcnow
from integrations.common.inbound import InboundHandler
from integrations.dingtalk.client import RATE_LIMIT, DingTalkClient
from integrations.dingtalk.links import ActionLinks
from integrations.dingtalk.normalize import (
    PLATFORM,
    approval_event,
    approval_keys,
    card_action,
    quote_of,
    robot_message,
)
from integrations.dingtalk.render import LinkFor, no_links, openapi_message, webhook_body

log = logging.getLogger(__name__)

#: a session webhook this close to its expiry is not used (the reply may be sent a little later)
SESSION_MARGIN_MS = 60_000

PASTE_PROMPT = Reply(
    title="看不到引用的内容 Please paste the text",
    body=(
        "钉钉只把被引用消息的编号发给了我，没有内容（文件、图片或卡片的引用就是这样）。"
        "请把要记录的文字粘贴给我，或私聊发给我。\n"
        "DingTalk sent me only the id of the quoted message, not its text. Paste the text you want recorded."
    ),
    private=True,
)
TEXT_ONLY = Reply(
    title="只能记录文字和语音 Text and voice only",
    body=(
        "图片、文件和视频无法记录；请发文字或语音。\n"
        "Pictures, files and videos cannot be recorded; send text or voice."
    ),
    private=True,
)


@dataclass
class RobotOutcome:
    message: ChatMessage
    reply: Reply | None
    duplicate: bool = False


# blocks until a destination key (limit per seconds) has a send slot; the composition root sets the
# shared limiter's (bot.pacing.wait_for_slot), so direct replies and outbox notices share one budget
Pace = Callable[[str, int, float], None]


class DingTalkAdapter:
    pace: Pace | None = None

    def __init__(
        self,
        handler: InboundHandler,
        client: DingTalkClient,
        links: ActionLinks,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.handler = handler
        self.client = client
        self.links = links
        self.clock = clock

    # -- robot messages -----------------------------------------------------------------------------
    def handle_robot(self, payload: dict[str, Any], *, received_at: datetime | None = None) -> RobotOutcome:
        """Verified robot message → the handler. Raises PayloadError for an unusable payload."""
        now = received_at or self.clock()
        msg = robot_message(payload, received_at=now)
        key = [f"msg:{msg.message_id}"]
        if not seen.claim(PLATFORM, key, now):
            log.info("duplicate DingTalk robot message ignored")
            return RobotOutcome(msg, None, duplicate=True)
        try:
            reply = self._dispatch(msg, payload)
        except Exception:
            seen.release(PLATFORM, key)
            raise
        return RobotOutcome(msg, reply)

    def _dispatch(self, msg: ChatMessage, payload: dict[str, Any]) -> Reply | None:
        quote = quote_of(payload)
        if quote is not None and quote.text is None:
            log.info("quote without content", extra={"shape": quote.shape})
            return PASTE_PROMPT
        if not msg.text and not msg.quoted_text:
            return TEXT_ONLY
        return self.handler.on_message(msg)

    def _has_customers(self, msg: ChatMessage) -> bool:
        if msg.conversation.kind == "direct":
            return False
        if msg.conversation.external:
            return True
        with session_scope() as session:
            conv = session.exec(
                select(Conversation).where(
                    Conversation.platform == PLATFORM, Conversation.conversation_id == msg.conversation.id
                )
            ).first()
        return conv is not None and (conv.external or conv.customer_id is not None)

    def deliver_reply(self, msg: ChatMessage, reply: Reply) -> str:
        """Send `reply` to where `msg` came from; the route used: "direct", "session" or "group"."""
        handle = msg.reply_handle or {}
        staff = handle.get("sender_staff_id")
        group = msg.conversation.kind == "group"
        private = group and (reply.private or self._has_customers(msg))

        def member_links(action: Action) -> str | None:
            return self.links.url(action.value, staff) if staff else None

        if private:
            return self._direct(staff, reply, member_links)
        links: LinkFor = no_links if group else member_links  # a group click is no one member's
        webhook = handle.get("session_webhook")
        try:
            expires = int(handle.get("session_webhook_expires_ms") or 0)
        except (TypeError, ValueError):
            expires = 0
        now_ms = self.clock().timestamp() * 1000
        if webhook and expires > now_ms + SESSION_MARGIN_MS:
            try:
                self.client.send_session(webhook, webhook_body(reply, links))
                return "session"
            except DeliveryError as exc:
                log.warning("session webhook reply failed (%s); falling back to the OpenAPI", exc)
        if group:
            self.client.send_group(
                str(handle.get("conversation_id") or msg.conversation.id), *openapi_message(reply, links)
            )
            return "group"
        return self._direct(staff, reply, member_links)

    def _direct(self, staff: str | None, reply: Reply, links: LinkFor) -> str:
        if not staff:
            raise DeliveryError("no staff id to reply to privately", permanent=True)
        if self.pace is not None:  # the app robot's budget, shared with the outbox (DingTalkNotifier's key)
            self.pace(f"dingtalk:robot:{self.client.robot_code}", *RATE_LIMIT)
        self.client.send_to_users([staff], *openapi_message(reply, links))
        return "direct"

    # -- events -------------------------------------------------------------------------------------
    def handle_event(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        event_id: str | None,
        occurred_ms: Any = None,
        corp_id: str | None = None,
    ) -> str:
        """Returns "processed", "duplicate" or "ignored" (not an approval event). Raises when the
        handler fails, after forgetting the event, so DingTalk's redelivery is processed."""
        event = approval_event(
            event_type,
            data,
            event_id=event_id,
            occurred_ms=occurred_ms,
            corp_id=corp_id,
            received_at=self.clock(),
        )
        if event is None:
            log.debug("DingTalk event ignored", extra={"event_type": event_type})
            return "ignored"
        keys = approval_keys(event)
        if not seen.claim(PLATFORM, keys, self.clock()):
            log.info("duplicate DingTalk approval event ignored", extra={"event_id": event.event_id})
            return "duplicate"
        try:
            self.handler.on_approval(event)
        except Exception:
            seen.release(PLATFORM, keys)
            raise
        return "processed"

    # -- action links -------------------------------------------------------------------------------
    def handle_action(self, token: str) -> Reply:
        """A clicked action link; raises links.ActionTokenError for a bad or expired token."""
        value, user = self.links.verify(token)
        reply = self.handler.on_action(
            ActionInvocation(platform=PLATFORM, sender=Sender(platform_user_id=user), value=value)
        )
        return reply or Reply(title="已收到 Received", private=True)

    # -- interactive card buttons -------------------------------------------------------------------
    def handle_card_action(
        self, message_id: str, fields: dict[str, Any]
    ) -> tuple[ActionInvocation, Reply | None]:
        """A card callback (fields as normalize.card_action takes them) → the handler; the reply is None
        for a duplicate frame. Raises PayloadError for an unusable callback."""
        inv = card_action(**fields)
        key = [f"card:{message_id or inv.value + ':' + inv.sender.platform_user_id}"]
        if not seen.claim(PLATFORM, key, self.clock()):
            log.info("duplicate DingTalk card callback ignored")
            return inv, None
        try:
            reply = self.handler.on_action(inv)
        except Exception:
            seen.release(PLATFORM, key)
            raise
        return inv, reply or Reply(title="已收到 Received", private=True)

    def deliver_private(self, staff_id: str, reply: Reply) -> str:
        """A reply to one member, 1:1 through the app robot (buttons become their signed links)."""
        return self._direct(staff_id, reply, lambda a: self.links.url(a.value, staff_id))


def build_adapter(handler: InboundHandler, settings: Any, *, http: Any = None) -> DingTalkAdapter:
    """The adapter for `config.settings.DingTalkSettings` (credentials must be set)."""
    secret = settings.client_secret.get_secret_value()
    client = DingTalkClient(
        client_id=settings.client_id,
        client_secret=secret,
        robot_code=settings.robot_code,
        api_url=settings.api_url,
        http=http,
    )
    return DingTalkAdapter(handler, client, ActionLinks(secret, settings.public_url))
