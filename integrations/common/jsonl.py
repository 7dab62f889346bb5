"""loopkeeper's own ingest JSONL (DESIGN §7), one message a line → normalized ChatMessage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from core.messages import ChatMessage, ConversationRef, Sender
from core.timeutil import parse_iso

REQUIRED = ("platform", "message_id", "conversation_id", "sender_id", "sent_at", "text")


class IngestFormatError(ValueError):
    """A line of an ingest file is not acceptable; the message names the line and the problem."""


@dataclass
class Skipped:
    line: int
    reason: str


def parse_line(obj: dict[str, object], where: str) -> ChatMessage:
    missing = [k for k in REQUIRED if k not in obj or obj[k] is None]
    if missing:
        raise IngestFormatError(f"{where}: missing field(s) {', '.join(missing)}")
    try:
        sent_at = parse_iso(str(obj["sent_at"]), "sent_at")
    except ValueError as exc:
        raise IngestFormatError(f"{where}: sent_at {obj['sent_at']!r}: {exc}") from exc
    capture = bool(obj.get("capture"))
    try:
        return ChatMessage(
            platform=str(obj["platform"]),
            message_id=str(obj["message_id"]),
            conversation=ConversationRef(
                id=str(obj["conversation_id"]),
                title=obj.get("conversation_title") or None,  # type: ignore[arg-type]
                kind="direct" if obj.get("conversation_kind") == "direct" else "group",
                external=bool(obj.get("external", False)),
            ),
            sender=Sender(platform_user_id=str(obj["sender_id"]), display_name=obj.get("sender_name")),  # type: ignore[arg-type]
            text=str(obj["text"]),
            sent_at=sent_at,
            intent="capture" if capture else "chat",
            quoted_text=obj.get("quoted_text") or None,  # type: ignore[arg-type]
            customer_hint=obj.get("customer") or None,  # type: ignore[arg-type]
            raw=dict(obj),
        )
    except ValidationError as exc:
        raise IngestFormatError(f"{where}: {exc.errors()[0]['msg']}") from exc


def read_jsonl(path: Path | str, fh: IO[str] | None = None) -> Iterator[ChatMessage]:
    """Yield messages; raise IngestFormatError naming the first bad line (nothing is half-read)."""
    stream = fh or open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for n, line in enumerate(stream, start=1):
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
