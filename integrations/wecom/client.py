"""WeCom server API client (base URL configurable: `LOOPKEEPER_WECOM__API_URL`, default
https://qyapi.weixin.qq.com/cgi-bin/).

Access tokens (`gettoken`, `expires_in`) and the two JS-SDK tickets (`get_jsapi_ticket`, `ticket/get?type=
agent_config`) are cached until shortly before they expire; a token WeCom reports as invalid or expired
(40014, 42001, 40082) is refreshed once and the call repeated. Every other non-zero `errcode` raises
`WeComApiError` carrying it, and callers decide what it means (see notifier.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40014, 42001, 40082}
REFRESH_MARGIN = 300.0  # seconds before `expires_in` runs out


class WeComApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, path: str, status: int | None = None) -> None:
        super().__init__(f"WeCom {path}: errcode {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        self.status = status


@dataclass
class _Cached:
    value: str
    expires_at: float


class WeComClient:
    def __init__(
        self,
        *,
        api_url: str,
        corp_id: str,
        secret: str,
        agent_id: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.Client | None = None,
    ) -> None:
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.clock = clock
        self.http = http or httpx.Client(timeout=timeout)
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.RLock()  # a ticket fetch takes the token inside the lock

    # -- plumbing --------------------------------------------------------------------------------------
    def _check(self, path: str, resp: httpx.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError as exc:
            raise WeComApiError(-1, f"HTTP {resp.status_code}, not JSON", path, resp.status_code) from exc
        if not isinstance(data, dict):
            raise WeComApiError(-1, "unexpected response", path, resp.status_code)
        code = int(data.get("errcode") or 0)
        if code != 0:
            raise WeComApiError(code, str(data.get("errmsg") or ""), path, resp.status_code)
        return data

    def _cached(self, key: str, fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit.expires_at > self.clock():
                return hit.value
            value, expires_in = fetch()
            self._cache[key] = _Cached(value, self.clock() + max(0.0, expires_in - REFRESH_MARGIN))
            return value

    def _invalidate(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def access_token(self) -> str:
        def fetch() -> tuple[str, float]:
            path = "gettoken"
            resp = self.http.get(
                self.api_url + path, params={"corpid": self.corp_id, "corpsecret": self.secret}
            )
            data = self._check(path, resp)
            return str(data["access_token"]), float(data.get("expires_in") or 7200)

        return self._cached("access_token", fetch)

    def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        """An API call with the access token; retried once with a fresh token when WeCom refuses it."""
        for attempt in (1, 2):
            q = {"access_token": self.access_token(), **(params or {})}
            resp = self.http.request(method, self.api_url + path, params=q, json=json)
            try:
                return self._check(path, resp)
            except WeComApiError as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("wecom access token refused (errcode %s); refreshing", exc.errcode)
                    self._invalidate("access_token")
                    continue
                raise
        raise AssertionError("unreachable")

    # -- messages ----------------------------------------------------------------------------------------
    def send_app_message(self, touser: str, msgtype: str, content: dict[str, Any]) -> dict[str, Any]:
        """`message/send` to members (`touser` "u1|u2"). No ``enable_duplicate_check``: WeCom would silently
        drop a second identical reply ("收到，正在记录") within its interval; the outbox already sends each
        notice key once."""
        body: dict[str, Any] = {
            "touser": touser,
            "msgtype": msgtype,
            "agentid": int(self.agent_id) if self.agent_id and self.agent_id.isdigit() else self.agent_id,
            msgtype: content,
            "safe": 0,
            "enable_duplicate_check": 0,
        }
        return self.call("POST", "message/send", json=body)

    def send_robot(self, webhook: str, body: dict[str, Any]) -> dict[str, Any]:
        """Group robot (消息推送) webhook: a full URL, or just its `key`."""
        url = webhook if "://" in webhook else f"{self.api_url}webhook/send?key={webhook}"
        return self._check("webhook/send", self.http.post(url, json=body))

    # -- lookups -----------------------------------------------------------------------------------------
    def external_contact(self, external_userid: str) -> dict[str, Any]:
        return self.call("GET", "externalcontact/get", params={"external_userid": external_userid})

    def group_chat(self, chat_id: str) -> dict[str, Any]:
        """A customer group's details and member list (`externalcontact/groupchat/get`, /92122)."""
        return self.call("POST", "externalcontact/groupchat/get", json={"chat_id": chat_id, "need_name": 1})

    def approval_detail(self, sp_no: str) -> dict[str, Any]:
        return self.call("POST", "oa/getapprovaldetail", json={"sp_no": sp_no})

    def user_from_oauth_code(self, code: str) -> str | None:
        """The member's userid for a web OAuth `code` (`auth/getuserinfo`); None for a non-member."""
        data = self.call("GET", "auth/getuserinfo", params={"code": code})
        uid = data.get("userid") or data.get("UserId")
        return str(uid) if uid else None

    # -- JS-SDK tickets ------------------------------------------------------------------------------------
    def corp_jsapi_ticket(self) -> str:
        def fetch() -> tuple[str, float]:
            data = self.call("GET", "get_jsapi_ticket")
            return str(data["ticket"]), float(data.get("expires_in") or 7200)

        return self._cached("corp_ticket", fetch)

    def agent_jsapi_ticket(self) -> str:
        def fetch() -> tuple[str, float]:
            data = self.call("GET", "ticket/get", params={"type": "agent_config"})
            return str(data["ticket"]), float(data.get("expires_in") or 7200)

        return self._cached("agent_ticket", fetch)
