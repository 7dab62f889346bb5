"""JS-SDK signatures for the chat-toolbar page, and the sidebar's signed member sessions.

Signature (/document/path/96909): sha1 of "jsapi_ticket=T&noncestr=N&timestamp=S&url=U" — fixed order, no URL
encoding, `url` without the "#…" part. `wx.config` is signed with the corp ticket, `wx.agentConfig` with the
agent ticket (client.py caches both).

Sessions: the page learns who the member is from WeCom's web OAuth (`code` → `auth/getuserinfo` →
userid) and from then on carries a token `v1.<userid b64>.<expiry>.<hmac>` (HMAC-SHA256 over the first
three parts with the sidebar secret). Outside WeCom an admin hands a member the same kind of token
(`loopkeeper wecom-token`), and the plain form asks for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass


def signature(ticket: str, noncestr: str, timestamp: str | int, url: str) -> str:
    url = url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()  # noqa: S324 - the documented algorithm


def nonce() -> str:
    return secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")


class BadSession(ValueError):
    pass


@dataclass(frozen=True)
class SessionSigner:
    key: bytes
    ttl: int = 12 * 3600

    def issue(self, user_id: str, *, ttl: int | None = None, now: float | None = None) -> str:
        exp = int((time.time() if now is None else now) + (self.ttl if ttl is None else ttl))
        uid = base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")
        body = f"v1.{uid}.{exp}"
        mac = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def verify(self, token: str, *, now: float | None = None) -> str:
        """The userid a valid token names; BadSession otherwise (the reason is safe to log)."""
        parts = (token or "").strip().split(".")
        if len(parts) != 4 or parts[0] != "v1":
            raise BadSession("malformed token")
        body = ".".join(parts[:3])
        mac = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac.encode(), parts[3].encode()):
            raise BadSession("bad token signature")
        try:
            exp = int(parts[2])
            uid = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadSession("malformed token") from exc
        if exp < (time.time() if now is None else now):
            raise BadSession("token expired")
        return uid


def derive_key(*secrets_in_order: str | None) -> bytes | None:
    """The session key from the first configured secret (sidebar secret, app secret, API token)."""
    for s in secrets_in_order:
        if s:
            return hashlib.sha256(b"loopkeeper-wecom-sidebar\x00" + s.encode()).digest()
    return None
