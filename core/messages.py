"""Normalized message types (DESIGN §3): what every platform adapter produces and the bot consumes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

Platform = Literal["slack", "dingtalk", "wecom", "import"]


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and (v.tzinfo is None or v.tzinfo.utcoffset(v) is None):
        raise ValueError("datetime must carry a time zone offset")
    return v


class ConversationRef(BaseModel):
    id: str
    kind: Literal["direct", "group"] = "group"
    external: bool = False
    title: str | None = None


class Sender(BaseModel):
    platform_user_id: str
    display_name: str | None = None
    is_member: bool | None = None  # None: unknown to the adapter, resolved through PlatformIdentity


class ChatMessage(BaseModel):
    platform: str
    message_id: str
    conversation: ConversationRef
    sender: Sender
    text: str = ""
    sent_at: datetime
    tz: str | None = None
    intent: Literal["chat", "capture"] = "chat"
    quoted_text: str | None = None
    quoted_sent_at: datetime | None = None
    quoted_message_id: str | None = None
    customer_hint: str | None = None
    # True when the message was addressed to the bot: a 1:1 chat with it, an @-mention, a quote-reply to it.
    # Addressed messages may be commands; other traffic only arrives from conversations bound to a customer.
    addressed: bool = False
    reply_handle: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None

    _v_sent = field_validator("sent_at")(classmethod(lambda cls, v: _aware(v)))
    _v_qsent = field_validator("quoted_sent_at")(classmethod(lambda cls, v: _aware(v)))

    @property
    def capture_text(self) -> str:
        """What a capture extracts from: the quoted message when there is one, else the text."""
        return self.quoted_text if (self.intent == "capture" and self.quoted_text) else self.text


class CommandInvocation(BaseModel):
    platform: str
    conversation: ConversationRef
    sender: Sender
    name: str
    args: list[str] = Field(default_factory=list)
    reply_handle: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None


class ApprovalEvent(BaseModel):
    platform: str
    event_id: str
    instance_id: str
    template_code: str | None = None
    kind: Literal["expense", "other"] = "other"
    status: Literal["submitted", "approved", "rejected", "revoked", "deleted", "paid"]
    applicant: str | None = None
    form: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime
    raw: dict[str, Any] | None = None

    _v_at = field_validator("occurred_at")(classmethod(lambda cls, v: _aware(v)))


class Action(BaseModel):
    kind: Literal["ack", "snooze", "open", "undo", "choose"]
    label: str
    value: str
    url: str | None = None


class OutboundMessage(BaseModel):
    """A Reply or Notice: markdown is the common language; each platform renders it natively."""

    title: str
    body: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    actions: list[Action] = Field(default_factory=list)


class Reply(OutboundMessage):
    """An answer to a command or a capture. ``private`` replies go to the asking member only
    (ephemeral message or 1:1 chat), never into a conversation with customers in it."""

    private: bool = False


class ActionInvocation(BaseModel):
    """A button pressed on a Reply/Notice (``Action.value`` comes back verbatim)."""

    platform: str
    sender: Sender
    value: str
    conversation: ConversationRef | None = None
    reply_handle: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None
