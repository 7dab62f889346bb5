"""Notifier wiring: one `Notifier` per platform; the logging notifier when none is configured.

The logging notifier prints recipient and title at INFO; the body (message text, personal data) only at
DEBUG.
"""

from __future__ import annotations

import logging

from core.messages import OutboundMessage
from core.notices import Notifier

log = logging.getLogger("loopkeeper.notify")


class LoggingNotifier:
    platform = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        log.info("notice to %s: %s [%s]", user_id, message.title, notice_key)
        log.debug("notice body for %s: %s", user_id, message.body)
        self.sent.append((user_id, message.title))


_registry: dict[str, Notifier] = {}
_fallback = LoggingNotifier()
#: team alert channels (LOOPKEEPER_ALERT_CHANNELS) per platform, e.g. DingTalk custom group robots
_channels: dict[str, list[Notifier]] = {}
_configured = False


def register(notifier: Notifier) -> None:
    _registry[notifier.platform] = notifier


def register_channel(notifier: Notifier) -> None:
    _channels.setdefault(notifier.platform, []).append(notifier)


def configure_platforms() -> None:
    """Register the notifiers of every configured platform (once per process)."""
    global _configured
    if _configured:
        return
    _configured = True
    from config.settings import get_settings

    settings = get_settings()
    if settings.dingtalk.enabled or any(c.platform == "dingtalk" for c in settings.alert_channels):
        from integrations.dingtalk.notifier import build_notifiers

        member, channels = build_notifiers(settings)
        if member is not None:
            register(member)
        for ch in channels:
            register_channel(ch)

    from integrations.wecom.notifier import WeComNotifier
    from integrations.wecom.service import client_from_settings

    wecom = client_from_settings(settings)
    if wecom is not None and "wecom" not in _registry:
        register(WeComNotifier(wecom))

    if settings.slack.enabled and "slack" not in _registry:
        from integrations.slack.notifier import SlackNotifier

        register(SlackNotifier.from_settings(settings.slack, redis_url=settings.effective_redis_url))


register_configured = configure_platforms  # the name the WeCom branch used


def reset() -> None:
    """Forget registered notifiers (tests change the settings)."""
    global _configured
    _registry.clear()
    _channels.clear()
    _configured = False


def notifier_for(platform: str | None) -> Notifier:
    configure_platforms()
    if platform and platform in _registry:
        return _registry[platform]
    return _fallback


def channels_for(platform: str, team: str | None = None) -> list[Notifier]:
    """Team alert channels of a platform (all of them, or those of `team` and those without a team)."""
    configure_platforms()
    found = _channels.get(platform, [])
    if team is None:
        return list(found)
    return [c for c in found if getattr(c, "team", None) in (None, team)]


def fallback() -> LoggingNotifier:
    return _fallback
