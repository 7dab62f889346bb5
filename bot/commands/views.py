"""Read commands: pipeline, customer, overdue, todo, report. Queries live in core.queries (scoped by
core.scope); these only render."""

from __future__ import annotations

from bot.commands.registry import MANAGERS, Context, command
from bot.commands.render import money, pct, table, when
from core import actions, queries
from core.messages import Action, Reply

MAX_BUTTONS = 5


@command(
    "pipeline",
    "漏斗",
    "funnel",
    summary="阶段分布（数量、金额）和停滞客户 / stage distribution with counts, amounts and who is stuck",
    usage="pipeline [me|region|all]",
    examples=("漏斗 all", "pipeline me"),
)
def _pipeline(ctx: Context, args: list[str]) -> Reply:
    p = queries.pipeline(ctx.session, ctx.member, args[0] if args else "me", ctx.now)
    scope_label = {"me": "我的 mine", "region": "区域 region", "all": "全部 all"}[p.scope]
    rows = [[r.stage, str(r.count), money(r.amount)] for r in p.rows]
    body = table(["阶段 stage", "客户 customers", "金额 amount"], rows)
    body += f"\n\n合计 total: {p.total_count} 个客户, {money(p.total_amount)}"
    if p.stuck:
        body += f"\n\n**停滞 stuck** (同一阶段 ≥ {p.stuck_after} 个工作日):\n"
        body += "\n".join(
            f"- {s.customer} · {s.owner or '—'} · {s.stage} · {s.working_days} 个工作日" for s in p.stuck
        )
    else:
        body += "\n\n没有停滞的客户 (nobody is stuck)"
    return Reply(title=f"漏斗 Pipeline · {scope_label}", body=body, private=True)


@command(
    "customer",
    "客户",
    summary="客户概况：痛点、下次会面、样品、待办、最近动态 / a customer at a glance",
    usage="customer NAME",
    examples=("客户 百润",),
)
def _customer(ctx: Context, args: list[str]) -> Reply:
    if not args:
        raise actions.ActionError("用法 usage: `客户 客户名`")
    card = queries.customer_card(ctx.session, ctx.member, " ".join(args), ctx.now)
    c = card.customer
    lines = [
        f"负责人 owner: {card.owner or '—'} · 区域 region: {c.region or '—'}",
        f"阶段 stage: {c.stage or '—'} ({card.stage_days} 个工作日) · 级别 level: {c.level or '—'}",
        "",
        "**痛点 pains**",
    ]
    lines += [f"- [{p.category}] {p.phrase} ×{p.mentions}" for p in card.pains[:8]] or ["- —"]
    m = card.next_meeting
    lines += ["", "**下次会面 next meeting**", f"- {when(m.start)} {m.what}" if m else "- —"]
    lines += ["", "**样品 samples**"]
    lines += [
        f"- {s.model} {_qty(s.quantity)}{s.unit or ''} · {s.status}"
        + (f" · 截止 {when(s.due)}" if s.due else "")
        for s in card.samples
    ] or ["- —"]
    lines += ["", "**待办 open todos**"]
    lines += [f"- T{t.id} {t.title} · 截止 {when(t.due)}" for t in card.open_todos] or ["- —"]
    a = card.last_activity
    lines += [
        "",
        "**最近动态 last activity**",
        f"- {when(a.occurred_at)} {a.summary or a.kind}" if a else "- —",
    ]
    buttons = [
        Action(kind="ack", label=f"完成 T{t.id}", value=f"todo:{t.id}:done")
        for t in card.open_todos[:MAX_BUTTONS]
    ]
    return Reply(title=c.name, body="\n".join(lines), actions=buttons, private=True)


def _qty(q: float | None) -> str:
    if q is None:
        return ""
    return str(int(q)) if float(q).is_integer() else str(q)


@command(
    "overdue",
    "逾期",
    summary="逾期的待办（经理看团队）/ overdue todos in your scope",
    usage="overdue",
)
def _overdue(ctx: Context, args: list[str]) -> Reply:
    if args:
        raise actions.ActionError("用法 usage: `逾期` (no arguments)")
    lines = queries.overdue(ctx.session, ctx.member, ctx.now)
    if not lines:
        return Reply(title="没有逾期 Nothing overdue", private=True)
    body = "\n".join(
        f"- T{x.todo.id} {x.todo.title} · {x.owner or '—'} · 截止 {when(x.todo.due)}" for x in lines
    )
    mine = [x for x in lines if x.todo.owner_id == ctx.member.id]
    buttons = [Action(kind="ack", label=f"完成 T{x.todo.id}", value=f"todo:{x.todo.id}:done") for x in mine]
    return Reply(title=f"逾期 Overdue · {len(lines)}", body=body, actions=buttons[:MAX_BUTTONS], private=True)


