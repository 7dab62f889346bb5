"""Message text the database cannot store (reliability: hostile input): NUL and lone surrogates are cleaned
where the inbox stores a message, and an SQL error never carries the statement's values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import select

from core.db import make_engine, session_scope
from core.inbox import store
from core.models import InboxMessage
from core.textsafe import clean_text
from tests.helpers import at, msg, seed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\x00b", "a\ufffdb"),
        ("\ud800x", "\ufffdx"),
        ("x\udfff", "x\ufffd"),
        ("😀 ok", "😀 ok"),  # a real astral character (one code point) stays
        (json.loads('"\\ud83d\\ude00"'), "😀"),  # a JSON surrogate pair decodes to one code point
        (json.loads('"\\ud83d"'), "\ufffd"),  # a lone JSON escape does not
        ("客户手机", "客户手机"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_store_cleans_every_string_of_the_message(db: str, tmp_path: Path) -> None:
    seed(tmp_path)
    lone = json.loads('"\\ud800"')
    m = msg(
        "m-nul", "甲乙\x00说库存" + lone, at(3, 10), quoted="引用\x00", title="群" + lone, customer="甲\x00乙"
    )
    m = m.model_copy(update={"raw": {"text": "a\x00b", "k" + lone: [lone]}})
    with session_scope() as s:
        assert store(s, m) is not None
    with session_scope() as s:
        row = s.exec(select(InboxMessage)).one()
        assert row.text == "甲乙\ufffd说库存\ufffd"
        assert row.quoted_text == "引用\ufffd" and row.customer_hint == "甲\ufffd乙"
        assert row.raw == {"text": "a\ufffdb", "k\ufffd": ["\ufffd"]}
        assert "\x00" not in json.dumps(row.payload, ensure_ascii=False)


def test_sql_errors_do_not_carry_the_values(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)"))
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "客户手机 13800138000"})
    with pytest.raises((DBAPIError, StatementError)) as err, engine.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "客户手机 13800138000"})
    assert "13800138000" not in str(err.value)
