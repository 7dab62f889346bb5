"""The bot's side of the adapter contract (`integrations.common.inbound.InboundHandler`).

Adapters verify and normalize; this decides what a message is: a command (text addressed to the bot, or a
platform's native command), a capture (a quote-reply or 1:1 message to the bot, "记一下", a shortcut), or
traffic of a conversation bound to a customer. Captures and traffic are stored with one INSERT and handed to
workers; nothing slow runs here, so adapters can acknowledge their platform right after we return.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlmodel import Session

from bot.commands import NOT_DONE, Context, dispatch, help_reply, load_builtin, parse, refusal
from bot.commands.registry import is_glued, strip_mentions
from core import actions, expenses
from core.db import session_scope
from core.inbox import Accepted, accept, member_for, store
from core.messages import (
    ActionInvocation,
    ApprovalEvent,
    ChatMessage,
    CommandInvocation,
    ConversationRef,
    Reply,
)
from core.models import Member
from core.scope import NotAllowed
from core.timeutil import utcnow

log = logging.getLogger(__name__)

NOT_A_MEMBER = Reply(
    title="还不认识你 Not set up yet",
    body=(
        "你的账号还没有加入 loopkeeper 团队名单，这次请求没有保存任何内容。请联系管理员把你加入名单。\n"
        "Your account is not on the loopkeeper roster yet, so nothing was stored. Ask an admin to add you."
    ),
    private=True,
)


_ACKNOWLEDGEMENT = re.compile(
    r"^(?:收到|收到了|收到啦|好的|好|好嘞|嗯|嗯嗯|ok|okay|k|谢谢|多谢|thanks|thank you|thx|知道了|明白|了解|"
    r"👍|🙏|👌|✅)(?:[\s,，.。!！~～]*(?:收到|好的|谢谢|thanks|👍|🙏|👌))*[\s,，.。!！~～]*$",
    re.IGNORECASE,
)


def is_acknowledgement(text: str) -> bool:
    """A bare acknowledgement ("收到", "好的👍", "ok thanks") addressed to the bot: chatter."""
    return bool(_ACKNOWLEDGEMENT.match(strip_mentions(text)))


def _default_enqueue(inbox_id: int) -> None:
    from core.tasks import enqueue_inbox

    enqueue_inbox(inbox_id)


def _default_enqueue_claim(claim_id: int) -> None:
    from bot.tasks import link_expense_claim

    link_expense_claim.delay(claim_id)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _background(fn: Callable[[], None]) -> None:
    """Run FN on the process's small enqueue pool: a slow or hung broker never holds a request (the
    platform is acknowledged at once; the rows are committed already and the sweepers cover a failed
    publish)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="loopkeeper-enqueue")
    _executor.submit(fn)


