"""Shared fixtures: a fresh migrated database per test (SQLite by default, PostgreSQL when asked),
the shared development data, and the local servers CI provides."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]

# tests never read a developer's .env or real credentials
for _k in list(os.environ):
    if (
        _k.startswith("LOOPKEEPER_")
        and not _k.startswith("LOOPKEEPER_TEST_")
        and _k != "LOOPKEEPER_SHARED_DIR"
    ):
        del os.environ[_k]
os.chdir(REPO)  # settings read `.env` relative to the cwd: there is none in the repo


def shared_dir() -> Path | None:
    candidates = [os.environ.get("LOOPKEEPER_SHARED_DIR"), str(REPO.parent / "shared")]
    for c in candidates:
        if c and Path(c, "data").is_dir():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_dir()
    if d is None:
        pytest.skip("../shared (development data) is absent: set LOOPKEEPER_SHARED_DIR to run this test")
    return d


def _require_services() -> bool:
    return os.environ.get("LOOPKEEPER_TEST_REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _service_or_skip(env: str, default: str | None, port: int, what: str) -> str:
    url = os.environ.get(env) or default
    if url and _reachable(url, port):
        return url
    msg = f"{what} not reachable ({env}={url!r})"
    if _require_services():
        pytest.fail(msg + " and LOOPKEEPER_TEST_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(msg + ": start it or set " + env)


def reset_process_state() -> None:
    from config.settings import reset_settings
    from core.db import reset_engines

    reset_engines()
    reset_settings()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (Alembic runs once per session)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    os.environ["LOOPKEEPER_DATABASE_URL"] = f"sqlite:///{path}"
    reset_process_state()
    from core.migrate import upgrade

    upgrade()
    reset_process_state()
    del os.environ["LOOPKEEPER_DATABASE_URL"]
    return path


@pytest.fixture
def sqlite_db(tmp_path: Path, migrated_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    path = tmp_path / "lk.sqlite"
    shutil.copy(migrated_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LOOPKEEPER_DATABASE_URL", url)
    monkeypatch.setenv("LOOPKEEPER_BROKER_URL", f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    reset_process_state()
    yield url
    reset_process_state()


db = sqlite_db  # the default database fixture


@pytest.fixture
def postgres_url() -> str:
    return _service_or_skip("LOOPKEEPER_TEST_POSTGRES_URL", None, 5432, "PostgreSQL")


@pytest.fixture
def pg_db(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh schema in the test database, migrated; dropped afterwards."""
    import psycopg

    schema = f"lk_{uuid.uuid4().hex[:10]}"
    base = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("LOOPKEEPER_DATABASE_URL", url)
    reset_process_state()
    from core.migrate import upgrade

    upgrade()
    yield url
    reset_process_state()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def any_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """PostgreSQL (pg_db) when LOOPKEEPER_TEST_POSTGRES_URL is set, else the SQLite `db`."""
    name = "pg_db" if os.environ.get("LOOPKEEPER_TEST_POSTGRES_URL") else "db"
    yield request.getfixturevalue(name)


@pytest.fixture
def redis_url() -> str:
    return _service_or_skip("LOOPKEEPER_TEST_REDIS_URL", None, 6379, "Redis")
