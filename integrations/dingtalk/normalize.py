"""DingTalk payloads → normalized core types (platforms.md §2(b), §2(d)).

Robot messages (the same JSON over Stream and HTTP) become `ChatMessage`s: every robot message is
addressed to the bot (a 1:1 chat, or a group message that @-mentions it: groups deliver nothing else);
voice messages carry DingTalk's speech recognition as text; a quote-reply carries the quoted message in
undocumented fields whose observed shapes are all read here. Approval events become `ApprovalEvent`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, ConversationRef, Sender

PLATFORM = "dingtalk"
DIRECT = "1"  # conversationType: "1" single chat, "2" group
EXPENSE_CATEGORY = "dingtalk.businessFinance.reimbursement"  # 报销套件
APPROVAL_EVENTS = frozenset({"bpms_instance_change", "bpms_task_change"})


class PayloadError(ValueError):
    """A payload without the fields every delivery must carry."""


def from_ms(value: Any) -> datetime | None:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    if ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    except (OverflowError, OSError, ValueError):  # beyond year 9999 (e.g. createAt 1e20): no usable time
        return None


def _as_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            loaded = json.loads(value)
        except ValueError:
            return None
        return loaded if isinstance(loaded, dict) else None
    return None


def _rich_text(items: Any) -> str | None:
    """`richText[]` items: `{text}` (robot messages) or `{msgType|type, content|text}` (quotes)."""
    if not isinstance(items, list):
        return None
    parts: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("msgType") or item.get("type") or "text"
        if kind != "text":
            continue  # pictures and other media carry a downloadCode, no text
        value = item.get("text")
        if not isinstance(value, str):
            value = item.get("content")
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    return "\n".join(parts) or None


def _content_text(content: Any) -> tuple[str | None, str]:
    """The text of a (quoted) message's content and which observed shape held it."""
    if isinstance(content, str):
        nested = _as_dict(content)
        if nested is None:
            return (content.strip() or None), "content"
        content = nested
    if not isinstance(content, dict):
        return None, "none"
    for key in ("text", "content"):
        value = content.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip(), f"content.{key}"
        if isinstance(value, dict):  # {"content": {"text": …}}
            inner, shape = _content_text(value)
            if inner:
                return inner, f"content.{key}.{shape}"
    rich = _rich_text(content.get("richText"))
    if rich:
        return rich, "content.richText"
    recognition = content.get("recognition")  # a quoted voice message
    if isinstance(recognition, str) and recognition.strip():
        return recognition.strip(), "content.recognition"
    card = content.get("cardContent")
    if card is not None:
        card_dict = _as_dict(card)
        if card_dict is not None:
            for key in ("markdown", "text", "content", "title"):
                value = card_dict.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip(), "content.cardContent"
        elif isinstance(card, str) and card.strip():
            return card.strip(), "content.cardContent"
    markdown = content.get("markdown")
    if isinstance(markdown, str) and markdown.strip():
        return markdown.strip(), "content.markdown"
    return None, "none"


@dataclass(frozen=True)
class Quote:
    text: str | None  # None: only an id arrived (a file, a picture, the bot's own card, an originalMsgId)
    message_id: str | None
    sent_at: datetime | None
    shape: str


def quote_of(payload: dict[str, Any]) -> Quote | None:
    """The quoted message of a quote-reply, or None when the message quotes nothing."""
    text = payload.get("text") if isinstance(payload.get("text"), dict) else {}
    assert isinstance(text, dict)
    replied = _as_dict(text.get("repliedMsg")) or _as_dict(payload.get("repliedMsg"))
    legacy = _as_dict(payload.get("quoteMessage")) or _as_dict(text.get("quoteMessage"))
    original_id = payload.get("originalMsgId") or text.get("originalMsgId")
    is_reply = bool(text.get("isReplyMsg")) or replied is not None or legacy is not None or bool(original_id)
    if not is_reply:
        return None
    source = replied or legacy
    if source is not None:
        body, shape = _content_text(source.get("content"))
        if body is None:  # a legacy shape with the text at top level
            for key in ("text", "msgContent"):
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    body, shape = value.strip(), key
                    break
        mid = source.get("msgId") or source.get("messageId") or original_id
        sent = from_ms(source.get("createdAt") or source.get("createAt"))
        return Quote(
            body,
            str(mid) if mid else None,
            sent,
            ("repliedMsg." if replied is not None else "quoteMessage.") + shape,
        )
    return Quote(None, str(original_id) if original_id else None, None, "id-only")


