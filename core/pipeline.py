"""The capture pipeline (DESIGN §1, §4): inbox row → `nlp.extract` → customer → facts → todos → notice.

Ordering: messages of one conversation are applied in ``sent_at`` order. A worker first takes the
conversation's lease (a conditional UPDATE, so it works on SQLite and PostgreSQL alike), then applies every
pending row of that conversation oldest first. Each row is applied in one transaction together with its
``done`` mark, so a worker killed half-way leaves nothing behind and the row is simply applied again.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

import nlp
from config.settings import get_settings
from core.customers import gazetteer, resolve
from core.db import read_scope, session_scope
from core.facts import record
from core.messages import Action, OutboundMessage
from core.models import Activity, Capture, Conversation, Customer, InboxMessage, Member, Question
from core.notices import create_notice
from core.people import context_for_id
from core.sqlutil import table_of
from core.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: extraction reads at most this many characters of a message (a platform message is far shorter; a
#: pasted novel would otherwise exceed spaCy's max_length and fail on every attempt)
MAX_EXTRACT_CHARS = 20_000
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Outcome:
    inbox_id: int
    status: str  # done | skipped | failed | question
    detail: str


# --- leases ------------------------------------------------------------------------------------------


def _claim_conversation(session: Session, conv_pk: int, owner: str, now: datetime) -> bool:
    lease = get_settings().lease_seconds
    c = table_of(Conversation).c
    result = session.execute(
        update(table_of(Conversation))
        .where(
            c.id == conv_pk,
            or_(c.lease_until.is_(None), c.lease_until < now, c.lease_owner == owner),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _release_conversation(conv_pk: int, owner: str) -> None:
    c = table_of(Conversation).c
    with session_scope() as session:
        session.execute(
            update(table_of(Conversation))
            .where(and_(c.id == conv_pk, c.lease_owner == owner))
            .values(lease_owner=None, lease_until=None)
        )


def _next_pending(session: Session, conv_pk: int) -> InboxMessage | None:
    # 'processing' rows here belong to a worker that died (we hold the conversation lease)
    return session.exec(
        select(InboxMessage)
        .where(
            InboxMessage.conversation_pk == conv_pk,
            col(InboxMessage.status).in_(("pending", "processing")),
        )
        .order_by(col(InboxMessage.sent_at), col(InboxMessage.id))
        .limit(1)
    ).first()


def process_inbox(inbox_id: int, owner: str | None = None) -> list[Outcome]:
    """Apply the pending messages of ``inbox_id``'s conversation in order. Safe to run twice."""
    with read_scope() as session:
        row = session.get(InboxMessage, inbox_id)
        if row is None or row.conversation_pk is None:
            return []
        conv_pk = row.conversation_pk
    return process_conversation(conv_pk, owner)


def pending_conversations() -> list[int]:
    """Conversations with rows still pending or processing (oldest first)."""
    with read_scope() as session:
        rows = session.exec(
            select(InboxMessage.conversation_pk, func.min(InboxMessage.id))
            .where(col(InboxMessage.status).in_(("pending", "processing")))
            .group_by(col(InboxMessage.conversation_pk))
            .order_by(func.min(InboxMessage.id))
        ).all()
    return [int(r[0]) for r in rows if r[0] is not None]


def process_conversation(
    conv_pk: int, owner: str | None = None, *, retry_inline: bool = False
) -> list[Outcome]:
    """Apply the conversation's pending rows in order. A row that raises goes back to pending (a worker
    returns and the sweeper retries it later; ``retry_inline`` retries it at once, for in-process runs);
    after MAX_ATTEMPTS it is marked failed and the rows after it are applied."""
    owner = owner or f"{WORKER_ID}:{uuid.uuid4().hex[:6]}"
    outcomes: list[Outcome] = []
    while True:
        with session_scope() as session:
            if not _claim_conversation(session, conv_pk, owner, utcnow()):
                return outcomes  # another worker holds it and will see our row
        try:
            while True:
                with session_scope() as session:
                    if not _claim_conversation(session, conv_pk, owner, utcnow()):
                        return outcomes
                    row = _next_pending(session, conv_pk)
                    if row is None:
                        break
                    if row.attempts >= MAX_ATTEMPTS:
                        row.status = "failed"
                        row.error = (row.error or "") + " (gave up after repeated attempts)"
                        session.add(row)
                        outcomes.append(Outcome(row.id or 0, "failed", "too many attempts"))
                        continue
                    row.status = "processing"
                    row.attempts += 1
                    row.lease_until = utcnow() + timedelta(seconds=get_settings().lease_seconds)
                    session.add(row)
                    row_id = row.id or 0
                try:
                    # the slow part, extraction, reads only: it runs before the write transaction so
                    # other processes sharing a SQLite file are not locked out meanwhile
                    with read_scope() as session:
                        prepared = prepare_extraction(session, row_id)
                    with session_scope() as session:
                        outcomes.append(apply_message(session, row_id, extraction=prepared))
                except Exception as exc:
                    log.exception("inbox %s failed", row_id)
                    with session_scope() as session:
                        failed = session.get(InboxMessage, row_id)
                        if failed is not None:
                            failed.status = "failed" if failed.attempts >= MAX_ATTEMPTS else "pending"
                            failed.error = f"{type(exc).__name__}: {exc}"[:2000]
                            session.add(failed)
                    gave_up = failed is None or failed.status == "failed"
                    if gave_up:
                        outcomes.append(Outcome(row_id, "failed", type(exc).__name__))
                        continue  # the rows after a failed one are applied
                    if retry_inline:
                        continue  # the next look takes the same row again
                    outcomes.append(Outcome(row_id, "error", type(exc).__name__))
                    return outcomes  # keep order: later rows wait for this one's retry
        finally:
            _release_conversation(conv_pk, owner)
        # a row may have arrived between our last look and the release: look once more
        with read_scope() as session:
            if _next_pending(session, conv_pk) is None:
                return outcomes


