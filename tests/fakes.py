"""A deterministic stand-in extractor for tests of the pipeline's mechanics (ordering, idempotency,
evidence reuse). What it extracts is fixed by simple markers, so expected records are known by hand."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from nlp.types import (
    CustomerMention,
    Extraction,
    GazetteerEntry,
    MeetingMention,
    PainPointMention,
    SampleMention,
    TimeMention,
)


def fake_extract(
    text: str,
    now: datetime,
    tz: str | None = None,
    gazetteer: list[GazetteerEntry] | None = None,
    catalogue: object = None,
) -> Extraction:
    """PAIN:<category>:<phrase> → a pain point; MEET+<hours> → a meeting <hours> after now;
    MOVE+<hours> → that meeting moved; SAMPLE:<model>x<qty> → a promise; SENT:<model> → sent."""
    ex = Extraction(text=text, now=now, tz=tz or "Asia/Shanghai")
    for m in re.finditer(r"PAIN:(\w+):(\S+)", text):
        ex.pain_points.append(PainPointMention(text=m.group(2), span=m.span(), category=m.group(1)))  # type: ignore[arg-type]
    for m in re.finditer(r"(MEET|MOVE)\+(\d+)", text):
        ex.times.append(
            TimeMention(
                text=m.group(0),
                span=m.span(),
                kind="point",
                start=now + timedelta(hours=int(m.group(2))),
                grain="hour",
            )
        )
        ex.meetings.append(
            MeetingMention(time=len(ex.times) - 1, status="moved" if m.group(1) == "MOVE" else "scheduled")
        )
    for m in re.finditer(r"SAMPLE:([\w-]+)x(\d+)", text):
        ex.samples.append(SampleMention(model=m.group(1), span=m.span(), quantity=int(m.group(2)), unit="台"))
    for m in re.finditer(r"SENT:([\w-]+)", text):
        ex.samples.append(SampleMention(model=m.group(1), span=m.span(), status="sent"))
    for g in gazetteer or []:
        for name in [g.name, *g.aliases]:
            i = text.find(name)
            if i >= 0:
                ex.customers.append(CustomerMention(name=g.name, span=(i, i + len(name)), alias=name))
                break
    return ex
