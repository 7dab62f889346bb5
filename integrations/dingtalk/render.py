"""Reply/Notice → DingTalk message bodies (markdown, ActionCard), for the three ways we send:

- session webhooks and custom group robots: `{"msgtype": "markdown"|"actionCard", …}`;
- the app robot OpenAPI: `msgKey` + `msgParam` (sampleMarkdown, sampleActionCard, sampleActionCard2..5).

Markdown is kept under our own 4,000-byte budget (DingTalk documents no limit for markdown; the OpenAPI's
msgParam is capped at 15,000 bytes). Buttons link to a URL (see links.py); an action that has its own
`url` (kind "open") links there directly. Digests coalesce many alerts into one message for channels that
allow 20 messages per minute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.messages import Action, OutboundMessage

MARKDOWN_BUDGET = 4000
MAX_BUTTONS = 5  # sampleActionCard5 is the largest vertical button card

#: an Action → the URL its button opens (None: no button)
LinkFor = Callable[[Action], str | None]


def no_links(_action: Action) -> str | None:
    return None


def _clip(text: str, budget: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    cut = data[: budget - len("…".encode())].decode("utf-8", errors="ignore")
    return cut + "…"


def markdown_text(msg: OutboundMessage, budget: int = MARKDOWN_BUDGET) -> str:
    parts = [f"#### {msg.title}"]
    if msg.body:
        parts.append(msg.body)
    if msg.fields:
        parts.append("\n".join(f"- **{k}**: {v}" for k, v in msg.fields.items()))
    return _clip("\n\n".join(parts), budget)


def buttons(msg: OutboundMessage, link_for: LinkFor) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for action in msg.actions:
        url = action.url or link_for(action)
        if url:
            out.append((action.label, url))
    return out[:MAX_BUTTONS]


def webhook_body(msg: OutboundMessage, link_for: LinkFor = no_links) -> dict[str, Any]:
    """Body for a session webhook or a custom group robot."""
    text = markdown_text(msg)
    btns = buttons(msg, link_for)
    if not btns:
        return {"msgtype": "markdown", "markdown": {"title": msg.title, "text": text}}
    card: dict[str, Any] = {"title": msg.title, "text": text, "btnOrientation": "0"}
    if len(btns) == 1:
        card["singleTitle"], card["singleURL"] = btns[0]
    else:
        card["btns"] = [{"title": t, "actionURL": u} for t, u in btns]
    return {"msgtype": "actionCard", "actionCard": card}


def openapi_message(msg: OutboundMessage, link_for: LinkFor = no_links) -> tuple[str, dict[str, Any]]:
    """(msgKey, msgParam) for /v1.0/robot/groupMessages/send and /v1.0/robot/oToMessages/batchSend."""
    text = markdown_text(msg)
    btns = buttons(msg, link_for)
    if not btns:
        return "sampleMarkdown", {"title": msg.title, "text": text}
    if len(btns) == 1:
        return "sampleActionCard", {
            "title": msg.title,
            "text": text,
            "singleTitle": btns[0][0],
            "singleURL": btns[0][1],
        }
    param: dict[str, Any] = {"title": msg.title, "text": text}
    for i, (title, url) in enumerate(btns, 1):
        param[f"actionTitle{i}"] = title
        param[f"actionURL{i}"] = url
    return f"sampleActionCard{len(btns)}", param


def digest(messages: list[OutboundMessage], budget: int = MARKDOWN_BUDGET) -> list[OutboundMessage]:
    """Coalesce many notices into as few markdown messages as fit the budget (a digest lists items
    without buttons; each item's own message carries its buttons when sent 1:1)."""
    if len(messages) <= 1:
        return list(messages)
    room = budget - 200  # title and counters
    chunks: list[list[str]] = [[]]
    used = 0
    for m in messages:
        first = m.body.splitlines()[0] if m.body else ""
        line = _clip(f"- **{m.title}**" + (f" {first}" if first else ""), room)
        size = len(line.encode()) + 1
        if chunks[-1] and used + size > room:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += size
    n = len(chunks)
    return [
        OutboundMessage(
            title=f"loopkeeper 提醒汇总 Digest ({len(messages)})" + (f" {i}/{n}" if n > 1 else ""),
            body="\n".join(chunk),
        )
        for i, chunk in enumerate(chunks, 1)
    ]
