"""Text the database can store: no NUL characters, no lone UTF-16 surrogates.

PostgreSQL refuses ``\\u0000`` in text and JSON columns, and a lone surrogate (``\\ud800`` from a JSON
escape) cannot be encoded as UTF-8 for any driver; either makes the INSERT fail and the message is lost.
`clean_message` is applied once, where the inbox stores a message (core.inbox.store).
"""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel

_SURROGATE = re.compile("[\ud800-\udfff]")  # a valid pair is already one code point in a Python str

T = TypeVar("T")


def unstorable(value: str) -> str | None:
    """Why a string cannot be stored as text in every supported database, or None if it can (an import
    refuses such a line; live traffic is cleaned with `clean_text` instead)."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000)"
    if _SURROGATE.search(value):
        return "contains an unpaired surrogate (e.g. \\ud800), which is not valid Unicode text"
    return None


def clean_text(text: str) -> str:
    """Replace each NUL and each lone surrogate with U+FFFD (the replacement character), so the stored text
    still shows where something unreadable was."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return _SURROGATE.sub("\ufffd", text)


def clean(value: T) -> T:
    """`clean_text` applied to every string inside `value` (dict keys too, lists, pydantic models)."""
    if isinstance(value, str):
        return clean_text(value)  # type: ignore[return-value]
    if isinstance(value, BaseModel):
        update = {name: clean(getattr(value, name)) for name in type(value).model_fields}
        return value.model_copy(update=update)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(clean(v) for v in value)  # type: ignore[return-value]
    return value


def clean_message(msg: T) -> T:
    """A copy of a message (any pydantic model) with every string cleaned; the same object if clean."""
    return clean(msg)
