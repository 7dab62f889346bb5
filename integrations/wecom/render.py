"""Reply/Notice (markdown, fields, actions) → WeCom message bodies.

App messages to members: `markdown` (≤2048 bytes), or a `template_card` of type `button_interaction` when the
message carries buttons — each button's `key` is the Action value, which comes back verbatim in the
`template_card_event` callback (EventKey) and becomes an ActionInvocation. Group robots get `markdown`
(≤4096 bytes). Limits: /document/path/90236 and /91770.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from core.messages import OutboundMessage

APP_MARKDOWN_BYTES = 2048
ROBOT_MARKDOWN_BYTES = 4096
MAX_BUTTONS = 6
MAX_FIELDS = 6
_TASK_ID = re.compile(r"[^A-Za-z0-9_\-@]")


def truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[: max(0, limit - 3)].decode("utf-8", errors="ignore")
    return cut + "…"


def markdown_text(message: OutboundMessage) -> str:
    lines = [f"**{message.title}**"]
    if message.body:
        lines.append(message.body)
    for k, v in message.fields.items():
        lines.append(f'> {k}: <font color="comment">{v}</font>')
    for a in message.actions:
        if a.url:
            lines.append(f"[{a.label}]({a.url})")
    return "\n".join(lines)


def task_id(notice_key: str) -> str:
    """A template card's task_id (≤128 of [A-Za-z0-9_-@], unique per app) derived from the notice key."""
    digest = hashlib.sha1(notice_key.encode()).hexdigest()[:12]  # noqa: S324 - an id, not security
    return (_TASK_ID.sub("_", notice_key)[:100] + "-" + digest)[:128]


def app_message(message: OutboundMessage, notice_key: str) -> tuple[str, dict[str, Any]]:
    """(msgtype, content) for `message/send`."""
    buttons = [a for a in message.actions if a.kind != "open" and a.value][:MAX_BUTTONS]
    if not buttons:
        return "markdown", {"content": truncate_bytes(markdown_text(message), APP_MARKDOWN_BYTES)}
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": truncate_bytes(message.title, 108)},
        "task_id": task_id(notice_key),
        "button_list": [
            {"text": truncate_bytes(a.label, 30), "style": 1 if i == 0 else 2, "key": a.value[:1024]}
            for i, a in enumerate(buttons)
        ],
    }
    if message.body:
        card["sub_title_text"] = truncate_bytes(message.body, 480)
    if message.fields:
        card["horizontal_content_list"] = [
            {"keyname": truncate_bytes(k, 20), "value": truncate_bytes(v, 90)}
            for k, v in list(message.fields.items())[:MAX_FIELDS]
        ]
    links = [a for a in message.actions if a.kind == "open" and a.url][:3]
    if links:
        card["jump_list"] = [{"type": 1, "title": a.label, "url": a.url} for a in links]
    return "template_card", card


def robot_markdown(message: OutboundMessage) -> dict[str, Any]:
    return {
        "msgtype": "markdown",
        "markdown": {"content": truncate_bytes(markdown_text(message), ROBOT_MARKDOWN_BYTES)},
    }
