"""Backfill: read a chat export, store every message through the inbox, and apply it through the same
pipeline as live traffic — in-process by default, or handed to running workers (``--enqueue``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlmodel import col, func, select

from core import pipeline
from core.db import session_scope
from core.inbox import accept
from core.messages import ChatMessage
from core.models import InboxMessage
from integrations.common.jsonl import read_jsonl
from integrations.slack.export import ExportStats, is_slack_export, read_export

FORMATS = ("auto", "jsonl", "slack-export", "wecom-archive")


class UnknownFormat(ValueError):
    pass


@dataclass
class IngestSummary:
    read: int = 0
    new: int = 0
    duplicates: int = 0
    reader_skipped: dict[str, int] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    enqueued: bool = False

    def lines(self) -> list[str]:
        out = [
            f"messages read: {self.read}",
            f"new: {self.new}, already stored: {self.duplicates}",
        ]
        if self.reader_skipped:
            out.append(
                "not messages (skipped by the reader): "
                + ", ".join(f"{k} {v}" for k, v in self.reader_skipped.items())
            )
        if self.enqueued:
            out.append("handed to the workers (loopkeeper ingest --enqueue)")
        elif self.outcomes:
            out.append("applied: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        return out


def detect_format(path: Path) -> str:
    if path.is_dir() or path.suffix == ".zip":
        if is_slack_export(path):
            return "slack-export"
        raise UnknownFormat(f"{path}: a folder or zip, but not a Slack export (no channels.json)")
    if path.suffix in (".jsonl", ".ndjson", ".json") or path.name == "-":
        with path.open(encoding="utf-8") as fh:
            first = next((line for line in fh if line.strip()), "")
        if '"msgtime"' in first and '"msgid"' in first:
            return "wecom-archive"
        return "jsonl"
    raise UnknownFormat(f"{path}: cannot tell the format; pass --format")


def read_messages(path: Path, fmt: str, summary: IngestSummary) -> list[ChatMessage]:
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "jsonl":
        return list(read_jsonl(path))
    if fmt == "slack-export":
        stats = ExportStats()
        msgs = list(read_export(path, stats))
        summary.reader_skipped = stats.skipped
        return msgs
    if fmt == "wecom-archive":
        from integrations.wecom.archive import ArchiveFormatError, ArchiveStats, read_archive

        archive_stats = ArchiveStats()
        try:
            msgs = list(read_archive(path, archive_stats))
        except ArchiveFormatError as exc:
            raise UnknownFormat(str(exc)) from exc
        summary.reader_skipped = archive_stats.skipped
        return msgs
    raise UnknownFormat(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def ingest(
    messages: list[ChatMessage],
    *,
    enqueue: Callable[[int], None] | None = None,
    progress: Callable[[Iterable[ChatMessage]], Iterable[ChatMessage]] | None = None,
    summary: IngestSummary | None = None,
) -> IngestSummary:
    summary = summary or IngestSummary()
    ordered = sorted(messages, key=lambda m: (m.sent_at, m.message_id))
    summary.read = len(ordered)
    conversations: dict[int, None] = {}
    new_ids: list[int] = []
    for msg in progress(ordered) if progress else ordered:
        acc = accept(msg, enqueue, source="ingest")
        if acc.duplicate or acc.inbox_id is None:
            summary.duplicates += 1
            continue
        summary.new += 1
        new_ids.append(acc.inbox_id)
    if enqueue is not None:
        summary.enqueued = True
        return summary
    with session_scope() as session:
        if new_ids:
            rows = session.exec(
                select(InboxMessage.conversation_pk).where(col(InboxMessage.id).in_(new_ids)).distinct()
            ).all()
            conversations = {int(r): None for r in rows if r is not None}
    for conv_pk in conversations:
        for outcome in pipeline.process_conversation(conv_pk):
            summary.outcomes[
                outcome.status if outcome.status != "done" else outcome.detail.split(":")[0]
            ] += 1
    return summary


def wait_until_applied(timeout: float = 600.0, poll: float = 0.5) -> int:
    """Block until no inbox row is pending or processing; the number still open (0 when done)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with session_scope() as session:
                left = session.exec(
                    select(func.count())
                    .select_from(InboxMessage)
                    .where(col(InboxMessage.status).in_(("pending", "processing")))
                ).one()
        except OperationalError:  # SQLite busy while a worker writes: only a poll, look again
            if time.monotonic() > deadline:
                raise
            time.sleep(poll)
            continue
        if not left or time.monotonic() > deadline:
            return int(left)
        time.sleep(poll)
