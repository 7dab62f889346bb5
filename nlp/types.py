"""The `Extraction` types: what `nlp.extract` returns (DESIGN §7 "Extraction JSON").

Plain pydantic models so they serialize to the documented JSON without any database knowledge.
Spans are ``[start, end)`` in characters of the input text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TimeKind = Literal["point", "range", "duration", "set", "deadline"]
Grain = Literal["year", "quarter", "month", "week", "day", "hour", "minute", "second"]
MeetingWhat = Literal["visit", "meeting", "call", "demo", "meal", "signing", "other"]
MeetingStatus = Literal["scheduled", "cancelled", "moved"]
PainCategory = Literal[
    "price",
    "payment",
    "inventory",
    "delivery",
    "quality",
    "service",
    "display",
    "competition",
    "integration",
    "compliance",
    "staffing",
    "other",
]
SampleStatus = Literal["promised", "sent", "feedback"]


class TimeMention(BaseModel):
    text: str
    span: tuple[int, int]
    kind: TimeKind
    start: datetime  # always tz-aware
    end: datetime | None = None  # exclusive; set for ranges and durations
    grain: Grain


class MeetingMention(BaseModel):
    time: int  # index into Extraction.times
    what: MeetingWhat = "meeting"
    status: MeetingStatus = "scheduled"


class PainPointMention(BaseModel):
    text: str
    span: tuple[int, int]
    category: PainCategory = "other"
    negated: bool = False


class SampleMention(BaseModel):
    model: str
    span: tuple[int, int]
    quantity: int | float | None = None  # 2 for "两台", 1.5 for "1.5箱"
    unit: str | None = None
    committed: bool = True
    #: extra field: the customer asked for it ("asked for samples", "要求先寄"); the rep owes it all the same
    requested: bool = False
    status: SampleStatus = "promised"  # extra field: "sent" when the text says it went out
    due: int | None = None  # extra field: index into Extraction.times of the promised date, if any


class ContactMention(BaseModel):
    name: str
    title: str | None = None
    span: tuple[int, int]


class CustomerMention(BaseModel):
    name: str  # canonical customer name from the gazetteer
    span: tuple[int, int]
    alias: str | None = None  # the alias as written


class GazetteerEntry(BaseModel):
    """A customer the caller knows of; `nlp` never reads the database itself."""

    name: str
    aliases: list[str] = Field(default_factory=list)


class CatalogueEntry(BaseModel):
    """A product model the caller knows of (optional)."""

    model: str
    aliases: list[str] = Field(default_factory=list)


class Extraction(BaseModel):
    text: str
    now: datetime
    tz: str
    times: list[TimeMention] = Field(default_factory=list)
    meetings: list[MeetingMention] = Field(default_factory=list)
    pain_points: list[PainPointMention] = Field(default_factory=list)
    samples: list[SampleMention] = Field(default_factory=list)
    contacts: list[ContactMention] = Field(default_factory=list)
    customers: list[CustomerMention] = Field(default_factory=list)
    extractor_version: str = "0"
    language: str = "zh"

    @property
    def is_empty(self) -> bool:
        return not (self.meetings or self.pain_points or self.samples)
