"""The sidebar's JSON endpoints without a browser: member sessions, refusals, idempotent saves."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from core.db import session_scope
from core.models import InboxMessage
from tests.fakeserver import FakeServer
from tests.wecom.conftest import RecordingHandler, make_client


@pytest.fixture
def token(wecom_env: FakeServer) -> str:
    from integrations.wecom.jssdk import SessionSigner, derive_key
    from tests.wecom.conftest import SECRET

    return SessionSigner(derive_key(None, SECRET) or b"").issue("wm-zhou")


def test_refusals(wecom_env: FakeServer, token: str) -> None:
    from integrations.wecom.jssdk import SessionSigner, derive_key
    from tests.wecom.conftest import SECRET

    client = make_client(RecordingHandler())
    assert client.get("/wecom/sidebar/me").status_code == 401
    assert client.get("/wecom/sidebar/config", params={"url": "https://x/"}).status_code == 401
    bad = client.get("/wecom/sidebar/me", headers={"Authorization": "Bearer " + token[:-2] + "00"})
    assert bad.status_code == 401 and "signature" in bad.json()["detail"]
    stranger = SessionSigner(derive_key(None, SECRET) or b"").issue("wm-stranger")
    r = client.post(
        "/wecom/sidebar/save", json={"text": "账期太短"}, headers={"Authorization": f"Bearer {stranger}"}
    )
    assert r.status_code == 403
    r = client.post("/wecom/sidebar/save", json={"text": "  "}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422


def test_double_submit_stores_one_capture(wecom_env: FakeServer, token: str) -> None:
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    body = {
        "text": "帮助我们解决库存周转太慢的问题",
        "customer": "杭州甲乙贸易",
        "client_id": "c0ffee00-1234",
    }
    for _ in range(2):
        r = client.post("/wecom/sidebar/save", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
    with session_scope() as s:
        [row] = s.exec(select(InboxMessage)).all()
    # pasted text that starts with a command word ("帮助") is still a capture, never a command
    assert (row.message_id, row.intent, row.customer_hint) == (
        "sidebar:c0ffee00-1234",
        "capture",
        "杭州甲乙贸易",
    )


def test_page_renders_without_wecom(db: str) -> None:
    r = make_client(RecordingHandler()).get("/wecom/sidebar")
    assert r.status_code == 200 and "客户快记" in r.text and '"wecom": false' in r.text
    assert r.headers["cache-control"] == "no-store"


def _token_for(user: str) -> str:
    from integrations.wecom.jssdk import SessionSigner, derive_key
    from tests.wecom.conftest import SECRET

    return "Bearer " + SessionSigner(derive_key(None, SECRET) or b"").issue(user)


def _bound(external_userid: str) -> str | None:
    from core.platform_contacts import contact_customer

    with session_scope() as s:
        c = contact_customer(s, "wecom", external_userid)
        return c.name if c else None


def test_sidebar_keeps_to_the_members_scope(wecom_env: FakeServer) -> None:
    """小周 owns 甲乙 and 丙丁, 小陈 owns 戊己 (tests/helpers.py); the scope rule of core/scope.py."""
    from bot.handler import BotHandler

    client = make_client(BotHandler(enqueue=None))
    zhou, chen = {"Authorization": _token_for("wm-zhou")}, {"Authorization": _token_for("wm-chen")}
    r = client.get("/wecom/sidebar/contact", params={"external_userid": "wmEXT1"}, headers=zhou)
    assert r.status_code == 200 and r.json()["customers"] == sorted(["杭州甲乙贸易", "宁波丙丁电子"])
    # a customer outside the rep's scope is refused: nothing bound, nothing stored
    body = {
        "text": "账期太短",
        "customer": "苏州戊己医疗",
        "external_userid": "wmEXT1",
        "client_id": "c0ffee00-0001",
    }
    assert client.post("/wecom/sidebar/save", json=body, headers=zhou).status_code == 403
    assert _bound("wmEXT1") is None
    with session_scope() as s:
        assert s.exec(select(InboxMessage)).all() == []
    # 小陈 binds the contact to his customer; 小周 can neither see nor move that binding
    body = {**body, "client_id": "c0ffee00-0002"}
    assert client.post("/wecom/sidebar/save", json=body, headers=chen).status_code == 200
    assert _bound("wmEXT1") == "苏州戊己医疗"
    r = client.get("/wecom/sidebar/contact", params={"external_userid": "wmEXT1"}, headers=zhou)
    assert r.json()["customer"] is None
    grab = {**body, "customer": "杭州甲乙贸易", "client_id": "c0ffee00-0003"}
    assert client.post("/wecom/sidebar/save", json=grab, headers=zhou).status_code == 403
    assert _bound("wmEXT1") == "苏州戊己医疗"
    # the manager sees both reps' customers and the binding
    mgr = {"Authorization": _token_for("wm-mgr")}
    r = client.get("/wecom/sidebar/contact", params={"external_userid": "wmEXT1"}, headers=mgr)
    assert r.json()["customer"] == "苏州戊己医疗" and len(r.json()["customers"]) == 3


def test_sidebar_preview_offers_only_customers_in_scope(wecom_env: FakeServer) -> None:
    client = make_client(RecordingHandler())
    body = {"text": "戊己说账期太短", "customer": "戊己"}
    zhou = client.post("/wecom/sidebar/preview", json=body, headers={"Authorization": _token_for("wm-zhou")})
    chen = client.post("/wecom/sidebar/preview", json=body, headers={"Authorization": _token_for("wm-chen")})
    assert zhou.status_code == chen.status_code == 200
    assert zhou.json()["customer_matches"] == [] and chen.json()["customer_matches"] == ["苏州戊己医疗"]
    assert "苏州戊己医疗" not in json.dumps(zhou.json(), ensure_ascii=False)