def message_text(payload: dict[str, Any]) -> str:
    """What the sender wrote: text, the text parts of rich text, or a voice message's recognised text."""
    kind = payload.get("msgtype")
    content = payload.get("content") if isinstance(payload.get("content"), dict) else {}
    assert isinstance(content, dict)
    if kind == "text":
        text = payload.get("text")
        value = text.get("content") if isinstance(text, dict) else None
        return value.strip() if isinstance(value, str) else ""
    if kind == "richText":
        return _rich_text(content.get("richText")) or ""
    if kind == "audio":
        value = content.get("recognition")
        return value.strip() if isinstance(value, str) else ""
    return ""


def robot_message(payload: dict[str, Any], *, received_at: datetime) -> ChatMessage:
    """A robot message (Stream `data` or HTTP body) as a ChatMessage; raises PayloadError when unusable."""
    msg_id = payload.get("msgId")
    conv_id = payload.get("conversationId")
    if not msg_id or not conv_id:
        raise PayloadError("robot message without msgId or conversationId")
    direct = str(payload.get("conversationType") or "") == DIRECT
    sender_id = payload.get("senderStaffId") or payload.get("senderId")
    if not sender_id:
        raise PayloadError("robot message without a sender")
    sender_corp, bot_corp = payload.get("senderCorpId"), payload.get("chatbotCorpId")
    # a sender from another organisation: the conversation has outsiders (customers) in it
    external = bool(sender_corp and bot_corp and sender_corp != bot_corp)
    quote = quote_of(payload)
    sent_at = from_ms(payload.get("createAt")) or received_at
    handle = {
        "session_webhook": payload.get("sessionWebhook"),
        "session_webhook_expires_ms": payload.get("sessionWebhookExpiredTime"),
        "conversation_id": conv_id,
        "conversation_type": "direct" if direct else "group",
        "sender_staff_id": payload.get("senderStaffId"),
        "robot_code": payload.get("robotCode"),
        "msgtype": payload.get("msgtype"),
    }
    return ChatMessage(
        platform=PLATFORM,
        message_id=str(msg_id),
        conversation=ConversationRef(
            id=str(conv_id),
            kind="direct" if direct else "group",
            external=external,
            title=payload.get("conversationTitle") or None,
        ),
        sender=Sender(platform_user_id=str(sender_id), display_name=payload.get("senderNick")),
        text=message_text(payload),
        sent_at=sent_at,
        quoted_text=quote.text if quote else None,
        quoted_message_id=quote.message_id if quote else None,
        quoted_sent_at=quote.sent_at if quote else None,
        # 1:1 chats are addressed by definition; groups only deliver messages that @ the bot
        addressed=direct or payload.get("isInAtList") is not False,
        reply_handle=handle,
        raw=payload,
    )


# --- approval events ---------------------------------------------------------------------------------

_INSTANCE_STATUS = {
    ("start", None): "submitted",
    ("finish", "agree"): "approved",
    ("finish", "refuse"): "rejected",
    ("terminate", None): "revoked",
    ("delete", None): "deleted",
}


def _approval_status(event_type: str, kind: str, result: str | None) -> str:
    if event_type == "bpms_instance_change":
        status = _INSTANCE_STATUS.get((kind, result)) or _INSTANCE_STATUS.get((kind, None))
        return status or "submitted"
    # bpms_task_change: one approver's step; a refusal ends the instance, anything else keeps it running
    return "rejected" if (kind == "finish" and result == "refuse") else "submitted"


