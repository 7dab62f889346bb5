"""One command registry served on every platform (see `registry`); built-in commands live in sibling
modules, each registering itself on import (`load_builtin` imports them all)."""

from bot.commands.registry import (
    NOT_ALLOWED,
    NOT_DONE,
    REGISTRY,
    Command,
    Context,
    dispatch,
    help_reply,
    parse,
    refusal,
)

__all__ = [
    "NOT_ALLOWED",
    "NOT_DONE",
    "REGISTRY",
    "Command",
    "Context",
    "dispatch",
    "help_reply",
    "load_builtin",
    "parse",
    "refusal",
]


BUILTIN_MODULES = ("builtin", "views", "changes", "policy", "visits")  # help lists commands in this order


def load_builtin() -> None:
    """Import the command modules; each registers its commands on import."""
    import importlib

    for name in BUILTIN_MODULES:
        importlib.import_module(f"bot.commands.{name}")
