"""Notifier wiring: one `Notifier` per platform; the logging notifier when none is configured.

The logging notifier prints recipient and title at INFO; the body (message text, personal data) only at
DEBUG.
"""

from __future__ import annotations

import logging

from core.messages import OutboundMessage
from core.notices import Destination, Notifier

log = logging.getLogger("loopkeeper.notify")


class LoggingNotifier:
    platform = "log"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, *, user_id: str, message: OutboundMessage, notice_key: str) -> None:
        log.info("notice to %s: %s [%s]", user_id, message.title, notice_key)
        log.debug("notice body for %s: %s", user_id, message.body)
        self.sent.append((user_id, message.title))


# Platform limits (../shared/docs/platforms.md §4), with a safety margin where going over is punished:
# Slack chat.postMessage ~1/s per channel; DingTalk robots 20/min (then a 10-minute throttle); WeCom app
# messages 30/min per member (excess silently dropped), WeCom group robots 20/min.
# These are the platforms' limits; delivery paces below them (`paced`).
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "slack": (1, 1.0),
    "dingtalk": (20, 60.0),
    "wecom": (30, 60.0),
}
UNLIMITED = (1000, 1.0)  # the logging notifier and unknown platforms
# sends per window left unused under a platform limit of ten or more: a platform counting a closed window
# (both ends) or a clock skew between our workers and theirs never sees the limit reached (DingTalk
# throttles a robot for 10 minutes after its 21st message in a minute): 20/min -> 18, 30/min -> 28
SAFETY_MARGIN = 2


def paced(dest: Destination) -> Destination:
    """The destination with the limit delivery keeps to: the platform's limit less SAFETY_MARGIN."""
    limit = dest.limit - SAFETY_MARGIN if dest.limit >= 10 and dest.limit < UNLIMITED[0] else dest.limit
    return Destination(dest.key, limit, dest.per_seconds)


def destination(notifier: Notifier, user_id: str) -> Destination:
    """Where a send to ``user_id`` is paced, as the notifier declares it:

    1. ``destination(user_id) -> Destination(key, limit, per_seconds)`` (the documented form), or
    2. ``destination_key(user_id) -> str`` with the limit in ``rate_limit = (limit, per_seconds)`` or in
       ``rate_limits = {kind: (limit, per_seconds)}`` keyed by the key's middle segment
       (``wecom:member:u1`` → ``member``), else the platform default;
    3. nothing: ``platform:user_id`` with the platform default (``DEFAULT_LIMITS``).

    The limit declared is the platform's; the one returned is ``paced`` (a safety margin below it)."""
    return paced(_declared(notifier, user_id))


def _declared(notifier: Notifier, user_id: str) -> Destination:
    declared = getattr(notifier, "destination", None)
    if callable(declared):
        dest = declared(user_id)
        return dest if isinstance(dest, Destination) else Destination(*dest)
    limit, per = DEFAULT_LIMITS.get(notifier.platform, UNLIMITED)
    key_fn = getattr(notifier, "destination_key", None)
    if not callable(key_fn):
        return Destination(f"{notifier.platform}:{user_id}", limit, per)
    key = str(key_fn(user_id))
    single = getattr(notifier, "rate_limit", None)
    by_kind = getattr(notifier, "rate_limits", None)
    parts = key.split(":")
    if isinstance(single, tuple) and len(single) == 2:
        limit, per = single
    elif isinstance(by_kind, dict) and len(parts) > 2 and parts[1] in by_kind:
        limit, per = by_kind[parts[1]]
    return Destination(key, int(limit), float(per))


_registry: dict[str, Notifier] = {}
_fallback = LoggingNotifier()
#: team alert channels (LOOPKEEPER_ALERT_CHANNELS) per platform, e.g. DingTalk custom group robots
_channels: dict[str, list[Notifier]] = {}
_configured = False


def register(notifier: Notifier) -> None:
    """Make ``notifier`` deliver every notice of its platform (the composition root calls this when the
    platform is configured)."""
    _registry[notifier.platform] = notifier


def unregister(platform: str) -> None:
    _registry.pop(platform, None)


def is_connected(platform: str | None) -> bool:
    """A notifier (not the logging fallback) serves the platform."""
    return platform is not None and notifier_for(platform) is not _fallback


def register_channel(notifier: Notifier) -> None:
    """A team alert channel's notifier. It carries ``ref`` (config AlertChannel.ref: what core stores in
    a channel notice's ``extra.channel``) and ``team``; ``send`` gets that ref as ``user_id``."""
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
    if any(c.platform == "wecom" for c in settings.alert_channels):
        from integrations.wecom.notifier import robot_notifiers

        for robot in robot_notifiers(settings, wecom):
            register_channel(robot)

    if settings.slack.enabled:
        from integrations.slack.notifier import SlackNotifier

        if "slack" not in _registry:
            register(SlackNotifier.from_settings(settings.slack))
        for c in settings.alert_channels:
            if c.platform == "slack" and c.channel:
                register_channel(SlackNotifier.from_settings(settings.slack, team=c.team, ref=c.channel))


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


def channel_notifier(platform: str | None, ref: str) -> Notifier | None:
    """The notifier of one team channel, by the ``ref`` core stored in the notice (a Slack channel id, or
    ``robot-<hash>`` of a robot webhook); None when that channel is no longer configured."""
    for c in channels_for(platform or ""):
        if getattr(c, "ref", None) == ref:
            return c
    return None


def fallback() -> LoggingNotifier:
    return _fallback
