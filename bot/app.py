"""The FastAPI application: the composition root of the web process."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlmodel import select

from bot.handler import BotHandler
from config.logging import setup_logging
from config.settings import get_settings
from core.db import get_engine, session_scope
from integrations.common.inbound import InboundHandler


def require_token(authorization: str | None = Header(default=None)) -> None:
    token = get_settings().api_token
    if token is None:
        raise HTTPException(status_code=503, detail="LOOPKEEPER_API_TOKEN is not set; the REST API is off")
    expected = f"Bearer {token.get_secret_value()}"
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail="bad or missing bearer token")


MEMBER_HEADER = "X-Loopkeeper-As"


def api_member(
    x_loopkeeper_as: str | None = Header(default=None, alias=MEMBER_HEADER),
) -> int:
    """Whose scope a REST request reads with. The bearer token (LOOPKEEPER_API_TOKEN) authenticates the
    calling system; the `X-Loopkeeper-As` header names the member (name, email or platform user id) the
    answer is scoped for, exactly as `loopkeeper ask --as` does; HTTP headers are ASCII, so a Chinese
    name is sent percent-encoded (UTF-8). Missing → 400, unknown → 403."""
    from urllib.parse import unquote

    from core.queries import find_member

    if not x_loopkeeper_as:
        raise HTTPException(
            status_code=400, detail=f"{MEMBER_HEADER} header (member name, email or id) required"
        )
    with session_scope() as session:
        member = find_member(session, unquote(x_loopkeeper_as))
        if member is None or member.id is None:
            raise HTTPException(status_code=403, detail="no active member by that name, email or id")
        return member.id


def _member(session: Any, member_id: int) -> Any:
    from core.models import Member

    return session.get(Member, member_id)


class LeadIn(BaseModel):
    """Lead intake (`POST /api/leads`): where it came from, the company, who to contact, what they asked."""

    source: str = Field(min_length=1, max_length=100)
    company: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=5000)


def _enqueue_delivery(notice_id: int) -> None:
    """Deliver one outbox notice now, in a worker (bot.tasks.deliver_notice: safe to run twice)."""
    from bot.tasks import deliver_notice

    try:
        deliver_notice.delay(notice_id)
    except Exception as exc:  # the broker is down: the beat's outbox pass still delivers it
        import logging

        logging.getLogger(__name__).warning("delivery not enqueued (%s); the outbox pass sends it", exc)


def create_app(handler: InboundHandler | None = None) -> FastAPI:
    """The web app; `handler` (default: one `BotHandler`) is what every platform adapter calls."""
    settings = get_settings()
    from config.rules import get_rules

    get_rules()  # the rules file is validated at start-up: a mistake stops the process, line named
    from config.approvals import get_approvals

    get_approvals()  # so is LOOPKEEPER_APPROVALS_FILE (expense templates), when set
    setup_logging(settings.log_level, settings.log_format)
    app = FastAPI(title="loopkeeper", version="0.1.0")
    handler = handler if handler is not None else BotHandler()

    # WeCom: /wecom/callback, /wecom/aibot, /wecom/sidebar (the sidebar also works without WeCom credentials)
    from integrations.wecom.routes import build_router as wecom_router
    from integrations.wecom.service import WeComService

    # replies to members go through the outbox; a handler that hands work to Celery (the running system)
    # also gets each reply's delivery enqueued at once, otherwise the beat's outbox pass sends it
    on_notice = _enqueue_delivery if getattr(handler, "enqueue", None) is not None else None
    app.include_router(wecom_router(WeComService.from_settings(settings, handler, on_notice=on_notice)))

    if settings.slack.enabled:
        from integrations.slack.app import SlackAdapter

        slack = SlackAdapter(settings.slack, handler, timezone=settings.timezone)
        app.include_router(slack.router())  # POST /slack/events
        app.state.slack = slack

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "platforms": settings.enabled_platforms()}

    # REST reads are scoped like every command (core.scope): see `api_member`
    @app.get("/api/customers", dependencies=[Depends(require_token)])
    def api_customers(member_id: int = Depends(api_member)) -> list[dict[str, Any]]:
        from core.views import customers_json

        with session_scope() as session:
            return customers_json(session, member=_member(session, member_id))

    @app.get("/api/customers/{name}", dependencies=[Depends(require_token)])
    def api_customer(name: str, member_id: int = Depends(api_member)) -> dict[str, Any]:
        from core.actions import ActionError
        from core.queries import customer_for
        from core.scope import NotAllowed
        from core.views import customer_json

        with session_scope() as session:
            try:
                c = customer_for(session, _member(session, member_id), name)
            except NotAllowed as exc:
                raise HTTPException(status_code=403, detail=str(exc)) from exc
            except ActionError as exc:
                raise HTTPException(status_code=404, detail=str(exc)) from exc
            return customer_json(session, c)

    @app.get("/api/todos", dependencies=[Depends(require_token)])
    def api_todos(status: str | None = None, member_id: int = Depends(api_member)) -> list[dict[str, Any]]:
        from core.views import todos_json

        with session_scope() as session:
            return todos_json(session, status=status, member=_member(session, member_id))

    @app.get("/api/alerts", dependencies=[Depends(require_token)])
    def api_alerts(state: str | None = None, member_id: int = Depends(api_member)) -> list[dict[str, Any]]:
        from core.views import alerts_json

        with session_scope() as session:
            return alerts_json(session, state=state, member=_member(session, member_id))

    @app.post("/api/ask", dependencies=[Depends(require_token)])
    def api_ask(body: dict[str, str], member_id: int = Depends(api_member)) -> dict[str, Any]:
        """Run a bot command as the member (`{"text": "漏斗 all"}`) and return the neutral Reply."""
        from bot.handler import BotHandler

        text = body.get("text") or ""
        return BotHandler(enqueue=None).ask(member_id, text, platform="api").model_dump(mode="json")

    @app.post("/api/leads", dependencies=[Depends(require_token)], status_code=201)
    def api_leads(lead: LeadIn) -> dict[str, Any]:
        from core.leads import create_lead, lead_json
        from core.timeutil import utcnow

        with session_scope() as session:
            created = create_lead(
                session,
                source=lead.source,
                company=lead.company,
                contact=lead.contact,
                message=lead.message,
                now=utcnow(),
            )
            return lead_json(session, created)

    if settings.dingtalk.enabled:
        _mount_dingtalk(app, handler)

    _ = select
    return app


def _mount_dingtalk(app: FastAPI, handler: InboundHandler) -> None:
    """DingTalk HTTP mode (/dingtalk/robot, /dingtalk/events) and ActionCard links (/dingtalk/action),
    calling the app's handler like the other platforms."""
    from bot.pacing import wait_for_slot
    from integrations.dingtalk.adapter import build_adapter
    from integrations.dingtalk.routes import event_crypto, make_router

    dt = get_settings().dingtalk
    assert dt.client_secret is not None
    adapter = build_adapter(handler, dt)
    adapter.pace = wait_for_slot  # direct replies share the app robot's limit
    app.include_router(
        make_router(adapter, app_secret=dt.client_secret.get_secret_value(), crypto=event_crypto(dt))
    )
