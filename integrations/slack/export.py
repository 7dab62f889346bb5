"""Slack workspace export (a folder or the .zip Slack hands out) → normalized ChatMessages.

Layout: ``channels.json`` (and ``groups.json``/``dms.json``/``mpims.json`` in some exports), ``users.json``,
``<channel name>/<YYYY-MM-DD>.json`` (a list of messages). The message id is ``<channel id>:<ts>``, the
same key the Events API adapter uses, so a message seen live and again in an export is stored once.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from core.messages import ChatMessage, ConversationRef, Sender

#: message subtypes that are not something a person said
SKIP_SUBTYPES = {
    "channel_join",
    "channel_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "channel_archive",
    "channel_unarchive",
    "group_join",
    "group_leave",
    "bot_add",
    "bot_remove",
    "bot_message",
    "pinned_item",
    "unpinned_item",
    "tombstone",
    "message_deleted",
    "message_changed",
    "reminder_add",
}


@dataclass
class ExportStats:
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class _Source:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        self.prefix = ""
        if self.zip is not None:
            names = self.zip.namelist()
            roots = [n for n in names if PurePosixPath(n).name == "channels.json"]
            if roots:
                self.prefix = str(PurePosixPath(roots[0]).parent).removeprefix(".")
                self.prefix = f"{self.prefix}/" if self.prefix else ""

    def read(self, rel: str) -> Any | None:
        if self.zip is not None:
            try:
                data = self.zip.read(self.prefix + rel)
            except KeyError:
                return None
            return json.loads(data.decode("utf-8"))
        file = self.path / rel
        if not file.exists():
            return None
        return json.loads(file.read_text(encoding="utf-8"))

    def day_files(self, folder: str) -> list[str]:
        if self.zip is not None:
            base = self.prefix + folder + "/"
            return sorted(
                n[len(self.prefix) :]
                for n in self.zip.namelist()
                if n.startswith(base) and n.endswith(".json")
            )
        d = self.path / folder
        return sorted(f"{folder}/{p.name}" for p in d.glob("*.json")) if d.is_dir() else []


def is_slack_export(path: Path) -> bool:
    if path.is_dir():
        return (path / "channels.json").exists() or (path / "users.json").exists()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return any(PurePosixPath(n).name == "channels.json" for n in z.namelist())
    return False


def ts_to_datetime(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC)


def read_export(path: Path, stats: ExportStats | None = None) -> Iterator[ChatMessage]:
    stats = stats or ExportStats()
    src = _Source(path)
    users = {u.get("id"): u for u in (src.read("users.json") or [])}
    channels: list[tuple[dict[str, Any], str]] = []
    for listing, kind in (
        ("channels.json", "group"),
        ("groups.json", "group"),
        ("mpims.json", "group"),
        ("dms.json", "direct"),
    ):
        for ch in src.read(listing) or []:
            channels.append((ch, kind))
    for ch, kind in channels:
        folder = ch.get("name") or ch.get("id")
        title = f"#{ch['name']}" if ch.get("name") and kind != "direct" else None
        for rel in src.day_files(str(folder)):
            for m in src.read(rel) or []:
                if m.get("type") != "message":
                    stats.skip("not a message")
                    continue
                if m.get("subtype") in SKIP_SUBTYPES or m.get("bot_id"):
                    stats.skip(f"subtype {m.get('subtype') or 'bot'}")
                    continue
                if not m.get("user") or not m.get("ts"):
                    stats.skip("no user or ts")
                    continue
                text = m.get("text") or ""
                if not text.strip():
                    stats.skip("empty text")
                    continue
                user = users.get(m["user"], {})
                profile = user.get("profile", {})
                yield ChatMessage(
                    platform="slack",
                    message_id=f"{ch.get('id', folder)}:{m['ts']}",
                    conversation=ConversationRef(id=str(ch.get("id", folder)), kind=kind, title=title),  # type: ignore[arg-type]
                    sender=Sender(
                        platform_user_id=m["user"],
                        display_name=profile.get("real_name") or user.get("real_name") or user.get("name"),
                    ),
                    text=text,
                    sent_at=ts_to_datetime(m["ts"]),
                    raw=m,
                )
