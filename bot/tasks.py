"""Celery tasks that deliver (outbox). Safe to run twice: a notice is claimed before it is sent."""

from __future__ import annotations

from bot import delivery
from config.celery import app


@app.task(name="bot.tasks.deliver_pending")
def deliver_pending() -> int:
    return delivery.deliver_pending()


@app.task(name="bot.tasks.deliver_notice")
def deliver_notice(notice_id: int) -> str:
    return delivery.deliver(notice_id)