# --- applying one message ------------------------------------------------------------------------------


def _finish(session: Session, row: InboxMessage, status: str, outcome: str) -> Outcome:
    row.status = status
    row.outcome = outcome
    row.processed_at = utcnow()
    row.lease_until = None
    row.error = None
    session.add(row)
    return Outcome(row.id or 0, status, outcome)


def _evidence_for(session: Session, row: InboxMessage) -> InboxMessage:
    """A capture of a message already stored points at that row instead of adding a second mention."""
    if row.intent != "capture":
        return row
    if row.quoted_message_id:
        found = session.exec(
            select(InboxMessage).where(
                InboxMessage.platform == row.platform, InboxMessage.message_id == row.quoted_message_id
            )
        ).first()
        if found is not None:
            return found
    if row.quoted_text:
        found = session.exec(
            select(InboxMessage)
            .where(
                InboxMessage.conversation_pk == row.conversation_pk,
                InboxMessage.text == row.quoted_text,
                InboxMessage.id != row.id,
                InboxMessage.sent_at <= row.sent_at,
            )
            .order_by(col(InboxMessage.sent_at).desc())
        ).first()
        if found is not None:
            return found
    return row


def _extraction_input(session: Session, row: InboxMessage) -> tuple[str, datetime, InboxMessage] | None:
    """What the extractor reads for ``row`` (text, reference time, evidence row), or None when the row is
    applied without extraction (not recorded, or a capture whose quoted text must be asked for)."""
    conv = session.get(Conversation, row.conversation_pk) if row.conversation_pk else None
    is_capture = row.intent == "capture"
    if not is_capture and row.source == "live" and not (conv and conv.customer_id and conv.auto_record):
        return None
    text = ((row.quoted_text if is_capture and row.quoted_text else row.text) or "")[:MAX_EXTRACT_CHARS]
    if is_capture and not text.strip() and row.quoted_message_id:
        return None
    evidence = _evidence_for(session, row)
    now = row.quoted_sent_at if (is_capture and row.quoted_sent_at) else evidence.sent_at
    return text, now, evidence


def prepare_extraction(session: Session, inbox_id: int) -> nlp.Extraction | None:
    """Run the extractor for ``inbox_id`` in a read-only session (None when none is needed)."""
    row = session.get(InboxMessage, inbox_id)
    if row is None or row.status in ("done", "skipped"):
        return None
    found = _extraction_input(session, row)
    if found is None:
        return None
    text, now, _ = found
    return nlp.extract(text, now=now, tz=row.tz, gazetteer=gazetteer(session))


