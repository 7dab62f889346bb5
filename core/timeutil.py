"""Time helpers: every datetime in loopkeeper is tz-aware."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_tz(name: str) -> tzinfo:
    """An IANA zone name or a fixed offset such as ``+08:00`` / ``-02:00``."""
    m = _OFFSET.match(name.strip())
    if m:
        sign = 1 if m.group(1) == "+" else -1
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        return timezone(sign * delta)
    return ZoneInfo(name)


def ensure_aware(dt: datetime, field: str = "datetime") -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"{field} must carry a time zone offset, got naive {dt.isoformat()}")
    return dt


def parse_iso(value: str, field: str = "datetime") -> datetime:
    return ensure_aware(datetime.fromisoformat(value.replace("Z", "+00:00")), field)


def iso(dt: datetime | None, tz: tzinfo | None = None) -> str | None:
    if dt is None:
        return None
    return (dt.astimezone(tz) if tz else dt).isoformat()
