"""loopkeeper's extraction pipeline for Chinese and English sales chat.

``extract(text, now)`` returns an `Extraction` (DESIGN §7): resolved time mentions, meetings, pain
points, sample promises, contacts and — given a gazetteer — customers. Built on spaCy (blank ``zh``
pipeline with jieba word segmentation through rjieba, blank ``en`` pipeline) with rule-based components; see
``nlp/pipeline.cfg`` and ``nlp/lexicon.yaml``.
"""

from __future__ import annotations

import re
from datetime import datetime

from nlp.types import (
    CatalogueEntry,
    ContactMention,
    CustomerMention,
    Extraction,
    GazetteerEntry,
    MeetingMention,
    PainPointMention,
    SampleMention,
    TimeMention,
)

EXTRACTOR_VERSION = "1.0.0"

__all__ = [
    "EXTRACTOR_VERSION",
    "CatalogueEntry",
    "ContactMention",
    "CustomerMention",
    "Extraction",
    "GazetteerEntry",
    "MeetingMention",
    "PainPointMention",
    "SampleMention",
    "TimeMention",
    "detect_language",
    "extract",
]


_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf]")
_LATIN = re.compile("[A-Za-z]")


def detect_language(text: str) -> str:
    """ "zh" when CJK characters make up a fair share of the letters, else "en"."""
    cjk = len(_CJK.findall(text))
    if cjk == 0:
        return "en"
    latin = len(_LATIN.findall(text))
    return "zh" if cjk * 3 >= latin * 0.5 else "en"


def extract(
    text: str,
    now: datetime,
    tz: str | None = None,
    gazetteer: list[GazetteerEntry] | None = None,
    catalogue: list[CatalogueEntry] | None = None,
    prefer: str | None = None,
) -> Extraction:
    """Extract times, meetings, pain points, samples, contacts and customers from one message.

    ``now`` must be timezone-aware. ``tz`` is an IANA zone ("Asia/Shanghai") or a fixed offset
    ("+08:00"); without it the zone of ``now`` is used. Every datetime in the result is in that zone.
    Lone surrogates (invalid code points) in ``text`` read as U+FFFD, in the returned ``text`` as
    well, so the result always serialises; spans are unchanged.

    ``prefer`` ("future" or "past") reads a time whose year, month, week or day the text leaves open and
    no tense cue settles as the next (or the last) occurrence, and a past clock time with no date as
    tomorrow's (or a later one as yesterday's); None (the default) keeps our conventions (README, "Time
    expressions: conventions"). A tense cue in the message ("已经发了", "约了") wins over it.
    """
    from nlp.normalize import without_surrogates
    from nlp.pipeline import Context, run
    from nlp.tzutil import resolve_zone

    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if prefer not in (None, "future", "past"):
        raise ValueError('prefer must be "future", "past" or None')
    zone, tzname = resolve_zone(now, tz)
    local_now = now.astimezone(zone)
    text = without_surrogates(text or "")
    lang = detect_language(text)
    ctx = Context(local_now, zone, gazetteer, catalogue, prefer=prefer)
    run(lang, text, ctx)
    return Extraction(
        text=text,
        now=local_now,
        tz=tzname,
        times=ctx.times,
        meetings=ctx.meetings,
        pain_points=ctx.pain_points,
        samples=ctx.samples,
        contacts=ctx.contacts,
        customers=ctx.customers,
        extractor_version=EXTRACTOR_VERSION,
        language=lang,
    )
