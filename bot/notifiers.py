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


def register(notifier: Notifier) -> None:
    _registry[notifier.platform] = notifier


def _configure_slack() -> None:
    from config.settings import get_settings

    settings = get_settings()
    if settings.slack.enabled:
        from integrations.slack.notifier import SlackNotifier

        register(SlackNotifier.from_settings(settings.slack, redis_url=settings.effective_redis_url))


#: platform → registers its notifier when the platform is configured (called on first use)
_configurers = {"slack": _configure_slack}


def notifier_for(platform: str | None) -> Notifier:
    if platform and platform not in _registry and platform in _configurers:
        _configurers[platform]()
    if platform and platform in _registry:
        return _registry[platform]
    return _fallback


def reset() -> None:
    """Forget registered notifiers (tests change the settings)."""
    _registry.clear()


def fallback() -> LoggingNotifier:
    return _fallback
