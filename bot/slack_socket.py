"""Procfile `slack-socket` (optional): the Slack adapter over Socket Mode, for workspaces without a public
URL. It serves the same listeners as ``POST /slack/events`` (bolt skips the signature check there: the
socket itself is authenticated with the app-level token). Without ``LOOPKEEPER_SLACK__APP_TOKEN`` (or
with Slack not configured) it idles with one log line, so `honcho start` works on a bare machine."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.handler import BotHandler
from config.logging import setup_logging
from config.settings import get_settings

log = logging.getLogger("loopkeeper.slack")


async def _idle() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _main() -> None:
    settings = get_settings()
    slack = settings.slack
    if not slack.enabled or slack.app_token is None:
        log.warning(
            "Slack Socket Mode idle: set LOOPKEEPER_SLACK__BOT_TOKEN, LOOPKEEPER_SLACK__SIGNING_SECRET and "
            "LOOPKEEPER_SLACK__APP_TOKEN (xapp-…, scope connections:write) to connect without a public URL"
        )
        await _idle()
        return
    from integrations.slack.app import SlackAdapter

    adapter = SlackAdapter(slack, BotHandler(), timezone=settings.timezone)
    log.info("Slack Socket Mode connecting")
    await adapter.run_socket_mode(slack.app_token.get_secret_value())


def run() -> None:
    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    asyncio.run(_main())


if __name__ == "__main__":
    run()
