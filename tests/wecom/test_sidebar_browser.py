"""The 客户快记 sidebar in a real headless browser (Debian's chromium driven by Playwright; no browser
download): inside WeCom with a stub JS-SDK (wx.config / agentConfig / getCurExternalContact /
getClipboardData), and as a plain web form with a member token. Paste, preview, save — the record exists.

Skips with the reason when chromium or playwright is missing; CI (.ci/run, LOOPKEEPER_TEST_REQUIRE_BROWSER=1)
installs chromium and turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.db import session_scope
from core.models import Customer, CustomerPlatformContact, InboxMessage, PainPoint
from tests.fakeserver import FakeServer

CHROMIUM = os.environ.get("LOOPKEEPER_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing(reason: str) -> None:
    if os.environ.get("LOOPKEEPER_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " and LOOPKEEPER_TEST_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(db: str, tmp_path: Path) -> Iterator[Any]:
    """Start the real app (uvicorn, 127.0.0.1) with a handler that applies captures in-process."""

    def start(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
        import uvicorn

        from bot.app import create_app
        from bot.handler import BotHandler
        from config.settings import reset_settings
        from core.pipeline import process_inbox
        from tests.helpers import seed

        for k, v in env.items():
            monkeypatch.setenv(k, v)
        reset_settings()
        seed(tmp_path)
        app = create_app(BotHandler(enqueue=lambda inbox_id: process_inbox(inbox_id)))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        t = threading.Thread(target=server.run, daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        servers.append((server, t))
        return f"http://127.0.0.1:{port}"

    servers: list[tuple[Any, threading.Thread]] = []
    yield start
    for server, t in servers:
        server.should_exit = True
        t.join(timeout=10)


def _only_local(page: Any) -> None:
    """Tests never reach real hosts: anything not on 127.0.0.1 is aborted."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith("http://127.0.0.1") else route.abort()
        ),
    )


STUB_SDK = """
window.__wx = {calls: []};
window.wx = {
  config: function (c) { window.__wx.calls.push(['config', c]); },
  ready: function (cb) { setTimeout(cb, 0); },
  error: function (cb) { window.__wx.errorCb = cb; },
  agentConfig: function (c) {
    window.__wx.calls.push(['agentConfig', c]);
    setTimeout(function () { c.success({}); }, 0);
  },
  invoke: function (name, args, cb) {
    window.__wx.calls.push(['invoke', name]);
    if (name === 'getCurExternalContact') cb({err_msg: 'getCurExternalContact:ok', userId: 'wmEXT-JiaYi-1'});
    else if (name === 'getClipboardData')
      cb({err_msg: 'getClipboardData:ok', data: '他们仓库库存周转太慢，账期也太短'});
    else if (name === 'getContext')
      cb({err_msg: 'getContext:ok', entry: window.__lkEntry || 'single_chat_tools'});
    else if (name === 'getCurExternalChat') cb({err_msg: 'getCurExternalChat:ok', chatId: 'wrCHAT-BingDing'});
    else cb({err_msg: name + ':fail'});
  }
};
"""


def _wecom_api(srv: FakeServer) -> None:
    srv.route("GET", "/cgi-bin/gettoken", body={"errcode": 0, "access_token": "AT", "expires_in": 7200})
    srv.route(
        "GET", "/cgi-bin/get_jsapi_ticket", body={"errcode": 0, "ticket": "CORP-TICKET-1", "expires_in": 7200}
    )
    srv.route(
        "GET", "/cgi-bin/ticket/get", body={"errcode": 0, "ticket": "AGENT-TICKET-1", "expires_in": 7200}
    )
    srv.route(
        "GET",
        "/cgi-bin/auth/getuserinfo",
        lambda c: (
            200,
            {"errcode": 0, "userid": "wm-zhou"}
            if c.query.get("code") == ["CODE1"]
            else {"errcode": 40029, "errmsg": "invalid code"},
        ),
    )
    srv.route(
        "GET",
        "/cgi-bin/externalcontact/get",
        body={
            "errcode": 0,
            "external_contact": {
                "external_userid": "wmEXT-JiaYi-1",
                "name": "王采购",
                "type": 2,
                "corp_name": "杭州甲乙贸易",
            },
            "follow_user": [],
        },
    )


