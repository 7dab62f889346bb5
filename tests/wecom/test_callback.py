"""`GET|POST /wecom/callback`: requests encrypted with wechatpy's WeChatCrypto, the official known-answer
vector (/document/path/90968, frozen time), and every refusal with its log line and nothing stored."""

from __future__ import annotations

import logging
import time

import pytest
import time_machine
from sqlmodel import select
from wechatpy.crypto import PrpCrypto, _get_signature
from wechatpy.enterprise.crypto import WeChatCrypto

from core.db import session_scope
from core.models import InboxMessage, Notice
from tests.fakeserver import FakeServer
from tests.test_callback_crypto import WECOM
from tests.wecom.conftest import (
    AES,
    CORP,
    TOKEN,
    RecordingHandler,
    delivered,
    encrypt,
    make_client,
    text_xml,
)


def _inbox() -> list[InboxMessage]:
    with session_scope() as s:
        return list(s.exec(select(InboxMessage)).all())


def test_url_verification_replies_plaintext_only(wecom_env: FakeServer) -> None:
    ts, nonce = str(int(time.time())), "v1"
    echostr = PrpCrypto(WeChatCrypto(TOKEN, AES, CORP).key).encrypt("8310157891735592", CORP)
    echostr = echostr.decode() if isinstance(echostr, bytes) else echostr
    sig = _get_signature(TOKEN, ts, nonce, echostr)
    client = make_client(RecordingHandler())
    r = client.get(
        "/wecom/callback", params={"msg_signature": sig, "timestamp": ts, "nonce": nonce, "echostr": echostr}
    )
    assert r.status_code == 200
    assert r.content == b"8310157891735592"  # no quotes, no BOM, no newline
    bad = client.get(
        "/wecom/callback",
        params={"msg_signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": echostr},
    )
    assert bad.status_code == 403 and bad.content == b""


OFFICIAL = WECOM  # the official /document/path/90968 vector, written once in tests/test_callback_crypto.py


def test_official_known_answer_vector(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import reset_settings

    monkeypatch.setenv("LOOPKEEPER_WECOM__CORP_ID", OFFICIAL["corp"])
    monkeypatch.setenv("LOOPKEEPER_WECOM__TOKEN", OFFICIAL["token"])
    monkeypatch.setenv("LOOPKEEPER_WECOM__ENCODING_AES_KEY", OFFICIAL["aes"])
    reset_settings()
    handler = RecordingHandler()
    client = make_client(handler)
    body = (
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        f"<Encrypt><![CDATA[{OFFICIAL['encrypt']}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    )
    params = {"msg_signature": OFFICIAL["sig"], "timestamp": OFFICIAL["ts"], "nonce": OFFICIAL["nonce"]}
    with time_machine.travel(int(OFFICIAL["ts"]) + 5, tick=False):
        r = client.post("/wecom/callback", params=params, content=body)
    assert r.status_code == 200, r.text
    [m] = handler.messages
    assert (m.text, m.sender.platform_user_id, m.message_id) == (
        "hello",
        "mycreate",
        "app:4561255354251345929",
    )
    assert m.addressed and m.conversation.kind == "direct"
    # the same vector outside the time window is stale
    r = make_client(RecordingHandler()).post("/wecom/callback", params=params, content=body)
    assert r.status_code == 403


def test_capture_command_from_app_message(wecom_env: FakeServer) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    req = encrypt(text_xml("记一下 甲乙 他们仓库库存周转太慢"))
    r = client.post("/wecom/callback", params=req.params, content=req.body)
    assert r.status_code == 200
    [row] = _inbox()
    assert (row.intent, row.customer_hint, row.sender_id) == ("capture", "甲乙", "wm-zhou")
    # the confirmation is an outbox notice (durable: written with the answer), sent privately to the rep
    # as an app message by the outbox, never from the web request
    assert wecom_env.calls_to("/cgi-bin/message/send") == []
    with session_scope() as s:
        [n] = s.exec(select(Notice)).all()
    assert (n.kind, n.platform, n.state, n.idempotency_key) == (
        "reply",
        "wecom",
        "pending",
        "reply:wecom:msg:app:7001",
    )
    [send] = delivered(wecom_env)
    assert send.json["touser"] == "wm-zhou" and send.query["access_token"] == ["AT1"]


def test_control_characters_are_stripped_and_the_message_captured(wecom_env: FakeServer) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    req = encrypt(text_xml("账期\x01太短\x0b，库存\x1f周转太慢", msg_id="7002"))
    r = client.post("/wecom/callback", params=req.params, content=req.body)
    assert r.status_code == 200
    [row] = _inbox()
    assert row.text == "账期太短，库存周转太慢" and row.intent == "capture"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_corp", "receive id does not match"),
        ("bad_signature", "bad signature"),
        ("stale", "timestamp outside the allowed window"),
    ],
)
def test_refusals_are_logged_and_store_nothing(
    wecom_env: FakeServer, caplog: pytest.LogCaptureFixture, case: str, reason: str
) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    if case == "wrong_corp":
        req = encrypt(text_xml("记一下 甲乙 账期太短"), corp="wwsomeoneelse")
    elif case == "stale":
        req = encrypt(text_xml("记一下 甲乙 账期太短"), ts=int(time.time()) - 3600)
    else:
        req = encrypt(text_xml("记一下 甲乙 账期太短"))
        req.params["msg_signature"] = "f" * 40
    with caplog.at_level(logging.WARNING, logger="loopkeeper.wecom"):
        r = client.post("/wecom/callback", params=req.params, content=req.body)
    assert r.status_code == 403
    assert f"wecom callback refused: {reason}" in caplog.text
    assert _inbox() == []
    assert wecom_env.calls == []


