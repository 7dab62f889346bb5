"""The WeCom adapter's runtime: crypto, replay guard, API client, session signer and the injected handler,
built from settings. `routes.py` puts HTTP around it; `bot/` composes it (integrations never import bot)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from config.settings import Settings
from core import seen
from core.db import session_scope
from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, Reply
from core.models import PlatformIdentity
from core.notices import reply_notice
from integrations.common.callback_crypto import CallbackCrypto
from integrations.common.inbound import InboundHandler
from integrations.wecom import aibot, callback
from integrations.wecom.callback import Job, Outcome
from integrations.wecom.client import WeComClient
from integrations.wecom.jssdk import SessionSigner, derive_key
from integrations.wecom.normalize import (
    ExternalChatChange,
    ExternalContactChange,
    Ignored,
    form_from_detail,
    normalize,
)
from integrations.wecom.render import app_message
from integrations.wecom.replay import ReplayGuard
from integrations.wecom.xmlsafe import UnsafeXML

log = logging.getLogger("loopkeeper.wecom")
PLATFORM = "wecom"  # core.seen keys of handled messages and button presses


def _secret(v: Any) -> str | None:
    return v.get_secret_value() if v is not None else None


def _crypto(
    token: str | None, aes: str | None, receive_id: str, window: float, name: str
) -> CallbackCrypto | None:
    if not (token and aes):
        return None
    try:
        return CallbackCrypto(token, aes, receive_id, window=window)
    except ValueError as exc:
        raise ValueError(f"LOOPKEEPER_WECOM__{name}: {exc}") from exc


def client_from_settings(settings: Settings) -> WeComClient | None:
    """The app's API client when CORP_ID and SECRET are set."""
    w = settings.wecom
    secret = _secret(w.secret)
    if not (w.corp_id and secret):
        return None
    return WeComClient(api_url=w.api_url, corp_id=w.corp_id, secret=secret, agent_id=w.agent_id)


