"""Decrypted WeCom callback messages → normalized types (core.messages).

wechatpy 1.8.18 parses app messages (`wechatpy.enterprise.parse_message`); events it does not know
(`sys_approval_change`, `template_card_event`, `change_external_contact`) come back as `UnknownMessage`,
whose `_data` is the xmltodict dict (every value a string). Only this module reads that private field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wechatpy.enterprise import parse_message

from core.messages import ActionInvocation, ApprovalEvent, ChatMessage, ConversationRef, Sender
from integrations.wecom.xmlsafe import cleaned_xml, to_dict

PLATFORM = "wecom"

# ApprovalInfo.SpStatus (/document/path/91815): the instance state after the change
SP_STATUS = {
    "1": "submitted",
    "2": "approved",
    "3": "rejected",
    "4": "revoked",
    "6": "revoked",
    "7": "deleted",
    "10": "paid",
}


@dataclass
class ExternalContactChange:
    """`change_external_contact`: a member added/edited/removed a customer contact."""

    change_type: str
    user_id: str
    external_user_id: str
    raw: dict[str, Any]


@dataclass
class Ignored:
    """Something valid we do not act on (enter_agent, location, images…); `kind` is safe to log."""

    kind: str


@dataclass
class ExternalChatChange:
    """`change_external_chat`: a customer group (客户群) was created, changed (members joined or left, name,
    owner…) or dismissed. Carries no member list: `externalcontact/groupchat/get` has it."""

    change_type: str  # create | update | dismiss
    chat_id: str
    update_detail: str  # for update: add_member | del_member | change_owner | change_name | change_notice
    raw: dict[str, Any]


Inbound = (
    ChatMessage | ApprovalEvent | ActionInvocation | ExternalContactChange | ExternalChatChange | Ignored
)


def _ts(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(value)), tz=UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def app_conversation(user_id: str) -> ConversationRef:
    """A member's 1:1 chat with the app (no customers in it)."""
    return ConversationRef(id=f"app:{user_id}", kind="direct", external=False, title=None)


def message_data(inner_xml: str) -> dict[str, Any]:
    """The decrypted message as a dict (safe parse; raises xmlsafe.UnsafeXML)."""
    return to_dict(inner_xml)


def app_message_id(data: dict[str, Any]) -> str:
    """``app:<MsgId>``; a text without MsgId (seen from some clients) is keyed by a hash of its sender, time
    and content, so two such messages stay two while WeCom's retry of one (same plaintext) is the same key."""
    if data.get("MsgId"):
        return f"app:{data['MsgId']}"
    basis = "\x1f".join(str(data.get(k) or "") for k in ("FromUserName", "CreateTime", "AgentID", "Content"))
    return "app:h:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def normalize(inner_xml: str) -> Inbound:
    """One decrypted callback message → what the handler takes. Raises xmlsafe.UnsafeXML."""
    data = to_dict(inner_xml)  # refuses DTDs, strips control characters, checks well-formedness
    msg = parse_message(cleaned_xml(inner_xml))
    mtype = str(data.get("MsgType") or "")
    if mtype == "text":
        user = str(data.get("FromUserName") or "")
        return ChatMessage(
            platform=PLATFORM,
            message_id=app_message_id(data),
            conversation=app_conversation(user),
            sender=Sender(platform_user_id=user, is_member=True),
            text=str(getattr(msg, "content", None) or data.get("Content") or ""),
            sent_at=_ts(data.get("CreateTime")),
            addressed=True,  # a message to the app is addressed to the bot
            reply_handle={"touser": user, "agentid": str(data.get("AgentID") or "")},
            raw={k: v for k, v in data.items() if k != "Content"},
        )
    if mtype != "event":
        return Ignored(kind=f"message:{mtype or 'unknown'}")
    raw = getattr(msg, "_data", None) or data
    event = str(raw.get("Event") or "")
    if event == "sys_approval_change":
        return approval_event(raw)
    if event == "template_card_event":
        user = str(raw.get("FromUserName") or "")
        return ActionInvocation(
            platform=PLATFORM,
            sender=Sender(platform_user_id=user, is_member=True),
            value=str(raw.get("EventKey") or ""),
            conversation=app_conversation(user),
            reply_handle={
                "touser": user,
                "task_id": raw.get("TaskId"),
                "response_code": raw.get("ResponseCode"),
            },
            raw=dict(raw),
        )
    if event == "change_external_chat":
        return ExternalChatChange(
            change_type=str(raw.get("ChangeType") or ""),
            chat_id=str(raw.get("ChatId") or ""),
            update_detail=str(raw.get("UpdateDetail") or ""),
            raw=dict(raw),
        )
    if event == "change_external_contact":
        return ExternalContactChange(
            change_type=str(raw.get("ChangeType") or ""),
            user_id=str(raw.get("UserID") or ""),
            external_user_id=str(raw.get("ExternalUserID") or ""),
            raw=dict(raw),
        )
    return Ignored(kind=f"event:{event or 'unknown'}")


