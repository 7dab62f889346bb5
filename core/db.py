"""Engine and sessions. SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` write transactions so
several processes (web, worker, beat) can share one file; PostgreSQL is used as is."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from config.settings import get_settings

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, busy_timeout_ms: int | None = None) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        timeout_ms = busy_timeout_ms if busy_timeout_ms is not None else get_settings().sqlite_busy_timeout_ms
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": timeout_ms / 1000},
            hide_parameters=True,  # a failed INSERT must not print message text into logs or tracebacks
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # a unit of work takes the write lock up front: no deadlock from two readers upgrading at once;
            # a read-only scope (read_scope) begins DEFERRED and never waits for a writer (WAL)
            conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True)


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return _engine_for(get_settings().database_url)


def reset_engines() -> None:
    for engine in list(_engine_cache_values()):
        engine.dispose()
    _engine_for.cache_clear()


def _engine_cache_values() -> list[Engine]:
    # lru_cache keeps no public view of its values; rebuild from the current settings only
    try:
        return [_engine_for(get_settings().database_url)] if _engine_for.cache_info().currsize else []
    except Exception:  # noqa: BLE001 - settings may be invalid during teardown
        return []


@contextmanager
def read_scope() -> Iterator[Session]:
    """A read-only unit of work: on SQLite it takes no write lock, so it neither waits for nor blocks
    writers. Anything written in it is rolled back."""
    with Session(get_engine().execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


def is_locked(exc: BaseException) -> bool:
    """SQLite's busy timeout ran out ("database is locked" / "database is busy")."""
    return isinstance(exc, OperationalError) and any(
        w in str(exc.orig) for w in ("database is locked", "database is busy")
    )


def retry_locked(fn: Callable[[], T], attempts: int = 5, pause: float = 0.2) -> T:
    """Run the whole transaction ``fn`` again when SQLite stayed locked past its busy timeout (a long
    writer in another process); ``fn`` must be safe to repeat, e.g. an INSERT ... ON CONFLICT DO NOTHING."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except OperationalError as exc:
            if not is_locked(exc) or attempt == attempts:
                raise
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
