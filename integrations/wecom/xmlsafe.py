"""Safe XML for WeCom callbacks: refuse DTDs and entities before parsing, strip the control characters XML 1.0
forbids (WeCom forwards them inside message text; expat would reject the whole body), parse with defusedxml.

Used for the outer envelope (``<xml><Encrypt/>…``), where any DTD-like text is refused, and for the decrypted
inner message, where only a declaration in the prolog (before the root element) is: message text in CDATA
may well contain ``<!DOCTYPE html>``, and a declaration anywhere else is not well-formed XML anyway.
"""

from __future__ import annotations

import re
from typing import Any

import xmltodict
from defusedxml import ElementTree as SafeET

# XML 1.0 allows \t \n \r and U+0020 upward, minus surrogates and U+FFFE/U+FFFF
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_ROOT = re.compile(r"<[A-Za-z_:]")  # the first element start tag ends the prolog


class UnsafeXML(ValueError):
    """The body carries a DTD or entity declaration (refused before any parsing) or is not XML."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def strip_illegal(text: str) -> str:
    return _ILLEGAL.sub("", text)


def refuse_dtd(text: str) -> None:
    if _DTD.search(text):
        raise UnsafeXML("DTD or entity declaration in the body")


def prolog(text: str) -> str:
    """What comes before the root element (XML declaration, comments, processing instructions, a DTD)."""
    m = _ROOT.search(text)
    return text if m is None else text[: m.start()]


def clean(raw: bytes | str, *, inner: bool = False) -> str:
    """Decode, refuse DTD/entities (an inner message: in its prolog only), strip illegal characters."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    refuse_dtd(prolog(text) if inner else text)
    return strip_illegal(text)


def envelope_encrypt(raw: bytes | str) -> str:
    """The ``Encrypt`` field of a callback POST body."""
    text = clean(raw)
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # ParseError, DefusedXmlException
        raise UnsafeXML("body is not well-formed XML") from exc
    node = root.find("Encrypt")
    if node is None or not (node.text or "").strip():
        raise UnsafeXML("no Encrypt element in the body")
    return (node.text or "").strip()


def to_dict(raw: bytes | str) -> dict[str, Any]:
    """A decrypted inner message as a dict of its ``<xml>`` children (strings, as xmltodict gives them)."""
    text = clean(raw, inner=True)
    try:
        # well-formedness and the DTD ban checked by defusedxml; the dict built by xmltodict (no entities)
        SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        data = xmltodict.parse(text, disable_entities=True)
    except Exception as exc:
        raise UnsafeXML("inner message is not well-formed XML") from exc
    root = data.get("xml") if isinstance(data, dict) else None
    if not isinstance(root, dict):
        raise UnsafeXML("inner message has no <xml> root")
    return root


def cleaned_xml(raw: bytes | str) -> str:
    """The cleaned inner message, for parsers (wechatpy) that take XML strings."""
    return clean(raw, inner=True)
