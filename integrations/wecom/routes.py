"""HTTP routes of the WeCom adapter (FastAPI): `GET|POST /wecom/callback`, `GET|POST /wecom/aibot`,
`GET /wecom/sidebar` and the sidebar's JSON endpoints under `/wecom/sidebar/…`.

Callbacks answer as soon as the message is verified and handed to the handler (one INSERT), inside WeCom's
5-second budget (1 s for the echostr). Replies to members are outbox Notices written in the request; after
the response (BackgroundTasks) only the delivery is enqueued, a non-member's explanation sent and the
approval form looked up (service.py).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from integrations.wecom import sidebar
from integrations.wecom.callback import Outcome
from integrations.wecom.service import WeComService

JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"


class PreviewIn(BaseModel):
    text: str
    customer: str | None = None


class SaveIn(BaseModel):
    text: str
    customer: str | None = None
    external_userid: str | None = None
    external_chat_id: str | None = None
    client_id: str | None = None


def _respond(out: Outcome, background: BackgroundTasks) -> Response:
    for job in out.jobs:
        background.add_task(job)
    return PlainTextResponse(out.body, status_code=out.status, media_type=out.media_type)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except sidebar.SidebarError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc


def _page() -> str:
    return resources.files("integrations.wecom").joinpath("static/sidebar.html").read_text(encoding="utf-8")


def build_router(svc: WeComService) -> APIRouter:
    r = APIRouter(prefix="/wecom", tags=["wecom"])

    # -- self-built app callback --------------------------------------------------------------------------
    @r.get("/callback", response_class=PlainTextResponse)
    def callback_verify(request: Request) -> Response:
        out = svc.callback_get(dict(request.query_params))
        return PlainTextResponse(out.body, status_code=out.status)

    @r.post("/callback", response_class=PlainTextResponse)
    async def callback_post(request: Request, background: BackgroundTasks) -> Response:
        body = await request.body()
        out = await run_in_threadpool(svc.callback_post, dict(request.query_params), body)
        return _respond(out, background)

    # -- smart bot ------------------------------------------------------------------------------------------
    @r.get("/aibot", response_class=PlainTextResponse)
    def aibot_verify(request: Request) -> Response:
        out = svc.aibot_get(dict(request.query_params))
        return PlainTextResponse(out.body, status_code=out.status)

    @r.post("/aibot")
    async def aibot_post(request: Request, background: BackgroundTasks) -> Response:
        body = await request.body()
        out = await run_in_threadpool(svc.aibot_post, dict(request.query_params), body)
        return _respond(out, background)

    # -- 客户快记 sidebar ----------------------------------------------------------------------------------
    @r.get("/sidebar", response_class=HTMLResponse)
    def sidebar_page(request: Request, code: str | None = None) -> HTMLResponse:
        session = sidebar.session_from_code(svc, code) if code else None
        oauth = None
        if svc.corp_id and svc.client is not None:
            here = str(request.url.remove_query_params(["code", "state"]))
            q = {"appid": svc.corp_id, "redirect_uri": here, "response_type": "code", "scope": "snsapi_base"}
            if svc.agent_id:
                q["agentid"] = svc.agent_id
            oauth = f"{svc.oauth_url}?{urlencode(q)}&state=lk#wechat_redirect"
        boot = {
            "base": str(request.url.path).rsplit("/sidebar", 1)[0],
            "session": session,
            "wecom": bool(svc.corp_id and svc.client is not None),
            "oauth": oauth,
            "code_tried": bool(code),
            "jssdk_url": JSSDK_URL,
        }
        data = json.dumps(boot, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
        return HTMLResponse(
            _page().replace("__BOOT__", data),
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    @r.get("/sidebar/config")
    def sidebar_config(url: str, authorization: str | None = Header(default=None)) -> dict[str, Any]:
        _guard(sidebar.authenticate, svc, authorization)  # members only: tickets are a limited resource
        return _guard(sidebar.jssdk_config, svc, url)  # type: ignore[no-any-return]

    @r.get("/sidebar/me")
    def sidebar_me(authorization: str | None = Header(default=None)) -> dict[str, Any]:
        who = _guard(sidebar.authenticate, svc, authorization)
        return {"member": who.member_name, "userid": who.user_id}

    @r.get("/sidebar/contact")
    def sidebar_contact(
        external_userid: str | None = None,
        external_chat_id: str | None = None,
        authorization: str | None = Header(default=None),
    ) -> dict[str, Any]:
        who = _guard(sidebar.authenticate, svc, authorization)
        return sidebar.contact_info(svc, external_userid, external_chat_id, who)

    @r.post("/sidebar/preview")
    def sidebar_preview(body: PreviewIn, authorization: str | None = Header(default=None)) -> dict[str, Any]:
        who = _guard(sidebar.authenticate, svc, authorization)
        return _guard(sidebar.preview, svc, body.text, body.customer, who)  # type: ignore[no-any-return]

    @r.post("/sidebar/save")
    def sidebar_save(body: SaveIn, authorization: str | None = Header(default=None)) -> JSONResponse:
        who = _guard(sidebar.authenticate, svc, authorization)
        out = _guard(
            sidebar.save,
            svc,
            who,
            text=body.text,
            external_userid=(body.external_userid or None),
            external_chat_id=(body.external_chat_id or None),
            customer=body.customer,
            client_id=body.client_id,
        )
        return JSONResponse(out)

    return r