def test_replay_is_refused_and_nothing_is_stored_twice(
    wecom_env: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    req = encrypt(text_xml("记一下 甲乙 账期太短", msg_id="8001"))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    with caplog.at_level(logging.WARNING, logger="loopkeeper.wecom"):
        again = client.post("/wecom/callback", params=req.params, content=req.body)
        # WeCom's retry or an attacker re-encrypting the same message: same MsgId, new nonce and signature
        other = encrypt(text_xml("记一下 甲乙 账期太短", msg_id="8001"), nonce="n2")
        third = client.post("/wecom/callback", params=other.params, content=other.body)
    assert again.status_code == 200 and third.status_code == 200
    assert "wecom callback refused: replay (the same signed request)" in caplog.text
    assert "wecom callback refused: replay (MsgId)" in caplog.text
    assert len(_inbox()) == 1
    assert len(delivered(wecom_env)) == 1  # one reply, not three


@pytest.mark.parametrize(
    "body",
    [
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<xml><Encrypt>&b;</Encrypt></xml>",
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><Encrypt>x</Encrypt></xml>',
        '<xml><!ENTITY x SYSTEM "file:///etc/passwd"><Encrypt>&x;</Encrypt></xml>',
    ],
)
def test_dtd_and_entities_are_refused_before_parsing(
    wecom_env: FakeServer, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    handler = RecordingHandler()
    client = make_client(handler)
    params = {"msg_signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "n"}
    with caplog.at_level(logging.WARNING, logger="loopkeeper.wecom"):
        r = client.post("/wecom/callback", params=params, content=body)
    assert r.status_code == 400
    assert "wecom callback refused: DTD or entity declaration in the body" in caplog.text
    assert handler.messages == [] and wecom_env.calls == [] and _inbox() == []


def test_entity_inside_the_encrypted_message_is_refused(wecom_env: FakeServer) -> None:
    handler = RecordingHandler()
    client = make_client(handler)
    inner = '<!DOCTYPE xml [<!ENTITY boom "库存周转太慢">]>' + text_xml("&boom;")
    req = encrypt(inner)
    r = client.post("/wecom/callback", params=req.params, content=req.body)
    assert r.status_code == 400
    assert handler.messages == [] and wecom_env.calls == []


def _approval_xml(sp_no: str, status: int, change: int, created: int) -> str:
    # the documented sys_approval_change layout (/document/path/91815), trimmed to the fields we read
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[sys_approval_change]]></Event><AgentID>3010040</AgentID><ApprovalInfo>"
        f"<SpNoStr><![CDATA[{sp_no}]]></SpNoStr><SpNo>{sp_no}</SpNo><SpName><![CDATA[差旅报销]]></SpName>"
        f"<SpStatus>{status}</SpStatus><TemplateId><![CDATA[TPL-EXP]]></TemplateId>"
        f"<ApplyTime>{created - 60}</ApplyTime>"
        "<Applyer><UserId><![CDATA[wm-zhou]]></UserId><Party><![CDATA[1]]></Party></Applyer>"
        f"<StatuChangeEvent>{change}</StatuChangeEvent></ApprovalInfo></xml>"
    )


def test_approval_event_with_form_from_detail(wecom_env: FakeServer) -> None:
    detail = {
        "errcode": 0,
        "errmsg": "ok",
        "info": {
            "sp_no": "202612040001",
            "apply_data": {
                "contents": [
                    {
                        "control": "Text",
                        "id": "Text-1",
                        "title": [{"text": "事由", "lang": "zh_CN"}],
                        "value": {"text": "拜访百润"},
                    },
                    {
                        "control": "Money",
                        "id": "Money-1",
                        "title": [{"text": "金额", "lang": "zh_CN"}],
                        "value": {"new_money": "320.50"},
                    },
                ]
            },
        },
    }
    wecom_env.route("POST", "/cgi-bin/oa/getapprovaldetail", body=detail)
    handler = RecordingHandler()
    client = make_client(handler)
    now = int(time.time())
    req = encrypt(_approval_xml("202612040001", 2, 2, now))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    [ev] = handler.approvals
    assert (ev.instance_id, ev.status, ev.applicant, ev.template_code) == (
        "202612040001",
        "approved",
        "wm-zhou",
        "TPL-EXP",
    )
    assert ev.form["Money-1"]["value"] == "320.50" and ev.form["Text-1"]["title"] == "事由"
    assert wecom_env.calls_to("/cgi-bin/oa/getapprovaldetail")[0].json == {"sp_no": "202612040001"}
    # the same event re-sent (no MsgId): not handled twice; a later change of the instance is
    again = encrypt(_approval_xml("202612040001", 2, 2, now), nonce="n9")
    client.post("/wecom/callback", params=again.params, content=again.body)
    paid = encrypt(_approval_xml("202612040001", 10, 2, now + 5), nonce="n10")
    client.post("/wecom/callback", params=paid.params, content=paid.body)
    assert [e.status for e in handler.approvals] == ["approved", "paid"]


def test_template_card_button_becomes_an_action(wecom_env: FakeServer) -> None:
    handler = RecordingHandler()
    client = make_client(handler)
    inner = (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[wm-zhou]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[alert:12:ack]]></EventKey>"
        "<TaskId><![CDATA[alert_12-abc]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        "<ResponseCode><![CDATA[RC1]]></ResponseCode><AgentID>1000002</AgentID></xml>"
    )
    req = encrypt(inner)
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    [a] = handler.actions
    assert (a.value, a.sender.platform_user_id) == ("alert:12:ack", "wm-zhou")
    assert delivered(wecom_env)[0].json["touser"] == "wm-zhou"


