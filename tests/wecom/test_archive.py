"""`loopkeeper ingest --format wecom-archive`: decrypted session-archive messages (/document/path/91774
layout), the quote/reply prefix, and unknown types skipped with a count."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import select

from bot.cli import main
from core.db import session_scope
from core.models import InboxMessage
from integrations.wecom.archive import ArchiveStats, read_archive, split_quote
from tests.helpers import seed

ROOM = "wrRoomOfJiaYi001"


def _lines() -> list[dict]:
    base = {"action": "send", "roomid": ROOM, "tolist": ["wm-chen", "wmExtJiaYiBuyer"]}
    return [
        {
            **base,
            "msgid": "A1",
            "from": "wmExtJiaYiBuyer",
            "msgtime": 1795489200000,
            "msgtype": "text",
            "text": {"content": "杭州甲乙贸易这边库存周转太慢了"},
        },
        {
            **base,
            "msgid": "A2",
            "from": "wm-zhou",
            "msgtime": 1795489260000,
            "msgtype": "text",
            "text": {
                "content": "这是一条引用/回复消息：\n采购王\n账期太短\n------\n@采购王 收到，我和财务沟通"
            },
        },
        {
            **base,
            "msgid": "A3",
            "from": "wm-zhou",
            "msgtime": 1795489270000,
            "msgtype": "image",
            "image": {"md5sum": "x", "filesize": 1, "sdkfileid": "y"},
        },
        {
            **base,
            "msgid": "A4",
            "action": "recall",
            "from": "wm-zhou",
            "msgtime": 1795489280000,
            "msgtype": "revoke",
            "revoke": {"pre_msgid": "A3"},
        },
        {"msgid": "A5", "action": "switch", "time": 1795489290000, "user": "wm-zhou"},
        {
            **base,
            "msgid": "A6",
            "from": "wm-zhou",
            "msgtime": 1795489300000,
            "msgtype": "emotion",
            "emotion": {"type": 1},
        },
    ]


def test_quote_prefix() -> None:
    assert split_quote("这是一条引用/回复消息：\nnick\n666\n------\n@nick777") == ("nick", "666", "@nick777")
    assert split_quote("This is a quote/reply:\nAnn\nline 1\nline 2\n------\nok") == (
        "Ann",
        "line 1\nline 2",
        "ok",
    )
    assert split_quote("普通消息") == (None, None, "普通消息")


def test_reader(tmp_path: Path) -> None:
    f = tmp_path / "archive.jsonl"
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in _lines()), encoding="utf-8")
    stats = ArchiveStats()
    msgs = list(read_archive(f, stats))
    assert [m.message_id for m in msgs] == ["archive:A1", "archive:A2"]
    assert msgs[1].quoted_text == "账期太短" and msgs[1].text == "@采购王 收到，我和财务沟通"
    assert msgs[0].conversation.id == f"room:{ROOM}" and msgs[0].conversation.external
    assert msgs[0].sent_at.isoformat() == "2026-11-24T03:00:00+00:00"  # date -u -d @1795489200
    assert stats.skipped == {"image": 1, "action recall": 1, "action switch": 1, "emotion": 1}


def test_cli_ingest(db: str, tmp_path: Path) -> None:
    seed(tmp_path)
    f = tmp_path / "archive.jsonl"
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in _lines()), encoding="utf-8")
    r = CliRunner().invoke(main, ["ingest", str(f), "--format", "wecom-archive"])
    assert r.exit_code == 0, r.output
    assert "messages read: 2" in r.output
    assert "image 1" in r.output and "emotion 1" in r.output and "action recall 1" in r.output
    with session_scope() as s:
        rows = s.exec(select(InboxMessage).order_by(InboxMessage.sent_at)).all()
        assert [(r.message_id, r.quoted_text) for r in rows] == [
            ("archive:A1", None),
            ("archive:A2", "账期太短"),
        ]
    again = CliRunner().invoke(main, ["ingest", str(f)])  # --format auto recognises the archive
    assert "new: 0, already stored: 2" in again.output


def test_encrypted_archive_is_refused(db: str, tmp_path: Path) -> None:
    f = tmp_path / "raw.json"
    f.write_text(
        json.dumps({"errcode": 0, "chatdata": [{"seq": 1, "msgid": "m", "encrypt_chat_msg": "..."}]})
    )
    r = CliRunner().invoke(main, ["ingest", str(f), "--format", "wecom-archive"])
    assert r.exit_code != 0 and "WeWorkFinanceSdk" in r.output


def test_official_examples(shared: Path) -> None:
    """Every example of the official page: the two text forms are read, every other type is counted."""
    f = shared / "fixtures" / "wecom" / "archive" / "doc91774_all_message_examples.jsonl"
    stats = ArchiveStats()
    msgs = list(read_archive(f, stats))
    texts = {m.text: m.quoted_text for m in msgs}
    assert texts.get("@nick777") == "666" and texts.get("test", "absent") is None
    lines = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(msgs) + sum(stats.skipped.values()) == len(lines)
    assert stats.skipped.get("image") == 1 and stats.skipped.get("action switch") == 1