@dataclass
class WeComService:
    handler: InboundHandler
    timezone: str = "Asia/Shanghai"
    corp_id: str | None = None
    agent_id: str | None = None
    callback_crypto: CallbackCrypto | None = None
    aibot_crypto: CallbackCrypto | None = None
    client: WeComClient | None = None
    signer: SessionSigner | None = None
    oauth_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    replay: ReplayGuard = field(default_factory=ReplayGuard)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: called after the response with the id of a reply Notice (the composition root enqueues its delivery)
    on_notice: Callable[[int], None] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, handler: InboundHandler, on_notice: Callable[[int], None] | None = None
    ) -> WeComService:
        w = settings.wecom
        token, aes = _secret(w.token), _secret(w.encoding_aes_key)
        # the app's receive id is the corp id: without it the callback stays off (never "" like the bot's)
        cb = _crypto(token, aes, w.corp_id, w.callback_window, "ENCODING_AES_KEY") if w.corp_id else None
        ab = _crypto(_secret(w.aibot_token), _secret(w.aibot_aes_key), "", w.callback_window, "AIBOT_AES_KEY")
        secret = _secret(w.secret)
        client = client_from_settings(settings)
        key = derive_key(_secret(w.session_secret), secret, _secret(settings.api_token))
        return cls(
            handler=handler,
            timezone=settings.timezone,
            corp_id=w.corp_id,
            agent_id=w.agent_id,
            callback_crypto=cb,
            aibot_crypto=ab,
            client=client,
            signer=SessionSigner(key) if key else None,
            oauth_url=w.oauth_url,
            on_notice=on_notice,
        )

    # -- replies -----------------------------------------------------------------------------------------
    def reply_job(self, user_id: str, reply: Reply | None, key: str) -> Job | None:
        """A reply to the member, privately (never into a customer chat), through the durable outbox: a
        Notice row (``reply:wecom:<event key>``) written now, delivered by the outbox — kicked at once
        through `on_notice` (the composition root's Celery task) and otherwise by the beat's pass. A
        sender who is no member (their polite explanation) has nobody to address through the outbox:
        that answer alone is sent directly after the response, best effort."""
        if reply is None or not user_id:
            return None
        with session_scope() as session:
            known = session.exec(
                select(PlatformIdentity.id).where(
                    PlatformIdentity.platform == "wecom", PlatformIdentity.user_id == user_id
                )
            ).first()
            notice_id = (
                reply_notice(
                    session, platform="wecom", user_id=user_id, key=f"reply:wecom:{key}", message=reply
                )
                if known is not None
                else None
            )
        if known is not None:
            on_notice = self.on_notice
            if notice_id is None or on_notice is None:
                return None  # already in the outbox (a redelivery), or the beat's pass delivers it
            return lambda: on_notice(notice_id)
        return self._direct_job(user_id, reply)

    def _direct_job(self, user_id: str, reply: Reply) -> Job:
        client = self.client

        def job() -> None:
            if client is None:
                log.info("wecom reply to %s (no app configured): %s", user_id, reply.title)
                return
            msgtype, content = app_message(reply, f"reply:{uuid.uuid4().hex}")
            try:
                client.send_app_message(user_id, msgtype, content)
            except Exception as exc:  # an explanation to a non-member is best effort; log, go on
                log.warning("wecom reply not sent: %s", type(exc).__name__)

        return job

    # -- app callback ------------------------------------------------------------------------------------
    def callback_get(self, params: dict[str, str]) -> Outcome:
        return callback.verify_url(self.callback_crypto, params, "callback")

    def callback_post(self, params: dict[str, str], body: bytes) -> Outcome:
        plain, refusal = callback.open_request(
            self.callback_crypto, params, body, self.replay, endpoint="callback"
        )
        if refusal is not None:
            return refusal
        assert plain is not None
        try:
            item = normalize(plain)
        except UnsafeXML as exc:
            self.replay.forget(callback.request_key(params))  # refused, not handled: never a "replay"
            return callback.refused("callback", exc.reason, 400)
        msg_id = item.message_id if isinstance(item, ChatMessage) else None
        if self.replay.seen(callback.event_key(msg_id, plain)):
            return callback.replayed("callback", "MsgId" if msg_id else "event")
        # a message (command) or a button press changes state: claimed in the shared database too, so
        # WeCom's retry reaching another web process does not run it twice (core.seen)
        durable = (
            [callback.event_key(msg_id, plain)] if isinstance(item, ChatMessage | ActionInvocation) else []
        )
        if durable and not seen.claim(PLATFORM, durable):
            return callback.replayed("callback", "handled by another process")
        out = Outcome(status=200, body="success")
        try:
            self._dispatch(item, out, callback.event_key(msg_id, plain))
        except Exception:
            # let WeCom's retry through the replay guard: nothing was handled
            self.replay.forget(callback.event_key(msg_id, plain))
            self.replay.forget(callback.request_key(params))
            if durable:
                seen.release(PLATFORM, durable)
            raise
        return out

    def _dispatch(self, item: object, out: Outcome, key: str) -> None:
        if isinstance(item, ChatMessage):
            job = self.reply_job(item.sender.platform_user_id, self.handler.on_message(item), key)
        elif isinstance(item, ActionInvocation):
            job = self.reply_job(item.sender.platform_user_id, self.handler.on_action(item), key)
        elif isinstance(item, ApprovalEvent):
            job = self.approval_job(item)
        elif isinstance(item, ExternalChatChange):
            job = self.group_sync_job(item) if item.change_type in ("create", "update") else None
        elif isinstance(item, ExternalContactChange):
            log.info("wecom external contact change: %s", item.change_type)
            job = None
        elif isinstance(item, Ignored):
            log.debug("wecom callback ignored: %s", item.kind)
            job = None
        else:  # pragma: no cover
            job = None
        if job is not None:
            out.jobs.append(job)

    # -- customer groups -----------------------------------------------------------------------------------
    def group_sync_job(self, change: ExternalChatChange) -> Job | None:
        """A customer group changed: after the answer, bind its external members to its customer."""
        if not change.chat_id or self.client is None:
            return None
        chat_id = change.chat_id

        def job() -> None:
            self.sync_group_contacts(chat_id)

        return job

    def sync_group_contacts(self, chat_id: str) -> list[str]:
        """When the customer group is bound to a customer (from the sidebar, `sidebar-chat:<chat id>`), its
        external members (`member_list[].type == 2`, whose `userid` is the external_userid) not yet bound
        to any customer become that customer's contacts; the ids bound now. Best effort: an API error (the
        app lacks 客户联系 permission, the group is not visible) is logged."""
        from core.platform_contacts import bind_external_ids, conversation_customer
        from integrations.wecom.sidebar import chat_conversation_id

        if self.client is None:
            return []
        with session_scope() as session:
            customer = conversation_customer(session, "wecom", chat_conversation_id(chat_id))
        if customer is None:
            return []
        try:
            group = self.client.group_chat(chat_id).get("group_chat") or {}
        except Exception as exc:
            log.info("wecom groupchat/get failed: %s", type(exc).__name__)
            return []
        external = [
            str(m.get("userid") or "")
            for m in group.get("member_list") or []
            if isinstance(m, dict) and str(m.get("type")) == "2"
        ]
        with session_scope() as session:
            target = session.get(type(customer), customer.id)
            bound = bind_external_ids(session, "wecom", external, target) if target is not None else []
        if bound:
            log.info("wecom customer group members bound to a customer", extra={"count": len(bound)})
        return bound

    def approval_job(self, event: ApprovalEvent) -> Job:
        """The form comes from `oa/getapprovaldetail` (after the answer, so the callback stays fast)."""
        client, handler = self.client, self.handler

        def job() -> None:
            ev = event
            if client is not None and event.instance_id:
                try:
                    ev = event.model_copy(
                        update={"form": form_from_detail(client.approval_detail(event.instance_id))}
                    )
                except Exception as exc:
                    log.warning("wecom approval detail not fetched: %s", type(exc).__name__)
            handler.on_approval(ev)

        return job

    # -- smart bot ---------------------------------------------------------------------------------------
    def aibot_get(self, params: dict[str, str]) -> Outcome:
        return callback.verify_url(self.aibot_crypto, params, "aibot")

    def aibot_post(self, params: dict[str, str], body: bytes) -> Outcome:
        plain, refusal = callback.open_request(
            self.aibot_crypto, params, body, self.replay, endpoint="aibot", json_body=True
        )
        if refusal is not None:
            return refusal
        assert plain is not None
        try:
            data = callback.parse_json(plain)
        except ValueError:
            return callback.refused("aibot", "decrypted body is not a JSON object", 400)
        msg = aibot.to_message(data, now=self.clock())
        if msg is None:
            log.debug("wecom aibot ignored: %s", data.get("msgtype"))
            return Outcome(status=200, body="")
        if self.replay.seen(callback.event_key(msg.message_id, plain)):
            return callback.replayed("aibot", "msgid")
        durable = [callback.event_key(msg.message_id, plain)]
        if not seen.claim(PLATFORM, durable):  # WeCom's retry on another web process
            return callback.replayed("aibot", "handled by another process")
        out = Outcome(status=200, body="")
        try:
            reply = self.handler.on_message(msg)
        except Exception:
            self.replay.forget(callback.event_key(msg.message_id, plain))
            self.replay.forget(callback.request_key(params))
            seen.release(PLATFORM, durable)
            raise
        job = self.reply_job(msg.sender.platform_user_id, reply, f"aibot:{msg.message_id}")
        if job is not None:
            out.jobs.append(job)
        return out
