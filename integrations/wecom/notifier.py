"""The WeCom `Notifier` (core.notices): app messages to members, group-robot markdown to team channels.

Errors become `DeliveryError`: WeCom's frequency limits (45009 API over limit, 45011 too frequent, 45033
concurrency, -1 busy) are retried after `retry_after`; a recipient WeCom does not know or the app may not
reach (`invaliduser` in the answer, 40003, 60111, 81013, 82001), a wrong agent (40056, 301002) or an
untrusted server IP (60020) are permanent. Rate limits are per destination — 30 messages a minute per member
per app (beyond that WeCom drops them silently) and 20 a minute per robot — and the delivery layer enforces
them on `destination_key(...)` using `RATE_LIMITS`.
"""

from __future__ import annotations

import hashlib
import logging

import httpx

from config.settings import Settings
from core.messages import OutboundMessage
from core.notices import DeliveryError
from integrations.wecom.client import WeComApiError, WeComClient
from integrations.wecom.render import app_message, robot_markdown

log = logging.getLogger(__name__)

#: (messages, per seconds) for each destination kind
RATE_LIMITS = {"member": (30, 60), "robot": (20, 60)}

RETRY_AFTER = {45009: 60.0, 45011: 60.0, 45033: 5.0, -1: 5.0}
PERMANENT = {40003, 40056, 60020, 60111, 81013, 82001, 301002, 48002, 93000}


def destination_key(kind: str, ident: str) -> str:
    """`wecom:member:<userid>` or `wecom:robot:<webhook key or url>` — what the rate limiter counts on."""
    return f"wecom:{kind}:{ident}"


def delivery_error(exc: WeComApiError) -> DeliveryError:
    if exc.errcode in RETRY_AFTER:
        return DeliveryError(str(exc), retry_after=RETRY_AFTER[exc.errcode])
    return DeliveryError(str(exc), permanent=exc.errcode in PERMANENT)


class WeComNotifier:
    platform = "wecom"
    rate_limits = RATE_LIMITS

    def __init__(self, client: WeComClient) -> None:
        self.client = client

    @staticmethod
    def destination_key(user_id: str) -> str:
        return destination_key("member", user_id)

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        msgtype, content = app_message(message, notice_key)
        try:
            data = self.client.send_app_message(user_id, msgtype, content)
        except WeComApiError as exc:
            raise delivery_error(exc) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"WeCom unreachable: {type(exc).__name__}") from exc
        invalid = str(data.get("invaliduser") or "") or str(data.get("unlicenseduser") or "")
        if invalid:
            raise DeliveryError("WeCom refused the recipient (invaliduser/unlicenseduser)", permanent=True)
        log.info("wecom app message sent", extra={"notice_key": notice_key, "msgtype": msgtype})

    def send_channel(self, *, webhook: str, message: OutboundMessage, notice_key: str) -> None:
        """A team channel (group robot webhook from ALERT_CHANNELS): markdown."""
        try:
            self.client.send_robot(webhook, robot_markdown(message))
        except WeComApiError as exc:
            raise delivery_error(exc) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"WeCom robot unreachable: {type(exc).__name__}") from exc
        log.info("wecom robot message sent", extra={"notice_key": notice_key})


class WeComRobotNotifier:
    """A team alert channel: a WeCom group robot (消息推送) webhook, markdown, 20 messages a minute per
    robot. Group robots need no app credentials."""

    platform = "wecom"
    rate_limits = RATE_LIMITS

    def __init__(self, client: WeComClient, webhook: str, team: str | None = None, ref: str | None = None):
        self.client = client
        self.webhook = webhook
        self.team = team
        self.ref = ref

    def destination_key(self, user_id: str = "") -> str:
        # the webhook key is a credential: the limiter counts on a hash of it
        return destination_key("robot", hashlib.sha256(self.webhook.encode()).hexdigest()[:16])

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        try:
            self.client.send_robot(self.webhook, robot_markdown(message))
        except WeComApiError as exc:
            raise delivery_error(exc) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"WeCom robot unreachable: {type(exc).__name__}") from exc
        log.info("wecom robot message sent", extra={"notice_key": notice_key})


def robot_notifiers(settings: Settings, client: WeComClient | None = None) -> list[WeComRobotNotifier]:
    """One notifier per WeCom group robot of `LOOPKEEPER_ALERT_CHANNELS`."""
    found = []
    for ch in settings.alert_channels:
        if ch.platform != "wecom" or not ch.webhook:
            continue
        if client is None:
            client = WeComClient(api_url=settings.wecom.api_url, corp_id="", secret="")
        found.append(WeComRobotNotifier(client, ch.webhook, ch.team, ch.ref))
    return found
