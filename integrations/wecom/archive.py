"""Session archive (会话内容存档) backfill: decrypted messages as Tencent's WeWorkFinanceSdk produces them
(`DecryptData` output, /document/path/91774), one JSON object per line, or a JSON list, or a GetChatData-like
``{"chatdata": [...]}`` whose items are already decrypted.

Common fields: msgid, action (send|recall|switch), from, tolist, roomid, msgtime (ms), msgtype. Text is read
from `text.content` (and `markdown`'s `info.content`). A quote or reply arrives as text with a prefix,
"这是一条引用/回复消息：\\n<nick>\\n<quoted>\\n------\\n<reply>" (English clients: "This is a
quote/reply:"), which becomes ``quoted_text`` and the reply text. Other types, recalls and switches
are skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.messages import ChatMessage, ConversationRef, Sender

PLATFORM = "wecom"
QUOTE_PREFIXES = ("这是一条引用/回复消息：", "这是一条引用/回复消息:", "This is a quote/reply:")
QUOTE_SEPARATOR = "\n------\n"


class ArchiveFormatError(ValueError):
    pass


@dataclass
class ArchiveStats:
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def split_quote(content: str) -> tuple[str | None, str | None, str]:
    """(quoted nick, quoted text, reply) for a quote/reply text; (None, None, content) otherwise."""
    for prefix in QUOTE_PREFIXES:
        if content.startswith(prefix):
            rest = content[len(prefix) :].lstrip("\r\n")
            head, sep, reply = rest.partition(QUOTE_SEPARATOR)
            if not sep:
                return None, None, content
            nick, _, quoted = head.partition("\n")
            return (nick.strip() or None), (quoted.strip() or None), reply.strip()
    return None, None, content


def is_external_id(user_id: str) -> bool:
    """External contacts' ids start with wo/wm (WeChat users and other corps' members); bots with wb."""
    return user_id.startswith(("wo", "wm"))


def _conversation(obj: dict[str, Any]) -> ConversationRef:
    sender = str(obj.get("from") or "")
    tolist = [str(t) for t in obj.get("tolist") or []]
    people = [sender, *tolist]
    external = any(is_external_id(p) for p in people)
    room = str(obj.get("roomid") or "")
    if room:
        return ConversationRef(id=f"room:{room}", kind="group", external=external)
    pair = sorted({p for p in people if p})
    return ConversationRef(id="single:" + "|".join(pair), kind="direct", external=external)


def parse_message(obj: dict[str, Any], stats: ArchiveStats) -> ChatMessage | None:
    action = str(obj.get("action") or "send")
    if action != "send":
        stats.skip(f"action {action}")
        return None
    mtype = str(obj.get("msgtype") or "")
    if mtype == "text":
        content = str((obj.get("text") or {}).get("content") or "")
    elif mtype == "markdown":
        content = str((obj.get("info") or obj.get("markdown") or {}).get("content") or "")
    else:
        stats.skip(mtype or "no msgtype")
        return None
    msgid = str(obj.get("msgid") or "")
    if not msgid or "msgtime" not in obj or not obj.get("from"):
        stats.skip("missing msgid/msgtime/from")
        return None
    try:
        sent_at = datetime.fromtimestamp(int(obj["msgtime"]) / 1000.0, tz=UTC)
    except (TypeError, ValueError):
        stats.skip("bad msgtime")
        return None
    if not content.strip():
        stats.skip("empty text")
        return None
    _nick, quoted, reply = split_quote(content)
    sender = str(obj["from"])
    return ChatMessage(
        platform=PLATFORM,
        message_id=f"archive:{msgid}",
        conversation=_conversation(obj),
        sender=Sender(platform_user_id=sender, is_member=False if is_external_id(sender) else None),
        text=reply if quoted else content,
        quoted_text=quoted,
        sent_at=sent_at,
        raw={k: v for k, v in obj.items() if k not in ("text", "info")},
    )


def _objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")) and not _looks_like_jsonl(stripped):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ArchiveFormatError(f"{path}: not JSON: {exc}") from exc
        items = data.get("chatdata") if isinstance(data, dict) and "chatdata" in data else data
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise ArchiveFormatError(f"{path}: expected a list of archive messages")
        for i, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise ArchiveFormatError(f"{path}: item {i} is not an object")
            yield f"{path}:item {i}", item
        return
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArchiveFormatError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise ArchiveFormatError(f"{path}:{n}: not a JSON object")
        yield f"{path}:{n}", obj


def _looks_like_jsonl(text: str) -> bool:
    first = text.split("\n", 1)[0].strip()
    if not first.startswith("{"):
        return False
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return "\n" in text.strip()


def read_archive(path: Path | str, stats: ArchiveStats | None = None) -> Iterator[ChatMessage]:
    stats = stats if stats is not None else ArchiveStats()
    for _where, obj in _objects(Path(path)):
        if "encrypt_chat_msg" in obj:
            raise ArchiveFormatError(
                f"{_where}: still encrypted (encrypt_chat_msg); decrypt with the WeWorkFinanceSdk first"
            )
        m = parse_message(obj, stats)
        if m is not None:
            yield m
