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


_configured = False


def register_configured() -> None:
    """Register the notifier of every platform whose credentials are set (once per process)."""
    global _configured
    if _configured:
        return
    _configured = True
    from config.settings import get_settings
    from integrations.wecom.notifier import WeComNotifier
    from integrations.wecom.service import client_from_settings

    wecom = client_from_settings(get_settings())
    if wecom is not None and "wecom" not in _registry:
        register(WeComNotifier(wecom))


def reset() -> None:
    """Forget registered notifiers (tests change settings)."""
    global _configured
    _registry.clear()
    _configured = False


def notifier_for(platform: str | None) -> Notifier:
    register_configured()
    if platform and platform in _registry:
        return _registry[platform]
    return _fallback


def fallback() -> LoggingNotifier:
    return _fallback
