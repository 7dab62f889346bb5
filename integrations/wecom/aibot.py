"""Smart bot (智能机器人) callbacks (/document/path/100719): decrypted JSON → ChatMessage.

A member @-mentions the bot in a group, or quote-replies a message to it; `quote` holds the quoted message,
which is what a capture takes (`quoted_text`). The bot's receive id is "" (/document/path/101033).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.messages import ChatMessage, ConversationRef, Sender

PLATFORM = "wecom"


def _text_of(part: dict[str, Any] | None) -> str | None:
    if not isinstance(part, dict):
        return None
    mtype = part.get("msgtype")
    if mtype == "text":
        return str((part.get("text") or {}).get("content") or "") or None
    if mtype == "mixed":
        items = (part.get("mixed") or {}).get("msg_item") or []
        texts = [str((i.get("text") or {}).get("content") or "") for i in items if i.get("msgtype") == "text"]
        return "\n".join(t for t in texts if t) or None
    if mtype == "voice":
        return str((part.get("voice") or {}).get("content") or "") or None
    return None


def to_message(data: dict[str, Any], now: datetime | None = None) -> ChatMessage | None:
    """None for what is not a member's message (stream refreshes, events)."""
    mtype = data.get("msgtype")
    if mtype not in ("text", "mixed", "voice") or not data.get("msgid"):
        return None
    user = str((data.get("from") or {}).get("userid") or "")
    group = data.get("chattype") == "group"
    chat = str(data.get("chatid") or "")
    quote = data.get("quote")
    return ChatMessage(
        platform=PLATFORM,
        message_id=f"aibot:{data['msgid']}",
        conversation=ConversationRef(
            id=f"aibot:{chat}" if group and chat else f"aibot-single:{user}",
            kind="group" if group else "direct",
        ),
        sender=Sender(platform_user_id=user, is_member=True),
        text=_text_of(data) or "",
        quoted_text=_text_of(quote),
        sent_at=now or datetime.now(UTC),
        addressed=True,
        reply_handle={
            "touser": user,
            "response_url": data.get("response_url"),
            "chattype": data.get("chattype"),
        },
        raw={k: v for k, v in data.items() if k not in ("text", "quote", "mixed", "voice")},
    )
