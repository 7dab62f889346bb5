"""One command registry served on every platform (see `registry`); built-in commands live in sibling
modules, each registering itself on import (`load_builtin` imports them all)."""

from bot.commands.registry import REGISTRY, Command, Context, dispatch, help_reply, parse

__all__ = ["REGISTRY", "Command", "Context", "dispatch", "help_reply", "load_builtin", "parse"]


def load_builtin() -> None:
    from bot.commands import (
        builtin,  # noqa: F401  (registers on import)
        visits,  # noqa: F401  (registers on import)
    )