@command(
    "todo",
    "待办",
    "todos",
    summary="我的待办；`待办 done T12` 标记完成 / your open todos, or mark one done",
    usage="todo [done ID]",
    examples=("待办", "待办 done T12"),
)
def _todo(ctx: Context, args: list[str]) -> Reply:
    if args and args[0].casefold() in ("done", "完成", "ok"):
        if len(args) < 2:
            raise actions.ActionError("用法 usage: `待办 done T12`")
        t = actions.complete_todo(ctx.session, ctx.member, args[1], ctx.now)
        return Reply(title=f"T{t.id} 已完成 Done", body=t.title, private=True)
    if args:
        raise actions.ActionError("用法 usage: `待办` 或 `待办 done T12`")
    lines = queries.my_todos(ctx.session, ctx.member)
    if not lines:
        return Reply(title="没有待办 No open todos", private=True)
    body = "\n".join(
        f"- T{x.todo.id} {x.todo.title} · 截止 {when(x.todo.due)}"
        + (" · **逾期 overdue**" if x.todo.due and x.todo.due < ctx.now else "")
        for x in lines
    )
    buttons = [Action(kind="ack", label=f"完成 T{x.todo.id}", value=f"todo:{x.todo.id}:done") for x in lines]
    return Reply(title=f"待办 Todos · {len(lines)}", body=body, actions=buttons[:MAX_BUTTONS], private=True)


@command(
    "report",
    "健康度",
    "health",
    summary="团队健康度：每人记录数、逾期占比、阶段停留、政策响应 / team health figures",
    usage="report",
    roles=MANAGERS,
)
def _report(ctx: Context, args: list[str]) -> Reply:
    if args:
        raise actions.ActionError("用法 usage: `健康度` (no arguments)")
    h = queries.health(ctx.session, ctx.member, ctx.now)
    body = "**每人 per rep** (记录 captures: 近 7 天 / 全部)\n\n" + table(
        ["rep", "记录 7d", "记录 all", "待办 open", "逾期 overdue"],
        [
            [r.name, str(r.captures_7d), str(r.captures_total), str(r.open_todos), pct(r.overdue_share)]
            for r in h.reps
        ],
    )
    body += f"\n\n逾期占比 overdue share: **{pct(h.overdue_share)}**"
    body += "\n\n**阶段停留 stage ages** (工作日 working days)\n\n" + table(
        ["阶段 stage", "客户", "平均 mean", "最长 max"],
        [[s, str(n), f"{mean}", str(mx)] for s, (n, mean, mx) in h.stage_ages.items()],
    )
    if h.policy_ack_hours:
        body += "\n\n**政策响应 policy response** (小时 hours)\n\n" + table(
            ["政策 policy", "确认中位 ack median", "首次应用 first use"],
            [[t, _h(v), _h(h.policy_first_use_hours.get(t))] for t, v in h.policy_ack_hours.items()],
        )
    body += _visit_figures(ctx)
    return Reply(title="健康度 Team health", body=body, private=True)


def _visit_figures(ctx: Context) -> str:
    """Visits and expense claims of the last 4 weeks (issue 8), within the asker's scope."""
    from datetime import timedelta

    from core.expenses import visit_claim_figures
    from core.scope import visible_members

    f = visit_claim_figures(
        ctx.session,
        start=ctx.now - timedelta(days=28),
        end=ctx.now + timedelta(seconds=1),  # a visit recorded right now counts
        member_ids=visible_members(ctx.session, ctx.member),
    )
    share = pct(f.outcome_share) if f.outcome_share is not None else "—"
    linked = pct(f.claim_link_share) if f.claim_link_share is not None else "—"
    return (
        "\n\n**拜访与报销 visits & claims** (近 4 周 last 4 weeks)\n\n"
        + table(["rep", "拜访/周 visits/week"], [[n, f"{v:g}"] for n, v in f.visits_per_rep_week.items()])
        + f"\n\n有结果的拜访 visits with an outcome: **{share}** ({f.visits_with_outcome}/{f.visits})"
        + f" · 关联拜访的报销 claims linked to a visit: **{linked}** ({f.claims_linked}/{f.claims})"
    )


def _h(v: float | None) -> str:
    return "—" if v is None else f"{v}"
