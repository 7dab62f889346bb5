"""Composition: the WeCom notifier is registered from settings and delivers outbox notices privately as app
messages; a failed handler lets WeCom's retry through; configuration mistakes name the variable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.db import session_scope
from core.messages import Action, OutboundMessage
from core.notices import create_notice
from tests.fakeserver import FakeServer
from tests.wecom.conftest import RecordingHandler, encrypt, make_client, text_xml


@pytest.fixture
def fresh_notifiers() -> Iterator[None]:
    from bot import notifiers

    notifiers.reset()
    yield
    notifiers.reset()


def test_outbox_notice_is_delivered_as_an_app_message(wecom_env: FakeServer, fresh_notifiers: None) -> None:
    from sqlmodel import select

    from bot import notifiers
    from bot.delivery import deliver
    from core.models import Member, Notice
    from integrations.wecom.notifier import WeComNotifier

    assert isinstance(notifiers.notifier_for("wecom"), WeComNotifier)
    with session_scope() as s:
        zhou = s.exec(select(Member).where(Member.name == "小周")).one()
        nid = create_notice(
            s,
            key="capture:99",
            recipient_id=zhou.id,
            kind="capture_confirmation",
            platform="wecom",
            message=OutboundMessage(
                title="已记录到 杭州甲乙贸易：1 个痛点",
                actions=[Action(kind="undo", label="撤销 Undo", value="capture:7:undo")],
            ),
        )
    assert nid is not None
    assert deliver(nid) == "sent"
    [send] = wecom_env.calls_to("/cgi-bin/message/send")
    assert send.json["touser"] == "wm-zhou" and send.json["msgtype"] == "template_card"
    with session_scope() as s:
        n = s.get(Notice, nid)
        assert n is not None and n.state == "sent"


class Exploding(RecordingHandler):
    fail = True

    def on_message(self, msg):  # type: ignore[no-untyped-def]
        if self.fail:
            self.fail = False
            raise RuntimeError("database is locked")
        return super().on_message(msg)


def test_failed_handler_lets_the_retry_through(wecom_env: FakeServer) -> None:
    from bot.app import create_app

    handler = Exploding()
    client = TestClient(create_app(handler), raise_server_exceptions=False)
    req = encrypt(text_xml("记一下 甲乙 账期太短", msg_id="9100"))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 500
    # WeCom retries the same request: it is handled this time
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    assert [m.message_id for m in handler.messages] == ["app:9100"]


def test_bad_aes_key_names_the_variable(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import reset_settings

    monkeypatch.setenv("LOOPKEEPER_WECOM__CORP_ID", "wwc")
    monkeypatch.setenv("LOOPKEEPER_WECOM__TOKEN", "tok")
    monkeypatch.setenv("LOOPKEEPER_WECOM__ENCODING_AES_KEY", "too-short")
    reset_settings()
    with pytest.raises(ValueError, match="LOOPKEEPER_WECOM__ENCODING_AES_KEY"):
        make_client(RecordingHandler())


def test_callback_off_without_credentials(db: str) -> None:
    r = make_client(RecordingHandler()).post(
        "/wecom/callback", params={"msg_signature": "x"}, content="<xml/>"
    )
    assert r.status_code == 503


def test_the_running_app_enqueues_each_reply_for_a_worker(
    wecom_env: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a handler that hands work to Celery (the running system), bot/app.py enqueues
    bot.tasks.deliver_notice for each reply notice after the answer; nothing is sent from `web`."""
    from sqlmodel import select

    from bot import tasks
    from bot.handler import BotHandler
    from core.models import Notice

    queued: list[int] = []
    monkeypatch.setattr(tasks.deliver_notice, "delay", queued.append)
    inbox: list[int] = []
    client = make_client(BotHandler(enqueue=inbox.append))
    req = encrypt(text_xml("记一下 甲乙 账期太短", msg_id="9501"))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    with session_scope() as s:
        [n] = s.exec(select(Notice)).all()
    assert queued == [n.id] and n.state == "pending" and len(inbox) == 1
    assert wecom_env.calls_to("/cgi-bin/message/send") == []
