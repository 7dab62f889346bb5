"""Embedded SQLite shared by several processes (finding 6): extraction runs outside the write transaction,
reads take no write lock, and a keyed INSERT is retried when another process holds the lock longer than
the busy timeout. Another process is played by a plain sqlite3 connection to the same file."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from core import pipeline
from core.db import read_scope
from core.inbox import accept
from core.models import InboxMessage
from tests.conftest import reset_process_state
from tests.fakes import fake_extract
from tests.helpers import at, msg, seed


@pytest.fixture
def short_busy(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("LOOPKEEPER_SQLITE_BUSY_TIMEOUT_MS", "100")
    reset_process_state()
    yield db.split("///", 1)[1]
    reset_process_state()


def other_writer(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_extraction_runs_outside_the_write_transaction(
    short_busy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path)
    could_write: list[bool] = []

    def extract(*a, **kw):  # type: ignore[no-untyped-def]
        try:  # another process wants to write while we extract
            other_writer(short_busy).execute("ROLLBACK")
            could_write.append(True)
        except sqlite3.OperationalError:
            could_write.append(False)
        return fake_extract(*a, **kw)

    monkeypatch.setattr(pipeline.nlp, "extract", extract, raising=False)
    acc = accept(msg("m1", "PAIN:price:太贵", at(23, 9), title="杭州甲乙贸易 采购群"), source="ingest")
    assert acc.inbox_id
    [outcome] = pipeline.process_inbox(acc.inbox_id)
    assert (outcome.status, outcome.detail) == ("done", "recorded")
    assert could_write == [True]


def test_reads_do_not_wait_for_a_writer(short_busy: str, tmp_path: Path) -> None:
    seed(tmp_path)
    accept(msg("m1", "收到", at(23, 9)), source="ingest")
    writer = other_writer(short_busy)
    try:
        with read_scope() as s:
            assert len(s.exec(select(InboxMessage)).all()) == 1
        assert len(pipeline.pending_conversations()) == 1
    finally:
        writer.execute("ROLLBACK")


def test_accept_retries_when_the_lock_outlasts_the_busy_timeout(short_busy: str, tmp_path: Path) -> None:
    seed(tmp_path)
    writer = other_writer(short_busy)
    release = threading.Timer(0.5, lambda: writer.execute("ROLLBACK"))
    release.start()
    t0 = time.monotonic()
    try:
        acc = accept(msg("m1", "收到", at(23, 9)), source="ingest")
    finally:
        release.join()
    assert acc.inbox_id and not acc.duplicate
    assert time.monotonic() - t0 >= 0.4  # it did wait for the other writer


def test_a_lock_held_for_good_still_fails(short_busy: str, tmp_path: Path) -> None:
    seed(tmp_path)
    writer = other_writer(short_busy)
    try:
        with pytest.raises(OperationalError, match="locked"):
            accept(msg("m1", "收到", at(23, 9)), source="ingest")
    finally:
        writer.execute("ROLLBACK")
