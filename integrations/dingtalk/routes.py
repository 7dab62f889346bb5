"""HTTP mode (platforms.md §2(b), §2(d)) and the action-link endpoint, as a FastAPI router.

- `POST /dingtalk/robot`: the enterprise-app robot's callback. `timestamp`/`sign` headers are checked
  (HMAC-SHA256 with the app secret, 1-hour window, constant time) before the body is parsed; the handler
  stores/answers in a worker thread; the response is sent at once and the reply goes out afterwards.
- `POST /dingtalk/events`: event subscription with DingTalk's callback encryption (the shared
  `integrations.common.callback_crypto`, receive id = the AppKey): `check_url` and every handled event
  are answered with the encrypted string "success"; a failed handler answers 500 so DingTalk retries.
- `GET /dingtalk/action?token=…`: an ActionCard button (links.py) → `ActionInvocation`; a small page.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from integrations.common.callback_crypto import CallbackCrypto, CallbackCryptoError
from integrations.dingtalk.adapter import DingTalkAdapter, RobotOutcome
from integrations.dingtalk.links import ACTION_PATH, ActionTokenError
from integrations.dingtalk.normalize import PayloadError
from integrations.dingtalk.signing import SignatureError, verify_robot_request

log = logging.getLogger("loopkeeper.dingtalk.http")
MAX_BODY = 1 << 20  # robot messages and events are small; refuse anything larger


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><h3>{html.escape(title)}</h3>"
        f"<p>{html.escape(body).replace(chr(10), '<br>')}</p></body></html>"
    )
    return HTMLResponse(text, status_code=status)


def make_router(
    adapter: DingTalkAdapter,
    *,
    app_secret: str,
    crypto: CallbackCrypto | None,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    router = APIRouter()

    def _deliver(outcome: RobotOutcome) -> None:
        assert outcome.reply is not None
        try:
            adapter.deliver_reply(outcome.message, outcome.reply)
        except Exception as exc:
            log.warning("DingTalk reply not delivered: %s", exc)

    @router.post("/dingtalk/robot")
    async def robot(request: Request, background: BackgroundTasks) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            verify_robot_request(
                request.headers.get("timestamp"), request.headers.get("sign"), app_secret, now=clock()
            )
        except SignatureError as exc:
            log.warning("DingTalk robot callback refused: %s", exc.reason)
            return JSONResponse({"error": "signature check failed"}, status_code=401)
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            return JSONResponse({"error": "body is not a JSON object"}, status_code=400)
        try:
            outcome = await run_in_threadpool(adapter.handle_robot, payload)
        except PayloadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if outcome.reply is not None:
            background.add_task(_deliver, outcome)
        return JSONResponse({})

    @router.post("/dingtalk/events")
    async def events(request: Request) -> JSONResponse:
        if crypto is None:
            return JSONResponse(
                {"error": "set LOOPKEEPER_DINGTALK__EVENT_TOKEN and __EVENT_AES_KEY"}, status_code=503
            )
        q = request.query_params
        signature = q.get("msg_signature") or q.get("signature") or ""
        timestamp = q.get("timestamp") or q.get("timeStamp") or ""
        nonce = q.get("nonce") or ""
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            encrypt = json.loads(body).get("encrypt") or ""
        except (ValueError, AttributeError):
            encrypt = None
        if not isinstance(encrypt, str):
            return JSONResponse({"error": 'body is not {"encrypt": "…"}'}, status_code=400)
        try:
            plain = crypto.verify_and_decrypt(signature, timestamp, nonce, encrypt, now=clock())
            event: dict[str, Any] = json.loads(plain)
            if not isinstance(event, dict):
                raise ValueError("not an object")
        except CallbackCryptoError as exc:
            log.warning("DingTalk event refused: %s", exc.reason)
            return JSONResponse({"error": "verification failed"}, status_code=401)
        except ValueError:
            return JSONResponse({"error": "event is not a JSON object"}, status_code=400)
        event_type = str(event.get("EventType") or "")
        if event_type != "check_url":
            try:
                result = await run_in_threadpool(
                    adapter.handle_event,
                    event_type,
                    event,
                    event_id=event.get("eventId"),
                    occurred_ms=event.get("EventTime"),
                    corp_id=event.get("CorpId"),
                )
            except PayloadError:
                result = "ignored"
            except Exception:
                log.exception("DingTalk event handler failed; DingTalk will retry")
                return JSONResponse({"error": "not processed"}, status_code=500)
            log.debug("DingTalk event %s: %s", event_type, result)
        out = crypto.encrypt("success", timestamp=str(int(clock() * 1000)))
        return JSONResponse(
            {
                "msg_signature": out["msg_signature"],
                "timeStamp": out["timestamp"],
                "nonce": out["nonce"],
                "encrypt": out["encrypt"],
            }
        )

    @router.get(ACTION_PATH)
    async def action(token: str = "") -> HTMLResponse:
        try:
            reply = await run_in_threadpool(adapter.handle_action, token)
        except ActionTokenError as exc:
            log.info("DingTalk action link refused: %s", exc.reason)
            return _page(
                "链接无效 Link not valid",
                "这个按钮已过期或无效。This button has expired or is not valid.",
                403,
            )
        return _page(reply.title, reply.body)

    return router


def event_crypto(settings: Any) -> CallbackCrypto | None:
    """The callback crypto for `DingTalkSettings`, when the event token and AES key are set."""
    if not (settings.event_token and settings.event_aes_key and settings.client_id):
        return None
    return CallbackCrypto(
        settings.event_token.get_secret_value(),
        settings.event_aes_key.get_secret_value(),
        settings.client_id,  # the receive id of an internal app's event subscription is its AppKey
        window=3600.0,
    )
