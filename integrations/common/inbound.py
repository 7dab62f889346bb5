"""The contract between platform adapters and the bot.

Adapters verify and normalize, then call these callbacks (injected by `bot/`, so `integrations` never
import `bot`). `on_message` must return quickly: it stores what needs storing and answers commands; slow
work happens later in workers. An adapter acknowledges its platform right after the callback returns.
"""

from __future__ import annotations

from typing import Protocol

from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, CommandInvocation, Reply


class InboundHandler(Protocol):
    def on_message(self, msg: ChatMessage) -> Reply | None:
        """A chat message addressed to the bot, a capture, or traffic of a bound conversation.

        Returns the reply to show the sender (rendered by the adapter), or None for nothing."""

    def on_command(self, inv: CommandInvocation) -> Reply:
        """A command invoked through a platform's own command mechanism (e.g. Slack's slash command).

        Commands typed as text ("@bot 漏斗") arrive through `on_message` with ``addressed=True``."""

    def on_action(self, action: ActionInvocation) -> Reply | None:
        """A button pressed on something the bot sent (ack, snooze, undo, choose a customer…)."""

    def on_approval(self, event: ApprovalEvent) -> None:
        """An approval (expense claim) event, stored idempotently on (platform, event_id)."""
