"""Built-in commands. Each registers itself in the registry; the business rules they call live in core."""

from __future__ import annotations

from bot.commands.registry import Context, command, help_reply
from core.messages import Reply


@command("help", "帮助", "?", summary="列出命令 / list the commands", usage="help [COMMAND]")
def _help(ctx: Context, args: list[str]) -> Reply:
    return help_reply(args[0] if args else None, role=ctx.member.role)


@command(
    "capture",
    "记一下",
    "记录",
    summary="把引用或粘贴的消息记到客户 / capture the quoted or pasted message",
    usage="capture [CUSTOMER]",
)
def _capture(ctx: Context, args: list[str]) -> Reply:
    msg = ctx.message
    if msg is None or ctx.accept is None:
        return Reply(
            title="请引用消息 Quote a message", body="引用客户的消息并 @我 说“记一下”。", private=True
        )
    # with a quote, everything after the command word is the customer; pasted text starts after its first word
    hint = (" ".join(args) if msg.quoted_text else (args[0] if args else "")).strip() or msg.customer_hint
    capture = msg.model_copy(update={"intent": "capture", "customer_hint": hint or None})
    ctx.accept(capture)
    return Reply(title="收到，正在记录 Capturing", body="记录完成后我会告诉你结果。", private=True)
