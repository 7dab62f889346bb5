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


class LeadIn(BaseModel):
    """Lead intake (`POST /api/leads`): where it came from, the company, who to contact, what they asked."""

    source: str = Field(min_length=1, max_length=100)
    company: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=5000)


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

    app.include_router(wecom_router(WeComService.from_settings(settings, handler)))

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

    @app.get("/api/customers", dependencies=[Depends(require_token)])
    def api_customers() -> list[dict[str, Any]]:
        from core.views import customers_json

        with session_scope() as session:
            return customers_json(session)

    @app.get("/api/todos", dependencies=[Depends(require_token)])
    def api_todos(status: str | None = None) -> list[dict[str, Any]]:
        from core.views import todos_json

        with session_scope() as session:
            return todos_json(session, status=status)

    @app.get("/api/alerts", dependencies=[Depends(require_token)])
    def api_alerts(state: str | None = None) -> list[dict[str, Any]]:
        from core.views import alerts_json

        with session_scope() as session:
            return alerts_json(session, state=state)

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
        _mount_dingtalk(app)

    _ = select
    return app


def _mount_dingtalk(app: FastAPI) -> None:
    """DingTalk HTTP mode (/dingtalk/robot, /dingtalk/events) and ActionCard links (/dingtalk/action)."""
    from bot.handler import BotHandler
    from integrations.dingtalk.adapter import build_adapter
    from integrations.dingtalk.routes import event_crypto, make_router

    dt = get_settings().dingtalk
    assert dt.client_secret is not None
    adapter = build_adapter(BotHandler(), dt)
    app.include_router(
        make_router(adapter, app_secret=dt.client_secret.get_secret_value(), crypto=event_crypto(dt))
    )
