"""Reply/Notice → Slack Block Kit, and the capture modal's views.

Limits (platforms.md §1.10, slack_sdk validators): section text ≤ 3000 characters, ≤ 10 fields of ≤ 2000,
≤ 50 blocks, ≤ 25 elements per actions block, button text ≤ 75, button value ≤ 2000, fallback text
truncated by Slack at 40 000; a view's private_metadata ≤ 3000 characters.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.messages import OutboundMessage, Reply

SECTION_MAX = 3000
FIELD_MAX = 2000
TEXT_MAX = 40000
BUTTON_TEXT_MAX = 75
METADATA_MAX = 3000
#: every button the bot renders has an action_id starting with this (block_actions route on it)
ACTION_PREFIX = "lk:"
CAPTURE_CALLBACK = "capture_to_customer"  # the message shortcut's callback id (README manifest)
CAPTURE_VIEW = "lk_capture"  # the modal's callback id
CUSTOMER_BLOCK = "customer"
CUSTOMER_INPUT = "customer_input"

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\*)([^*\n]+?)(?<!\*)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)


def escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(markdown: str) -> str:
    """Common markdown (the bot's neutral language) → Slack mrkdwn: *i* → _i_, **b** → *b*, [t](u) → <u|t>,
    # h → *h*."""
    out = escape(markdown or "")
    out = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", out)
    out = _ITALIC.sub(lambda m: f"_{m.group(1)}_", out)
    out = _HEADING.sub(lambda m: f"*{m.group(1).strip()}*", out)
    return _BOLD.sub(lambda m: f"*{m.group(1)}*", out)


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def fallback_text(message: OutboundMessage) -> str:
    """The notification text (also what screen readers and old clients show)."""
    text = message.title if not message.body else f"{message.title}\n{message.body}"
    return _clip(text, TEXT_MAX)


def blocks(message: OutboundMessage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(f"*{mrkdwn(message.title)}*", SECTION_MAX)},
        }
    ]
    if message.body:
        for part in _chunks(mrkdwn(message.body), SECTION_MAX)[:40]:
            out.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    if message.fields:
        items = list(message.fields.items())
        for i in range(0, min(len(items), 40), 10):
            out.append(
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": _clip(f"*{mrkdwn(k)}*\n{mrkdwn(v)}", FIELD_MAX)}
                        for k, v in items[i : i + 10]
                    ],
                }
            )
    if message.actions:
        elements: list[dict[str, Any]] = []
        for i, action in enumerate(message.actions[:25]):
            button: dict[str, Any] = {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}{action.kind}:{i}",
                "text": {"type": "plain_text", "text": _clip(action.label, BUTTON_TEXT_MAX), "emoji": True},
                "value": action.value[:2000],
            }
            if action.url:
                button["url"] = action.url
            if action.kind == "ack":
                button["style"] = "primary"
            elif action.kind == "undo":
                button["style"] = "danger"
            elements.append(button)
        out.append({"type": "actions", "elements": elements})
    return out[:50]


def response_body(reply: Reply) -> dict[str, Any]:
    """A ``response_url`` body: private replies are ephemeral (only the asking member sees them)."""
    return {
        "response_type": "ephemeral" if reply.private else "in_channel",
        "replace_original": False,
        "text": fallback_text(reply),
        "blocks": blocks(reply),
    }


# --- the capture modal ------------------------------------------------------------------------------


def encode_metadata(meta: dict[str, Any]) -> str:
    """The modal's private_metadata; the message text is dropped when it would not fit (the submission
    then fetches the message again)."""
    raw = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
    if len(raw) > METADATA_MAX:  # "t" is the text (app.py); the rest (channel, ts, response_url) is short
        raw = json.dumps(
            {k: v for k, v in meta.items() if k != "t"}, ensure_ascii=False, separators=(",", ":")
        )
    if len(raw) > METADATA_MAX:
        raise ValueError("private_metadata over Slack's 3,000 characters even without the text")
    return raw


def decode_metadata(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _modal(title: str, body_blocks: list[dict[str, Any]], metadata: str, *, submit: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": CAPTURE_VIEW,
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "取消 Cancel"},
        "blocks": body_blocks,
        "private_metadata": metadata,
    }
    if submit:
        view["submit"] = {"type": "plain_text", "text": "保存 Save"}
    return view


def _quote(text: str) -> dict[str, Any]:
    lines = _clip(text or "(no text)", 2800).splitlines() or [""]
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "\n".join(f"> {escape(ln)}" for ln in lines)},
    }


def loading_view(text: str, metadata: str) -> dict[str, Any]:
    return _modal(
        "Capture to customer",
        [
            _quote(text),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "正在读取… Reading the message…"}]},
        ],
        metadata,
        submit=False,
    )


def notice_view(title: str, body: str, metadata: str) -> dict[str, Any]:
    return _modal(
        "Capture to customer",
        [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{mrkdwn(title)}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(body) or " "}},
        ],
        metadata,
        submit=False,
    )


def preview_view(
    text: str,
    metadata: str,
    *,
    customer: str | None,
    candidates: list[str],
    pains: list[str],
    meetings: list[str],
    samples: list[str],
) -> dict[str, Any]:
    """The extraction preview: the guessed customer (editable), pain points, meetings, samples."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": CUSTOMER_INPUT,
        "placeholder": {"type": "plain_text", "text": "客户名称或简称 customer name or alias"},
    }
    if customer:
        element["initial_value"] = customer
    hint = "猜测 guessed: " + customer if customer else "没能确定客户 no customer found"
    if not customer and candidates:
        hint = "可能是 maybe: " + ", ".join(candidates[:5])

    def listing(label: str, items: list[str]) -> dict[str, Any]:
        body = "\n".join(f"• {mrkdwn(i)}" for i in items) if items else "—"
        return {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(f"*{label}*\n{body}", SECTION_MAX)},
        }

    return _modal(
        "Capture to customer",
        [
            _quote(text),
            {
                "type": "input",
                "block_id": CUSTOMER_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "客户 Customer"},
                "hint": {"type": "plain_text", "text": _clip(hint, 150)},
                "element": element,
            },
            listing("痛点 Pain points", pains),
            listing("会面 Meetings", meetings),
            listing("样品 Samples", samples),
        ],
        metadata,
        submit=True,
    )


def submitted_customer(view: dict[str, Any]) -> str | None:
    values = (view.get("state") or {}).get("values") or {}
    value = ((values.get(CUSTOMER_BLOCK) or {}).get(CUSTOMER_INPUT) or {}).get("value")
    return str(value).strip() or None if value else None
