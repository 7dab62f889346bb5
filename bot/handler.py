"""The bot's side of the adapter contract (`integrations.common.inbound.InboundHandler`).

Adapters verify and normalize; this decides what a message is: a command (text addressed to the bot, or a
platform's native command), a capture (a quote-reply or 1:1 message to the bot, "记一下", a shortcut), or
traffic of a conversation bound to a customer. Captures and traffic are stored with one INSERT and handed to
workers; nothing slow runs here, so adapters can acknowledge their platform right after we return.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from bot.commands import Context, dispatch, help_reply, load_builtin, parse
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


def _default_enqueue(inbox_id: int) -> None:
    from core.tasks import enqueue_inbox

    enqueue_inbox(inbox_id)


def _default_enqueue_claim(claim_id: int) -> None:
    from bot.tasks import link_expense_claim

    link_expense_claim.delay(claim_id)


class BotHandler:
    """Implements `InboundHandler`; one instance per process, shared by every adapter."""

    def __init__(
        self,
        enqueue: Callable[[int], None] | None = _default_enqueue,
        clock: Callable[[], datetime] = utcnow,
        enqueue_claim: Callable[[int], None] | None = _default_enqueue_claim,
    ) -> None:
        load_builtin()
        self.enqueue = enqueue
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
                return self._run(msg.platform, msg.sender.platform_user_id, msg.conversation, cmd, args, msg)
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
        if parsed is None:
            parsed = parse(" ".join(inv.args))
        if parsed is None:
            return help_reply()
        cmd, args = parsed
        reply = self._run(inv.platform, inv.sender.platform_user_id, inv.conversation, cmd, args, None)
        return reply or help_reply()

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
                if kind == "policy" and verb == "ack":
                    from core.policies import ack_policy

                    ack_policy(session, member, ref, now)
                    return Reply(title=f"P{ref} 已阅 Acknowledged", private=True)
                if kind == "claim":
                    return self._claim_action(session, member, ref, verb, now)
                if kind == "capture" and verb == "undo":
                    c = actions.undo_capture(session, member, ref, now)
                    return Reply(title=f"C{c.id} 已撤销 Undone", private=True)
            except (actions.ActionError, NotAllowed, expenses.ClaimError) as exc:
                return Reply(title="未完成 Not done", body=str(exc), private=True)
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
            try:
                self.enqueue_claim(rec.claim_id)
            except Exception:  # broker down: the claim row is safe, bot.tasks.sweep_claims re-enqueues it
                log.warning("enqueue failed for claim %s", rec.claim_id, exc_info=True)

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
        return accept(msg, self.enqueue)

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

    def _enqueue(self, inbox_id: int) -> None:
        if self.enqueue is None:
            return
        try:
            self.enqueue(inbox_id)
        except Exception:  # broker down: the row is safe, the sweeper will enqueue it
            log.warning("enqueue failed for inbox %s; the sweeper will pick it up", inbox_id, exc_info=True)
