"""Procfile `dingtalk`: the long-lived DingTalk Stream client. Until DingTalk is configured for stream
mode it idles with one clear log line (so `make run` works on a bare machine)."""

from __future__ import annotations

import logging
import signal
import threading

from config.logging import setup_logging
from config.settings import get_settings

log = logging.getLogger("loopkeeper.dingtalk")


def run() -> None:
    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if not settings.dingtalk.enabled or settings.dingtalk.mode != "stream":
        reason = "not configured" if not settings.dingtalk.enabled else "configured for HTTP mode"
        log.warning(
            "DingTalk stream idle: DingTalk is %s (set LOOPKEEPER_DINGTALK__CLIENT_ID and "
            "LOOPKEEPER_DINGTALK__CLIENT_SECRET to connect)",
            reason,
        )
        stop.wait()
        return
    log.warning("DingTalk stream mode is configured but the stream client is not built yet; idling")
    stop.wait()
