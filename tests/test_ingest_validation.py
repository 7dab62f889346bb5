"""Ingest validation: a line that cannot be stored everywhere (empty ids, wrong types, NUL, lone
surrogates, invalid UTF-8, oversized text) is refused with the file, line and field named, before anything
is stored; live traffic with such characters is stored cleaned instead of failing at INSERT."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from core.db import session_scope
from core.models import InboxMessage
from tests.test_cli_ingest import _fake_nlp, count_inbox, line, run  # noqa: F401 (autouse fixture)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (line("m3", "x", message_id=""), "message_id is empty"),
        (line("m3", "x", platform=" "), "platform is empty"),
        (line("m3", "x", conversation_id=""), "conversation_id is empty"),
        (line("m3", "x", capture="false"), "capture must be true or false"),
        (line("m3", "x", external="yes"), "external must be true or false"),
        (line("m3", "x", conversation_title=123), "conversation_title must be a string"),
        (line("m3", "x", sender_name=["a"]), "sender_name must be a string"),
        (line("m3", 42), "text must be a string"),
        (line("m3", "a\x00b"), "text contains a NUL character"),
        (line("m3", "x", sender_name="小\x00周"), "sender_name contains a NUL character"),
        # json.dumps writes the lone surrogate as the escape \ud800, as the breaker's file had it
        (line("m3", "aSURRb").replace("SURR", "\\ud800"), "text contains an unpaired surrogate"),
        (line("m3", "啊" * 100_001), "text is 100001 characters long"),
    ],
)
def test_ingest_refuses_unstorable_lines(db: str, tmp_path: Path, bad: str, expected: str) -> None:
    f = tmp_path / "week.jsonl"
    f.write_text("\n".join([line("m1", "ok"), line("m2", "ok"), bad]) + "\n", encoding="utf-8")
    code, out = run("ingest", str(f))
    assert code == 1 and f"week.jsonl:3: {expected}" in out and "nothing was ingested" in out, out
    assert count_inbox() == 0


def test_ingest_names_an_invalid_utf8_line(db: str, tmp_path: Path) -> None:
    f = tmp_path / "week.jsonl"
    f.write_bytes((line("m1", "ok") + "\n").encode() + b'{"text": "\xe5\x95"}\n')
    code, out = run("ingest", str(f))
    assert code == 1 and "week.jsonl:2: not valid UTF-8" in out and count_inbox() == 0, out


def test_ingest_accepts_numeric_ids_and_a_bom(db: str, tmp_path: Path) -> None:
    f = tmp_path / "week.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + line("m1", "ok", message_id=17, capture=False).encode() + b"\n")
    code, out = run("ingest", str(f))
    assert code == 0 and "new: 1" in out, out
    with session_scope() as s:
        row = s.exec(select(InboxMessage)).one()
        assert row.message_id == "17" and row.intent == "chat"


def test_live_text_with_nul_or_lone_surrogate_is_stored_cleaned(any_db: str) -> None:
    # PostgreSQL refuses NUL in text and JSON: this runs there when LOOPKEEPER_TEST_POSTGRES_URL is set
    from core.inbox import accept
    from tests.helpers import at, msg

    acc = accept(msg("m1", "a\x00b\ud800c😀", at(23, 9), title="群\x00"))
    assert not acc.duplicate
    with session_scope() as s:
        row = s.exec(select(InboxMessage)).one()
        assert row.text == "a\ufffdb\ufffdc😀"
        assert row.payload["text"] == "a\ufffdb\ufffdc😀"


def test_database_errors_do_not_echo_message_text(db: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from core.db import get_engine

    with pytest.raises(IntegrityError) as err, get_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO inboxmessage (id, platform, message_id, text) VALUES (:i, :p, :m, :t)"),
            {"i": 1, "p": None, "m": None, "t": "客户手机 13800000000"},
        )
    assert "13800000000" not in str(err.value)