class BotHandler:
    """Implements `InboundHandler`; one instance per process, shared by every adapter.

    Enqueueing (the broker publish) runs in the background after the INSERT has committed, never in the
    request: ``background`` defaults to True for the real Celery enqueue, False for an injected one (tests
    that read what was enqueued right after the call)."""

    def __init__(
        self,
        enqueue: Callable[[int], None] | None = _default_enqueue,
        clock: Callable[[], datetime] = utcnow,
        enqueue_claim: Callable[[int], None] | None = _default_enqueue_claim,
        background: bool | None = None,
    ) -> None:
        load_builtin()
        self.enqueue = enqueue
        self.background = (enqueue is _default_enqueue) if background is None else background
        self.clock = clock
        if enqueue is None and enqueue_claim is _default_enqueue_claim:
            enqueue_claim = None  # a handler that enqueues nothing (tests, ingest) runs no claim job either
        self.enqueue_claim = enqueue_claim  # the expense-claim job (form fetch + visit link)

    # -- adapters call these -------------------------------------------------------------------------
    def on_message(self, msg: ChatMessage) -> Reply | None:
        if msg.addressed:
            parsed = parse(msg.text)
            if parsed is not None:
                cmd, args = parsed
                reply = self._run(msg.platform, msg.sender.platform_user_id, msg.conversation, cmd, args, msg)
                capturable = msg.quoted_text or msg.intent == "capture" or msg.conversation.kind == "direct"
                if reply.title.startswith(NOT_DONE) and capturable and is_glued(msg.text):
                    # "客户说账期太短" pasted to the bot is a sentence to capture, not `客户 说账期太短`
                    return self._capture(msg)
                return reply
            if msg.intent != "capture" and is_acknowledgement(msg.text):
                # "收到" / "好的" said to the bot (often a quote-reply to its own alert): no command, no
                # capture of the quoted bot message, no reply
                return None
            if msg.quoted_text or msg.intent == "capture" or msg.conversation.kind == "direct":
                return self._capture(msg)
            return help_reply()
        if msg.intent == "capture":
            return self._capture(msg)
        # traffic of a bound conversation: stored; the pipeline decides whether it is recorded
        self._accept(msg)
        return None

    def on_command(self, inv: CommandInvocation) -> Reply:
        parsed = parse(" ".join([inv.name, *inv.args]))
        text = " ".join([inv.name, *inv.args])
        if parsed is None:
            parsed = parse(" ".join(inv.args))
            text = " ".join(inv.args)
        if parsed is None:
            return help_reply()
        cmd, args = parsed
        # the command's text as a message addressed to the bot, so `/lk 记一下 甲乙 PASTED TEXT` captures the
        # pasted text exactly like "@bot 记一下 甲乙 PASTED TEXT"
        now = self.clock()
        trigger = (inv.raw or {}).get("trigger_id") if isinstance(inv.raw, dict) else None
        key = (
            trigger
            or hashlib.sha256(
                f"{inv.conversation.id}|{inv.sender.platform_user_id}|{text}|{now.isoformat()}".encode()
            ).hexdigest()[:32]
        )
        message = ChatMessage(
            platform=inv.platform,
            message_id=f"cmd:{key}",
            conversation=inv.conversation,
            sender=inv.sender,
            text=text,
            sent_at=now,
            addressed=True,
            reply_handle=inv.reply_handle,
        )
        return self._run(inv.platform, inv.sender.platform_user_id, inv.conversation, cmd, args, message)

    def on_action(self, action: ActionInvocation) -> Reply | None:
        kind, _, rest = action.value.partition(":")
        ref, _, verb = rest.partition(":")
        with session_scope() as session:
            member = self._member(session, action.platform, action.sender.platform_user_id)
            if member is None:
                return NOT_A_MEMBER
            now = self.clock()
            try:
                if kind == "alert" and verb == "ack":
                    a = actions.ack_alert(session, member, ref, now)
                    return Reply(title=f"A{a.id} 已确认 Acknowledged", private=True)
                if kind == "alert" and verb == "snooze":
                    return Reply(
                        title="暂缓需要原因 Snooze needs a reason",
                        body=f"请发送：`暂缓 A{ref} 工作日数 原因` (snooze A{ref} DAYS REASON)",
                        private=True,
                    )
                if kind == "todo" and verb == "done":
                    t = actions.complete_todo(session, member, ref, now)
                    return Reply(title=f"T{t.id} 已完成 Done", private=True)
                if kind == "question" and verb:
                    inbox_id = actions.answer_question(session, member, ref, verb, now)
                    session.commit()
                    self._enqueue(inbox_id)
                    return Reply(title=f"好的，记到 {verb}", private=True)
                if kind == "claim":
                    return self._claim_action(session, member, ref, verb, now)
                if kind == "capture" and verb in ("undo", ""):  # "capture:7" as well as "capture:7:undo"
                    c = actions.undo_capture(session, member, ref, now)
                    return Reply(title=f"C{c.id} 已撤销 Undone", private=True)
                if kind == "policy" and verb == "ack":
                    ctx = Context(
                        session=session,
                        member=member,
                        platform=action.platform,
                        conversation=action.conversation or ConversationRef(id="", kind="direct"),
                        now=now,
                    )
                    cmd, args = parse(f"policy ack {ref}") or (None, [])
                    if cmd is not None:
                        return dispatch(ctx, cmd, args)
            except NotAllowed as exc:
                return refusal(str(exc))
            except (actions.ActionError, expenses.ClaimError) as exc:
                return Reply(title=NOT_DONE, body=str(exc), private=True)
        # a button whose value is a command ("overdue" on the morning digest): run it for the presser
        parsed = parse(action.value)
        if parsed is not None:
            conv = action.conversation or ConversationRef(id=f"{action.platform}:direct", kind="direct")
            return self._run(
                action.platform, action.sender.platform_user_id, conv, parsed[0], parsed[1], None
            )
        log.info("unknown action value", extra={"platform": action.platform, "kind": kind, "verb": verb})
        return None

    def on_approval(self, event: ApprovalEvent) -> None:
        """Stored once per (platform, event_id) and per (instance, status); the claim's form is read and
        linked to a visit by a worker (`bot.tasks.link_expense_claim`), after the commit."""
        with session_scope() as session:
            rec = expenses.record_event(session, event, self.clock())
        log.info(
            "approval event received",
            extra={"platform": event.platform, "event_id": event.event_id, "new": rec.new_event},
        )
        if rec.claim_id is not None and rec.new_event and self.enqueue_claim is not None:
            enqueue_claim, claim_id = self.enqueue_claim, rec.claim_id

            def publish() -> None:
                try:
                    enqueue_claim(claim_id)
                except Exception:  # broker down: the claim row is safe, bot.tasks.sweep_claims re-enqueues it
                    log.warning("enqueue failed for claim %s", claim_id, exc_info=True)

            self._soon(publish)

    @staticmethod
    def _claim_action(session: Session, member: Member, ref: str, verb: str, now: datetime) -> Reply:
        """`claim:<id>:visit:<visit id>` (the visit a claim paid for) and `claim:<id>:record`."""
        what, _, visit_ref = verb.partition(":")
        if what == "visit" and visit_ref:
            v = expenses.choose_visit(session, member, ref, visit_ref, now)
        elif what == "record":
            v = expenses.visit_from_claim(session, member, ref, now)
        else:
            return Reply(title="未完成 Not done", body=f"unknown claim action {verb!r}", private=True)
        return Reply(title=f"E{ref} 已关联拜访 V{v.id} Linked", private=True)

    # -- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _member(session: Session, platform: str, user_id: str) -> Member | None:
        member_id = member_for(session, platform, user_id)
        member = session.get(Member, member_id) if member_id is not None else None
        return member if member is not None and member.active else None

    def _accept(self, msg: ChatMessage) -> Accepted:
        return accept(msg, self._enqueue if self.enqueue is not None else None)

    def _capture(self, msg: ChatMessage) -> Reply:
        with session_scope() as session:
            if self._member(session, msg.platform, msg.sender.platform_user_id) is None:
                return NOT_A_MEMBER
        self._accept(msg.model_copy(update={"intent": "capture"}))
        return Reply(title="收到，正在记录 Capturing", body="记录完成后我会私信告诉你结果。", private=True)

    def _run(
        self,
        platform: str,
        user_id: str,
        conversation: ConversationRef,
        cmd: object,
        args: list[str],
        message: ChatMessage | None,
    ) -> Reply:
        from bot.commands import Command

        assert isinstance(cmd, Command)
        stored: list[int] = []

        def accept_here(m: ChatMessage) -> int | None:
            # same transaction as the command (SQLite allows one writer); enqueued after the commit
            inbox_id = store(session, m)
            if inbox_id is not None:
                stored.append(inbox_id)
            return inbox_id

        with session_scope() as session:
            member = self._member(session, platform, user_id)
            if member is None:
                return NOT_A_MEMBER
            ctx = Context(
                session=session,
                member=member,
                platform=platform,
                conversation=conversation,
                now=self.clock(),
                message=message,
                accept=accept_here,
            )
            reply = dispatch(ctx, cmd, args)
        for inbox_id in stored:
            self._enqueue(inbox_id)
        return reply

    def ask(self, member_id: int, text: str, *, platform: str = "cli") -> Reply:
        """Run command TEXT as a member known by id (the CLI's `ask --as`, tests): same parse, same
        dispatch, same scope as on a platform."""
        parsed = parse(text)
        if parsed is None:
            return help_reply()
        cmd, args = parsed
        with session_scope() as session:
            member = session.get(Member, member_id)
            if member is None or not member.active:
                return NOT_A_MEMBER
            ctx = Context(
                session=session,
                member=member,
                platform=platform,
                conversation=ConversationRef(id=f"{platform}:{member_id}", kind="direct"),
                now=self.clock(),
            )
            return dispatch(ctx, cmd, args)

    def _soon(self, fn: Callable[[], None]) -> None:
        if self.background:
            _background(fn)
        else:
            fn()

    def _enqueue(self, inbox_id: int) -> None:
        """Hand a committed inbox row to the workers (in the background, see the class docstring)."""
        enqueue = self.enqueue
        if enqueue is None:
            return

        def publish() -> None:
            try:
                enqueue(inbox_id)
            except Exception:  # broker down: the row is safe, the sweeper will enqueue it
                log.warning(
                    "enqueue failed for inbox %s; the sweeper will pick it up", inbox_id, exc_info=True
                )

        self._soon(publish)
