"""`loopkeeper ingest` and the imports: formats detected, bad input refused with the line named and
nothing half-stored, re-running is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import func, select

from bot.cli import main
from core import pipeline
from core.db import session_scope
from core.models import Customer, InboxMessage, Member, PlatformIdentity
from tests.fakes import fake_extract
from tests.helpers import CUSTOMERS_CSV, MEMBERS_CSV


@pytest.fixture(autouse=True)
def _fake_nlp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.nlp, "extract", fake_extract, raising=False)


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res.exit_code, res.output


def line(mid: str, text: str, **kw: object) -> str:
    obj = {
        "platform": "wecom",
        "message_id": mid,
        "conversation_id": "c1",
        "conversation_title": "杭州甲乙贸易 群",
        "sender_id": "wm-zhou",
        "sender_name": "小周",
        "sent_at": "2026-11-23T09:00:00+08:00",
        "text": text,
    }
    obj.update(kw)
    return json.dumps(obj, ensure_ascii=False)


def count_inbox() -> int:
    with session_scope() as s:
        return int(s.exec(select(func.count()).select_from(InboxMessage)).one())


def test_imports_and_bad_rows(db: str, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "c.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    assert run("members", "import", str(tmp_path / "m.csv")) == (0, "members: 4 created, 0 updated\n")
    assert run("members", "import", str(tmp_path / "m.csv")) == (0, "members: 0 created, 4 updated\n")
    assert run("customers", "import", str(tmp_path / "c.csv"))[0] == 0
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(PlatformIdentity)).one() == 12
        zhou = s.exec(select(Member).where(Member.name == "小周")).one()
        mgr = s.exec(select(Member).where(Member.name == "王经理")).one()
        assert zhou.manager_id == mgr.id
        assert len(s.exec(select(Customer)).all()) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("name,role\n甲,rep\n乙,boss\n", encoding="utf-8")
    code, out = run("members", "import", str(bad))
    assert code == 1 and "bad.csv:3" in out and "boss" in out and "nothing was imported" in out
    with session_scope() as s:
        assert s.exec(select(Member).where(Member.name == "甲")).first() is None  # all or nothing


def test_ingest_bad_line_names_it_and_stores_nothing(db: str, tmp_path: Path) -> None:
    f = tmp_path / "week.jsonl"
    f.write_text(
        "\n".join(
            [line("m1", "PAIN:price:贵"), line("m2", "x", sent_at="2026-11-23T09:00:00"), line("m3", "y")]
        ),
        encoding="utf-8",
    )
    code, out = run("ingest", str(f))
    assert code == 1
    assert "week.jsonl:2" in out and "sent_at" in out and "nothing was ingested" in out
    assert count_inbox() == 0
    f.write_text(line("m1", "ok") + "\n{not json\n", encoding="utf-8")
    code, out = run("ingest", str(f))
    assert code == 1 and "week.jsonl:2: not valid JSON" in out and count_inbox() == 0


def test_ingest_twice_is_a_noop(db: str, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "c.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    run("members", "import", str(tmp_path / "m.csv"))
    run("customers", "import", str(tmp_path / "c.csv"))
    f = tmp_path / "week.jsonl"
    f.write_text("\n".join([line("m1", "PAIN:price:贵"), line("m2", "收到")]) + "\n", encoding="utf-8")
    code, out = run("ingest", str(f))
    assert code == 0 and "new: 2, already stored: 0" in out and "recorded 1" in out and "skipped 1" in out
    before = run("customers", "--json")[1]
    code, out = run("ingest", str(f))
    assert "new: 0, already stored: 2" in out
    assert run("customers", "--json")[1] == before


def test_slack_export_zip_and_folder_are_detected(db: str, shared: Path) -> None:
    base = shared / "fixtures/slack/export"
    code, out_zip = run("ingest", str(base / "slack-export-viewer-testarchive.zip"))
    assert code == 0, out_zip
    assert "not messages (skipped by the reader)" in out_zip and "channel_join" in out_zip
    n = count_inbox()
    assert n > 0
    # the folder holds the same export: every message is already stored
    code, out_dir = run("ingest", str(base / "slack-export-viewer-testarchive"))
    assert code == 0 and f"new: 0, already stored: {n}" in out_dir
    with session_scope() as s:
        row = s.exec(select(InboxMessage)).first()
        assert row is not None and row.platform == "slack" and ":" in row.message_id
        assert row.sent_at.tzinfo is not None


def test_unknown_format_is_refused(db: str, tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello", encoding="utf-8")
    code, out = run("ingest", str(f))
    assert code == 1 and "cannot tell the format" in out
