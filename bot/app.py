"""The FastAPI application: the composition root of the web process."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException
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


def create_app(handler: InboundHandler | None = None) -> FastAPI:
    """The web app; `handler` (default: one `BotHandler`) is what every platform adapter calls."""
    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    app = FastAPI(title="loopkeeper", version="0.1.0")
    bot_handler: InboundHandler = handler if handler is not None else BotHandler()

    if settings.slack.enabled:
        from integrations.slack.app import SlackAdapter

        slack = SlackAdapter(settings.slack, bot_handler, timezone=settings.timezone)
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

    _ = select
    return app
