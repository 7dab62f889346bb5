"""The WeCom adapter's runtime: crypto, replay guard, API client, session signer and the injected handler,
built from settings. `routes.py` puts HTTP around it; `bot/` composes it (integrations never import bot)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings
from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, Reply
from integrations.common.callback_crypto import CallbackCrypto
from integrations.common.inbound import InboundHandler
from integrations.wecom import aibot, callback
from integrations.wecom.callback import Job, Outcome
from integrations.wecom.client import WeComClient
from integrations.wecom.jssdk import SessionSigner, derive_key
from integrations.wecom.normalize import ExternalContactChange, Ignored, form_from_detail, normalize
from integrations.wecom.render import app_message
from integrations.wecom.replay import ReplayGuard
from integrations.wecom.xmlsafe import UnsafeXML

log = logging.getLogger("loopkeeper.wecom")


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

    @classmethod
    def from_settings(cls, settings: Settings, handler: InboundHandler) -> WeComService:
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
        )

    # -- replies -----------------------------------------------------------------------------------------
    def reply_job(self, user_id: str, reply: Reply | None) -> Job | None:
        """Send a reply privately to the member as an app message (never into a customer chat)."""
        if reply is None or not user_id:
            return None
        client = self.client

        def job() -> None:
            if client is None:
                log.info("wecom reply to %s (no app configured): %s", user_id, reply.title)
                return
            msgtype, content = app_message(reply, f"reply:{uuid.uuid4().hex}")
            try:
                client.send_app_message(user_id, msgtype, content)
            except Exception as exc:  # a reply is best effort (the outbox carries what matters); log, go on
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
            return callback.refused("callback", exc.reason, 400)
        msg_id = item.message_id if isinstance(item, ChatMessage) else None
        if self.replay.seen(callback.event_key(msg_id, plain)):
            return callback.replayed("callback", "MsgId" if msg_id else "event")
        out = Outcome(status=200, body="success")
        try:
            self._dispatch(item, out)
        except Exception:
            # let WeCom's retry through the replay guard: nothing was handled
            self.replay.forget(callback.event_key(msg_id, plain))
            self.replay.forget(callback.request_key(params))
            raise
        return out

    def _dispatch(self, item: object, out: Outcome) -> None:
        if isinstance(item, ChatMessage):
            job = self.reply_job(item.sender.platform_user_id, self.handler.on_message(item))
        elif isinstance(item, ActionInvocation):
            job = self.reply_job(item.sender.platform_user_id, self.handler.on_action(item))
        elif isinstance(item, ApprovalEvent):
            job = self.approval_job(item)
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
        out = Outcome(status=200, body="")
        try:
            reply = self.handler.on_message(msg)
        except Exception:
            self.replay.forget(callback.event_key(msg.message_id, plain))
            self.replay.forget(callback.request_key(params))
            raise
        job = self.reply_job(msg.sender.platform_user_id, reply)
        if job is not None:
            out.jobs.append(job)
        return out
