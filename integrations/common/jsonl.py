"""loopkeeper's own ingest JSONL (DESIGN §7), one message a line → normalized ChatMessage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from core.inbox import MAX_TEXT_CHARS
from core.messages import ChatMessage, ConversationRef, Sender
from core.textsafe import unstorable
from core.timeutil import parse_iso

REQUIRED = ("platform", "message_id", "conversation_id", "sender_id", "sent_at", "text")


class IngestFormatError(ValueError):
    """A line of an ingest file is not acceptable; the message names the line and the problem."""


@dataclass
class Skipped:
    line: int
    reason: str


IDS = ("platform", "message_id", "conversation_id", "sender_id")
OPTIONAL_TEXT = ("conversation_title", "sender_name", "quoted_text", "customer")
FLAGS = ("capture", "external")


def _check_text(obj: dict[str, object], key: str, where: str) -> None:
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise IngestFormatError(f"{where}: {key} must be a string, not {type(value).__name__} {value!r:.40}")
    problem = unstorable(value)
    if problem:
        raise IngestFormatError(f"{where}: {key} {problem}")


def parse_line(obj: dict[str, object], where: str) -> ChatMessage:
    missing = [k for k in REQUIRED if k not in obj or obj[k] is None]
    if missing:
        raise IngestFormatError(f"{where}: missing field(s) {', '.join(missing)}")
    for key in IDS:
        if isinstance(obj[key], int) and not isinstance(obj[key], bool):
            obj[key] = str(obj[key])  # numeric ids are common in exports
        _check_text(obj, key, where)
        if not str(obj[key]).strip():
            raise IngestFormatError(f"{where}: {key} is empty")
    for key in ("text", *OPTIONAL_TEXT):
        _check_text(obj, key, where)
    text = str(obj["text"])
    if len(text) > MAX_TEXT_CHARS:
        raise IngestFormatError(
            f"{where}: text is {len(text)} characters long; a message may have at most {MAX_TEXT_CHARS}"
        )
    for key in FLAGS:
        if obj.get(key) is not None and not isinstance(obj[key], bool):
            raise IngestFormatError(f"{where}: {key} must be true or false, not {obj[key]!r:.40}")
    try:
        sent_at = parse_iso(str(obj["sent_at"]), "sent_at")
    except ValueError as exc:
        raise IngestFormatError(f"{where}: sent_at {obj['sent_at']!r}: {exc}") from exc
    capture = obj.get("capture") is True
    try:
        return ChatMessage(
            platform=str(obj["platform"]),
            message_id=str(obj["message_id"]),
            conversation=ConversationRef(
                id=str(obj["conversation_id"]),
                title=obj.get("conversation_title") or None,  # type: ignore[arg-type]
                kind="direct" if obj.get("conversation_kind") == "direct" else "group",
                external=obj.get("external") is True,
            ),
            sender=Sender(platform_user_id=str(obj["sender_id"]), display_name=obj.get("sender_name")),  # type: ignore[arg-type]
            text=text,
            sent_at=sent_at,
            intent="capture" if capture else "chat",
            quoted_text=obj.get("quoted_text") or None,  # type: ignore[arg-type]
            customer_hint=obj.get("customer") or None,  # type: ignore[arg-type]
            raw=dict(obj),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ()))
        raise IngestFormatError(f"{where}: {field + ': ' if field else ''}{err['msg']}") from exc


def read_jsonl(path: Path | str, fh: IO[str] | IO[bytes] | None = None) -> Iterator[ChatMessage]:
    """Yield messages; raise IngestFormatError naming the first bad line (nothing is half-read)."""
    stream: IO[Any] = fh or open(path, "rb")  # noqa: SIM115
    try:
        for n, raw in enumerate(stream, start=1):
            line: str
            if isinstance(raw, bytes):
                try:
                    line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise IngestFormatError(
                        f"{path}:{n}: not valid UTF-8 (byte {exc.start + 1} of the line)"
                    ) from exc
            else:
                line = raw
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestFormatError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise IngestFormatError(f"{path}:{n}: expected a JSON object")
            yield parse_line(obj, f"{path}:{n}")
    finally:
        if fh is None:
            stream.close()
