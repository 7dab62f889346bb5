"""Commands that change state: ack, snooze, stage, level, bind, undo. The rules (scope, evidence, audit)
live in core (core.actions, core.stages); these parse arguments and render the outcome."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.commands.registry import NOT_DONE, Context, command, refusal
from bot.commands.render import when
from core import actions, queries
from core.messages import Reply
from core.models import AuditEvent, Customer, Opportunity
from core.scope import NotAllowed, can_see
from core.stages import EvidenceMissing, change_level, change_stage

_ALERT_ID = re.compile(r"^[Aa]?\d+$")


def _is_alert_id(args: list[str]) -> bool:
    return bool(args) and bool(_ALERT_ID.match(args[0]))


@command(
    "ack",
    "收到",
    "确认",
    summary="确认提醒，停止升级 / acknowledge an alert (stops its escalation)",
    usage="ack ID",
    examples=("收到 A12",),
    accepts=_is_alert_id,  # a bare 收到 (or 收到了, 收到谢谢) is chatter, not a command
)
def _ack(ctx: Context, args: list[str]) -> Reply:
    a = actions.ack_alert(ctx.session, ctx.member, args[0], ctx.now)
    return Reply(title=f"A{a.id} 已确认 Acknowledged", body=a.title, private=True)


@command(
    "snooze",
    "暂缓",
    summary="暂缓提醒 N 个工作日，须写原因 / snooze an alert for N working days, with a reason",
    usage="snooze ID WORKING-DAYS REASON",
    examples=("暂缓 A12 2 客户出差",),
)
def _snooze(ctx: Context, args: list[str]) -> Reply:
    if len(args) < 3 or not args[1].isdigit():
        raise actions.ActionError("用法 usage: `暂缓 A12 工作日数 原因` (snooze ID DAYS REASON)")
    a = actions.snooze_alert(ctx.session, ctx.member, args[0], int(args[1]), " ".join(args[2:]), ctx.now)
    return Reply(
        title=f"A{a.id} 暂缓到 {when(a.snoozed_until)} Snoozed",
        body=f"{a.title}\n\n原因 reason: {a.snooze_reason}",
        private=True,
    )


# --- stage and level: the evidence rules and the audit live in core.stages ---------------------------


_OPP_ID = re.compile(r"^[Oo]\d+$")


def subject_of(ctx: Context, ref: str) -> Customer | Opportunity:
    """The customer or opportunity a typed reference names, checked against the asker's scope before
    anything changes: ``O12`` names an opportunity, anything else a customer (name or alias)."""
    if _OPP_ID.match(ref):
        opp = ctx.session.get(Opportunity, int(ref[1:]))
        customer = ctx.session.get(Customer, opp.customer_id) if opp is not None else None
        if opp is None or customer is None:
            raise actions.ActionError(f"没有商机 {ref} (no such opportunity)")
        if not can_see(ctx.session, ctx.member, customer):
            raise NotAllowed(f"{ref.upper()} 不在你的权限范围内 (not in your scope)")
        return opp
    return queries.customer_for(ctx.session, ctx.member, ref)


def _label(subject: Customer | Opportunity) -> str:
    if isinstance(subject, Opportunity):
        return f"O{subject.id}" + (f" {subject.name}" if subject.name else "")
    return subject.name


def _change(ctx: Context, args: list[str], fn: Callable[..., AuditEvent], what: str, usage: str) -> Reply:
    """Stage and level changes: core.stages.change_stage / change_level(session, actor, subject, target,
    now) enforce the evidence rules and write the AuditEvent; EvidenceMissing lists what is missing."""
    if len(args) < 2:
        raise actions.ActionError(f"用法 usage: `{usage}`")
    ref, target = " ".join(args[:-1]), args[-1]
    subject = subject_of(ctx, ref)
    try:
        audit = fn(ctx.session, ctx.member, subject, target, ctx.now)
    except NotAllowed as exc:
        return refusal(str(exc))
    except EvidenceMissing as exc:
        return Reply(
            title=f"{NOT_DONE} · 缺少证据 missing evidence",
            body=f"{_label(subject)} 改为{what}「{target}」需要 (needs):\n"
            + "\n".join(f"- {m}" for m in exc.missing),
            private=True,
        )
    return Reply(
        title=f"{_label(subject)}：{what} {audit.from_value or '—'} → {target}",
        body="已记录到审计 (audited)",
        private=True,
    )


@command(
    "stage",
    "阶段",
    summary="推进阶段（缺证据时列出所缺）/ move a customer or opportunity to a stage",
    usage="stage CUSTOMER-OR-OPPORTUNITY STAGE",
    examples=("阶段 百润 商务谈判", "stage O3 合同签署"),
)
def _stage(ctx: Context, args: list[str]) -> Reply:
    return _change(ctx, args, change_stage, "阶段", "阶段 客户或商机 阶段")


@command(
    "level",
    "级别",
    summary="设置商机级别 A–E（需对应证据）/ set the deal level A–E",
    usage="level CUSTOMER-OR-OPPORTUNITY A-E",
    examples=("级别 百润 C",),
)
def _level(ctx: Context, args: list[str]) -> Reply:
    if args and args[-1].upper() in ("A", "B", "C", "D", "E"):
        args = [*args[:-1], args[-1].upper()]
    elif len(args) >= 2:
        raise actions.ActionError("级别应为 A–E (level must be A to E)")
    return _change(ctx, args, change_level, "级别", "级别 客户或商机 A-E")


# --- conversations and captures -----------------------------------------------------------------------


@command(
    "bind",
    "绑定",
    summary="把本群绑定到客户，之后的消息记到该客户 / bind this conversation to a customer",
    usage="bind CUSTOMER",
    examples=("绑定 百润",),
)
def _bind(ctx: Context, args: list[str]) -> Reply:
    if not args:
        raise actions.ActionError("用法 usage: `绑定 客户名`")
    if ctx.conversation.kind == "direct":
        raise actions.ActionError("请在客户群里使用 (use it in the customer's group conversation)")
    customer = queries.customer_for(ctx.session, ctx.member, " ".join(args))
    _conv, contacts = actions.bind_conversation(
        ctx.session,
        ctx.member,
        ctx.platform,
        ctx.conversation.id,
        customer,
        external=ctx.conversation.external,
    )
    body = "本群之后被记录的消息都会归到该客户。"
    if contacts:
        n = len(contacts)
        body += f"\n群里的 {n} 位客户联系人也已绑定到该客户 ({n} customer contact(s) bound)."
    return Reply(title=f"已绑定 Bound: {customer.name}", body=body, private=True)


@command(
    "undo",
    "撤销",
    summary="撤销一次记录（默认最近一次）/ undo a capture (default: your latest)",
    usage="undo [ID]",
    examples=("撤销", "undo C7"),
)
def _undo(ctx: Context, args: list[str]) -> Reply:
    c = actions.undo_capture(ctx.session, ctx.member, args[0] if args else None, ctx.now)
    facts = c.facts or {}
    parts = [f"{k}: {len(v)}" for k, v in facts.items() if isinstance(v, list) and v and k != "resolved_by"]
    return Reply(
        title=f"C{c.id} 已撤销 Undone",
        body="已删除 removed: " + (", ".join(parts) if parts else "该次记录的全部内容"),
        private=True,
    )
