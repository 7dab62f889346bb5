"""Approval forms, shared by the platforms: the form-fetcher protocol, the registry of one fetcher per
platform, and reading a claim's customer/date/place/amount out of a form through the template mapping.

A fetcher's `fetch_form(instance_id)` returns
``{"fields": {field id: {"title", "control", "value", "biz_alias"?, "ext"?}}, "approvers": [user ids],
"applicant": user id | None}`` — field ids are DingTalk component ids / WeCom control ids; DingTalk fields
also carry their `bizAlias`, so a mapping may name either.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from config.approvals import FieldMap


class FormFetchError(Exception):
    """The form could not be fetched; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class FormFetcher(Protocol):
    def fetch_form(self, instance_id: str) -> dict[str, Any]:
        """The instance's form as documented above; raises FormFetchError."""


_fetchers: dict[str, FormFetcher] = {}


def register_fetcher(platform: str, fetcher: FormFetcher) -> None:
    _fetchers[platform] = fetcher


def fetcher_for(platform: str) -> FormFetcher | None:
    return _fetchers.get(platform)


def reset_fetchers() -> None:
    _fetchers.clear()


@dataclass
class ClaimFields:
    customer: str | None
    date: datetime | None
    place: str | None
    amount: float | None
    missing: list[str]


def find_field(fields: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A form field by id, else by bizAlias."""
    hit = fields.get(key)
    if isinstance(hit, dict):
        return hit
    for f in fields.values():
        if isinstance(f, dict) and f.get("biz_alias") == key:
            return f
    return None


def _maybe_json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def field_text(field: dict[str, Any] | None) -> str | None:
    """The text of a field: a text value, the first selected option, a DingTalk select's label."""
    if field is None:
        return None
    v = _maybe_json(field.get("value"))
    if isinstance(v, list):
        v = next((x for x in v if x not in (None, "")), None)
    if isinstance(v, dict):
        v = v.get("text") or v.get("label") or v.get("value")
    if v in (None, ""):
        ext = _maybe_json(field.get("ext"))
        if isinstance(ext, dict):
            v = ext.get("label")
    if v is None:
        return None
    s = str(v).strip()
    return s or None


_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2}))?")


def field_date(field: dict[str, Any] | None, tz: tzinfo | str) -> datetime | None:
    """A date field: WeCom `s_timestamp` (seconds), epoch milliseconds, or "2026-11-20[ 14:30]" (a date
    range gives its first day) in the team zone `tz`."""
    text = field_text(field)
    if text is None:
        return None
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    if text.isdigit():
        n = int(text)
        return datetime.fromtimestamp(n / 1000 if n > 10**11 else n, tz=UTC)
    m = _DATE.search(text)
    if not m:
        return None
    y, mo, d, hh, mm = m.groups()
    try:
        clock = time(int(hh), int(mm)) if hh else time(12, 0)
        return datetime(int(y), int(mo), int(d), clock.hour, clock.minute, tzinfo=zone)
    except ValueError:
        return None


def field_amount(field: dict[str, Any] | None) -> float | None:
    text = field_text(field)
    if text is None:
        return None
    try:
        return float(re.sub(r"[^\d.\-]", "", text))
    except ValueError:
        return None


def extract_fields(fields: dict[str, Any], mapping: FieldMap, tz: tzinfo | str) -> ClaimFields:
    """The claim's values read through a template's mapping; `missing` names mapped fields not found."""
    missing = [
        name
        for name in ("customer", "date", "place", "amount")
        if getattr(mapping, name) and find_field(fields, getattr(mapping, name)) is None
    ]
    return ClaimFields(
        customer=field_text(find_field(fields, mapping.customer)),
        date=field_date(find_field(fields, mapping.date), tz),
        place=field_text(find_field(fields, mapping.place)) if mapping.place else None,
        amount=field_amount(find_field(fields, mapping.amount)) if mapping.amount else None,
        missing=missing,
    )
