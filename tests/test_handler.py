"""The bot's inbound handler: what a message addressed to the bot becomes (command, capture, refusal).
Expected values follow the documented behaviour (DESIGN §1, §4): members only, one INSERT per capture,
a non-member's request stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.commands import parse
from bot.handler import BotHandler
from core.db import session_scope
from core.messages import CommandInvocation, ConversationRef, Sender
from core.models import InboxMessage
from tests.helpers import at, msg, seed


@pytest.fixture
def handler(db: str, tmp_path: Path) -> BotHandler:
    seed(tmp_path)
    return BotHandler(enqueue=None)


def _inbox() -> list[InboxMessage]:
    with session_scope() as s:
        return list(s.exec(select(InboxMessage)).all())


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("@loopkeeper 帮助", "help", []),
        ("<@U0BOT> help capture", "help", ["capture"]),
        ("/HELP", "help", []),
        ("@loopkeeper\u2005记一下 杭州甲乙贸易", "capture", ["杭州甲乙贸易"]),
        ("记一下甲乙", "capture", ["甲乙"]),
    ],
)
def test_parse_commands(handler: BotHandler, text: str, name: str, args: list[str]) -> None:
    parsed = parse(text)
    assert parsed is not None
    assert (parsed[0].name, parsed[1]) == (name, args)


@pytest.mark.parametrize("text", ["收到", "好的👍", "", "@loopkeeper"])
def test_chatter_is_no_command(handler: BotHandler, text: str) -> None:
    assert parse(text) is None


def test_quote_reply_to_bot_is_a_capture(handler: BotHandler) -> None:
    m = msg("m1", "@loopkeeper 记一下 甲乙", at(23, 9), quoted="账期太短").model_copy(
        update={"addressed": True}
    )
    reply = handler.on_message(m)
    assert reply is not None and reply.private
    rows = _inbox()
    assert [(r.intent, r.customer_hint, r.quoted_text) for r in rows] == [("capture", "甲乙", "账期太短")]
    # the same delivery again: one row
    handler.on_message(m)
    assert len(_inbox()) == 1


def test_non_member_is_refused_and_nothing_stored(handler: BotHandler) -> None:
    m = msg("m2", "@loopkeeper 记一下", at(23, 9), quoted="账期太短", sender="stranger")
    reply = handler.on_message(m.model_copy(update={"addressed": True}))
    assert reply is not None and "nothing was stored" in reply.body
    assert _inbox() == []


def test_native_command_reaches_the_registry(handler: BotHandler) -> None:
    inv = CommandInvocation(
        platform="wecom",
        conversation=ConversationRef(id="c1"),
        sender=Sender(platform_user_id="wm-zhou"),
        name="/lk",
        args=["帮助"],
    )
    reply = handler.on_command(inv)
    assert "capture" in reply.body and reply.private


def test_addressed_text_that_is_no_command_in_a_group_gets_help(handler: BotHandler) -> None:
    m = msg("m3", "@loopkeeper 你好", at(23, 9)).model_copy(update={"addressed": True})
    reply = handler.on_message(m)
    assert reply is not None and "commands" in reply.title
    assert _inbox() == []


def test_fake_server_records_calls() -> None:
    import httpx

    from tests.fakeserver import FakeServer

    with FakeServer() as srv:
        srv.route("POST", "/api/x", body={"ok": True})
        r = httpx.post(srv.url + "/api/x?a=1", json={"k": "v"})
        assert r.json() == {"ok": True}
        assert httpx.get(srv.url + "/nope").status_code == 404
    assert (srv.calls[0].json, srv.calls[0].query) == ({"k": "v"}, {"a": ["1"]})


def _notice_actions(kind: str) -> list[str]:
    from core.models import Notice

    with session_scope() as s:
        notices = s.exec(select(Notice).where(Notice.kind == kind)).all()
        return [a["value"] for n in notices for a in (n.payload or {}).get("actions", [])]


def test_buttons_on_pipeline_notices_work(handler: BotHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import pipeline
    from core.messages import ActionInvocation
    from core.models import PainPoint
    from tests.fakes import fake_extract

    monkeypatch.setattr(pipeline.nlp, "extract", fake_extract, raising=False)
    queued: list[int] = []
    handler.enqueue = queued.append
    # no customer can be told from this capture: the rep is asked, with one button per candidate
    m = msg("q1", "@loopkeeper 记一下", at(23, 9), quoted="PAIN:price:太贵", conv="dm-zhou")
    handler.on_message(m.model_copy(update={"addressed": True}))
    pipeline.process_inbox(queued.pop())
    choices = _notice_actions("question")
    assert choices, "the rep gets a which-customer question with buttons"
    press = ActionInvocation(platform="wecom", sender=Sender(platform_user_id="wm-zhou"), value=choices[0])
    reply = handler.on_action(press)
    assert reply is not None and "好的" in reply.title
    pipeline.process_inbox(queued.pop())
    with session_scope() as s:
        assert [p.phrase for p in s.exec(select(PainPoint)).all()] == ["太贵"]
    # the confirmation's undo button removes exactly what the capture created
    undo = [v for v in _notice_actions("capture_confirmation") if v.endswith(":undo")]
    assert len(undo) == 1
    handler.on_action(press.model_copy(update={"value": undo[0]}))
    with session_scope() as s:
        assert s.exec(select(PainPoint)).all() == []
    # pressing the answered question again changes nothing
    again = handler.on_action(press)
    assert again is not None and "已经回答" in again.body