def approval_keys(event: ApprovalEvent) -> list[str]:
    """Deduplication keys: the event id and, for instance changes, the instance + type + result (a second
    guard, platforms.md §6.4: an instance finishes or is revoked once). Task changes repeat legitimately
    (several comments on one task), so they are keyed on the event id alone."""
    keys = [f"event:{event.event_id}"]
    raw = event.raw or {}
    data = raw.get("data")
    if raw.get("event_type") == "bpms_instance_change" and isinstance(data, dict):
        keys.append(f"instance:{event.instance_id}:{data.get('type') or ''}:{data.get('result') or ''}")
    return keys


def approval_event(
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: str | None,
    occurred_ms: Any = None,
    corp_id: str | None = None,
    received_at: datetime,
) -> ApprovalEvent | None:
    """`bpms_instance_change` / `bpms_task_change` as an ApprovalEvent; None for any other event."""
    if event_type not in APPROVAL_EVENTS:
        return None
    instance_id = data.get("processInstanceId")
    if not instance_id:
        raise PayloadError("approval event without processInstanceId")
    kind = str(data.get("type") or "")
    result = data.get("result") or None
    eid = event_id or ":".join(
        str(x or "")
        for x in (event_type, instance_id, data.get("taskId"), kind, result, data.get("finishTime"))
    )
    category = data.get("bizCategoryId")
    return ApprovalEvent(
        platform=PLATFORM,
        event_id=str(eid),
        instance_id=str(instance_id),
        template_code=data.get("processCode"),
        kind="expense" if category == EXPENSE_CATEGORY else "other",
        status=_approval_status(event_type, kind, result),  # type: ignore[arg-type]
        # the initiator for instance events; for task events staffId is the approver (kept in raw)
        applicant=data.get("staffId") if event_type == "bpms_instance_change" else None,
        form={},  # the form is fetched later (GET /v1.0/workflow/processInstances) by a lookup task
        occurred_at=from_ms(occurred_ms) or from_ms(data.get("finishTime")) or received_at,
        raw={"event_type": event_type, "corp_id": corp_id, "data": data},
    )


# --- interactive card callbacks (Stream topic /v1.0/card/instances/callback) -----------------------------

MAX_ACTION_VALUE = 256


def card_action(
    *,
    user_id: str,
    content: Any,
    out_track_id: str = "",
    space_id: str = "",
    space_type: str = "",
    corp_id: str = "",
) -> ActionInvocation:
    """A button press on an interactive card → `ActionInvocation`. The card's callback content is
    ``{"cardPrivateData": {"actionIds": [...], "params": {...}}}``; our cards put the `Action.value` in the
    button's ``params.value`` (else the action id is the value). Raises PayloadError without a user or a
    value."""
    if not user_id:
        raise PayloadError("card callback without userId")
    data = _as_dict(content) or {}
    private = _as_dict(data.get("cardPrivateData")) or {}
    params = _as_dict(private.get("params")) or {}
    value = params.get("value")
    if not isinstance(value, str) or not value.strip():
        ids = private.get("actionIds")
        value = ids[0] if isinstance(ids, list) and ids and isinstance(ids[0], str) else None
    if not value or not value.strip() or len(value) > MAX_ACTION_VALUE:
        raise PayloadError("card callback without a usable action value")
    conversation = None
    if space_id:
        kind = "group" if space_type.upper() == "IM_GROUP" else "direct"
        conversation = ConversationRef(id=space_id, kind=kind)
    return ActionInvocation(
        platform=PLATFORM,
        sender=Sender(platform_user_id=user_id),
        value=value.strip(),
        conversation=conversation,
        reply_handle={"sender_staff_id": user_id, "card_instance_id": out_track_id, "corp_id": corp_id},
    )
