"""Outbound WeCom: the notifier against a FakeServer (LOOPKEEPER_WECOM__API_URL), access-token caching,
documented error codes mapped to retry/permanent, robots, and the JS-SDK signature's official example."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.messages import Action, OutboundMessage
from core.notices import DeliveryError
from integrations.wecom.client import WeComClient
from integrations.wecom.jssdk import BadSession, SessionSigner, signature
from integrations.wecom.notifier import RATE_LIMITS, WeComNotifier
from tests.fakeserver import FakeServer
from tests.wecom.conftest import standard_routes


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as s:
        standard_routes(s)
        yield s


def _notifier(srv: FakeServer, clock: list[float] | None = None) -> WeComNotifier:
    t = clock if clock is not None else [0.0]
    client = WeComClient(
        api_url=srv.url + "/cgi-bin/", corp_id="wwc", secret="s", agent_id="1000002", clock=lambda: t[0]
    )
    return WeComNotifier(client)


def test_markdown_and_token_cache(srv: FakeServer) -> None:
    t = [0.0]
    n = _notifier(srv, t)
    msg = OutboundMessage(title="已记录到 杭州甲乙贸易", body="1 个痛点", fields={"customer": "杭州甲乙贸易"})
    n.send(user_id="wm-zhou", message=msg, notice_key="capture:1")
    n.send(user_id="wm-zhou", message=msg, notice_key="capture:2")
    assert len(srv.calls_to("/cgi-bin/gettoken")) == 1  # cached
    t[0] = 7200.0  # expires_in has run out
    n.send(user_id="wm-zhou", message=msg, notice_key="capture:3")
    assert len(srv.calls_to("/cgi-bin/gettoken")) == 2
    body = srv.calls_to("/cgi-bin/message/send")[0].json
    assert body["msgtype"] == "markdown" and body["agentid"] == 1000002 and body["touser"] == "wm-zhou"
    assert body["markdown"]["content"].startswith("**已记录到 杭州甲乙贸易**")


def test_buttons_become_a_template_card(srv: FakeServer) -> None:
    n = _notifier(srv)
    msg = OutboundMessage(
        title="T5 逾期",
        body="寄出样品",
        actions=[
            Action(kind="ack", label="确认", value="alert:12:ack"),
            Action(kind="undo", label="撤销", value="capture:3:undo"),
        ],
    )
    n.send(user_id="wm-zhou", message=msg, notice_key="alert:12:1")
    card = srv.calls_to("/cgi-bin/message/send")[0].json
    assert card["msgtype"] == "template_card"
    tc = card["template_card"]
    assert tc["card_type"] == "button_interaction"
    assert [b["key"] for b in tc["button_list"]] == ["alert:12:ack", "capture:3:undo"]
    assert len(tc["task_id"]) <= 128


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, False, 60.0),
        ({"errcode": 45033, "errmsg": "api concurrent out of limit"}, False, 5.0),
        ({"errcode": 60111, "errmsg": "invalid userid"}, True, None),
        ({"errcode": 81013, "errmsg": "user & party & tag all invalid"}, True, None),
        ({"errcode": 0, "errmsg": "ok", "invaliduser": "wm-gone"}, True, None),
    ],
)
def test_errors_map_to_retry_or_permanent(
    srv: FakeServer, answer: dict, permanent: bool, retry_after: float | None
) -> None:
    srv.route("POST", "/cgi-bin/message/send", body=answer)
    with pytest.raises(DeliveryError) as err:
        _notifier(srv).send(user_id="wm-gone", message=OutboundMessage(title="x"), notice_key="k")
    assert err.value.permanent is permanent and err.value.retry_after == retry_after


def test_expired_token_is_refreshed_once(srv: FakeServer) -> None:
    answers = iter([{"errcode": 42001, "errmsg": "access_token expired"}, {"errcode": 0, "errmsg": "ok"}])
    srv.route("POST", "/cgi-bin/message/send", lambda c: (200, next(answers)))
    _notifier(srv).send(user_id="wm-zhou", message=OutboundMessage(title="x"), notice_key="k")
    assert len(srv.calls_to("/cgi-bin/gettoken")) == 2


def test_group_robot_markdown_and_rate_limits(srv: FakeServer) -> None:
    srv.route("POST", "/cgi-bin/webhook/send", body={"errcode": 0, "errmsg": "ok"})
    n = _notifier(srv)
    n.send_channel(
        webhook=srv.url + "/cgi-bin/webhook/send?key=K1",
        message=OutboundMessage(title="今日逾期 3"),
        notice_key="d1",
    )
    [call] = srv.calls_to("/cgi-bin/webhook/send")
    assert call.query["key"] == ["K1"] and call.json["msgtype"] == "markdown"
    assert srv.calls_to("/cgi-bin/gettoken") == []  # the webhook key is the only credential
    assert RATE_LIMITS == {"member": (30, 60), "robot": (20, 60)}
    assert n.destination_key("wm-zhou") == "wecom:member:wm-zhou"


def test_markdown_respects_the_byte_limit(srv: FakeServer) -> None:
    _notifier(srv).send(
        user_id="u", message=OutboundMessage(title="长", body="账期太短" * 400), notice_key="k"
    )
    content = srv.calls_to("/cgi-bin/message/send")[0].json["markdown"]["content"]
    assert len(content.encode()) <= 2048


def test_jssdk_signature_official_example() -> None:
    # /document/path/96909 (JS-SDK 签名算法) worked example
    assert (
        signature(
            "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value#ignored-fragment",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_session_tokens() -> None:
    s = SessionSigner(b"k" * 32)
    tok = s.issue("wm-zhou", now=1000, ttl=60)
    assert s.verify(tok, now=1030) == "wm-zhou"
    with pytest.raises(BadSession, match="expired"):
        s.verify(tok, now=1061)
    with pytest.raises(BadSession, match="signature"):
        SessionSigner(b"x" * 32).verify(tok, now=1030)
    forged = tok.replace(tok.split(".")[1], "d20tZGly")  # another userid, same mac
    with pytest.raises(BadSession):
        s.verify(forged, now=1030)


@pytest.mark.timeout(20)
def test_jsapi_tickets_fetch_the_token_and_are_cached(srv: FakeServer) -> None:
    srv.route("GET", "/cgi-bin/get_jsapi_ticket", body={"errcode": 0, "ticket": "T1", "expires_in": 7200})
    srv.route("GET", "/cgi-bin/ticket/get", body={"errcode": 0, "ticket": "T2", "expires_in": 7200})
    client = _notifier(srv).client
    assert (client.corp_jsapi_ticket(), client.agent_jsapi_ticket(), client.corp_jsapi_ticket()) == (
        "T1",
        "T2",
        "T1",
    )
    assert srv.calls_to("/cgi-bin/ticket/get")[0].query["type"] == ["agent_config"]
    assert len(srv.calls_to("/cgi-bin/get_jsapi_ticket")) == 1 and len(srv.calls_to("/cgi-bin/gettoken")) == 1


def test_identical_replies_are_not_left_to_wecoms_duplicate_check(srv: FakeServer) -> None:
    """WeCom drops a message equal to one sent within duplicate_check_interval when enable_duplicate_check
    is 1 (message/send docs); two captures answered with the same text are two notices, both must arrive."""
    n = _notifier(srv)
    msg = OutboundMessage(title="收到", body="正在记录")
    n.send(user_id="wm-zhou", message=msg, notice_key="reply:wecom:1")
    n.send(user_id="wm-zhou", message=msg, notice_key="reply:wecom:2")
    bodies = [c.json for c in srv.calls_to("/cgi-bin/message/send")]
    assert len(bodies) == 2
    assert all(not b.get("enable_duplicate_check") for b in bodies)
