"""Customer visits (issue 8): one Visit per visit, from a capture ("今天拜访了…"), a command (`拜访`) or an
expense claim. Creation is idempotent on the creating event's key; every new visit gets a chance to link
the applicant's pending expense claims (`core.expenses.relink_for_visit`, the one linking rule)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from core.models import Customer, Member, Visit
from core.people import context_for_id
from core.sqlutil import insert_ignore
from nlp.types import Extraction

#: a visit reported as done: "拜访了" / "拜访过" / "已拜访" / "走访了" / "visited" / "paid a visit"
PAST_VISIT = re.compile(
    r"拜访了|拜访过|已拜访|已经拜访|走访了|上门拜访了|\bvisited\b|\bpaid (?:a )?visit", re.I
)
NEXT_STEP = re.compile(r"(?:下一步|下步|接下来|后续|next steps?)\s*[:：,，]?\s*([^。；;\n]+)", re.I)
PLACE = re.compile(
    r"(?:在|地点[:：]?)\s*([\u4e00-\u9fffA-Za-z0-9]{2,12}?(?:办公室|公司|工厂|门店|仓库|总部))"
)


def visit_time(text: str, extraction: Extraction, sent_at: datetime) -> datetime | None:
    """When the message reports a visit that already happened (today or earlier): its time, else None.

    A visit mention (`meetings[].what == "visit"`) dated today or earlier counts, as does a past-tense visit
    verb without a visit mention in the future ("明天去拜访" is a plan, not a visit)."""
    local_day = sent_at.date()
    future = False
    for mm in extraction.meetings:
        if mm.what != "visit" or mm.status == "cancelled" or mm.time >= len(extraction.times):
            continue
        t = extraction.times[mm.time]
        start = t.start.astimezone(sent_at.tzinfo)
        if start.date() < local_day:
            return start
        if start.date() == local_day:
            # "今天" names the day (00:00): the message time is the better time of the visit
            return start if (t.grain in ("hour", "minute", "second") and start <= sent_at) else sent_at
        future = True
    if not future and PAST_VISIT.search(text or ""):
        past = [
            t.start.astimezone(sent_at.tzinfo)
            for t in extraction.times
            if t.kind == "point" and t.start.astimezone(sent_at.tzinfo).date() < local_day
        ]
        return past[0] if past else sent_at
    return None


def next_step_of(text: str) -> str | None:
    m = NEXT_STEP.search(text or "")
    return m.group(1).strip()[:500] if m else None


def place_of(text: str) -> str | None:
    m = PLACE.search(text or "")
    return m.group(1) if m else None


def create_visit(
    session: Session,
    *,
    key: str,
    customer_id: int | None,
    rep_id: int | None,
    at: datetime,
    source: str,
    place: str | None = None,
    result: str | None = None,
    next_step: str | None = None,
    contacts: list[str] | None = None,
    inbox_id: int | None = None,
    capture_id: int | None = None,
    evidence: dict[str, Any] | None = None,
    now: datetime | None = None,
    relink: bool = True,
) -> tuple[Visit, bool]:
    """The visit created by the event `key` (a capture's inbox id, a command message, a claim); the second
    value is False when that event had already created it."""
    values: dict[str, Any] = {
        "key": key,
        "customer_id": customer_id,
        "rep_id": rep_id,
        "at": at,
        "place": place,
        "result": (result or "").strip()[:2000] or None,
        "next_step": next_step,
        "contacts_met": contacts or [],
        "inbox_id": inbox_id,
        "capture_id": capture_id,
        "source": source,
        "evidence": evidence,
    }
    if now is not None:
        values["created_at"] = now
    new_id = insert_ignore(session, Visit, values, ["key"])
    visit = session.exec(select(Visit).where(Visit.key == key)).one()
    if new_id is not None and relink:
        from core.expenses import relink_for_visit

        relink_for_visit(session, visit, now or visit.created_at)
    return visit, new_id is not None


def recent_visits(
    session: Session, rep_id: int, now: datetime, days: int = 30, limit: int = 5
) -> list[Visit]:
    return list(
        session.exec(
            select(Visit)
            .where(Visit.rep_id == rep_id, Visit.at >= now - timedelta(days=days), Visit.at <= now)
            .order_by(col(Visit.at).desc(), col(Visit.id).desc())
            .limit(limit)
        ).all()
    )


def visit_json(session: Session, v: Visit) -> dict[str, Any]:
    from core.models import ExpenseClaim

    customer = session.get(Customer, v.customer_id) if v.customer_id else None
    rep = session.get(Member, v.rep_id) if v.rep_id else None
    claims = session.exec(select(ExpenseClaim.id).where(ExpenseClaim.visit_id == v.id)).all()
    tz = context_for_id(session, v.rep_id).tz  # times in the rep's team zone, like the other JSON outputs
    return {
        "id": v.id,
        "customer": customer.name if customer else None,
        "rep": rep.name if rep else None,
        "at": v.at.astimezone(tz).isoformat(),
        "outcome_recorded": bool(v.result or v.next_step),
        "place": v.place,
        "result": v.result,
        "next_step": v.next_step,
        "contacts_met": list(v.contacts_met or []),
        "source": v.source,
        "evidence": {
            "inbox_id": v.inbox_id,
            "capture_id": v.capture_id,
            "claim_ids": sorted(int(c) for c in claims if c is not None),
        },
        "created_at": v.created_at.astimezone(tz).isoformat(),
    }


def visits_json(session: Session, *, rep_ids: set[int] | None = None) -> list[dict[str, Any]]:
    q = select(Visit).order_by(col(Visit.at), col(Visit.id))
    if rep_ids is not None:
        q = q.where(col(Visit.rep_id).in_(rep_ids))
    return [visit_json(session, v) for v in session.exec(q).all()]
