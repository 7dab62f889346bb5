"""DingTalk's HMAC-SHA256 robot signatures (platforms.md §2(b), §2(c)).

Both the enterprise-app robot's HTTP callback and the custom group robot's webhook sign

    sign = Base64( HMAC-SHA256( key = secret, msg = timestamp + "\\n" + secret ) )

with `timestamp` in milliseconds. The callback carries `timestamp`/`sign` as headers (not URL-encoded);
the webhook carries them as query parameters (URL-encoded). Both must be within one hour of now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, quote_plus, unquote, urlencode, urlsplit, urlunsplit

#: DingTalk's documented window for both signatures
WINDOW_SECONDS = 3600.0


class SignatureError(ValueError):
    """A request failed verification; `reason` is safe to log (no secrets, no payload)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def robot_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_robot_request(
    timestamp: str | None,
    sign: str | None,
    secret: str,
    *,
    now: float | None = None,
    window: float = WINDOW_SECONDS,
) -> None:
    """Check an HTTP-mode robot callback's `timestamp`/`sign` headers; SignatureError if either fails."""
    if not timestamp or not sign:
        raise SignatureError("missing timestamp or sign header")
    if not timestamp.isdigit():
        raise SignatureError("timestamp is not a number")
    expected = robot_sign(secret, timestamp).encode()
    given = sign.strip()
    ok = hmac.compare_digest(expected, given.encode())
    if not ok and "%" in given:  # a proxy that URL-encoded the header
        ok = hmac.compare_digest(expected, unquote(given).encode())
    if not ok:
        raise SignatureError("bad sign")
    current_ms = (time.time() if now is None else now) * 1000.0
    if abs(current_ms - int(timestamp)) > window * 1000.0:
        raise SignatureError("timestamp outside the 1-hour window")


def signed_webhook_url(webhook: str, secret: str, *, now: float | None = None) -> str:
    """The custom group robot's webhook URL with fresh `timestamp` and `sign` query parameters."""
    ts = str(round((time.time() if now is None else now) * 1000))
    parts = urlsplit(webhook)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("timestamp", "sign")
    ]
    tail = f"timestamp={ts}&sign={quote_plus(robot_sign(secret, ts))}"
    new_query = f"{urlencode(query)}&{tail}" if query else tail
    return urlunsplit((parts.scheme, parts.netloc, parts.path, new_query, parts.fragment))