def test_inside_wecom_with_stub_jssdk(browser: Any, served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.wecom.jssdk import signature

    with FakeServer() as srv:
        _wecom_api(srv)
        base = served(
            {
                "LOOPKEEPER_WECOM__CORP_ID": "wwcorp-browser",
                "LOOPKEEPER_WECOM__AGENT_ID": "1000002",
                "LOOPKEEPER_WECOM__SECRET": "browser-secret",
                "LOOPKEEPER_WECOM__API_URL": srv.url + "/cgi-bin/",
            },
            monkeypatch,
        )
        ctx = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True)
        page = ctx.new_page()
        _only_local(page)
        page.add_init_script(STUB_SDK)
        page.goto(base + "/wecom/sidebar?code=CODE1")
        page.wait_for_selector("#who.ok")
        assert "小周" in page.inner_text("#who")
        page.wait_for_function("document.getElementById('contact').textContent.includes('王采购')")
        assert "杭州甲乙贸易" in page.inner_text("#contact")
        assert page.input_value("#customer") == "杭州甲乙贸易"  # suggested from the contact's company

        calls = page.evaluate("window.__wx.calls")
        config = next(c[1] for c in calls if c[0] == "config")
        agent = next(c[1] for c in calls if c[0] == "agentConfig")
        url = page.url.split("#")[0]
        assert config["appId"] == "wwcorp-browser"
        assert config["signature"] == signature("CORP-TICKET-1", config["nonceStr"], config["timestamp"], url)
        assert agent["signature"] == signature("AGENT-TICKET-1", agent["nonceStr"], agent["timestamp"], url)
        assert agent["agentid"] == "1000002"

        page.click("#paste-btn")
        assert page.input_value("#text") == "他们仓库库存周转太慢，账期也太短"
        page.click("#preview-btn")
        page.wait_for_selector("#preview-box:not(.hidden)")
        preview = page.inner_text("#preview")
        assert "[inventory]" in preview and "[payment]" in preview
        page.click("#save-btn")
        page.wait_for_selector("#result.saved")
        assert "杭州甲乙贸易" in page.inner_text("#result")
        ctx.close()
        # tickets and the token are cached: one fetch each for the whole page
        assert len(srv.calls_to("/cgi-bin/get_jsapi_ticket")) == 1
        assert len(srv.calls_to("/cgi-bin/gettoken")) == 1

    with session_scope() as s:
        jiayi = s.exec(select(Customer).where(Customer.name == "杭州甲乙贸易")).one()
        [bound] = s.exec(select(CustomerPlatformContact)).all()
        assert (bound.external_id, bound.customer_id, bound.name) == ("wmEXT-JiaYi-1", jiayi.id, "王采购")
        [row] = s.exec(select(InboxMessage)).all()
        assert (row.intent, row.sender_id, row.status) == ("capture", "wm-zhou", "done")
        pains = s.exec(select(PainPoint).where(PainPoint.customer_id == jiayi.id)).all()
        assert sorted(p.category for p in pains) == ["inventory", "payment"]


def test_plain_web_form_outside_wecom(browser: Any, served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.wecom.jssdk import SessionSigner, derive_key

    base = served({"LOOPKEEPER_WECOM__SESSION_SECRET": "sidebar-session-secret"}, monkeypatch)
    token = SessionSigner(derive_key("sidebar-session-secret") or b"").issue("wm-chen")
    ctx = browser.new_context(viewport={"width": 390, "height": 780})
    page = ctx.new_page()
    _only_local(page)
    page.goto(base + "/wecom/sidebar")
    page.wait_for_selector("#token-row:not(.hidden)")
    page.fill("#member-token", "v1.forged.0.deadbeef")
    page.click("#token-btn")
    page.wait_for_function("document.getElementById('who').textContent.includes('Token refused')")
    page.fill("#member-token", token)
    page.click("#token-btn")
    page.wait_for_selector("#who.ok")
    assert "小陈" in page.inner_text("#who")
    page.fill("#customer", "苏州戊己医疗")
    page.fill("#text", "设备故障太多，退货率很高，下周三下午3点来拜访")
    page.click("#preview-btn")
    page.wait_for_selector("#preview-box:not(.hidden)")
    assert "[quality]" in page.inner_text("#preview") and "visit" in page.inner_text("#preview")
    page.click("#save-btn")
    page.wait_for_selector("#result.saved")
    ctx.close()
    with session_scope() as s:
        wuji = s.exec(select(Customer).where(Customer.name == "苏州戊己医疗")).one()
        pains = s.exec(select(PainPoint).where(PainPoint.customer_id == wuji.id)).all()
        assert {p.category for p in pains} == {"quality"}
        assert s.exec(select(CustomerPlatformContact)).all() == []  # no external contact outside WeCom


def test_customer_group_toolbar(browser: Any, served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened from a customer group's toolbar: the group (getCurExternalChat) is bound to the customer."""
    from core.models import Conversation

    with FakeServer() as srv:
        _wecom_api(srv)
        base = served(
            {
                "LOOPKEEPER_WECOM__CORP_ID": "wwcorp-browser",
                "LOOPKEEPER_WECOM__AGENT_ID": "1000002",
                "LOOPKEEPER_WECOM__SECRET": "browser-secret",
                "LOOPKEEPER_WECOM__API_URL": srv.url + "/cgi-bin/",
            },
            monkeypatch,
        )
        ctx = browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True)
        page = ctx.new_page()
        _only_local(page)
        page.add_init_script("window.__lkEntry = 'group_chat_tools';" + STUB_SDK)
        page.goto(base + "/wecom/sidebar?code=CODE1")
        page.wait_for_function("document.getElementById('contact').textContent.includes('客户群')")
        assert "未关联客户" in page.inner_text("#contact")
        page.fill("#customer", "宁波丙丁电子")
        page.fill("#text", "他们说账期太短")
        page.click("#preview-btn")
        page.wait_for_selector("#preview-box:not(.hidden)")
        page.click("#save-btn")
        page.wait_for_selector("#result.saved")
        page.wait_for_function(
            "document.getElementById('contact').textContent.includes('已关联 宁波丙丁电子')"
        )
        ctx.close()
    with session_scope() as s:
        bingding = s.exec(select(Customer).where(Customer.name == "宁波丙丁电子")).one()
        conv = s.exec(
            select(Conversation).where(Conversation.conversation_id == "sidebar-chat:wrCHAT-BingDing")
        ).one()
        assert (conv.customer_id, conv.external, conv.kind) == (bingding.id, True, "group")
        pains = s.exec(select(PainPoint).where(PainPoint.customer_id == bingding.id)).all()
        assert [p.category for p in pains] == ["payment"]
