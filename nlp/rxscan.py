"""Fast scanning with large alternation regexes.

Python's ``re`` tries every branch of an alternation at every position of the text. For the extractor's
big patterns (hundreds of time words, pain-point vocabularies) that dominates the run time, although
only a few positions can start a match at all, and at each of them only a few branches.

`Scanner` computes once, from the pattern's parse tree, the characters each top-level branch can start
with. It then looks only at positions holding one of those characters, and there tries a sub-pattern
made of just the branches that can start with that character, in their original order (the others are
kept, unreachable, after a ``(?!)`` so that every group name still exists). The matches are exactly
those of ``pattern.finditer`` (leftmost, first branch wins, non-overlapping): a branch left out at a
position could not have matched there. When the first characters cannot be bounded (a branch may
start with any character, or match the empty string) it falls back to the pattern itself.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

try:  # Python 3.11+: the parser is private but stable within a minor version
    import re._constants as _c
    import re._parser as _p
    from re._casefix import _EXTRA_CASES  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - other layouts: no prefilter, plain finditer
    _c = _p = None  # type: ignore[assignment]
    _EXTRA_CASES = {}

_MAX_RANGE = 0x3000  # a class range wider than this is treated as "any character"


class _Any(Exception):
    """A branch can start with (practically) any character."""


@cache
def _all_chars_where(kind: str) -> frozenset[str]:
    """Every code point that ``\\d`` (``isdecimal``) or ``\\s`` (``isspace``) matches, as ``re`` does."""
    test = str.isdecimal if kind == "d" else str.isspace
    return frozenset(ch for ch in map(chr, range(sys.maxunicode + 1)) if test(ch))


@cache
def _lower_preimages() -> dict[int, tuple[int, ...]]:
    """lower-case code point -> every code point whose simple lower case it is (``re``'s own mapping)."""
    import _sre

    out: dict[int, list[int]] = {}
    low = _sre.unicode_tolower
    for cp in range(sys.maxunicode + 1):
        lo = low(cp)
        if lo != cp:
            out.setdefault(lo, []).append(cp)
    return {k: tuple(v) for k, v in out.items()}


def _fold(chars: set[str]) -> set[str]:
    """Every character that matches one of ``chars`` under IGNORECASE (a superset is fine)."""
    import _sre

    if all(ch.isascii() and not ch.isalpha() for ch in chars):
        return chars
    pre = _lower_preimages()
    out = set(chars)
    todo = list(chars)
    while todo:
        ch = todo.pop()
        cp = ord(ch)
        lo = _sre.unicode_tolower(cp)
        up = ch.upper()
        cands = {lo, *pre.get(lo, ()), *_EXTRA_CASES.get(lo, ())}
        if len(up) == 1:
            cands.add(ord(up))
        for x in cands:
            c = chr(x)
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _charset(items: Any, ignorecase: bool) -> set[str]:
    out: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            out.add(chr(av))
        elif op is _c.RANGE:
            lo, hi = av
            if hi - lo > _MAX_RANGE:
                raise _Any
            out.update(chr(i) for i in range(lo, hi + 1))
        elif op is _c.CATEGORY:
            if av is _c.CATEGORY_DIGIT:
                out |= _all_chars_where("d")
            elif av is _c.CATEGORY_SPACE:
                out |= _all_chars_where("s")
            else:
                raise _Any
        else:  # NEGATE and anything unforeseen
            raise _Any
    return _fold(out) if ignorecase else out


def _first(seq: Any, ignorecase: bool) -> tuple[set[str], bool]:
    """First characters of a sequence of parse items, and whether the sequence can match empty."""
    chars: set[str] = set()
    for op, av in seq:
        if op is _c.LITERAL:
            chars |= _charset([(op, av)], ignorecase)
            return chars, False
        if op is _c.IN:
            chars |= _charset(av, ignorecase)
            return chars, False
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero-width
        if op is _c.SUBPATTERN:
            ic = ignorecase or bool(av[1] & re.IGNORECASE)
            c, empty = _first(av[-1], ic)
            chars |= c
            if not empty:
                return chars, False
            continue
        if op is _c.BRANCH:
            empty_any = False
            for branch in av[1]:
                c, empty = _first(branch, ignorecase)
                chars |= c
                empty_any = empty_any or empty
            if not empty_any:
                return chars, False
            continue
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            lo, _hi, inner = av
            c, empty = _first(inner, ignorecase)
            chars |= c
            if lo > 0 and not empty:
                return chars, False
            continue
        if op is getattr(_c, "ATOMIC_GROUP", None):
            c, empty = _first(av, ignorecase)
            chars |= c
            if not empty:
                return chars, False
            continue
        raise _Any  # ANY, NOT_LITERAL, GROUPREF, GROUPREF_EXISTS and anything unforeseen
    return chars, True


def _class_src(items: Any) -> str | None:
    out = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(re.escape(chr(av)))
        elif op is _c.RANGE:
            out.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is _c.CATEGORY and av is _c.CATEGORY_DIGIT:
            out.append(r"\d")
        else:
            return None
    return "[" + "".join(out) + "]"


def _lead(seq: Any) -> str:
    """Source of the zero-width checks every match of ``seq`` starts with: ``\b`` and simple negative
    look-behinds, looking into leading groups (not into alternations). "" when there are none."""
    out = ""
    for op, av in seq:
        if op is _c.AT and av is _c.AT_BOUNDARY:
            out += r"\b"
        elif op is _c.ASSERT_NOT and av[0] == -1 and len(av[1]) == 1 and av[1][0][0] in (_c.IN, _c.LITERAL):
            item = av[1][0]
            cls = _class_src(item[1] if item[0] is _c.IN else [item])
            if cls is not None:
                out += f"(?<!{cls})"
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # another zero-width check: not used, which only widens the filter
        elif op is _c.SUBPATTERN and not (av[1] or av[2]):
            return out + _lead(av[-1])
        else:
            return out
    return out


def _analyse(src: str, flags: int) -> tuple[frozenset[str] | None, tuple[str, ...], str]:
    """First characters of ``src`` (None when not bounded), its group names and its leading checks."""
    if _p is None:
        return None, (), ""
    try:
        parsed = _p.parse(src, flags)
        names = tuple(parsed.state.groupdict)
        ic = bool(flags & re.IGNORECASE) or bool(parsed.state.flags & re.IGNORECASE)
        chars, empty = _first(parsed, ic)
        lead = _lead(parsed)
    except Exception:  # noqa: BLE001 - any surprise means "not bounded", never a wrong answer
        return None, (), ""
    return (None if empty else frozenset(chars)), names, lead


def _first_chars_src(src: str, flags: int) -> frozenset[str] | None:
    return _analyse(src, flags)[0]


def first_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """The characters a match of ``pattern`` can start with, or None when that is not bounded."""
    if not isinstance(pattern.pattern, str):
        return None
    return _first_chars_src(pattern.pattern, pattern.flags)


def split_top(src: str) -> list[str] | None:
    """The top-level alternatives of a pattern source, or None when it cannot be split safely."""
    if re.match(r"\(\?[aiLmsux]+\)", src) or re.search(r"\\[1-9]|\(\?\(\d", src):
        # global inline flags, numbered back-references and conditionals (the numbers would shift;
        # named ones still resolve, every group stays in every sub-pattern)
        return None
    parts: list[str] = []
    depth = 0
    last = 0
    i = 0
    n = len(src)
    in_class = False
    while i < n:
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if i + 1 < n and src[i + 1] == "^":
                i += 1
            if i + 1 < n and src[i + 1] == "]":
                i += 1  # "[]...]": a literal "]"
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(src[last:i])
            last = i + 1
        i += 1
    if depth != 0 or in_class:
        return None
    parts.append(src[last:])
    return parts


def _cls(chars: Any) -> str:
    return "[" + "".join(sorted(re.escape(ch) for ch in chars)) + "]"


class Scanner:
    """``pattern.finditer`` / ``search``, trying only the branches that can match at each position."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.starts: re.Pattern[str] | None = None
        self._branches: list[str] = []
        self._branch_chars: list[frozenset[str]] = []
        self._branch_groups: list[tuple[str, ...]] = []
        self._subs: dict[str, re.Pattern[str]] = {}
        self._by_key: dict[tuple[int, ...], re.Pattern[str]] = {}
        self._lock = threading.Lock()
        if not isinstance(pattern.pattern, str) or pattern.flags & re.VERBOSE:
            return
        union = first_chars(pattern)
        if not union:
            return
        branches = split_top(pattern.pattern)
        if branches and len(branches) > 1:
            per = [_analyse(b, pattern.flags) for b in branches]
            chars = [fc for fc, _, _ in per]
            if all(fc is not None for fc in chars) and set().union(*chars) == union:  # type: ignore[arg-type]
                self._branches = branches
                self._branch_chars = chars  # type: ignore[assignment]
                self._branch_groups = [names for _, names, _ in per]
                # where a match can start: per leading check, the first characters of its branches
                by_lead: dict[str, set[str]] = {}
                for fc, _, lead in per:
                    by_lead.setdefault(lead, set()).update(fc or ())
                if len(by_lead) == 2:  # more alternatives cost more than the positions they save
                    alts = [
                        f"{lead}{_cls(fc)}"
                        for lead, fc in sorted(by_lead.items(), key=lambda kv: kv[0] != "")
                    ]
                    try:
                        self.starts = re.compile("|".join(alts), pattern.flags & ~re.VERBOSE)
                        return
                    except re.error:
                        pass
        self.starts = re.compile(_cls(union))

    def _sub(self, ch: str) -> re.Pattern[str]:
        sub = self._subs.get(ch)
        if sub is not None:
            return sub
        if not self._branches:
            sub = self.pattern
        else:
            key = tuple(i for i, fc in enumerate(self._branch_chars) if ch in fc)
            sub = self._by_key.get(key)
            if sub is None:
                with self._lock:
                    chosen = "|".join(self._branches[i] for i in key)
                    # the other branches' groups, as empty placeholders that can never take part
                    # (unmatched, as they would be in the full pattern), so every group name exists
                    rest = [
                        f"(?P<{g}>)" for i, gs in enumerate(self._branch_groups) if i not in key for g in gs
                    ]
                    src = chosen + ("|(?!)" + "".join(rest) if rest else "")
                    sub = self._by_key[key] = re.compile(src, self.pattern.flags)
        self._subs[ch] = sub
        return sub

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
        end = len(text) if endpos is None else min(endpos, len(text))
        pos = max(pos, 0)
        if self.starts is None:
            yield from self.pattern.finditer(text, pos, end)
            return
        subs = self._subs
        for s in self.starts.finditer(text, pos, end):  # every position a match can start at
            p = s.start()
            if p < pos:
                continue  # inside the previous match
            ch = text[p]
            m = (subs.get(ch) or self._sub(ch)).match(text, p, end)
            if m is not None:
                yield m
                pos = m.end() if m.end() > p else p + 1

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        """The leftmost match, as ``pattern.search``."""
        end = len(text) if endpos is None else min(endpos, len(text))
        pos = max(pos, 0)
        if self.starts is None:
            return self.pattern.search(text, pos, end)
        find = self.starts.search
        subs = self._subs
        while pos < end:
            s = find(text, pos, end)
            if s is None:
                return None
            p = s.start()
            ch = text[p]
            m = (subs.get(ch) or self._sub(ch)).match(text, p, end)
            if m is not None:
                return m
            pos = p + 1
        return None

    def findall_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.finditer(text)]
