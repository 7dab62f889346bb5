"""Procfile `dingtalk`: the long-lived DingTalk Stream client. Until DingTalk is configured for stream
mode it idles with one clear log line (so `make run` works on a bare machine). SIGTERM/SIGINT stop it
cleanly: the current frames are acknowledged and their replies sent before the process exits."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from config.logging import setup_logging
from config.settings import get_settings

log = logging.getLogger("loopkeeper.dingtalk")


def _idle(reason: str, hint: str) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.warning("DingTalk stream idle: DingTalk is %s (%s)", reason, hint)
    stop.wait()


async def _main() -> None:
    from bot.handler import BotHandler
    from bot.pacing import wait_for_slot
    from integrations.dingtalk.adapter import build_adapter
    from integrations.dingtalk.stream import StreamClient

    settings = get_settings().dingtalk
    assert settings.client_id and settings.client_secret
    adapter = build_adapter(BotHandler(), settings)
    adapter.pace = wait_for_slot  # direct replies share the app robot's limit
    client = StreamClient(
        adapter,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        api_url=settings.api_url,
        idle_timeout=settings.stream_idle_seconds,
        start_jitter=settings.stream_start_jitter,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.warning("DingTalk stream client starting")
    await client.run(stop)
    log.warning("DingTalk stream client stopped")


def run() -> None:
    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    if not settings.dingtalk.enabled:
        _idle(
            "not configured",
            "set LOOPKEEPER_DINGTALK__CLIENT_ID and LOOPKEEPER_DINGTALK__CLIENT_SECRET to connect",
        )
        return
    if settings.dingtalk.mode != "stream":
        _idle(
            "configured for HTTP mode", "the web process receives POST /dingtalk/robot and /dingtalk/events"
        )
        return
    asyncio.run(_main())
