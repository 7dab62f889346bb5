"""SQLModel tables (DESIGN §4). Alembic (core/migrations) is the only schema tool.

Every extracted fact carries its evidence: the inbox message it came from, the character span, the
extractor version and a confidence. Datetimes are stored in UTC and always come back tz-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.timeutil import utcnow


class AwareDateTime(TypeDecorator[datetime]):
    """Stores UTC; refuses naive datetimes; returns aware UTC datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by the database layer")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def dt_field(*, nullable: bool = True, index: bool = False, default_now: bool = False) -> Any:
    kwargs: dict[str, Any] = {}
    if default_now:
        kwargs["default_factory"] = utcnow
    else:
        kwargs["default"] = None
    return Field(sa_column=Column(AwareDateTime(), nullable=nullable, index=index), **kwargs)


def json_field(default: Any = None) -> Any:
    if default is None:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


def text_field(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


# --- people and places -------------------------------------------------------------------------


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    timezone: str = "Asia/Shanghai"
    calendar: str = "CN"
    quiet_start: str = "22:00"
    quiet_end: str = "08:00"


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    email: str | None = Field(default=None, index=True)
    role: str = "rep"  # rep | manager | director | admin
    region: str | None = None
    manager_id: int | None = Field(default=None, foreign_key="member.id")
    team_id: int | None = Field(default=None, foreign_key="team.id")
    active: bool = True


class PlatformIdentity(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    user_id: str
    member_id: int = Field(foreign_key="member.id", index=True)


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    region: str | None = None
    owner_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    stage: str | None = None
    level: str | None = None
    stage_since: datetime | None = dt_field()
    created_at: datetime = dt_field(nullable=False, default_now=True)
    level_since: datetime | None = dt_field()


class CustomerAlias(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("customer_id", "alias_key"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    alias: str
    alias_key: str = Field(index=True)  # casefolded, spaces removed


class CustomerPlatformContact(SQLModel, table=True):
    """A customer-side platform id (e.g. a WeCom external_userid) bound to a customer."""

    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    platform: str
    external_id: str
    name: str | None = None


class Conversation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "conversation_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    conversation_id: str
    title: str | None = None
    kind: str = "group"  # direct | group
    external: bool = False
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    auto_record: bool = False
    # the conversation lease keeps one worker applying its messages in sent_at order
    lease_owner: str | None = None
    lease_until: datetime | None = dt_field()


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("customer_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str
    title: str | None = None
    first_seen: datetime | None = dt_field()
    inbox_id: int | None = Field(default=None, foreign_key="inboxmessage.id")


class Opportunity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    name: str | None = None
    stage: str | None = None
    level: str | None = None
    amount: float | None = None
    owner_id: int | None = Field(default=None, foreign_key="member.id")
    stage_entered_at: datetime | None = dt_field()
    evidence: dict[str, Any] | None = json_field()
    level_entered_at: datetime | None = dt_field()


# --- inbound -----------------------------------------------------------------------------------


class InboxMessage(SQLModel, table=True):
    """Every accepted inbound message, one INSERT; ``(platform, message_id)`` is unique."""

    __table_args__ = (
        UniqueConstraint("platform", "message_id"),
        Index("ix_inbox_status_conv", "status", "conversation_pk", "sent_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    message_id: str
    conversation_pk: int | None = Field(default=None, foreign_key="conversation.id")
    sender_id: str
    sender_name: str | None = None
    sender_member_id: int | None = Field(default=None, foreign_key="member.id")
    text: str | None = text_field()
    quoted_text: str | None = text_field()
    quoted_message_id: str | None = None
    sent_at: datetime = dt_field(nullable=False)
    quoted_sent_at: datetime | None = dt_field()
    tz: str = "Asia/Shanghai"
    intent: str = "chat"  # chat | capture
    customer_hint: str | None = None
    source: str = "live"  # live | ingest
    payload: dict[str, Any] = json_field(dict)  # the normalized ChatMessage
    raw: dict[str, Any] | None = json_field()
    status: str = Field(default="pending", index=True)  # pending | processing | done | skipped | failed
    attempts: int = 0
    lease_until: datetime | None = dt_field()
    received_at: datetime = dt_field(nullable=False, default_now=True)
    processed_at: datetime | None = dt_field()
    outcome: str | None = None  # short machine-readable result (e.g. "chatter", "question", "captured")
    error: str | None = text_field()
    evidence_inbox_id: int | None = Field(default=None, foreign_key="inboxmessage.id")


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    inbox_id: int | None = Field(default=None, foreign_key="inboxmessage.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    kind: str = "file"  # e.g. signed_quote, contract
    file_ref: str | None = None
    created_at: datetime = dt_field(nullable=False, default_now=True)


# --- facts (each with evidence) ------------------------------------------------------------------


class Capture(SQLModel, table=True):
    """The facts one processed message created, so undo removes exactly them."""

    id: int | None = Field(default=None, primary_key=True)
    inbox_id: int = Field(foreign_key="inboxmessage.id", unique=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    created_at: datetime = dt_field(nullable=False, default_now=True)
    undone_at: datetime | None = dt_field()
    facts: dict[str, Any] = json_field(dict)


class Activity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    kind: str = "chat_capture"  # chat_capture | customer_message | visit | call | meeting
    inbox_id: int = Field(foreign_key="inboxmessage.id", unique=True)
    evidence_inbox_id: int | None = Field(default=None, foreign_key="inboxmessage.id")
    captured_by_id: int | None = Field(default=None, foreign_key="member.id")
    occurred_at: datetime = dt_field(nullable=False)
    summary: str | None = text_field()
    capture_id: int | None = Field(default=None, foreign_key="capture.id")


class PainPoint(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("customer_id", "category", "phrase_key"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    phrase: str
    phrase_key: str
    category: str = "other"
    first_seen: datetime = dt_field(nullable=False)
    last_seen: datetime = dt_field(nullable=False)
    mentions: int = 1


class PainPointMention(SQLModel, table=True):
    """One piece of evidence for a pain point; a message counts once per pain point."""

    __table_args__ = (UniqueConstraint("pain_point_id", "inbox_id"),)
    id: int | None = Field(default=None, primary_key=True)
    pain_point_id: int = Field(foreign_key="painpoint.id", index=True)
    inbox_id: int = Field(foreign_key="inboxmessage.id")
    span_start: int
    span_end: int
    text: str
    confidence: float = 0.8
    extractor_version: str = "0"
    capture_id: int | None = Field(default=None, foreign_key="capture.id")


class Meeting(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="member.id")
    start: datetime = dt_field(nullable=False, index=True)
    end: datetime | None = dt_field()
    what: str = "meeting"
    status: str = "scheduled"  # scheduled | moved | cancelled | done
    inbox_id: int = Field(foreign_key="inboxmessage.id")
    span_start: int = 0
    span_end: int = 0
    confidence: float = 0.8
    extractor_version: str = "0"
    capture_id: int | None = Field(default=None, foreign_key="capture.id")


class SampleCommitment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    model: str
    quantity: float | None = None
    unit: str | None = None
    promised_by_id: int | None = Field(default=None, foreign_key="member.id")
    status: str = "promised"  # promised | sent | feedback
    due: datetime | None = dt_field()
    sent_at: datetime | None = dt_field()
    inbox_id: int = Field(foreign_key="inboxmessage.id")
    span_start: int = 0
    span_end: int = 0
    confidence: float = 0.8
    extractor_version: str = "0"
    capture_id: int | None = Field(default=None, foreign_key="capture.id")


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(unique=True)
    aliases: list[str] = json_field(list)


# --- guard -------------------------------------------------------------------------------------


class Todo(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    opportunity_id: int | None = Field(default=None, foreign_key="opportunity.id")
    title: str
    kind: str = "follow_up"  # meeting_outcome | send_sample | follow_up_trial | follow_up | ...
    due: datetime | None = dt_field(index=True)
    status: str = Field(default="open", index=True)  # open | done | cancelled
    origin_rule: str | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    dedup_key: str = Field(unique=True)
    created_at: datetime = dt_field(nullable=False, default_now=True)
    done_at: datetime | None = dt_field()
    capture_id: int | None = Field(default=None, foreign_key="capture.id")


class Alert(SQLModel, table=True):
    __table_args__ = (Index("ix_alert_subject", "subject_type", "subject_id"),)
    id: int | None = Field(default=None, primary_key=True)
    rule: str
    subject_type: str
    subject_id: int
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    recipient_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    level: str = "info"  # info | warning | critical
    dedup_key: str = Field(unique=True)
    title: str
    body: str | None = text_field()
    state: str = Field(default="open", index=True)  # open | acked | snoozed | resolved
    due_at: datetime | None = dt_field()
    created_at: datetime = dt_field(nullable=False, default_now=True)
    sent_at: datetime | None = dt_field()
    acked_at: datetime | None = dt_field()
    acked_by_id: int | None = Field(default=None, foreign_key="member.id")
    snoozed_until: datetime | None = dt_field()
    snooze_reason: str | None = None
    resolved_at: datetime | None = dt_field()
    escalation_step: int = 0
    next_escalation_at: datetime | None = dt_field()


class Notice(SQLModel, table=True):
    """The outbox: everything the bot sends, delivered at most once per idempotency key."""

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    platform: str | None = None  # chosen at delivery time when None
    kind: str = "notice"  # capture_confirmation | question | alert | digest | reply
    title: str
    body: str | None = text_field()
    payload: dict[str, Any] = json_field(dict)
    idempotency_key: str = Field(unique=True)
    state: str = Field(default="pending", index=True)  # pending | sending | sent | failed | held
    attempts: int = 0
    next_attempt_at: datetime | None = dt_field()
    lease_until: datetime | None = dt_field()
    created_at: datetime = dt_field(nullable=False, default_now=True)
    sent_at: datetime | None = dt_field()
    last_error: str | None = text_field()
    alert_id: int | None = Field(default=None, foreign_key="alert.id")


class DeliveryRate(SQLModel, table=True):
    """Per-destination send pacing shared by every worker when no Redis is configured (bot/ratelimit.py):
    ``tat`` is the GCRA "theoretical arrival time" (epoch seconds) of the next allowed send."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    tat: float = 0.0


class Question(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    inbox_id: int = Field(foreign_key="inboxmessage.id")
    kind: str = "which_customer"  # which_customer | paste_text
    prompt: str
    options: list[Any] = json_field(list)
    state: str = "open"  # open | answered | cancelled
    answer: str | None = None
    created_at: datetime = dt_field(nullable=False, default_now=True)
    answered_at: datetime | None = dt_field()


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = dt_field(nullable=False, default_now=True)
    actor_id: int | None = Field(default=None, foreign_key="member.id")
    action: str
    subject_type: str
    subject_id: int | None = None
    from_value: str | None = None
    to_value: str | None = None
    evidence_inbox_id: int | None = Field(default=None, foreign_key="inboxmessage.id")
    detail: dict[str, Any] | None = json_field()


# --- visits, expenses, policies, leads (used by later issues) --------------------------------------


class Visit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    rep_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    at: datetime = dt_field(nullable=False)
    place: str | None = None
    result: str | None = text_field()
    next_step: str | None = text_field()
    contacts_met: list[str] = json_field(list)
    inbox_id: int | None = Field(default=None, foreign_key="inboxmessage.id")
    created_at: datetime = dt_field(nullable=False, default_now=True)
    source: str = "command"  # capture | command | approval
    capture_id: int | None = Field(default=None, foreign_key="capture.id")
    #: linked evidence: {"inbox_ids": [...], "claim_ids": [...], "meeting_id": ...}
    evidence: dict[str, Any] | None = json_field()
    #: idempotency key of the creating event ("capture:<inbox id>", "claim:<claim id>")
    key: str | None = Field(default=None, unique=True)


class ExpenseClaim(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "instance_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    instance_id: str
    applicant_id: int | None = Field(default=None, foreign_key="member.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    amount: float | None = None
    claimed_date: datetime | None = dt_field()
    place: str | None = None
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    status: str = "submitted"
    form: dict[str, Any] | None = json_field()
    updated_at: datetime = dt_field(nullable=False, default_now=True)
    template_code: str | None = None
    applicant_user_id: str | None = None  # the platform user id of the applicant
    status_at: datetime | None = dt_field()  # time of the event that set `status`
    link_state: str = "pending"  # pending (form or visit missing) | linked | unmapped
    approvers: list[str] = json_field(list)  # platform user ids of the approvers, when known
    form_fetched_at: datetime | None = dt_field()
    linked_at: datetime | None = dt_field()
    asked_at: datetime | None = dt_field()
    created_at: datetime = dt_field(nullable=False, default_now=True)


class ApprovalEventLog(SQLModel, table=True):
    """Every approval event received, once per (platform, event_id) and once per (instance, status)."""

    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        UniqueConstraint("platform", "instance_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    event_id: str
    instance_id: str = Field(index=True)
    status: str
    template_code: str | None = None
    applicant: str | None = None
    occurred_at: datetime = dt_field(nullable=False)
    received_at: datetime = dt_field(nullable=False, default_now=True)
    claim_id: int | None = Field(default=None, foreign_key="expenseclaim.id")
    raw: dict[str, Any] | None = json_field()


class Policy(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str
    body: str | None = text_field()
    audience: str | None = None
    version: int = 1
    published_at: datetime = dt_field(nullable=False, default_now=True)
    published_by_id: int | None = None


class PolicyAck(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("policy_id", "member_id"),)
    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="policy.id")
    member_id: int = Field(foreign_key="member.id")
    at: datetime = dt_field(nullable=False, default_now=True)


class PolicyApplication(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("policy_id", "opportunity_id", name="uq_policyapplication_policy_deal"),
    )
    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="policy.id")
    opportunity_id: int = Field(foreign_key="opportunity.id")
    applied_at: datetime = dt_field(nullable=False, default_now=True)


class Lead(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source: str
    company: str
    contact: str | None = None
    message: str | None = text_field()
    owner_id: int | None = Field(default=None, foreign_key="member.id")
    received_at: datetime = dt_field(nullable=False, default_now=True)
    first_touch_at: datetime | None = dt_field()
    priority: str = "normal"


__all__ = [name for name in dir() if not name.startswith("_")]
_ = (datetime, UTC)


class InboundSeen(SQLModel, table=True):
    """Keys of inbound deliveries already handled (platform event ids, message ids that are no inbox row,
    such as a command), so a redelivered event has one effect. Written by `core.seen`."""

    __table_args__ = (UniqueConstraint("platform", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str
    key: str
    seen_at: datetime = dt_field(nullable=False, default_now=True, index=True)
