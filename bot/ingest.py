"""Backfill: read a chat export, store every message through the inbox, and apply it through the same
pipeline as live traffic — in-process by default, or handed to running workers (``--enqueue``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, func, select

from core import pipeline
from core.db import read_scope
from core.inbox import accept
from core.messages import ChatMessage
from core.models import Conversation, InboxMessage
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
    still_open: int = 0
    failed_ids: list[int] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.outcomes.get("failed", 0) + self.outcomes.get("error", 0)

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
            return out
        return out + self.outcome_lines()

    def outcome_lines(self) -> list[str]:
        out = []
        if self.outcomes:
            out.append("applied: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        if self.still_open:
            out.append(
                f"still pending: {self.still_open} (held by a running worker, or left for "
                "`loopkeeper apply` once its lease expires)"
            )
        if self.failed_ids:
            shown = ", ".join(str(i) for i in self.failed_ids[:20])
            out.append(f"failed inbox rows (the error is stored on each row): {shown}")
        return out


def detect_format(path: Path) -> str:
    if path.is_dir() or path.suffix == ".zip":
        if is_slack_export(path):
            return "slack-export"
        raise UnknownFormat(f"{path}: a folder or zip, but not a Slack export (no channels.json)")
    if path.suffix in (".jsonl", ".ndjson", ".json") or path.name == "-":
        with path.open(encoding="utf-8", errors="replace") as fh:  # the reader names a bad line
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
    keys: set[tuple[str, str]] = set()
    for msg in progress(ordered) if progress else ordered:
        keys.add((msg.platform, msg.conversation.id))
        acc = accept(msg, enqueue, source="ingest")
        if acc.duplicate or acc.inbox_id is None:
            summary.duplicates += 1
            continue
        summary.new += 1
    if enqueue is not None:
        summary.enqueued = True
        return summary
    # every conversation of the file with rows still open: the new ones, and those an interrupted or
    # failed earlier run left pending (re-running the same file finishes the job)
    with read_scope() as session:
        open_convs = session.exec(
            select(Conversation.id, Conversation.platform, Conversation.conversation_id)
            .join(InboxMessage, col(InboxMessage.conversation_pk) == col(Conversation.id))
            .where(col(InboxMessage.status).in_(("pending", "processing")))
            .distinct()
        ).all()
    conversations = [
        int(pk) for pk, platform, cid in open_convs if pk is not None and (platform, cid) in keys
    ]
    apply_conversations(sorted(conversations), summary)
    return summary


def apply_conversations(conversations: Iterable[int], summary: IngestSummary) -> None:
    """Apply the open rows of each conversation in-process, retrying a failing row at once."""
    for conv_pk in conversations:
        for outcome in pipeline.process_conversation(conv_pk, retry_inline=True):
            if outcome.status in ("failed", "error"):
                summary.failed_ids.append(outcome.inbox_id)
            summary.outcomes[
                outcome.status if outcome.status != "done" else outcome.detail.split(":")[0]
            ] += 1
    with read_scope() as session:
        summary.still_open = int(
            session.exec(
                select(func.count())
                .select_from(InboxMessage)
                .where(col(InboxMessage.status).in_(("pending", "processing")))
            ).one()
        )


def apply_pending() -> IngestSummary:
    """Apply every open inbox row in-process (``loopkeeper apply``: no workers needed)."""
    summary = IngestSummary()
    apply_conversations(pipeline.pending_conversations(), summary)
    return summary


def wait_until_applied(
    timeout: float = 600.0,
    poll: float = 0.5,
    *,
    stall: float = 120.0,
    report: Callable[[int], None] | None = None,
    report_every: float = 5.0,
) -> int:
    """Block until no inbox row is pending or processing; the number still open (0 when done).

    Gives up after ``timeout`` seconds, or after ``stall`` seconds in which no row changed between
    pending, processing and applied (no worker is taking the work); ``report`` is told the number every
    ``report_every`` seconds."""
    start = time.monotonic()
    deadline = start + timeout
    last_state: tuple[int, int] | None = None
    last_change = last_report = start
    while True:
        with read_scope() as session:
            rows = session.exec(
                select(InboxMessage.status, func.count())
                .where(col(InboxMessage.status).in_(("pending", "processing")))
                .group_by(col(InboxMessage.status))
            ).all()
        counts = {status: int(n) for status, n in rows}
        state = (counts.get("pending", 0), counts.get("processing", 0))
        left = sum(state)
        now = time.monotonic()
        if state != last_state:
            last_state, last_change = state, now
        if not left or now >= deadline or now - last_change >= stall:
            return left
        if report is not None and now - last_report >= report_every:
            report(left)
            last_report = now
        time.sleep(poll)
