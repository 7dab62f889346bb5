"""DingTalk notifiers (`core.notices.Notifier`): 1:1 messages from the app robot to a member, and custom
group robots for team alert channels (`LOOPKEEPER_ALERT_CHANNELS`).

Both are limited to 20 messages a minute per robot: `destination_key` names the bucket the bot's delivery
layer rate-limits on, and a throttled send raises `DeliveryError(retry_after=…)`.
"""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from core.messages import OutboundMessage
from integrations.dingtalk.client import RATE_LIMIT, DingTalkClient, webhook_destination
from integrations.dingtalk.links import ActionLinks
from integrations.dingtalk.render import digest, openapi_message, webhook_body


class DingTalkNotifier:
    """Sends a notice 1:1 through the app robot (`/v1.0/robot/oToMessages/batchSend`); buttons become
    signed action links bound to the recipient."""

    platform = "dingtalk"
    rate_limit = RATE_LIMIT

    def __init__(self, client: DingTalkClient, links: ActionLinks) -> None:
        self.client = client
        self.links = links

    def destination_key(self, user_id: str) -> str:
        return f"dingtalk:robot:{self.client.robot_code}"

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        msg_key, param = openapi_message(message, lambda a: self.links.url(a.value, user_id))
        self.client.send_to_users([user_id], msg_key, param)


class GroupRobotNotifier:
    """A team alert channel: a custom group robot's signed webhook. Messages carry no action buttons
    (a click in a group cannot be tied to one member); `url` actions still link."""

    platform = "dingtalk"
    rate_limit = RATE_LIMIT

    def __init__(
        self,
        client: DingTalkClient,
        webhook: str,
        secret: str | None,
        team: str | None = None,
        ref: str | None = None,
    ) -> None:
        self.client = client
        self.webhook = webhook
        self.secret = secret
        self.team = team
        self.ref = ref  # the channel's name in notices (config AlertChannel.ref), never the webhook

    def destination_key(self, user_id: str = "") -> str:
        return webhook_destination(self.webhook)

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        self.client.send_custom_robot(self.webhook, self.secret, webhook_body(message))

    def send_many(self, messages: list[OutboundMessage]) -> int:
        """Send several notices as few digest messages as fit; the number of messages sent."""
        parts = digest(messages)
        for part in parts:
            self.client.send_custom_robot(self.webhook, self.secret, webhook_body(part))
        return len(parts)


def build_notifiers(
    settings: Settings, *, http: Any = None
) -> tuple[DingTalkNotifier | None, list[GroupRobotNotifier]]:
    """The member notifier (when the app credentials are set) and one notifier per DingTalk alert
    channel of `LOOPKEEPER_ALERT_CHANNELS` (a custom group robot webhook, optionally with its SEC… secret)."""
    dt = settings.dingtalk
    client: DingTalkClient | None = None
    member: DingTalkNotifier | None = None
    if dt.enabled and dt.client_id and dt.client_secret:
        secret = dt.client_secret.get_secret_value()
        client = DingTalkClient(
            client_id=dt.client_id,
            client_secret=secret,
            robot_code=dt.robot_code,
            api_url=dt.api_url,
            http=http,
        )
        member = DingTalkNotifier(client, ActionLinks(secret, dt.public_url))
    channels: list[GroupRobotNotifier] = []
    for ch in settings.alert_channels:
        if ch.platform != "dingtalk" or not ch.webhook:
            continue
        if client is None:  # custom group robots need no app credentials
            client = DingTalkClient(client_id="", client_secret="", api_url=dt.api_url, http=http)
        secret_value = ch.secret.get_secret_value() if ch.secret else None
        channels.append(GroupRobotNotifier(client, ch.webhook, secret_value, ch.team, ch.ref))
    return member, channels
