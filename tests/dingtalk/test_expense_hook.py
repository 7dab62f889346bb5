"""Issue 8 acceptance on DingTalk: `bpms_instance_change` events go through the real adapter (stream EVENT
frames through `DingTalkStreamClient.route_message`, and an encrypted HTTP push to POST /dingtalk/events);
the bot stores them, the claim job fetches the form from `GET /v1.0/workflow/processInstances` on a
FakeServer, and the claim is linked to the applicant's visit — or the applicant is asked (ActionCard buttons
delivered through batchSend, pressed through the signed action links) and the approver told."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlmodel import select

from bot.handler import BotHandler
from core.db import session_scope
from core.models import ApprovalEventLog, Customer, ExpenseClaim, Member, Notice, Visit
from integrations.common.callback_crypto import CallbackCrypto
from integrations.dingtalk.adapter import DingTalkAdapter
from tests.dingtalk.conftest import APP_KEY, APP_SECRET, NOW, NOW_MS, make_adapter
from tests.dingtalk.test_http import EVENT_AES, EVENT_TOKEN, _encrypted, client_for
from tests.dingtalk.test_stream import _route, event_frame, make_client
from tests.expense_helpers import DT_PROCESS, approvals, dingtalk_instance
from tests.fakeserver import Call, FakeServer

__all__ = ["approvals"]
INSTANCES: dict[str, dict[str, Any]] = {
    "inst-A": dingtalk_instance(customer="杭州甲乙贸易", day="2026-11-20", amount="356.00"),  # Fri before NOW
    "inst-B": dingtalk_instance(customer="宁波丙丁电子", day="2026-11-20", amount="88.00"),
}


@pytest.fixture
def wired(
    fake: FakeServer, seeded: None, approvals: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DingTalkAdapter, list[int]]]:
    """DingTalk configured against the fake server (so bot.approvals wires the real form fetcher and
    bot.notifiers the real notifier), an adapter on the real BotHandler, claim jobs collected."""
    from bot import approvals as bot_approvals
    from bot import notifiers
    from config.settings import reset_settings

    def instance(call: Call) -> tuple[int, Any]:
        found = INSTANCES.get(call.query.get("processInstanceId", [""])[0])
        return (200, found) if found else (400, {"code": "InvalidParameter", "message": "no instance"})

    fake.route("GET", "/v1.0/workflow/processInstances", instance)
    for k, v in {"CLIENT_ID": APP_KEY, "CLIENT_SECRET": APP_SECRET, "API_URL": fake.url}.items():
        monkeypatch.setenv(f"LOOPKEEPER_DINGTALK__{k}", v)
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__PUBLIC_URL", "https://lk.example.com")
    reset_settings()
    notifiers.reset()
    bot_approvals.reset()
    jobs: list[int] = []
    handler = BotHandler(enqueue=None, clock=lambda: NOW, enqueue_claim=jobs.append)
    # 小周 recorded a visit to 杭州甲乙贸易 (NOW is Monday; the claims below are dated the Friday before)
    from tests.helpers import msg

    visit_cmd = msg(
        "dv1", "@lk 拜访 杭州甲乙贸易 演示顺利，下一步报价", NOW, sender="dt-zhou", platform="dingtalk"
    )
    handler.on_message(visit_cmd.model_copy(update={"addressed": True}))
    yield make_adapter(handler, fake), jobs
    notifiers.reset()
    bot_approvals.reset()


def run_jobs(jobs: list[int], times: int = 2) -> list[str]:
    """What the worker does, each job run twice (Celery may deliver a task twice)."""
    from bot.approvals import link_claim_job

    out = [link_claim_job(j) for j in jobs for _ in range(times)]
    jobs.clear()
    return out


def data(instance: str, kind: str, result: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "processInstanceId": instance,
        "processCode": DT_PROCESS,
        "bizCategoryId": "",
        "type": kind,
        "title": "小周提交的差旅报销",
        "staffId": "dt-zhou",
        "createTime": NOW_MS - 60_000,
    }
    if result:
        d["result"] = result
        d["finishTime"] = NOW_MS
    return d


def frame(instance: str, kind: str, event_id: str, born_ms: int, result: str | None = None) -> dict[str, Any]:
    f = event_frame("bpms_instance_change", data(instance, kind, result), event_id, f"m-{event_id}")
    f["headers"]["eventBornTime"] = str(born_ms)
    return f


def stream(adapter: DingTalkAdapter, fake: FakeServer, *frames: dict[str, Any]) -> list[dict[str, Any]]:
    ws = asyncio.run(_route(make_client(adapter, fake), *frames))
    return [json.loads(a["data"]) for a in ws.sent]


def claim(instance: str) -> ExpenseClaim:
    with session_scope() as s:
        return s.exec(select(ExpenseClaim).where(ExpenseClaim.instance_id == instance)).one()


def member_id(name: str) -> int:
    with session_scope() as s:
        return s.exec(select(Member).where(Member.name == name)).one().id or 0


def test_claim_is_linked_to_the_visit_it_paid_for(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer
) -> None:
    adapter, jobs = wired
    acks = stream(adapter, fake, frame("inst-A", "start", "ev-a1", NOW_MS - 60_000))
    assert acks == [{"status": "SUCCESS", "message": "success"}]
    assert run_jobs(jobs) == ["linked", "linked"]
    c = claim("inst-A")
    with session_scope() as s:
        visit = s.exec(select(Visit)).one()
        cust = s.get(Customer, c.customer_id)
    assert (c.visit_id, c.link_state, c.status) == (visit.id, "linked", "submitted")
    assert cust is not None and cust.name == "杭州甲乙贸易"
    assert (c.amount, c.place, c.applicant_id) == (356.0, "杭州", member_id("小周"))
    # the form was read once, with the app's access token, for this instance
    [get] = fake.calls_to("/v1.0/workflow/processInstances")
    assert get.query["processInstanceId"] == ["inst-A"]
    assert get.headers["x-acs-dingtalk-access-token"] == "tok-1"
    # the approval: status follows, no second fetch, nobody asked anything
    stream(adapter, fake, frame("inst-A", "finish", "ev-a2", NOW_MS + 3_600_000, "agree"))
    assert run_jobs(jobs) == ["linked", "linked"]
    assert claim("inst-A").status == "approved"
    assert len(fake.calls_to("/v1.0/workflow/processInstances")) == 1
    with session_scope() as s:
        assert s.exec(select(Notice).where(Notice.kind == "question")).all() == []


def test_missing_visit_asks_the_applicant_and_tells_the_approver(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer
) -> None:
    from bot import delivery

    adapter, jobs = wired
    stream(adapter, fake, frame("inst-B", "start", "ev-b1", NOW_MS - 60_000))
    assert run_jobs(jobs) == ["asked", "pending"]
    c = claim("inst-B")
    assert (c.visit_id, c.link_state) == (None, "pending")
    with session_scope() as s:
        notices = s.exec(select(Notice).order_by(Notice.id)).all()  # type: ignore[arg-type]
        visit = s.exec(select(Visit)).one()
    ask = [n for n in notices if n.kind == "question"]
    tell = [n for n in notices if n.kind == "notice"]
    assert [n.recipient_id for n in ask] == [member_id("小周")]
    assert [n.recipient_id for n in tell] == [member_id("王经理")]  # dt-mgr, from approverUserIds
    values = [a["value"] for a in ask[0].payload["actions"]]
    assert values == [f"claim:{c.id}:visit:{visit.id}", f"claim:{c.id}:record"]
    assert "拜访 宁波丙丁电子" in (ask[0].body or "")  # the "record the visit now" instruction
    assert "宁波丙丁电子" in (tell[0].body or "")

    # the prompt reaches 小周 as an ActionCard with signed action links; pressing "record it now" links
    assert delivery.deliver(ask[0].id or 0) == "sent"
    [send] = fake.calls_to("/v1.0/robot/oToMessages/batchSend")
    assert send.json["userIds"] == ["dt-zhou"] and send.json["msgKey"] == "sampleActionCard2"
    tokens = re.findall(r"token=([^&\"]+)", unquote(send.json["msgParam"]))
    assert len(tokens) == 2
    reply = adapter.handle_action(tokens[1])
    assert "已关联拜访" in reply.title
    c = claim("inst-B")
    with session_scope() as s:
        new_visit = s.get(Visit, c.visit_id)
    assert new_visit is not None and new_visit.source == "approval"
    assert (new_visit.place, new_visit.key) == ("杭州", f"claim:{c.id}")
    assert c.link_state == "linked"
    # pressing it again changes nothing
    adapter.handle_action(tokens[1])
    with session_scope() as s:
        assert len(s.exec(select(Visit)).all()) == 2


def test_choosing_a_recent_visit_links_it(wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer) -> None:
    from core.messages import ActionInvocation, Sender

    adapter, jobs = wired
    stream(adapter, fake, frame("inst-B", "start", "ev-b1", NOW_MS - 60_000))
    run_jobs(jobs)
    c = claim("inst-B")
    with session_scope() as s:
        visit = s.exec(select(Visit)).one()
    # someone else (小陈, a rep) cannot answer for 小周
    other = adapter.handler.on_action(
        ActionInvocation(
            platform="dingtalk",
            sender=Sender(platform_user_id="dt-chen"),
            value=f"claim:{c.id}:visit:{visit.id}",
        )  # fmt: skip
    )
    assert other is not None and other.title == "无权限 Not allowed" and claim("inst-B").visit_id is None
    mine = adapter.handler.on_action(
        ActionInvocation(
            platform="dingtalk",
            sender=Sender(platform_user_id="dt-zhou"),
            value=f"claim:{c.id}:visit:{visit.id}",
        )  # fmt: skip
    )
    assert mine is not None and f"V{visit.id}" in mine.title
    assert claim("inst-B").visit_id == visit.id


def test_finish_before_start_and_duplicate_pushes(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer
) -> None:
    adapter, jobs = wired
    finish = frame("inst-A", "finish", "ev-f", NOW_MS + 7_200_000, "refuse")
    start = frame("inst-A", "start", "ev-s", NOW_MS - 60_000)
    acks = stream(
        adapter,
        fake,
        finish,  # the refusal arrives first
        finish,  # DingTalk redelivers it (same eventId)
        frame("inst-A", "finish", "ev-f-again", NOW_MS + 7_200_000, "refuse"),  # the same change, new id
        start,  # then the start, late
    )
    assert [a["status"] for a in acks] == ["SUCCESS"] * 4
    run_jobs(jobs)
    c = claim("inst-A")
    assert (c.status, c.status_at) == ("rejected", NOW.fromtimestamp((NOW_MS + 7_200_000) / 1000, NOW.tzinfo))
    with session_scope() as s:
        logged = s.exec(select(ApprovalEventLog.status)).all()
    assert sorted(logged) == ["rejected", "submitted"]
    # the same handler fed the same instance+status under another event id (e.g. after a restart lost the
    # adapter's cache): stored once
    from core.messages import ApprovalEvent

    adapter.handler.on_approval(
        ApprovalEvent(
            platform="dingtalk",
            event_id="ev-other",
            instance_id="inst-A",
            template_code=DT_PROCESS,
            status="rejected",
            applicant="dt-zhou",
            occurred_at=NOW,
        )  # fmt: skip
    )
    assert jobs == []
    assert len(fake.calls_to("/v1.0/workflow/processInstances")) == 1


def test_encrypted_http_push_links_the_claim(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer
) -> None:
    adapter, jobs = wired
    c = client_for(adapter, CallbackCrypto(EVENT_TOKEN, EVENT_AES, APP_KEY, window=3600.0))
    body = {"EventType": "bpms_instance_change", "EventTime": NOW_MS, "CorpId": "dingcorp01", "BizId": "b1",
            "eventId": "http-ev-1", **data("inst-A", "finish", "agree")}  # fmt: skip
    params, enc = _encrypted(body, str(NOW_MS))
    for _ in range(2):  # DingTalk retries the same push
        assert c.post("/dingtalk/events", params=params, json=enc).status_code == 200
    assert len(jobs) == 1
    assert run_jobs(jobs) == ["linked", "linked"]
    got = claim("inst-A")
    assert (got.status, got.link_state) == ("approved", "linked")


def test_unmapped_template_is_logged_without_a_claim(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer
) -> None:
    adapter, jobs = wired
    leave = frame("inst-L", "start", "ev-l", NOW_MS)
    leave["data"] = json.dumps({**data("inst-L", "start"), "processCode": "PROC-LEAVE"})
    stream(adapter, fake, leave)
    assert jobs == []
    with session_scope() as s:
        assert s.exec(select(ExpenseClaim)).all() == []
        assert len(s.exec(select(ApprovalEventLog)).all()) == 1


def test_form_server_down_is_retried_then_links(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer
) -> None:
    from bot.approvals import link_claim_job
    from integrations.common.approvals import FormFetchError

    adapter, jobs = wired
    ok = fake.routes[("GET", "/v1.0/workflow/processInstances")]
    fake.route("GET", "/v1.0/workflow/processInstances", lambda c: (503, {"code": "ServiceUnavailable"}))
    stream(adapter, fake, frame("inst-A", "start", "ev-r1", NOW_MS))
    [job] = jobs
    with pytest.raises(FormFetchError) as exc:
        link_claim_job(job)
    assert not exc.value.permanent  # the Celery task retries it with backoff
    assert claim("inst-A").form_fetched_at is None  # nothing half-written
    fake.routes[("GET", "/v1.0/workflow/processInstances")] = ok
    assert link_claim_job(job) == "linked"


def test_bad_approvals_file_stops_the_web_app(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import create_app
    from config.approvals import ApprovalsError, reset_approvals
    from config.settings import reset_settings

    bad = tmp_path / "approvals.yaml"
    bad.write_text("dingtalk:\n  - process_code: P\n    fields: {customer: c}\n", encoding="utf-8")
    monkeypatch.setenv("LOOPKEEPER_APPROVALS_FILE", str(bad))
    reset_settings()
    reset_approvals()
    try:
        with pytest.raises(ApprovalsError, match=r"approvals.yaml:3: dingtalk.0.fields.date: Field required"):
            create_app()
    finally:
        reset_approvals()


def test_celery_task_gives_up_on_permanent_errors_and_sweeper_requeues(
    wired: tuple[DingTalkAdapter, list[int]], fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from bot import tasks

    adapter, jobs = wired
    stream(adapter, fake, frame("inst-unknown", "start", "ev-u", NOW_MS))  # the fake answers 400 for it
    [job] = jobs
    assert tasks.link_expense_claim.run(job) == "fetch_failed"
    # the sweeper re-enqueues claims whose form was never read (older than 2 minutes, younger than 2 days)
    queued: list[int] = []
    monkeypatch.setattr(tasks.link_expense_claim, "delay", queued.append)
    with session_scope() as s:
        c = s.get(ExpenseClaim, job)
        assert c is not None
        c.updated_at = c.created_at = datetime.now(UTC) - timedelta(minutes=5)
        s.add(c)
    assert tasks.sweep_claims.run() == 1 and queued == [job]
