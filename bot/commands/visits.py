"""`visit`/拜访 CUSTOMER [outcome text]: record a customer visit made today (issue 8).

The outcome text is kept as the visit's result; "下一步 …"/"next step …" becomes its next step. A visit
recorded here links the member's pending expense claims of that customer it fits (core.expenses)."""

from __future__ import annotations

from sqlmodel import select

from bot.commands.registry import Context, command
from core.customers import find_by_name
from core.messages import Reply
from core.models import ExpenseClaim
from core.scope import require_customer
from core.visits import create_visit, next_step_of, place_of


@command(
    "visit",
    "拜访",
    "visited",
    summary="记录今天的客户拜访和结果 / record today's customer visit and its outcome",
    usage="visit CUSTOMER [OUTCOME]",
    examples=("拜访 杭州甲乙贸易 演示顺利，王总认可方案，下一步周五前报价",),
)
def _visit(ctx: Context, args: list[str]) -> Reply:
    if not args:
        return Reply(
            title="拜访哪个客户？ Which customer?",
            body="用法 usage: `拜访 客户名 结果`，例如 `拜访 杭州甲乙贸易 演示顺利，下一步报价`",
            private=True,
        )
    found = find_by_name(ctx.session, args[0])
    if len(found) != 1:
        body = (
            "可能是：" + "、".join(c.name for c in found[:5])
            if found
            else f"没有找到客户 {args[0]!r}。No customer matches."
        )
        return Reply(title="客户不明确 Which customer?", body=body, private=True)
    customer = found[0]
    require_customer(ctx.session, ctx.member, customer)
    outcome = " ".join(args[1:]).strip()
    msg = ctx.message
    key = (
        f"command:{msg.platform}:{msg.message_id}"
        if msg is not None
        else f"command:{ctx.platform}:{ctx.member.id}:{customer.id}:{ctx.now.isoformat()}"
    )
    visit, new = create_visit(
        ctx.session,
        key=key,
        customer_id=customer.id,
        rep_id=ctx.member.id,
        at=ctx.now,
        source="command",
        place=place_of(outcome),
        result=outcome or None,
        next_step=next_step_of(outcome),
        now=ctx.now,
    )
    claims = ctx.session.exec(select(ExpenseClaim.id).where(ExpenseClaim.visit_id == visit.id)).all()
    lines = [f"客户 {customer.name}，{ctx.now:%Y-%m-%d}"]
    if outcome:
        lines.append(f"结果：{outcome}")
    else:
        lines.append("还没有结果，补充：`拜访 客户名 结果`。")
    if claims:
        lines.append("已关联报销单 Linked claims: " + ", ".join(f"E{c}" for c in claims))
    title = f"已记录拜访 V{visit.id} Visit recorded" if new else f"拜访 V{visit.id} 已记录过 Already recorded"
    return Reply(title=title, body="\n".join(lines), private=True)
