"""Time-zone helpers: IANA names and fixed offsets ("+08:00", "-02:00")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


@lru_cache(maxsize=64)
def zone_for(name: str) -> tzinfo:
    """Return a tzinfo for an IANA zone name or a fixed offset string; raise ValueError if unknown."""
    name = name.strip()
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = _OFFSET.match(name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        return timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ValueError(f"unknown time zone: {name!r}") from exc


def offset_name(dt: datetime) -> str:
    """The "+HH:MM" offset of an aware datetime."""
    off = dt.utcoffset() or timedelta(0)
    total = int(off.total_seconds() // 60)
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{sign}{total // 60:02d}:{total % 60:02d}"


def resolve_zone(now: datetime, tz: str | None) -> tuple[tzinfo, str]:
    """Pick the zone for an extraction: ``tz`` if given, else ``now``'s own zone/offset."""
    if tz:
        return zone_for(tz), tz
    info = now.tzinfo
    key = getattr(info, "key", None)
    if isinstance(key, str):
        return info, key  # type: ignore[return-value]
    name = offset_name(now)
    return zone_for(name), name