def apply_message(session: Session, inbox_id: int, extraction: nlp.Extraction | None = None) -> Outcome:
    """Apply one row in the caller's (write) transaction; ``extraction`` is the one `prepare_extraction`
    computed beforehand, else the extractor runs here."""
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        return Outcome(inbox_id, "skipped", "missing")
    if row.status in ("done", "skipped"):
        return Outcome(inbox_id, row.status, "already applied")
    conv = session.get(Conversation, row.conversation_pk) if row.conversation_pk else None
    is_capture = row.intent == "capture"
    found = _extraction_input(session, row)
    if found is None:
        if is_capture:
            return _ask_paste(session, row)
        return _finish(session, row, "skipped", "not_recorded")
    text, now, evidence = found
    if extraction is None or len(extraction.text) != len(text) or extraction.now != now:  # stale: redo
        extraction = nlp.extract(text, now=now, tz=row.tz, gazetteer=gazetteer(session))

    if not is_capture and extraction.is_empty:
        return _finish(session, row, "skipped", "chatter")

    res = resolve(
        session,
        typed=row.customer_hint,
        extraction=extraction,
        conversation=conv,
        sender_member_id=row.sender_member_id,
    )
    if res.customer is None:
        if row.sender_member_id is None:
            return _finish(session, row, "skipped", "no_customer")
        return _ask_customer(session, row, [c.name for c in res.candidates], res.how)

    customer = res.customer
    # one customer's facts are recorded one message at a time: on PostgreSQL two workers applying messages
    # of different conversations about the same customer would otherwise both see "no such meeting yet"
    # (READ COMMITTED) and both add it. The row lock waits for the other transaction; every read after it
    # sees what that transaction committed. SQLite already serializes writers (BEGIN IMMEDIATE).
    session.refresh(customer, with_for_update={"key_share": True})  # FOR NO KEY UPDATE: FK inserts still pass
    owner_id = row.sender_member_id or customer.owner_id
    capture = Capture(inbox_id=row.id or 0, member_id=row.sender_member_id, customer_id=customer.id)
    session.add(capture)
    session.flush()
    recorded = record(
        session,
        row=row,
        customer=customer,
        extraction=extraction,
        evidence=evidence,
        capture_id=capture.id,
        owner_id=owner_id,
        calendar=context_for_id(session, owner_id).calendar,  # the owner's team calendar
    )
    kind = "chat_capture" if (is_capture or row.sender_member_id) else "customer_message"
    session.add(
        Activity(
            customer_id=customer.id or 0,
            kind=kind,
            inbox_id=row.id or 0,
            evidence_inbox_id=evidence.id if evidence.id != row.id else None,
            captured_by_id=row.sender_member_id,
            occurred_at=row.sent_at,
            summary=text[:500],
            capture_id=capture.id,
        )
    )
    capture.facts = recorded.as_dict() | {"resolved_by": [res.how]}
    session.add(capture)
    row.evidence_inbox_id = evidence.id if evidence.id != row.id else None
    if is_capture and row.sender_member_id is not None:
        _confirm(session, row, customer, recorded, capture.id or 0, conv)
    return _finish(session, row, "done", "captured" if is_capture else "recorded")


def _confirm(
    session: Session, row: InboxMessage, customer: Customer, recorded, capture_id: int, conv
) -> None:  # type: ignore[no-untyped-def]
    parts = []
    if recorded.pain_points:
        parts.append(f"{len(recorded.pain_points)} 个痛点")
    if recorded.meetings:
        parts.append(f"{len(recorded.meetings)} 个会面")
    if recorded.samples:
        parts.append(f"{len(recorded.samples)} 个样品承诺")
    if recorded.visits:
        parts.append(f"{len(recorded.visits)} 次拜访")
    summary = "、".join(parts) or "一条跟进记录"
    message = OutboundMessage(
        title=f"已记录到 {customer.name}：{summary}",
        body=f"来源消息 #{row.id}。不对？点撤销。",
        fields={"customer": customer.name},
        actions=[Action(kind="undo", label="撤销 Undo", value=f"capture:{capture_id}:undo")],
    )
    create_notice(
        session,
        key=f"capture:{row.id}",
        recipient_id=row.sender_member_id,
        kind="capture_confirmation",
        message=message,
        platform=row.platform,
        extra={"private": True, "conversation_external": bool(conv and conv.external)},
    )


def _ask_customer(session: Session, row: InboxMessage, options: list[str], how: str) -> Outcome:
    from core.scope import visible_customer_ids

    asker = session.get(Member, row.sender_member_id) if row.sender_member_id is not None else None
    visible = visible_customer_ids(session, asker) if asker is not None else set()
    if visible is not None:  # only customers the asker may see are offered (core/scope.py)
        names = session.exec(select(Customer.name).where(col(Customer.id).in_(visible))).all()
        options = [o for o in options if o in set(names)]
    prompt = "这条记录属于哪个客户？" if options else "没有找到对应的客户，请回复客户名称（或先导入客户）。"
    q = Question(
        member_id=row.sender_member_id,
        inbox_id=row.id or 0,
        kind="which_customer",
        prompt=prompt,
        options=options,
    )
    session.add(q)
    session.flush()
    create_notice(
        session,
        key=f"question:{row.id}",
        recipient_id=row.sender_member_id,
        kind="question",
        message=OutboundMessage(
            title=prompt,
            body="\n".join(f"- {o}" for o in options),
            actions=[Action(kind="choose", label=o, value=f"question:{q.id}:{o}") for o in options],
        ),
        platform=row.platform,
        extra={"private": True},
    )
    return _finish(session, row, "done", f"question:{how}")


def _ask_paste(session: Session, row: InboxMessage) -> Outcome:
    prompt = "没能读到被引用的消息内容，请把要记录的文字直接粘贴发给我。"
    q = Question(member_id=row.sender_member_id, inbox_id=row.id or 0, kind="paste_text", prompt=prompt)
    session.add(q)
    create_notice(
        session,
        key=f"question:{row.id}",
        recipient_id=row.sender_member_id,
        kind="question",
        message=OutboundMessage(title=prompt),
        platform=row.platform,
        extra={"private": True},
    )
    return _finish(session, row, "done", "question:paste")


def member_name(session: Session, member_id: int | None) -> str | None:
    if member_id is None:
        return None
    m = session.get(Member, member_id)
    return m.name if m else None