def approval_event(raw: dict[str, Any]) -> ApprovalEvent:
    info = raw.get("ApprovalInfo") or {}
    if not isinstance(info, dict):
        info = {}
    sp_no = str(info.get("SpNoStr") or info.get("SpNo") or "")
    applyer = info.get("Applyer") or {}
    applicant = applyer.get("UserId") if isinstance(applyer, dict) else None
    change = str(info.get("StatuChangeEvent") or "")
    created = str(raw.get("CreateTime") or "")
    return ApprovalEvent(
        platform=PLATFORM,
        # one instance changes many times (submit, agree, comment…); a retry of the same change has the
        # same CreateTime
        event_id=f"{sp_no}:{change}:{created}",
        instance_id=sp_no,
        template_code=str(info.get("TemplateId") or "") or None,
        status=SP_STATUS.get(str(info.get("SpStatus") or ""), "submitted"),  # type: ignore[arg-type]
        applicant=str(applicant) if applicant else None,
        occurred_at=_ts(raw.get("CreateTime")),
        raw={"ApprovalInfo": info, "Event": "sys_approval_change", "StatuChangeEvent": change},
    )


def form_from_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """`oa/getapprovaldetail` → {control id: {"title", "control", "value"}} (/document/path/91983).

    Values by control type: Text/Textarea `text`, Number `new_number`, Money `new_money`, Date
    `date.s_timestamp`, Selector the selected options' texts, Contact member/department ids, Table the rows as
    lists of the same mapping; anything else keeps its raw `value` object."""
    info = detail.get("info") if "info" in detail else detail
    contents = ((info or {}).get("apply_data") or {}).get("contents") or []
    return {c.get("id") or f"#{i}": _control(c) for i, c in enumerate(contents) if isinstance(c, dict)}


def _title(c: dict[str, Any]) -> str:
    titles = c.get("title") or []
    for t in titles:
        if isinstance(t, dict) and t.get("lang") == "zh_CN":
            return str(t.get("text") or "")
    return str(titles[0].get("text") or "") if titles and isinstance(titles[0], dict) else ""


def _control(c: dict[str, Any]) -> dict[str, Any]:
    control = str(c.get("control") or "")
    v = c.get("value") or {}
    value: Any
    if control in ("Text", "Textarea"):
        value = v.get("text")
    elif control == "Number":
        value = v.get("new_number")
    elif control == "Money":
        value = v.get("new_money")
    elif control == "Date":
        value = (v.get("date") or {}).get("s_timestamp")
    elif control == "Selector":
        opts = (v.get("selector") or {}).get("options") or []
        value = [
            t.get("text")
            for o in opts
            for t in (o.get("value") or [])
            if isinstance(t, dict) and t.get("text")
        ]
    elif control == "Contact":
        value = {
            "members": [m.get("userid") for m in v.get("members") or []],
            "departments": [d.get("openapi_id") for d in v.get("departments") or []],
        }
    elif control == "Table":
        value = [
            {ch.get("id") or f"#{i}": _control(ch) for i, ch in enumerate(row.get("list") or [])}
            for row in v.get("children") or []
        ]
    else:
        value = v
    return {"title": _title(c), "control": control, "value": value}
