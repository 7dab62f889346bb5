"""HTTP status → `DeliveryError`, the same way for every platform's outbound client.

Platform-specific body codes (DingTalk/WeCom ``errcode``, Slack ``ok: false``) are mapped in the platform's
own folder; this covers what HTTP itself says.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

from core.notices import DeliveryError
from core.timeutil import utcnow

DEFAULT_RETRY_AFTER = 60.0  # a 429 without Retry-After


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def check_response(resp: httpx.Response) -> None:
    """Raise the DeliveryError a non-2xx response means: 429 → retry after the header's delay; 408 and
    5xx → transient; any other 4xx → permanent."""
    status = resp.status_code
    if 200 <= status < 300:
        return
    what = f"HTTP {status} from {resp.request.url.host if resp.request else 'platform'}"
    if status == 429:
        delay = retry_after_seconds(resp.headers.get("Retry-After"))
        raise DeliveryError(what, retry_after=DEFAULT_RETRY_AFTER if delay is None else delay)
    if status == 408 or status >= 500:
        raise DeliveryError(what, retry_after=retry_after_seconds(resp.headers.get("Retry-After")))
    raise DeliveryError(what, permanent=True)


def send_error(exc: httpx.HTTPError) -> DeliveryError:
    """A transport failure (timeout, connection refused): transient."""
    return DeliveryError(f"{type(exc).__name__} while sending")
