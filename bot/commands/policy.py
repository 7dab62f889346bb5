"""`policy`/政策 publish|list|ack. Publishing, acknowledging and the reminders are core services
(core.policies); listing is a scoped query (core.queries.policies)."""

from __future__ import annotations

import re

from bot.commands.changes import subject_of
from bot.commands.registry import MANAGERS, NOT_DONE, Context, command, refusal
from bot.commands.render import when
from core import actions, policies, queries
from core.messages import Action, Reply

PUBLISH = ("publish", "发布")
LIST = ("list", "列表", "查看")
ACK = ("ack", "收到", "确认")
APPLY = ("apply", "应用", "用于")
_AUDIENCE = re.compile(r"^(?:to|对象|范围)[:：=](.+)$", re.IGNORECASE)


def split_publish_args(args: list[str]) -> tuple[str, str, str | None]:
    """``[to:REGION] TITLE [| BODY]`` → (title, body, audience). Without ``|`` the first word is the
    title and the rest the body."""
    audience = None
    rest = list(args)
    if rest and (m := _AUDIENCE.match(rest[0])):
        audience, rest = m.group(1), rest[1:]
    text = " ".join(rest)
    for sep in ("|", "｜"):
        if sep in text:
            title, body = text.split(sep, 1)
            return title.strip(), body.strip(), audience
    return (rest[0] if rest else ""), " ".join(rest[1:]), audience


@command(
    "policy",
    "政策",
    summary="政策：发布（经理）、查看、确认收到、记录用于某单 / policies: publish, list, acknowledge, apply",
    usage="policy publish [to:REGION] TITLE | BODY · policy list · policy ack ID · policy apply ID DEAL",
    examples=(
        "政策 list",
        "政策 ack P3",
        "政策 apply P3 百润",
        "政策 发布 to:华东-浙沪 年底返点 | 12 月签约返点 3%",
    ),
)
def _policy(ctx: Context, args: list[str]) -> Reply:
    verb = args[0].casefold() if args else "list"
    rest = args[1:]
    if verb in PUBLISH:
        if ctx.member.role not in MANAGERS:
            return refusal("只有经理和总监可以发布政策 (only managers and directors publish policies)")
        title, body, audience = split_publish_args(rest)
        if not title:
            raise actions.ActionError("用法 usage: `政策 发布 [to:区域] 标题 | 正文`")
        p = policies.publish_policy(ctx.session, ctx.member, title, body, ctx.now, audience=audience)
        return Reply(title=f"P{p.id} 已发布 Published: {p.title}", body=p.body or "", private=True)
    if verb in ACK:
        if not rest:
            raise actions.ActionError("用法 usage: `政策 ack P3`")
        ack = policies.ack_policy(ctx.session, ctx.member, rest[0], ctx.now)
        return Reply(title=f"P{ack.policy_id} 已确认 Acknowledged", private=True)
    if verb in APPLY:
        if len(rest) < 2:
            raise actions.ActionError("用法 usage: `政策 apply P3 客户或商机`")
        subject = subject_of(ctx, " ".join(rest[1:]))
        applied = policies.record_policy_application(ctx.session, ctx.member, rest[0], subject, ctx.now)
        return Reply(
            title=f"P{applied.policy_id} 已用于 Applied in O{applied.opportunity_id}",
            body=f"首次应用 first use: {when(applied.applied_at)}",
            private=True,
        )
    if verb in LIST:
        lines = queries.policies(ctx.session, ctx.member)
        if not lines:
            return Reply(title="没有政策 No policies", private=True)
        body = "\n".join(
            f"- P{x.policy.id} {x.policy.title} · {when(x.policy.published_at)}"
            + (f" · 已确认 {x.acks}/{x.audience_size}" if ctx.member.role != "rep" else "")
            + ("" if x.acked or ctx.member.role != "rep" else " · **待确认 to acknowledge**")
            for x in lines
        )
        buttons = [
            Action(kind="ack", label=f"收到 P{x.policy.id}", value=f"policy:{x.policy.id}:ack")
            for x in lines
            if not x.acked and ctx.member.role == "rep"
        ]
        return Reply(title=f"政策 Policies · {len(lines)}", body=body, actions=buttons[:5], private=True)
    return Reply(
        title=NOT_DONE,
        body="用法 usage: `政策 list` · `政策 ack P3` · `政策 apply P3 客户` · `政策 发布 标题 | 正文`",
        private=True,
    )
