"""Signed action links: how an ActionCard button becomes an `ActionInvocation`.

DingTalk's ActionCard buttons can only open a URL. Each button of a message sent to a member links to

    {public_url}/dingtalk/action?token=<payload>.<mac>

where `payload` is base64url JSON `{"v": Action.value, "u": recipient staff id, "e": expiry (unix s)}` and
`mac` = base64url(HMAC-SHA256(key, payload)), the key derived from the app secret. Opening the link runs
the action as that recipient: the token is the authorisation (like an e-mail confirmation link), so a
token is bound to one recipient and one value, and expires (7 days by default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

ACTION_PATH = "/dingtalk/action"
DEFAULT_TTL = 7 * 24 * 3600


class ActionTokenError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ActionLinks:
    def __init__(
        self,
        app_secret: str,
        public_url: str | None,
        *,
        ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = hmac.new(
            app_secret.encode(), b"loopkeeper/dingtalk/action-link/v1", hashlib.sha256
        ).digest()
        self.base = public_url.rstrip("/") if public_url else None
        self.ttl = ttl
        self.clock = clock

    def token(self, value: str, user_id: str) -> str:
        body = json.dumps(
            {"v": value, "u": user_id, "e": int(self.clock()) + self.ttl},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        payload = _b64(body.encode())
        mac = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        return f"{payload}.{mac}"

    def url(self, value: str, user_id: str) -> str | None:
        """The button URL, or None when no public URL is configured (the message then has no buttons)."""
        if self.base is None:
            return None
        return f"{self.base}{ACTION_PATH}?{urlencode({'token': self.token(value, user_id)})}"

    def verify(self, token: str) -> tuple[str, str]:
        """(action value, recipient user id) of a valid token; raises ActionTokenError otherwise."""
        payload, sep, mac = (token or "").partition(".")
        if not sep or not payload or not mac:
            raise ActionTokenError("malformed token")
        expected = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            raise ActionTokenError("bad token signature")
        try:
            data = json.loads(_unb64(payload))
            value, user, expires = str(data["v"]), str(data["u"]), int(data["e"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ActionTokenError("malformed token") from exc
        if self.clock() > expires:
            raise ActionTokenError("token expired")
        return value, user
