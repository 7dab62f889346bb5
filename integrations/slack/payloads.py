"""Slack payloads → normalized types (pure functions, no I/O).

Keys: a Slack message is identified by ``<channel id>:<ts>`` (the same key `export.py` uses), so the same
message seen under several event ids (``message`` and ``app_mention``), in a retry, or again in an export is
stored once. A capture made by a rep (shortcut or reaction) is ``<channel>:<ts>:capture:<user>``: one
capture per rep per message, pointing at the captured message as its quoted evidence.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from core.messages import ActionInvocation, ChatMessage, CommandInvocation, ConversationRef, Sender

#: message subtypes that are something a person said; every other subtype is ignored
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}


def message_key(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def capture_key(channel: str, ts: str, user: str) -> str:
    return f"{channel}:{ts}:capture:{user}"


def ts_datetime(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC)


def bot_user_id(body: dict[str, Any]) -> str | None:
    """The app's bot user in this workspace, from the Events API envelope (no auth.test needed)."""
    for auth in body.get("authorizations") or []:
        if auth.get("is_bot") and auth.get("user_id"):
            return str(auth["user_id"])
    return None


def conversation(channel: str, channel_type: str | None = None, *, external: bool = False) -> ConversationRef:
    direct = channel_type == "im" or (channel_type is None and channel.startswith("D"))
    return ConversationRef(id=channel, kind="direct" if direct else "group", external=external)


def is_person_message(event: dict[str, Any], bot_user: str | None) -> bool:
    """False for edits, deletions, joins, bot messages (any ``bot_id``) and the bot's own messages."""
    if event.get("subtype") not in PERSON_SUBTYPES:
        return False
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    user = event.get("user")
    if not user or (bot_user is not None and user == bot_user):
        return False
    return bool(event.get("ts")) and bool(event.get("channel"))


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and bool(re.search(rf"<@{re.escape(user_id or '')}(?:\|[^>]*)?>", text or ""))


#: the words that, addressed to the bot inside a thread, capture the thread's parent message (the adapter
#: reads the parent only then; the command itself is still decided by the shared registry)
THREAD_CAPTURE_WORDS = ("记一下", "capture")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def asks_thread_capture(event: dict[str, Any]) -> bool:
    """A reply inside a thread (not the parent itself) whose text, mentions removed, starts with
    "记一下" or "capture" (optionally as "/capture")."""
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return False
    text = _MENTION.sub(" ", str(event.get("text") or "")).strip().lstrip("/").lower()
    return any(
        text == w or text.startswith(w + " ") or (w == "记一下" and text.startswith(w))
        for w in THREAD_CAPTURE_WORDS
    )


def chat_message(
    event: dict[str, Any],
    *,
    addressed: bool,
    external: bool = False,
    quoted: dict[str, Any] | None = None,
) -> ChatMessage:
    """A ``message`` or ``app_mention`` event; ``quoted`` is the thread's parent when the rep addressed the
    bot inside a thread (Slack's closest thing to a quote-reply)."""
    channel = str(event["channel"])
    quoted_fields: dict[str, Any] = {}
    if quoted and quoted.get("ts") and quoted.get("ts") != event.get("ts"):
        quoted_fields = {
            "quoted_text": quoted.get("text") or "",
            "quoted_message_id": message_key(channel, str(quoted["ts"])),
            "quoted_sent_at": ts_datetime(str(quoted["ts"])),
        }
    return ChatMessage(
        platform="slack",
        message_id=message_key(channel, str(event["ts"])),
        conversation=conversation(channel, event.get("channel_type"), external=external),
        sender=Sender(platform_user_id=str(event["user"])),
        text=event.get("text") or "",
        sent_at=ts_datetime(str(event["ts"])),
        addressed=addressed,
        reply_handle={"channel": channel, "ts": event["ts"], "thread_ts": event.get("thread_ts")},
        raw={"event": event},
        **quoted_fields,
    )


def capture_message(
    *,
    channel: str,
    message: dict[str, Any],
    capturer: str,
    captured_at: datetime,
    customer_hint: str | None = None,
    via: str,
    response_url: str | None = None,
) -> ChatMessage:
    """A rep's capture of a message (shortcut or reaction): the message's text is the quoted evidence."""
    ts = str(message["ts"])
    text = message.get("text") or ""
    return ChatMessage(
        platform="slack",
        message_id=capture_key(channel, ts, capturer),
        conversation=conversation(channel),
        sender=Sender(platform_user_id=capturer),
        text=text,
        sent_at=captured_at,
        intent="capture",
        quoted_text=text,
        quoted_sent_at=ts_datetime(ts),
        quoted_message_id=message_key(channel, ts),
        customer_hint=(customer_hint or "").strip() or None,
        reply_handle={"channel": channel, "ts": ts, "user": capturer, "response_url": response_url},
        raw={"via": via, "message_user": message.get("user"), "message_ts": ts},
    )


def command_invocation(form: dict[str, Any]) -> CommandInvocation:
    """A slash command (form fields as Slack sends them)."""
    text = str(form.get("text") or "")
    return CommandInvocation(
        platform="slack",
        conversation=conversation(str(form.get("channel_id") or ""), _channel_type(form)),
        sender=Sender(platform_user_id=str(form["user_id"]), display_name=form.get("user_name")),
        name=str(form.get("command") or ""),
        args=text.split(),
        reply_handle={"response_url": form.get("response_url"), "channel": form.get("channel_id")},
        raw={"command": form.get("command"), "team_id": form.get("team_id")},
    )


def _channel_type(form: dict[str, Any]) -> str | None:
    name = form.get("channel_name")
    if name == "directmessage":
        return "im"
    return None if str(form.get("channel_id") or "").startswith("D") else "channel"


def action_invocation(body: dict[str, Any], action: dict[str, Any]) -> ActionInvocation:
    """A button pressed on a message the bot sent (``block_actions``); the value comes back verbatim."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return ActionInvocation(
        platform="slack",
        sender=Sender(platform_user_id=str(body["user"]["id"])),
        value=str(action.get("value") or ""),
        conversation=conversation(str(channel)) if channel else None,
        reply_handle={"response_url": body.get("response_url"), "channel": channel},
        raw={"action_id": action.get("action_id"), "type": body.get("type")},
    )


#: where Slack's response_url points (https://api.slack.com/interactivity/handling#message_responses)
RESPONSE_URL_HOST = "hooks.slack.com"


def is_slack_response_url(url: str, api_url: str | None = None) -> bool:
    """True for ``https://hooks.slack.com/…`` (exact host, default port, no user info), or the same origin
    as the configured Web API URL (a fake server in tests, a proxy in staging)."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError:
        return False
    if u.username is not None or u.password is not None:
        return False
    if u.scheme == "https" and u.hostname == RESPONSE_URL_HOST and port in (None, 443):
        return True
    if api_url:
        a = urlsplit(api_url)
        return (u.scheme, u.hostname, port) == (a.scheme, a.hostname, a.port)
    return False
