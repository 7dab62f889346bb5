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
    # when set, text whose arguments it rejects is no command at all: a bare "收到" is chatter, not `ack`
    accepts: Callable[[list[str]], bool] | None = None

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
    accepts: Callable[[list[str]], bool] | None = None,
) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        register(Command(name, tuple(aliases), summary, usage or name, fn, roles, examples, accepts))
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
    found: tuple[Command, list[str]] | None = None
    cmd = _by_word.get(head.casefold())
    if cmd is not None:
        found = cmd, args
    else:
        # "客户百润" / "收到A12": the longest command word that prefixes the head, when it is not ASCII
        for w in sorted(_by_word, key=len, reverse=True):
            if not w.isascii() and head.casefold().startswith(w) and len(head) > len(w):
                found = _by_word[w], [head[len(w) :], *args]
                break
    if found is not None and found[0].accepts is not None and not found[0].accepts(found[1]):
        return None
    return found


def is_glued(text: str) -> bool:
    """The command word in ``text`` is glued to what follows ("客户百润"), not a word of its own.

    Glued forms are also ordinary sentences ("客户说账期太短"): when such a command fails, the bot
    treats the text as what it would be without a command (a capture in a 1:1 chat)."""
    body = strip_mentions(text)
    if body.startswith(("/", "／")):
        body = body[1:]
    parts = [p for p in _SPACE.split(body) if p]
    return bool(parts) and parts[0].casefold() not in _by_word


def help_reply(topic: str | None = None, role: str | None = None) -> Reply:
    """Help on one command, or the list of commands (only those ``role`` may use, when given)."""
    if topic:
        cmd = _by_word.get(topic.casefold())
        if cmd is not None:
            body = f"`{cmd.usage}`\n\n{cmd.summary}"
            if cmd.aliases:
                body += "\n\n别名 aliases: " + ", ".join(cmd.aliases)
            if cmd.roles != ALL_ROLES:
                body += "\n\n角色 roles: " + ", ".join(sorted(cmd.roles))
            if cmd.examples:
                body += "\n\n例 examples: " + " · ".join(f"`{e}`" for e in cmd.examples)
            return Reply(title=f"{cmd.name} — 帮助", body=body, private=True)
    cmds = [c for c in REGISTRY.values() if role is None or role in c.roles]
    lines = [f"- `{c.usage}` ({'/'.join(c.aliases) or c.name}): {c.summary}" for c in cmds]
    return Reply(title="loopkeeper 命令 commands", body="\n".join(lines), private=True)


def dispatch(ctx: Context, cmd: Command, args: list[str]) -> Reply:
    """Run a command for `ctx.member`, refusing roles it is not for; user errors become replies."""
    if ctx.member.role not in cmd.roles:
        return refusal(f"`{cmd.name}` 仅限 {', '.join(sorted(cmd.roles))} 使用 (only for these roles)。")
    try:
        return cmd.handler(ctx, args)
    except NotAllowed as exc:
        return refusal(str(exc))
    except ActionError as exc:
        return Reply(title=NOT_DONE, body=str(exc), private=True)


NOT_ALLOWED = "无权限 Not allowed"
NOT_DONE = "未完成 Not done"


def refusal(body: str) -> Reply:
    """The one shape of a refusal: private, no data."""
    return Reply(title=NOT_ALLOWED, body=body, private=True)
