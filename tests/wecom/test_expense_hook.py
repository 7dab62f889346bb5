"""Issue 8 acceptance on WeCom: `sys_approval_change` callbacks encrypted with wechatpy go to POST
/wecom/callback of the real app; the adapter reads `oa/getapprovaldetail` from a FakeServer; the bot links
the claim to the applicant's visit by the mapped control ids, or asks the applicant (a template card whose
button keys come back as actions) and tells the approver; duplicates and out-of-order changes end right."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.handler import BotHandler
from core.db import session_scope
from core.models import ExpenseClaim, Member, Notice, Visit
from tests.expense_helpers import WECOM_TEMPLATE, approvals, wecom_detail
from tests.fakeserver import Call, FakeServer
from tests.helpers import SH, msg
from tests.wecom.conftest import CORP, encrypt, make_client

__all__ = ["approvals"]
TODAY_TS = int(datetime.now(SH).replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
DETAILS = {
    "202612040001": wecom_detail(sp_no="202612040001", customer="宁波丙丁电子", day_ts=TODAY_TS),
    # approved by 林总监 (not 小周's manager), so the approver notice shows it comes from the detail
    "202612040002": wecom_detail(
        sp_no="202612040002", customer="杭州甲乙贸易", day_ts=TODAY_TS, approver="wm-dir"
    ),
}


def approval_xml(sp_no: str, status: int, change: int, created: int) -> str:
    """The documented sys_approval_change layout (/document/path/91815), trimmed to what is read."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[sys_approval_change]]></Event><AgentID>3010040</AgentID><ApprovalInfo>"
        f"<SpNoStr><![CDATA[{sp_no}]]></SpNoStr><SpNo>{sp_no}</SpNo><SpName><![CDATA[拜访报销]]></SpName>"
        f"<SpStatus>{status}</SpStatus><TemplateId><![CDATA[{WECOM_TEMPLATE}]]></TemplateId>"
        f"<ApplyTime>{created - 60}</ApplyTime>"
        "<Applyer><UserId><![CDATA[wm-zhou]]></UserId><Party><![CDATA[1]]></Party></Applyer>"
        f"<StatuChangeEvent>{change}</StatuChangeEvent></ApprovalInfo></xml>"
    )


@pytest.fixture
def app(wecom_env: FakeServer, approvals: Path) -> Iterator[tuple[TestClient, BotHandler, list[int]]]:
    from bot import approvals as bot_approvals
    from bot import notifiers

    def detail(call: Call) -> tuple[int, Any]:
        found = DETAILS.get(call.json.get("sp_no"))
        return 200, found or {"errcode": 301025, "errmsg": "no such sp_no"}

    wecom_env.route("POST", "/cgi-bin/oa/getapprovaldetail", detail)
    notifiers.reset()
    bot_approvals.reset()
    jobs: list[int] = []
    handler = BotHandler(enqueue=None, enqueue_claim=jobs.append)
    # 小周 visited 宁波丙丁电子 today
    m = msg("wv1", "@lk 拜访 宁波丙丁电子 谈了账期，下一步寄样", datetime.now(SH))
    handler.on_message(m.model_copy(update={"addressed": True}))
    yield make_client(handler), handler, jobs
    notifiers.reset()
    bot_approvals.reset()


def post(client: TestClient, xml: str, nonce: str) -> None:
    req = encrypt(xml, nonce=nonce)
    assert client.post("/wecom/callback", params=req.params, content=req.body).status_code == 200


def run_jobs(jobs: list[int]) -> list[str]:
    from bot.approvals import link_claim_job

    out = [link_claim_job(j) for j in jobs for _ in range(2)]
    jobs.clear()
    return out


def claim(sp_no: str) -> ExpenseClaim:
    with session_scope() as s:
        return s.exec(select(ExpenseClaim).where(ExpenseClaim.instance_id == sp_no)).one()


def member_id(name: str) -> int:
    with session_scope() as s:
        return s.exec(select(Member).where(Member.name == name)).one().id or 0


def test_claim_links_by_control_ids(
    app: tuple[TestClient, BotHandler, list[int]], wecom_env: FakeServer
) -> None:
    client, _handler, jobs = app
    now = int(time.time())
    post(client, approval_xml("202612040001", 1, 1, now), "n1")
    assert run_jobs(jobs) == ["linked", "linked"]
    post(client, approval_xml("202612040001", 2, 2, now + 5), "n2")
    run_jobs(jobs)
    c = claim("202612040001")
    with session_scope() as s:
        visit = s.exec(select(Visit)).one()
    assert (c.visit_id, c.status, c.amount, c.place) == (visit.id, "approved", 128.5, "宁波")
    # the adapter read the detail once per change, the claim job once for the claim
    assert len(wecom_env.calls_to("/cgi-bin/oa/getapprovaldetail")) == 3


def test_missing_visit_prompts_with_buttons_and_tells_the_approver(
    app: tuple[TestClient, BotHandler, list[int]], wecom_env: FakeServer
) -> None:
    from bot import delivery

    client, handler, jobs = app
    post(client, approval_xml("202612040002", 1, 1, int(time.time())), "n3")
    assert run_jobs(jobs) == ["asked", "pending"]
    c = claim("202612040002")
    with session_scope() as s:
        ask = s.exec(select(Notice).where(Notice.kind == "question")).one()
        tell = s.exec(select(Notice).where(Notice.kind == "notice")).one()
        visit = s.exec(select(Visit)).one()
    assert ask.recipient_id == member_id("小周")
    assert tell.recipient_id == member_id("林总监")  # sp_record's approver
    assert delivery.deliver(ask.id or 0) == "sent"
    [send] = wecom_env.calls_to("/cgi-bin/message/send")
    card = send.json["template_card"]
    assert send.json["touser"] == "wm-zhou" and card["card_type"] == "button_interaction"
    keys = [b["key"] for b in card["button_list"]]
    assert keys == [f"claim:{c.id}:visit:{visit.id}", f"claim:{c.id}:record"]
    # 小周 presses the first button: WeCom sends template_card_event with the key
    inner = (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[wm-zhou]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{keys[0]}]]></EventKey>"
        "<TaskId><![CDATA[t1]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        "<ResponseCode><![CDATA[RC1]]></ResponseCode><AgentID>1000002</AgentID></xml>"
    )
    post(client, inner, "n4")
    assert claim("202612040002").visit_id == visit.id


def test_out_of_order_duplicates_and_revocation(
    app: tuple[TestClient, BotHandler, list[int]], wecom_env: FakeServer
) -> None:
    client, _handler, jobs = app
    now = int(time.time())
    post(client, approval_xml("202612040002", 2, 2, now + 10), "n5")  # approved, delivered first
    post(client, approval_xml("202612040002", 2, 2, now + 10), "n6")  # the same change re-sent
    post(client, approval_xml("202612040002", 1, 1, now), "n7")  # the submission, late
    assert len(jobs) == 2
    run_jobs(jobs)
    assert claim("202612040002").status == "approved"
    post(client, approval_xml("202612040002", 6, 8, now + 60), "n8")  # revoked after approval
    run_jobs(jobs)
    c = claim("202612040002")
    assert c.status == "revoked"
