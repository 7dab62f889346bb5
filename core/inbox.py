"""The inbox: every inbound message is one INSERT keyed on ``(platform, message_id)``.

`accept` is what adapters call before they acknowledge the platform: it stores the normalized message,
never parses or extracts, and a duplicate delivery is a no-op. Processing happens later, by id, in a Celery
task (or in-process for `ingest`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, select

from config.settings import get_settings
from core.db import retry_locked, session_scope
from core.messages import ChatMessage
from core.models import Conversation, InboxMessage, PlatformIdentity
from core.sqlutil import insert_ignore
from core.textsafe import clean_message

log = logging.getLogger(__name__)

#: called with the inbox id after the INSERT committed (bot wires it to the Celery task)
Enqueue = Callable[[int], None]

#: the longest message text an import accepts (a chat message is far shorter; see pipeline.MAX_EXTRACT_CHARS)
MAX_TEXT_CHARS = 100_000


@dataclass
class Accepted:
    inbox_id: int | None  # None for a duplicate
    duplicate: bool


def member_for(session: Session, platform: str, user_id: str) -> int | None:
    ident = session.exec(
        select(PlatformIdentity).where(
            PlatformIdentity.platform == platform, PlatformIdentity.user_id == user_id
        )
    ).first()
    return ident.member_id if ident else None


def conversation_for(session: Session, msg: ChatMessage) -> Conversation:
    title = msg.conversation.title  # store() cleaned the message first
    conv_values = {
        "platform": msg.platform,
        "conversation_id": msg.conversation.id,
        "title": title,
        "kind": msg.conversation.kind,
        "external": msg.conversation.external,
        "auto_record": False,
    }
    insert_ignore(session, Conversation, conv_values, ["platform", "conversation_id"])  # type: ignore[arg-type]
    conv = session.exec(
        select(Conversation).where(
            Conversation.platform == msg.platform,
            Conversation.conversation_id == conv_values["conversation_id"],
        )
    ).one()
    if title and conv.title != title:
        conv.title = title
        session.add(conv)
    if msg.conversation.external and not conv.external:
        conv.external = True
        session.add(conv)
    return conv


def store(session: Session, msg: ChatMessage, *, source: str = "live") -> int | None:
    """Insert the message in the current transaction; the new id, or None if it is already there."""
    msg = clean_message(msg)  # no NUL / lone surrogate reaches the database (core/textsafe.py)
    conv = conversation_for(session, msg)
    tz = msg.tz or get_settings().timezone
    values = {
        "platform": msg.platform,
        "message_id": msg.message_id,
        "conversation_pk": conv.id,
        "sender_id": msg.sender.platform_user_id,
        "sender_name": msg.sender.display_name,
        "sender_member_id": member_for(session, msg.platform, msg.sender.platform_user_id),
        "text": msg.text,
        "quoted_text": msg.quoted_text,
        "quoted_message_id": msg.quoted_message_id,
        "sent_at": msg.sent_at,
        "quoted_sent_at": msg.quoted_sent_at,
        "tz": tz,
        "intent": msg.intent,
        "customer_hint": msg.customer_hint,
        "source": source,
        "payload": msg.model_dump(mode="json", exclude={"raw"}),
        "raw": msg.raw,
        "status": "pending",
        "attempts": 0,
    }
    return insert_ignore(session, InboxMessage, values, ["platform", "message_id"])  # type: ignore[arg-type]


def accept(msg: ChatMessage, enqueue: Enqueue | None = None, *, source: str = "live") -> Accepted:
    """Store the message durably (one transaction), then hand its id to `enqueue` after the commit."""

    def insert() -> int | None:
        with session_scope() as session:
            return store(session, msg, source=source)

    inbox_id = retry_locked(insert)  # the INSERT is keyed: running it again is safe
    if inbox_id is None:
        log.info("duplicate delivery ignored", extra={"platform": msg.platform})
        return Accepted(None, True)
    if enqueue is not None:
        try:
            enqueue(inbox_id)
        except Exception:  # broker down: the row is safe, the sweeper will enqueue it
            log.warning("enqueue failed for inbox %s; the sweeper will pick it up", inbox_id, exc_info=True)
    return Accepted(inbox_id, False)
