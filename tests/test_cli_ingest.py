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


def line(mid: str, text: object, **kw: object) -> str:
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


def _seed_roster(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "c.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    run("members", "import", str(tmp_path / "m.csv"))
    run("customers", "import", str(tmp_path / "c.csv"))


def statuses() -> dict[str, str]:
    with session_scope() as s:
        return {r.message_id: r.status for r in s.exec(select(InboxMessage)).all()}


def test_interrupted_ingest_resumes_on_rerun(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import ingest as ingest_mod

    _seed_roster(tmp_path)
    f = tmp_path / "week.jsonl"
    f.write_text(
        "\n".join(
            [
                line("m1", "PAIN:price:贵"),
                line("m2", "收到", sent_at="2026-11-23T09:05:00+08:00"),
                line("m3", "PAIN:quality:漏水", sent_at="2026-11-23T09:10:00+08:00"),
            ]
        ),
        encoding="utf-8",
    )
    real = pipeline.process_conversation

    def interrupted(*a: object, **kw: object) -> list[pipeline.Outcome]:
        raise KeyboardInterrupt  # Ctrl-C after storing, before anything was applied

    monkeypatch.setattr(ingest_mod.pipeline, "process_conversation", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest_mod.ingest(list(ingest_mod.read_jsonl(f)))
    assert statuses() == {"m1": "pending", "m2": "pending", "m3": "pending"}
    with session_scope() as s:  # a row a killed run had taken
        row = s.exec(select(InboxMessage).where(InboxMessage.message_id == "m1")).one()
        row.status, row.attempts = "processing", 1
        s.add(row)
    monkeypatch.setattr(ingest_mod.pipeline, "process_conversation", real)
    code, out = run("ingest", str(f))
    assert code == 0, out
    assert "new: 0, already stored: 3" in out and "recorded 2" in out and "skipped 1" in out
    assert statuses() == {"m1": "done", "m2": "skipped", "m3": "done"}
    assert "still pending" not in out


def test_apply_command_applies_pending_rows(db: str, tmp_path: Path) -> None:
    from core.inbox import accept
    from integrations.common.jsonl import read_jsonl

    _seed_roster(tmp_path)
    f = tmp_path / "week.jsonl"
    f.write_text(
        line("m1", "PAIN:price:贵") + "\n" + line("m2", "收到", conversation_id="c2"), encoding="utf-8"
    )
    for m in read_jsonl(f):
        accept(m, source="ingest")
    assert statuses() == {"m1": "pending", "m2": "pending"}
    code, out = run("apply")
    assert code == 0 and "applied: recorded 1, skipped 1" in out, out
    assert statuses() == {"m1": "done", "m2": "skipped"}
    assert run("apply") == (0, "nothing pending\n")


def test_failing_row_is_marked_failed_and_does_not_block(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def extract(text: str, *a: object, **kw: object):  # type: ignore[no-untyped-def]
        calls.append(text)
        if "BOOM" in text:
            raise ValueError("E088 text too long")
        return fake_extract(text, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.nlp, "extract", extract, raising=False)
    _seed_roster(tmp_path)
    f = tmp_path / "week.jsonl"
    f.write_text(
        line("m1", "BOOM") + "\n" + line("m2", "PAIN:price:贵", sent_at="2026-11-23T09:05:00+08:00"),
        encoding="utf-8",
    )
    code, out = run("ingest", str(f))
    assert code == 1, out  # an error is not a success
    assert "applied: failed 1, recorded 1" in out
    assert statuses() == {"m1": "failed", "m2": "done"}
    assert calls.count("BOOM") == pipeline.MAX_ATTEMPTS  # retried, then given up
    with session_scope() as s:
        row = s.exec(select(InboxMessage).where(InboxMessage.message_id == "m1")).one()
        assert row.attempts == pipeline.MAX_ATTEMPTS and "E088" in (row.error or "")


def test_extraction_reads_a_bounded_prefix(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def extract(text: str, *a: object, **kw: object):  # type: ignore[no-untyped-def]
        seen.append(len(text))
        return fake_extract(text, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.nlp, "extract", extract, raising=False)
    _seed_roster(tmp_path)
    f = tmp_path / "long.jsonl"
    f.write_text(line("m1", "PAIN:price:贵 " + "啊" * 50_000), encoding="utf-8")
    code, out = run("ingest", str(f))
    assert code == 0 and "recorded 1" in out, out
    assert seen == [20_000]


def test_enqueue_wait_without_a_worker_reports_and_gives_up(db: str, tmp_path: Path) -> None:
    from bot.ingest import wait_until_applied

    f = tmp_path / "week.jsonl"
    f.write_text(line("m1", "PAIN:price:贵") + "\n" + line("m2", "收到"), encoding="utf-8")
    code, out = run("ingest", str(f), "--enqueue", "--wait", "--timeout", "1")
    assert code == 1, out
    assert "2 message(s) still pending: is a worker running?" in out and "loopkeeper apply" in out
    reports: list[int] = []
    left = wait_until_applied(30, poll=0.05, stall=0.3, report=reports.append, report_every=0.1)
    assert left == 2 and reports and set(reports) == {2}  # stopped by the stall, long before 30 s
