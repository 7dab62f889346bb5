"""客户快记 — the chat-toolbar page's server side: who the member is, which customer the current external
contact belongs to, an extraction preview, and the save that becomes a capture through the handler.

Identity: a signed session token (jssdk.SessionSigner) in the `Authorization: Bearer` header, obtained from
WeCom's web OAuth `code` when the page opens inside WeCom, or pasted by the member into the plain form
outside WeCom (`loopkeeper wecom-token MEMBER`). Tokens travel in a header, never a cookie, so the page's
POSTs are not exposed to cross-site request forgery.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nlp
from core.customers import find_by_name, gazetteer, name_key
from core.db import session_scope
from core.inbox import member_for
from core.messages import ChatMessage, ConversationRef, Reply, Sender
from core.models import Customer, Member
from core.platform_contacts import (
    bind_contact,
    bind_conversation,
    contact_customer,
    conversation_customer,
)
from core.scope import can_see, visible_customer_ids
from core.timeutil import parse_tz
from integrations.wecom.jssdk import BadSession, nonce, signature
from integrations.wecom.service import WeComService

log = logging.getLogger("loopkeeper.wecom")
PLATFORM = "wecom"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9\-]{8,64}$")
MAX_TEXT = 8000


class SidebarError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Who:
    user_id: str
    member_name: str
    member_id: int | None = None  # the roster member: scope checks (core/scope.py)


def authenticate(svc: WeComService, authorization: str | None) -> Who:
    if svc.signer is None:
        raise SidebarError(
            503, "no session key: set LOOPKEEPER_WECOM__SESSION_SECRET (or SECRET / API_TOKEN)"
        )
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not token:
        raise SidebarError(401, "member token missing")
    try:
        user_id = svc.signer.verify(token)
    except BadSession as exc:
        log.warning("wecom sidebar refused: %s", exc)
        raise SidebarError(401, f"member token refused: {exc}") from exc
    with session_scope() as session:
        mid = member_for(session, PLATFORM, user_id)
        member = session.get(Member, mid) if mid is not None else None
        if member is None or not member.active:
            raise SidebarError(403, "this WeCom account is not on the loopkeeper roster")
        return Who(user_id=user_id, member_name=member.name, member_id=member.id)


def session_from_code(svc: WeComService, code: str) -> str | None:
    """Exchange a WeCom web OAuth code for a signed session (None if it is no member's code)."""
    if svc.client is None or svc.signer is None or not code:
        return None
    try:
        uid = svc.client.user_from_oauth_code(code)
    except Exception as exc:
        log.warning("wecom oauth code refused: %s", type(exc).__name__)
        return None
    return svc.signer.issue(uid) if uid else None


def jssdk_config(svc: WeComService, url: str) -> dict[str, Any]:
    """wx.config (corp ticket) and wx.agentConfig (agent ticket) parameters for the page at `url`."""
    if svc.client is None or not svc.corp_id:
        raise SidebarError(503, "WeCom app not configured (CORP_ID / SECRET)")
    ts = str(int(svc.clock().timestamp()))
    n = nonce()
    return {
        "corpid": svc.corp_id,
        "agentid": svc.agent_id,
        "timestamp": ts,
        "nonceStr": n,
        "signature": signature(svc.client.corp_jsapi_ticket(), n, ts, url),
        "agentSignature": signature(svc.client.agent_jsapi_ticket(), n, ts, url),
    }


def chat_conversation_id(chat_id: str) -> str:
    return f"sidebar-chat:{chat_id}"


def _member(session: Any, who: Who | None) -> Member | None:
    return session.get(Member, who.member_id) if who is not None and who.member_id is not None else None


def _visible(session: Any, member: Member | None, customer: Customer | None) -> Customer | None:
    """`customer` if the member may see it (core/scope.py), else None: another rep's binding stays hidden."""
    if customer is None or member is None:
        return customer if member is not None else None
    return customer if can_see(session, member, customer) else None


def contact_info(
    svc: WeComService,
    external_userid: str | None,
    external_chat_id: str | None = None,
    who: Who | None = None,
) -> dict[str, Any]:
    """The contact's (or group's) bound customer and the customers to choose from: only those the member may
    see; a binding to a customer outside the member's scope is reported as none."""
    out: dict[str, Any] = {"external_userid": external_userid, "customer": None, "name": None}
    out["corp_name"] = None
    with session_scope() as session:
        member = _member(session, who)
        ids = visible_customer_ids(session, member) if member is not None else set()
        out["customers"] = sorted(
            c.name for c in session.exec(_all_customers()).all() if ids is None or (c.id or 0) in ids
        )
        if external_userid:
            c = _visible(session, member, contact_customer(session, PLATFORM, external_userid))
            out["customer"] = c.name if c else None
        elif external_chat_id:
            conv = chat_conversation_id(external_chat_id)
            c = _visible(session, member, conversation_customer(session, PLATFORM, conv))
            out["customer"] = c.name if c else None
    if external_userid and svc.client is not None:
        try:
            ext = svc.client.external_contact(external_userid).get("external_contact") or {}
            out["name"], out["corp_name"] = ext.get("name"), ext.get("corp_name")
        except Exception as exc:  # not configured for 客户联系, or the member cannot see the contact
            log.info("wecom externalcontact/get failed: %s", type(exc).__name__)
    if out["customer"] is None and out["corp_name"]:
        with session_scope() as session:
            member = _member(session, who)
            hits = [h for h in find_by_name(session, str(out["corp_name"])) if _visible(session, member, h)]
            if len(hits) == 1:
                out["suggested"] = hits[0].name
    return out


def _contact_name(svc: WeComService, external_userid: str) -> str | None:
    """The contact's name from `externalcontact/get` (None when not configured or not visible)."""
    if svc.client is None:
        return None
    try:
        ext = svc.client.external_contact(external_userid).get("external_contact") or {}
    except Exception as exc:
        log.info("wecom externalcontact/get failed: %s", type(exc).__name__)
        return None
    return str(ext.get("name") or "") or None


def _all_customers() -> Any:
    from sqlmodel import select

    return select(Customer)


def preview(svc: WeComService, text: str, customer: str | None, who: Who | None = None) -> dict[str, Any]:
    """The extraction preview; customer names offered or recognised are only those the member may see."""
    text = _check_text(text)
    with session_scope() as session:
        member = _member(session, who)
        ids = visible_customer_ids(session, member) if member is not None else set()
        visible = {c.name for c in session.exec(_all_customers()).all() if ids is None or (c.id or 0) in ids}
        gaz = [g for g in gazetteer(session) if g.name in visible]
        hits = [c for c in find_by_name(session, customer) if c.name in visible] if customer else []
    now = svc.clock().astimezone(parse_tz(svc.timezone))
    ex = nlp.extract(text, now=now, tz=svc.timezone, gazetteer=gaz)
    out = ex.model_dump(mode="json")
    out["customer_matches"] = [c.name for c in hits]
    return out


def _check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise SidebarError(422, "paste the customer's message first")
    if len(text) > MAX_TEXT:
        raise SidebarError(413, f"text longer than {MAX_TEXT} characters")
    return text


def save(
    svc: WeComService,
    who: Who,
    *,
    text: str,
    external_userid: str | None,
    customer: str | None,
    client_id: str | None,
    external_chat_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Bind the external contact (or customer group) to the named customer when it names exactly one, and
    capture the text. Scope (core/scope.py): a customer outside the member's scope is refused (403), and a
    contact or group bound to such a customer is neither moved nor revealed."""
    text = _check_text(text)
    customer = (customer or "").strip() or None
    bound: str | None = None
    sync_chat: str | None = None
    with session_scope() as session:
        member = _member(session, who)
        target: Customer | None = None
        if customer:
            hits = find_by_name(session, customer)
            exact = [c for c in hits if name_key(c.name) == name_key(customer)]
            target = exact[0] if len(exact) == 1 else (hits[0] if len(hits) == 1 else None)
            if target is not None and (member is None or not can_see(session, member, target)):
                raise SidebarError(403, "该客户不在你的权限范围内 (customer not in your scope)")
        existing: Customer | None = None
        if external_userid:
            existing = contact_customer(session, PLATFORM, external_userid)
        elif external_chat_id:
            existing = conversation_customer(session, PLATFORM, chat_conversation_id(external_chat_id))
        if existing is not None and _visible(session, member, existing) is None:
            if target is not None:
                raise SidebarError(403, "已绑定到你权限范围外的客户 (bound to a customer outside your scope)")
            existing = None  # never revealed, never moved
        if external_userid:
            if target is not None and (existing is None or existing.id != target.id):
                bind_contact(
                    session, PLATFORM, external_userid, target, name=_contact_name(svc, external_userid)
                )
                log.info("wecom external contact bound to a customer")
        elif external_chat_id:
            conv_id = chat_conversation_id(external_chat_id)
            if target is not None and (existing is None or existing.id != target.id):
                bind_conversation(session, PLATFORM, conv_id, target, external=True)
                log.info("wecom customer group bound to a customer")
                sync_chat = external_chat_id
        bound_customer = target or existing
        bound = bound_customer.name if bound_customer else None
    if sync_chat:  # the group's customer-side members become the customer's contacts too
        svc.sync_group_contacts(sync_chat)
    cid = client_id if client_id and _CLIENT_ID.match(client_id) else uuid.uuid4().hex
    if external_userid:
        conv = ConversationRef(id=f"sidebar:{external_userid}", kind="direct", external=True)
    elif external_chat_id:
        conv = ConversationRef(id=chat_conversation_id(external_chat_id), kind="group", external=True)
    else:
        conv = ConversationRef(id=f"sidebar-self:{who.user_id}", kind="direct", external=False)
    msg = ChatMessage(
        platform=PLATFORM,
        message_id=f"sidebar:{cid}",
        conversation=conv,
        sender=Sender(platform_user_id=who.user_id, display_name=who.member_name, is_member=True),
        text=text,
        sent_at=now or svc.clock(),
        intent="capture",  # a capture by construction: pasted text is never parsed as a command
        customer_hint=customer or bound,
        reply_handle={"touser": who.user_id, "via": "sidebar"},
        raw={"via": "sidebar", "external_userid": external_userid, "external_chat_id": external_chat_id},
    )
    reply = svc.handler.on_message(msg) or Reply(title="已收到 Received", private=True)
    return {
        "ok": True,
        "title": reply.title,
        "body": reply.body,
        "customer": customer or bound,
        "bound": bound,
    }
