"""The command registry: name, Chinese and English aliases, roles allowed, arguments, help.

Every platform hands the bot either a chat message addressed to it ("@bot 漏斗 all") or a native command
invocation (Slack's `/lk 漏斗 all`); both end in `parse` + `dispatch` here, so a command behaves the same
everywhere. Handlers answer with a neutral `Reply` (markdown plus actions) that each platform renders.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from core.actions import ActionError
from core.messages import ChatMessage, ConversationRef, Reply
from core.models import Member
from core.scope import NotAllowed

log = logging.getLogger(__name__)

ALL_ROLES = frozenset({"rep", "manager", "director", "admin"})
MANAGERS = frozenset({"manager", "director", "admin"})


@dataclass
class Context:
    """What a command handler may use: the open session, who asks, where, and when."""

    session: Session
    member: Member
    platform: str
    conversation: ConversationRef
    now: datetime
    message: ChatMessage | None = None  # the chat message that carried the command, if any
    accept: Callable[[ChatMessage], object] | None = None  # store a capture (bot wires core.inbox.accept)


Handler = Callable[[Context, list[str]], Reply]


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    summary: str
    usage: str
    handler: Handler
    roles: frozenset[str] = ALL_ROLES
    examples: tuple[str, ...] = field(default_factory=tuple)

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


REGISTRY: dict[str, Command] = {}
_by_word: dict[str, Command] = {}


def register(cmd: Command) -> Command:
    for w in cmd.words:
        key = w.casefold()
        other = _by_word.get(key)
        if other is not None and other.name != cmd.name:
            raise ValueError(f"command word {w!r} is taken by {other.name!r}")
    REGISTRY[cmd.name] = cmd
    for w in cmd.words:
        _by_word[w.casefold()] = cmd
    return cmd


def command(
    name: str,
    *aliases: str,
    summary: str,
    usage: str = "",
    roles: frozenset[str] = ALL_ROLES,
    examples: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        register(Command(name, tuple(aliases), summary, usage or name, fn, roles, examples))
        return fn

    return deco


# leading @-mentions as platforms render them in text: "@loopkeeper", "<@U123>", "@机器人 " (with the
# narrow/ideographic spaces some clients insert)
_MENTION = re.compile(r"^(?:\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>|@\S+))+[\s\u2005\u3000]*")
_SPACE = re.compile(r"[\s\u2005\u3000]+")


def strip_mentions(text: str) -> str:
    return _MENTION.sub("", text or "").strip()


def parse(text: str) -> tuple[Command, list[str]] | None:
    """The command a text invokes and its arguments, or None when it is no command.

    Accepts an optional leading "/" and leading @-mentions; the command word is matched case-insensitively
    against names and aliases; a Chinese command word may be written without a space before its
    argument ("客户百润")."""
    body = strip_mentions(text)
    if body.startswith(("/", "／")):
        body = body[1:]
    parts = [p for p in _SPACE.split(body) if p]
    if not parts:
        return None
    head, args = parts[0], parts[1:]
    cmd = _by_word.get(head.casefold())
    if cmd is not None:
        return cmd, args
    # "客户百润" / "待办done": the longest command word that prefixes the head, when it is not ASCII
    for w in sorted(_by_word, key=len, reverse=True):
        if not w.isascii() and head.casefold().startswith(w) and len(head) > len(w):
            return _by_word[w], [head[len(w) :], *args]
    return None


def help_reply(topic: str | None = None) -> Reply:
    if topic:
        cmd = _by_word.get(topic.casefold())
        if cmd is not None:
            body = f"`{cmd.usage}`\n\n{cmd.summary}"
            if cmd.aliases:
                body += "\n\n别名 aliases: " + ", ".join(cmd.aliases)
            return Reply(title=f"{cmd.name} — 帮助", body=body, private=True)
    lines = [f"- `{c.usage}` ({'/'.join(c.aliases) or c.name}): {c.summary}" for c in REGISTRY.values()]
    return Reply(title="loopkeeper 命令 commands", body="\n".join(lines), private=True)


def dispatch(ctx: Context, cmd: Command, args: list[str]) -> Reply:
    """Run a command for `ctx.member`, refusing roles it is not for; user errors become replies."""
    if ctx.member.role not in cmd.roles:
        return Reply(
            title="无权限 Not allowed",
            body=f"`{cmd.name}` 仅限 {', '.join(sorted(cmd.roles))} 使用。",
            private=True,
        )
    try:
        return cmd.handler(ctx, args)
    except (ActionError, NotAllowed) as exc:
        return Reply(title="未完成 Not done", body=str(exc), private=True)
