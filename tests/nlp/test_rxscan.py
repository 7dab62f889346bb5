"""`nlp.rxscan.Scanner` must find exactly what ``pattern.finditer`` finds (property tests)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp.rxscan import Scanner, first_chars, split_top


def _spans(it) -> list[tuple[tuple[int, int], str | None, dict[str, str | None]]]:  # noqa: ANN001
    return [(m.span(), m.lastgroup, m.groupdict()) for m in it]


def _same(pattern: re.Pattern[str], text: str) -> None:
    sc = Scanner(pattern)
    assert _spans(sc.finditer(text)) == _spans(pattern.finditer(text))
    got = sc.search(text)
    want = pattern.search(text)
    assert (got.span() if got else None) == (want.span() if want else None)


# ------------------------------------------------------------------ the patterns the extractor really uses


def _real_patterns() -> dict[str, re.Pattern[str]]:
    from nlp import extractors, timex

    out = {"timex": timex._MASTER}
    lex = extractors._pain_lex()
    for name in ("terms", "cue", "neg", "report"):
        sc = getattr(lex, name)
        if sc is not None:
            out[f"pain.{name}"] = sc.pattern
    what, moved, cancelled = extractors._meeting_lex()
    out["meeting.moved"] = moved.pattern
    out["meeting.cancelled"] = cancelled.pattern
    for name, sc in what:
        out[f"meeting.{name}"] = sc.pattern
    return out


REAL = _real_patterns()
# characters that start or continue matches, plus a few that stress case folding and boundaries
_ALPHABET = sorted(
    {ch for p in REAL.values() for ch in (first_chars(p) or ()) if ch.isascii() or "\u4e00" <= ch <= "\u9fff"}
    | set("点号天周月年日下上午晚到至-~:：/. ,，。0123456789一二三四五六七八九十两半刻整前后内底初")
    | set("KkSsIi\u212a\u017f\u0130\u0131ﬀ０１\U0001f44d\u200b\x00\n\t")
)
texts = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60)


@pytest.mark.parametrize("name", sorted(REAL))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_real_patterns_match_like_finditer(name: str, text: str) -> None:
    _same(REAL[name], text)


@given(text=st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_timex_master_on_any_text(text: str) -> None:
    _same(REAL["timex"], text)


def test_real_patterns_are_accelerated() -> None:
    """The speed-up must actually apply: bounded first characters and split branches."""
    for name in ("timex", "pain.terms", "pain.cue"):
        sc = Scanner(REAL[name])
        assert sc.starts is not None, name
        assert len(sc._branches) > 1, name


# ------------------------------------------------------------------ synthetic patterns: the tricky corners

SYNTHETIC = [
    (r"abc|ab|a", 0),
    (r"(?<![a-z])key(?![a-z])|kelvin", re.IGNORECASE),  # "K" (U+212A KELVIN SIGN) matches k
    (r"straße|ss|s", re.IGNORECASE),  # "ſ" (U+017F) matches s
    (r"i|x", re.IGNORECASE),  # "İ" and "ı"
    (r"\d+点|[一二三]点", 0),  # "\d" matches every Unicode decimal digit ("０", "٣")
    (r"\s+to\s+|到", re.IGNORECASE),
    (r"(?P<a>x)(?P=a)|(?P<b>y)", 0),  # named back-reference: the split keeps it working
    (r"(x)\1|y", 0),  # numbered back-reference: no split, still correct
    (r"a*b|c", 0),
    (r"(?:a|)b|c", 0),
    (r"x?|y", 0),  # can match empty: falls back to finditer
    (r".x|y", 0),  # any first character: falls back
    (r"[^a]b|c", 0),
    (r"[]a]b|[^]]c|\]", 0),
    (r"(?i:ab)|CD", 0),
    (r"\bon\b|at", re.IGNORECASE),
]


@pytest.mark.parametrize(("src", "flags"), SYNTHETIC)
@given(text=st.text(alphabet="abcdxyKkSsIiß\u212a\u017f\u0130\u0131 0١٣０点三到tT]\n", max_size=30))
@settings(max_examples=120, deadline=None)
def test_synthetic_patterns_match_like_finditer(src: str, flags: int, text: str) -> None:
    _same(re.compile(src, flags), text)


def test_fallbacks() -> None:
    assert Scanner(re.compile(r"x?|y")).starts is None
    assert Scanner(re.compile(r".x|y")).starts is None
    assert Scanner(re.compile(r"(x)\1|y"))._branches == []
    assert split_top(r"a(b|c)|[|]|\||d") == ["a(b|c)", "[|]", r"\|", "d"]


def test_positions_and_endpos() -> None:
    rx = re.compile(r"ab|b", re.IGNORECASE)
    sc = Scanner(rx)
    for pos, endpos in [(0, None), (1, None), (1, 3), (-5, 2), (10, None)]:
        want = [m.span() for m in rx.finditer("abAB", pos, 4 if endpos is None else endpos)]
        assert [m.span() for m in sc.finditer("abAB", pos, endpos)] == want
        got = sc.search("abAB", pos, endpos)
        assert (got.span() if got else None) == (want[0] if want else None)
