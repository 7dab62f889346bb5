"""`绑定 CUSTOMER` in an external (customer) group: the conversation is bound and the customer-side people
seen in it become the customer's contacts (CustomerPlatformContact), so the sidebar and later captures
from those contacts know their customer. Messages come as the session archive delivers a customer group
(`room:<roomid>`, external ids starting with wm/wo), through the bot's real handler."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.handler import BotHandler
from core.db import session_scope
from core.models import AuditEvent, Conversation, Customer, CustomerPlatformContact
from core.platform_contacts import bind_contact, contact_customer
from tests.fakeserver import FakeServer
from tests.helpers import at, msg, seed


def _contacts() -> dict[str, str]:
    with session_scope() as s:
        names = {c.id: c.name for c in s.exec(select(Customer)).all()}
        return {r.external_id: names[r.customer_id] for r in s.exec(select(CustomerPlatformContact)).all()}


def _say(h: BotHandler, mid: str, text: str, sender: str, *, conv: str, external: bool) -> str | None:
    m = msg(mid, text, at(26, 10), conv=conv, sender=sender)
    m = m.model_copy(update={"conversation": m.conversation.model_copy(update={"external": external})})
    if sender.startswith("wm-"):  # a member addressing the bot (a smart-bot @-mention)
        m = m.model_copy(update={"addressed": True})
    reply = h.on_message(m)
    return reply.body if reply else None


def test_bind_in_a_customer_group_binds_its_external_contacts(db: str, tmp_path: Path) -> None:
    seed(tmp_path)
    with session_scope() as s:  # a contact of another customer in the same group keeps its customer
        bind_contact(
            s, "wecom", "wmPARTNER", s.exec(select(Customer).where(Customer.name == "宁波丙丁电子")).one()
        )
    h = BotHandler(enqueue=None)
    room = "room:wrGROUP1"
    _say(h, "a1", "我们的账期太短了", "wmCUSTOMER1", conv=room, external=True)
    _say(h, "a2", "下周三可以来厂里看看", "woCUSTOMER2", conv=room, external=True)
    _say(h, "a3", "我们也参与这个项目", "wmPARTNER", conv=room, external=True)
    _say(h, "a4", "好的收到", "wm-chen", conv=room, external=True)  # a member, not a contact
    body = _say(h, "a5", "绑定 甲乙", "wm-zhou", conv=room, external=True)
    assert body is not None and "2 customer contact(s) bound" in body
    assert _contacts() == {
        "wmCUSTOMER1": "杭州甲乙贸易",
        "woCUSTOMER2": "杭州甲乙贸易",
        "wmPARTNER": "宁波丙丁电子",
    }
    with session_scope() as s:
        conv = s.exec(select(Conversation).where(Conversation.conversation_id == room)).one()
        assert conv.external and conv.customer_id is not None
        assert contact_customer(s, "wecom", "wmCUSTOMER1").name == "杭州甲乙贸易"  # type: ignore[union-attr]
        actions = [e.action for e in s.exec(select(AuditEvent)).all()]
        assert "conversation.bind" in actions and "contact.bind" in actions
    # binding again (or to another customer) does not move contacts already bound
    body = _say(h, "a6", "绑定 戊己", "wm-zhou", conv=room, external=True)
    assert body is not None and "contact" not in body
    assert _contacts()["wmCUSTOMER1"] == "杭州甲乙贸易"


def test_bind_in_an_internal_group_binds_no_contacts(db: str, tmp_path: Path) -> None:
    seed(tmp_path)
    h = BotHandler(enqueue=None)
    _say(h, "b1", "甲乙的报价发了吗", "wmSOMEONE", conv="aibot:internal", external=False)
    body = _say(h, "b2", "绑定 甲乙", "wm-zhou", conv="aibot:internal", external=False)
    assert body is not None and "contact" not in body
    assert _contacts() == {}


def _chat_event(chat_id: str, change: str = "update", detail: str = "add_member") -> str:
    """`change_external_chat` as WeCom documents it (/document/path/92130)."""
    import time

    from tests.wecom.conftest import CORP

    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_chat]]></Event>"
        f"<ChatId><![CDATA[{chat_id}]]></ChatId><ChangeType><![CDATA[{change}]]></ChangeType>"
        f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><JoinScene>1</JoinScene><QuitScene>0</QuitScene>"
        "<MemChangeCnt>2</MemChangeCnt><MemChangeList><Item>wmNEW1</Item><Item>wm-chen</Item></MemChangeList>"
        "<LastMemVer>v1</LastMemVer><CurMemVer>v2</CurMemVer></xml>"
    )


def test_customer_group_member_change_binds_new_external_members(wecom_env: FakeServer) -> None:
    """A customer group bound from the sidebar: when WeCom reports members joining, the external ones
    (type 2 in externalcontact/groupchat/get) become the customer's contacts; members (type 1) do not."""
    from core.platform_contacts import bind_conversation
    from tests.wecom.conftest import RecordingHandler, encrypt, make_client

    group = {
        "errcode": 0,
        "errmsg": "ok",
        "group_chat": {
            "chat_id": "wrBOUND",
            "name": "甲乙采购群",
            "owner": "wm-zhou",
            "member_list": [
                {"userid": "wm-zhou", "type": 1, "join_scene": 1},
                {"userid": "wmNEW1", "type": 2, "join_scene": 1, "unionid": "u1"},
                {"userid": "woNEW2", "type": 2, "join_scene": 3},
            ],
        },
    }
    wecom_env.route("POST", "/cgi-bin/externalcontact/groupchat/get", body=group)
    with session_scope() as s:
        jiayi = s.exec(select(Customer).where(Customer.name == "杭州甲乙贸易")).one()
        bind_conversation(s, "wecom", "sidebar-chat:wrBOUND", jiayi, external=True)
    client = make_client(RecordingHandler())
    req = encrypt(_chat_event("wrBOUND"))
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200
    [call] = wecom_env.calls_to("/cgi-bin/externalcontact/groupchat/get")
    assert call.json == {"chat_id": "wrBOUND", "need_name": 1}
    assert _contacts() == {"wmNEW1": "杭州甲乙贸易", "woNEW2": "杭州甲乙贸易"}
    # a group bound to no customer, and a dismissed group: no lookup
    for inner in (_chat_event("wrOTHER"), _chat_event("wrBOUND", "dismiss", "")):
        r = encrypt(inner, nonce="n-" + inner[-40:-30])
        assert client.post("/wecom/callback", params=r.params, content=r.body).status_code == 200
    assert len(wecom_env.calls_to("/cgi-bin/externalcontact/groupchat/get")) == 1
