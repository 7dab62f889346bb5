"""DingTalk's HTTP APIs (platforms.md §2(a)-(c)), synchronous (workers and threads call them).

One base URL override (`LOOPKEEPER_DINGTALK__API_URL`) stands for both of DingTalk's hosts:
`api.dingtalk.com` (v1.0 OpenAPI: access token, robot group/1:1 send) and `oapi.dingtalk.com` (session
webhooks, custom group robots), so tests point everything at one fake server.

Failures become `core.notices.DeliveryError`: throttling carries `retry_after` (a custom robot that exceeds
20 messages a minute is throttled for 10 minutes), bad requests are permanent, 5xx and network errors are
retried by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from core.notices import DeliveryError
from integrations.dingtalk.signing import signed_webhook_url

log = logging.getLogger(__name__)

API_BASE = "https://api.dingtalk.com"
OAPI_BASE = "https://oapi.dingtalk.com"
OAPI_HOST = "oapi.dingtalk.com"
SESSION_PATH = "/robot/sendBySession"
TOKEN_PATH = "/v1.0/oauth2/accessToken"  # noqa: S105 - a path, not a secret
GROUP_SEND_PATH = "/v1.0/robot/groupMessages/send"
BATCH_SEND_PATH = "/v1.0/robot/oToMessages/batchSend"
#: errcodes of the oapi robot endpoints that mean "sending too fast" (20/min per robot)
THROTTLED_ERRCODES = frozenset({130101, 90030, 410100})
THROTTLE_SECONDS = 600.0  # DingTalk throttles an over-limit robot for 10 minutes
TOKEN_MARGIN = 300  # renew the access token 5 minutes before it expires
#: 20 messages per minute per robot: documented for custom group robots; applied to the app robot too
#: (its per-API limits are unpublished)
RATE_LIMIT = (20, 60.0)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.netloc or "").lower()


class DingTalkClient:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        robot_code: str | None = None,
        api_url: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.robot_code = robot_code or client_id  # an internal app's robot code is its AppKey by default
        self.override = api_url.rstrip("/") if api_url else None
        self.http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        self.clock = clock
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    # -- URLs ---------------------------------------------------------------------------------------
    def api(self, path: str) -> str:
        return (self.override or API_BASE) + path

    def oapi(self, path: str) -> str:
        return (self.override or OAPI_BASE) + path

    def _rebase_oapi(self, url: str) -> str:
        """An oapi.dingtalk.com URL moved onto the override (tests, staging)."""
        if self.override is None:
            return url
        parts = urlsplit(url)
        if (parts.hostname or "").lower() != OAPI_HOST:
            return url
        base = urlsplit(self.override)
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))

    def session_webhook_url(self, url: str | None) -> str | None:
        """The URL to post a session reply to, or None when the payload's URL is not DingTalk's own
        session endpoint (parsed host equality, no credentials in the URL, no redirects: no SSRF)."""
        if not url:
            return None
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None or parts.path != SESSION_PATH:
            return None
        allowed = {("https", OAPI_HOST)}
        if self.override is not None:
            allowed.add(_origin(self.override))
        if (parts.scheme.lower(), (parts.netloc or "").lower()) not in allowed:
            return None
        return self._rebase_oapi(url)

    # -- access token -------------------------------------------------------------------------------
    def access_token(self) -> str:
        with self._lock:
            now = self.clock()
            if self._token is not None and now < self._token[1]:
                return self._token[0]
            try:
                resp = self.http.post(
                    self.api(TOKEN_PATH), json={"appKey": self.client_id, "appSecret": self._secret}
                )
            except httpx.HTTPError as exc:
                raise DeliveryError(f"access token request failed: {type(exc).__name__}") from exc
            data = _json(resp)
            token = data.get("accessToken")
            if resp.status_code != 200 or not token:
                raise DeliveryError(
                    f"access token refused: HTTP {resp.status_code} {data.get('code', '')}",
                    retry_after=60.0,
                )
            expires_in = float(data.get("expireIn") or 7200)
            self._token = (str(token), now + max(60.0, expires_in - TOKEN_MARGIN))
            return self._token[0]

    def reset_token(self) -> None:
        with self._lock:
            self._token = None

    # -- OpenAPI ------------------------------------------------------------------------------------
    def _openapi_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            headers = {"x-acs-dingtalk-access-token": self.access_token()}
            try:
                resp = self.http.post(self.api(path), json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise DeliveryError(f"{path}: {type(exc).__name__}") from exc
            data = _json(resp)
            code = str(data.get("code") or "")
            if resp.status_code == 401 or code.lower().startswith("invalidauthentication"):
                self.reset_token()
                if attempt == 1:
                    continue
            if resp.status_code == 200:
                return data
            if resp.status_code == 429 or "qpslimit" in code.lower() or "throttl" in code.lower():
                raise DeliveryError(
                    f"{path}: throttled ({code or resp.status_code})", retry_after=_retry_after(resp, 5.0)
                )
            raise DeliveryError(
                f"{path}: HTTP {resp.status_code} {code}", permanent=400 <= resp.status_code < 500
            )
        raise DeliveryError(f"{path}: not authorised")  # pragma: no cover - the loop returns or raises

    def send_group(
        self, open_conversation_id: str, msg_key: str, msg_param: dict[str, Any]
    ) -> dict[str, Any]:
        """The app robot posts into a group it is in (`conversationId` of a robot message)."""
        return self._openapi_post(
            GROUP_SEND_PATH,
            {
                "robotCode": self.robot_code,
                "openConversationId": open_conversation_id,
                "msgKey": msg_key,
                "msgParam": json.dumps(msg_param, ensure_ascii=False),
            },
        )

    def send_to_users(self, user_ids: list[str], msg_key: str, msg_param: dict[str, Any]) -> dict[str, Any]:
        """The app robot's 1:1 message to members (staff ids)."""
        data = self._openapi_post(
            BATCH_SEND_PATH,
            {
                "robotCode": self.robot_code,
                "userIds": user_ids,
                "msgKey": msg_key,
                "msgParam": json.dumps(msg_param, ensure_ascii=False),
            },
        )
        if data.get("flowControlledStaffIdList"):
            raise DeliveryError("batchSend: recipient flow-controlled", retry_after=60.0)
        invalid = set(data.get("invalidStaffIdList") or [])
        if invalid and invalid >= set(user_ids):
            raise DeliveryError("batchSend: recipient is not a valid staff id for this robot", permanent=True)
        return data

    # -- oapi robot endpoints -----------------------------------------------------------------------
    def _oapi_post(self, url: str, body: dict[str, Any], what: str) -> None:
        try:
            resp = self.http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{what}: {type(exc).__name__}") from exc
        data = _json(resp)
        if resp.status_code == 429:
            raise DeliveryError(f"{what}: throttled", retry_after=_retry_after(resp, THROTTLE_SECONDS))
        if resp.status_code >= 500:
            raise DeliveryError(f"{what}: HTTP {resp.status_code}")
        errcode = data.get("errcode", 0 if resp.status_code == 200 else -1)
        try:
            errcode = int(errcode)
        except (TypeError, ValueError):
            errcode = -1
        if errcode in THROTTLED_ERRCODES:
            raise DeliveryError(f"{what}: throttled (errcode {errcode})", retry_after=THROTTLE_SECONDS)
        if resp.status_code != 200 or errcode != 0:
            raise DeliveryError(f"{what}: HTTP {resp.status_code} errcode {errcode}", permanent=True)

    def send_session(self, session_webhook: str, body: dict[str, Any]) -> None:
        url = self.session_webhook_url(session_webhook)
        if url is None:
            raise DeliveryError("session webhook is not DingTalk's session endpoint", permanent=True)
        self._oapi_post(url, body, "sessionWebhook")

    def send_custom_robot(self, webhook: str, secret: str | None, body: dict[str, Any]) -> None:
        """A custom group robot (自定义机器人) for a team alert channel, signed when it has a secret."""
        url = signed_webhook_url(webhook, secret, now=self.clock()) if secret else webhook
        self._oapi_post(self._rebase_oapi(url), body, "group robot")


def webhook_destination(webhook: str) -> str:
    """Rate-limit key of a custom group robot (no token in the key: it is a credential)."""
    token = dict(p.split("=", 1) for p in urlsplit(webhook).query.split("&") if "=" in p).get(
        "access_token", webhook
    )
    return "dingtalk:webhook:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(resp: httpx.Response, default: float) -> float:
    try:
        return max(1.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return default
