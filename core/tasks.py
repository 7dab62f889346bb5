"""Celery tasks that decide (capture pipeline, sweeper, rules scan). Every task is safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.signals import worker_process_init
from sqlalchemy import func, or_
from sqlmodel import col, select

from config.celery import app
from config.settings import get_settings
from core import pipeline
from core.db import read_scope, session_scope
from core.models import Conversation, InboxMessage
from core.scan import scan
from core.timeutil import utcnow

log = logging.getLogger(__name__)


@app.task(name="core.tasks.process_inbox", acks_late=True, reject_on_worker_lost=True)
def process_inbox(inbox_id: int) -> int:
    return len(pipeline.process_inbox(inbox_id))


def enqueue_inbox(inbox_id: int) -> None:
    process_inbox.delay(inbox_id)


def stale_conversations(limit: int = 500) -> list[int]:
    """One pending inbox id per conversation whose rows wait longer than they should and that no live
    worker holds (its lease is free or expired)."""
    settings = get_settings()
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.sweep_after_seconds)
    with read_scope() as session:
        rows = session.exec(
            select(func.min(InboxMessage.id))
            .join(Conversation, col(Conversation.id) == col(InboxMessage.conversation_pk))
            .where(
                col(InboxMessage.status).in_(("pending", "processing")),
                InboxMessage.received_at < cutoff,
                or_(col(Conversation.lease_until).is_(None), col(Conversation.lease_until) < now),
            )
            .group_by(col(InboxMessage.conversation_pk))
            .limit(limit)
        ).all()
    return [int(r) for r in rows if r is not None]


@app.task(name="core.tasks.sweep_inbox")
def sweep_inbox() -> int:
    ids = stale_conversations()
    for inbox_id in ids:
        enqueue_inbox(inbox_id)
    if ids:
        log.info("sweeper re-enqueued %d conversation(s)", len(ids))
    return len(ids)


@app.task(name="core.tasks.scan_rules")
def scan_rules() -> int:
    with session_scope() as session:
        return scan(session, utcnow()).created


@app.task(name="core.tasks.purge_seen")
def purge_seen() -> int:
    """Forget handled-event keys older than any platform's redelivery window (core.seen)."""
    from core import seen

    return seen.purge()


def warm_up_nlp(**_: object) -> None:
    """Load both spaCy pipelines (and the segmenter's dictionary) when a worker process starts, so the first
    capture does not spend seconds loading them inside its transaction (on SQLite: the write lock)."""
    from datetime import UTC, datetime

    from core import pipeline as _pipeline

    now = datetime.now(UTC)
    _pipeline.nlp.extract("明天上午十点电话", now=now)
    _pipeline.nlp.extract("call tomorrow 10am", now=now)


worker_process_init.connect(warm_up_nlp, weak=False)