def test_reply_delivery_is_enqueued_and_a_redelivery_adds_no_second_notice(wecom_env: FakeServer) -> None:
    """The composition root's `on_notice` gets the reply's notice id after the answer (bot/app.py enqueues
    bot.tasks.deliver_notice); WeCom redelivering the same MsgId (e.g. after the process died before it
    answered) finds the notice already written."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from bot.handler import BotHandler
    from config.settings import get_settings
    from integrations.wecom.routes import build_router
    from integrations.wecom.service import WeComService

    kicked: list[int] = []
    app = FastAPI()
    svc = WeComService.from_settings(get_settings(), BotHandler(enqueue=None), on_notice=kicked.append)
    app.include_router(build_router(svc))
    client = TestClient(app)
    req = encrypt(text_xml("记一下 甲乙 账期太短", msg_id="9001"))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    with session_scope() as s:
        [n] = s.exec(select(Notice)).all()
    assert kicked == [n.id]
    svc.replay.forget("msg:app:9001")  # as if the first answer never reached WeCom
    svc.replay.forget(f"req:{req.params['msg_signature']}:{req.params['timestamp']}:{req.params['nonce']}")
    again = encrypt(text_xml("记一下 甲乙 账期太短", msg_id="9001"), nonce="n9")
    assert client.post("/wecom/callback", params=again.params, content=again.body).status_code == 200
    with session_scope() as s:
        assert len(s.exec(select(Notice)).all()) == 1
    assert kicked == [n.id]
    assert len(delivered(wecom_env)) == 1


def test_a_non_member_gets_the_explanation_directly_and_no_notice(wecom_env: FakeServer) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    req = encrypt(text_xml("记一下 甲乙 账期太短", user="wm-stranger", msg_id="9101"))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    with session_scope() as s:
        assert s.exec(select(Notice)).all() == []
    assert _inbox() == []
    [send] = wecom_env.calls_to("/cgi-bin/message/send")  # best effort, right after the answer
    assert send.json["touser"] == "wm-stranger"


@pytest.mark.parametrize("text", ["看这个 <!DOCTYPE html> 页面", '报价单里写着 <!ENTITY x "y"> 这种东西'])
def test_dtd_like_text_inside_a_message_is_captured(wecom_env: FakeServer, text: str) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    req = encrypt(text_xml("记一下 甲乙 " + text))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    [row] = _inbox()
    assert text in row.text


def test_a_refused_request_is_not_remembered_as_seen(wecom_env: FakeServer) -> None:
    handler = RecordingHandler()
    client = make_client(handler)
    inner = '<!DOCTYPE xml [<!ENTITY boom "库存周转太慢">]>' + text_xml("&boom;")
    req = encrypt(inner)
    for _ in range(2):  # WeCom retries: refused again (400), never acknowledged as an already-handled replay
        r = client.post("/wecom/callback", params=req.params, content=req.body)
        assert r.status_code == 400
    # a malformed inner message refused by the parser is not remembered either
    bad = encrypt("<xml><Content>unclosed</xml>", nonce="n2")
    assert [
        client.post("/wecom/callback", params=bad.params, content=bad.body).status_code for _ in "ab"
    ] == [
        400,
        400,
    ]
    assert handler.messages == []


def test_texts_without_msgid_are_two_messages_and_a_retry_is_one(wecom_env: FakeServer) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    now = int(time.time())
    first = text_xml("记一下 甲乙 账期太短", created=now).replace("<MsgId>7001</MsgId>", "")
    second = text_xml("记一下 丙丁 库存周转太慢", created=now + 5).replace("<MsgId>7001</MsgId>", "")
    for inner, nonce in (
        (first, "a1"),
        (second, "a2"),
        (first, "a3"),
    ):  # the last: WeCom's retry of the first
        req = encrypt(inner, nonce=nonce)
        assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    rows = _inbox()
    assert sorted(r.customer_hint or "" for r in rows) == ["丙丁", "甲乙"]
    assert len({r.message_id for r in rows}) == 2


def test_a_command_retried_on_another_process_runs_once(wecom_env: FakeServer) -> None:
    """WeCom retries a message whose answer it did not get; the retry may reach another web process
    (its replay guard in memory is empty): the command runs once (core.seen in the shared database)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from bot.handler import BotHandler
    from config.settings import get_settings
    from core.messages import ChatMessage, Reply
    from integrations.wecom.routes import build_router
    from integrations.wecom.service import WeComService

    class Counting(BotHandler):
        def __init__(self) -> None:
            super().__init__(enqueue=None)
            self.seen: list[str] = []

        def on_message(self, msg: ChatMessage) -> Reply | None:
            self.seen.append(msg.message_id)
            return super().on_message(msg)

    handler = Counting()
    apps = []
    for _ in range(2):  # two web processes sharing the database
        app = FastAPI()
        app.include_router(build_router(WeComService.from_settings(get_settings(), handler)))
        apps.append(TestClient(app))
    req = encrypt(text_xml("帮助", msg_id="9201"))
    assert apps[0].post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    again = encrypt(text_xml("帮助", msg_id="9201"), nonce="n9")
    assert apps[1].post("/wecom/callback", params=again.params, content=again.body).status_code == 200
    assert len(handler.seen) == 1
