"""A slow or hung broker never holds an inbound request (breaker finding #2): the handler commits the inbox
row, returns its reply, and publishes to the broker in the background; the publish tries once with a short
connect timeout (Celery settings), the sweepers cover a failed one."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlmodel import select

from bot.handler import BotHandler
from core.db import session_scope
from core.models import InboxMessage
from tests.helpers import at, msg, seed


def test_capture_returns_before_the_broker_answers(db: str, tmp_path: Path) -> None:
    seed(tmp_path)
    release = threading.Event()
    started = threading.Event()
    published: list[int] = []
    returned_first: list[bool] = []

    def hung_broker(inbox_id: int) -> None:  # accepts the publish and never answers (until released)
        started.set()
        release.wait(timeout=10)
        published.append(inbox_id)

    handler = BotHandler(enqueue=hung_broker, background=True)
    m = msg("e1", "@loopkeeper 记一下", at(23, 9), quoted="客户说价格太贵", conv="dm-zhou")
    reply = handler.on_message(m.model_copy(update={"addressed": True}))
    returned_first.append(not release.is_set() and not published)
    assert reply is not None and reply.title.startswith("收到")
    with session_scope() as s:  # the row is committed before the reply
        rows = s.exec(select(InboxMessage)).all()
    assert len(rows) == 1
    assert started.wait(timeout=10), "the publish runs (in the background)"
    release.set()
    for _ in range(100):
        if published:
            break
        threading.Event().wait(0.05)
    assert returned_first == [True], "the reply came back while the broker was still hanging"
    assert published == [rows[0].id]


def test_failed_background_publish_is_logged_and_swallowed(db: str, tmp_path: Path) -> None:
    seed(tmp_path)
    done = threading.Event()

    def refused(inbox_id: int) -> None:
        done.set()
        raise ConnectionRefusedError("broker down")

    handler = BotHandler(enqueue=refused, background=True)
    m = msg("e2", "@loopkeeper 记一下", at(23, 9), quoted="客户说价格太贵", conv="dm-zhou")
    reply = handler.on_message(m.model_copy(update={"addressed": True}))
    assert reply is not None and reply.title.startswith("收到")
    assert done.wait(timeout=10)


def test_default_handler_publishes_in_the_background(db: str) -> None:
    assert BotHandler().background is True
    assert BotHandler(enqueue=None).background is False


def test_celery_publish_tries_once_with_a_short_connect_timeout() -> None:
    from config.celery import make_celery

    app = make_celery()
    assert app.conf.task_publish_retry is False
    assert app.conf.broker_connection_timeout <= 2.0
