"""Pain points, meetings, samples, contacts and customers.

All rules read the keyword lexicon in ``nlp/lexicon.yaml`` (loaded once) and work on the normalised
text, which has the same length as the original so spans carry over. Results are built with
``model_construct``: the values are our own, of known types, so pydantic's validation is skipped (a
property test checks every result serialises).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from nlp.normalize import cn2num
from nlp.rxscan import Scanner
from nlp.types import (
    CatalogueEntry,
    ContactMention,
    CustomerMention,
    GazetteerEntry,
    MeetingMention,
    PainPointMention,
    SampleMention,
    TimeMention,
)

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")


_CONCAT_KEYS = {"surnames"}  # strings of characters: an extra file adds characters


def _merge(base: Any, extra: Any, key: str = "") -> Any:
    """``extra`` laid over ``base``: mappings merge, lists extend (no duplicates), other values replace."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for k, v in extra.items():
            out[k] = _merge(base[k], v, str(k)) if k in base else v
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return base + [x for x in extra if x not in base]
    if key in _CONCAT_KEYS and isinstance(base, str) and isinstance(extra, str):
        return base + extra
    return extra if extra is not None else base


def lexicon_files() -> list[Path]:
    """The packaged lexicon, then the extra files of the ``LOOPKEEPER_LEXICON_FILES`` setting."""
    from config.settings import get_settings

    return [LEXICON_PATH, *get_settings().lexicon_files]


def _validate(lex: dict[str, Any], path: Path) -> None:
    from typing import get_args

    from nlp.types import MeetingWhat, PainCategory

    bad = set((lex.get("pain") or {}).get("categories") or {}) - set(get_args(PainCategory))
    if bad:
        raise ValueError(f"{path}: unknown pain-point categories {sorted(bad)} (see DESIGN §7)")
    bad = set((lex.get("meeting") or {}).get("what") or {}) - set(get_args(MeetingWhat))
    if bad:
        raise ValueError(f"{path}: unknown meeting kinds {sorted(bad)}")


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """The keyword lexicon: ``nlp/lexicon.yaml`` with the user's extra files merged over it (once)."""
    merged: dict[str, Any] = {}
    for path in lexicon_files():
        with Path(path).open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a lexicon file is a mapping (see nlp/lexicon.yaml)")
        _validate(data, path)
        merged = _merge(merged, data) if merged else data
    return merged


def reload_lexicon() -> None:
    """Forget the lexicon and everything built from it (after the files or the setting changed)."""
    for fn in (
        lexicon,
        _pain_lex,
        _meeting_lex,
        _same_time_rx,
        _sample_lex,
        _contact_rx,
        _catalogue_regex,
        _catalogue_keys,
    ):
        fn.cache_clear()
    _gazetteer_regex.cache_clear()


def _is_ascii_word(term: str) -> bool:
    return term.isascii()


def _term_regex(terms: list[str]) -> Scanner | None:
    """One regex for a list of terms: CJK as substrings, Latin on word boundaries, case-insensitive.

    Wrapped in a `Scanner`, which tries only the terms that start with the character at hand."""
    parts = []
    for t in sorted({str(t) for t in terms if t}, key=len, reverse=True):
        esc = re.escape(t)
        if _is_ascii_word(t):
            parts.append(rf"(?<![A-Za-z0-9]){esc}(?![A-Za-z0-9])")
        else:
            parts.append(esc)
    if not parts:
        return None
    return Scanner(re.compile("|".join(parts), re.IGNORECASE))


def _both(d: dict[str, list[str]] | list[str] | None) -> list[str]:
    if d is None:
        return []
    if isinstance(d, list):
        return [str(x) for x in d]
    return [str(x) for x in (d.get("zh") or [])] + [str(x) for x in (d.get("en") or [])]


@dataclass
class _PainLex:
    terms: Scanner | None  # every strong and topic term of every category
    term_cats: dict[str, list[tuple[int, bool]]]  # lower-cased term -> [(category order, strong?)]
    names: list[str]
    cue: Scanner | None
    neg: Scanner | None
    report: Scanner | None


@lru_cache(maxsize=1)
def _pain_lex() -> _PainLex:
    p = lexicon()["pain"]
    term_cats: dict[str, list[tuple[int, bool]]] = {}
    names = []
    for order, (name, spec) in enumerate(p["categories"].items()):
        names.append(name)
        for strong, key in ((True, "strong"), (False, "topic")):
            for t in _both(spec.get(key)):
                term_cats.setdefault(t.lower(), []).append((order, strong))
    return _PainLex(
        _term_regex(list(term_cats)),
        term_cats,
        names,
        _term_regex(_both(p["cues"])),
        _term_regex(_both(p["negation"])),
        _term_regex(_both(p["reporting"])),
    )


_CLAUSE_SPLIT = re.compile(
    r"[，,。；;！!？?\n：:]|(?<=[A-Za-z0-9)'])\.(?=\s|$)|\s+but\s+|\s+-\s+|(?<=\w)\s*\(|\)"
)
_LEAD_TRIM = re.compile(
    r"(?:\s|主要是|主要|另外|而且|但是|不过|就是|其实|还有|并且|所以|因为|and\s+|but\s+|also\s+|so\s+)+", re.I
)


def _clauses(text: str) -> list[tuple[int, int]]:
    out = []
    pos = 0
    for m in _CLAUSE_SPLIT.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return out


def _spans(rx: Scanner | None, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text)] if rx is not None else []


def extract_pain_points(text: str, norm: str) -> list[PainPointMention]:
    lex = _pain_lex()
    if lex.terms is None:
        return []
    term_hits = [(m.start(), m.end(), m.group(0).lower()) for m in lex.terms.finditer(norm)]
    if not term_hits:
        return []
    negs = _spans(lex.neg, norm)
    cues: list[tuple[int, int]] | None = None  # scanned only when a clause has a topic word
    reports: list[tuple[int, int]] | None = None  # scanned only when a clause has a pain
    found: list[PainPointMention] = []
    for a, b in _clauses(norm):
        hits = [h for h in term_hits if a <= h[0] < b]
        if not hits or len(norm[a:b].strip()) < 2:
            continue
        neg = any(a <= s < b for s, _ in negs)
        has_cue = False
        if not neg and any(not strong for _, _, t in hits for _, strong in lex.term_cats.get(t, [])):
            if cues is None:
                cues = _spans(lex.cue, norm)
            has_cue = any(a <= s < b for s, _ in cues)
        # best: (score, keyword length, -category order, category order, position)
        best: tuple[int, int, int, int, int] | None = None
        for s, e, term in hits:
            for order, strong in lex.term_cats.get(term, []):
                if strong:
                    cand = (2, e - s, -order, order, s)
                elif has_cue or neg:
                    cand = (1, 0, -order, order, s)
                else:
                    continue
                if best is None or cand[:3] > best[:3] or (cand[:3] == best[:3] and s < best[4]):
                    best = cand
        if best is None:
            continue
        start = a
        # drop the reporter ("王总说", "Ningbo Haisheng says") when the pain comes after it
        if reports is None:
            reports = _spans(lex.report, norm)
        rep = [rend for rs, rend in reports if a <= rs and rend <= best[4]]
        if rep:
            start = rep[0]
        lead = _LEAD_TRIM.match(norm, start, b)
        if lead:
            start = lead.end()
        end = b
        while end > start and norm[end - 1] in " \t.。":
            end -= 1
        while start < end and norm[start] in " \t":
            start += 1
        if end - start < 2:
            continue
        found.append(
            PainPointMention.model_construct(
                text=text[start:end],
                span=(start, end),
                category=lex.names[best[3]],  # type: ignore[arg-type]
                negated=neg,
            )
        )
    return found


# ------------------------------------------------------------------------------------------------ meetings


@lru_cache(maxsize=1)
def _same_time_rx() -> Scanner | None:
    return _term_regex([str(t) for t in lexicon()["meeting"].get("same_time") or []])


@lru_cache(maxsize=1)
def _meeting_lex() -> tuple[list[tuple[str, Scanner]], Scanner, Scanner]:
    m = lexicon()["meeting"]
    what = []
    for name, terms in m["what"].items():
        rx = _term_regex([str(t) for t in terms])
        if rx is not None:
            what.append((name, rx))
    moved = _term_regex([str(t) for t in m["moved"]])
    cancelled = _term_regex([str(t) for t in m["cancelled"]])
    assert moved is not None and cancelled is not None
    return what, moved, cancelled


_SENT_SPLIT = re.compile(r"[。！!？?；;\n]|(?<=[A-Za-z0-9)'])\.(?=\s|$)")


def _sentences(text: str) -> list[tuple[int, int]]:
    out = []
    pos = 0
    for m in _SENT_SPLIT.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return out


_MEETING_KINDS = {"point", "range"}


def _same_time(times: list[TimeMention], new: int, old: list[int]) -> None:
    """ "改到下周二同一时间": the new day at the old clock time (replaces ``times[new]`` in place)."""
    clocked = [i for i in old if times[i].grain in ("hour", "minute")]
    t = times[new]
    if not clocked or t.grain != "day" or t.kind != "point":
        return
    was = times[clocked[-1]].start.astimezone(t.start.tzinfo)
    start = t.start.replace(hour=was.hour, minute=was.minute, second=0, microsecond=0)
    times[new] = t.model_copy(update={"start": start, "grain": times[clocked[-1]].grain})


def extract_meetings(norm: str, times: list[TimeMention]) -> list[MeetingMention]:
    """Meetings: a point or range tied to an appointment word in its sentence; moved meetings point at
    their new time (which a same-time reference, "改到下周二同一时间", completes with the old clock time),
    cancelled ones at their old time."""
    what_lex, moved_rx, cancel_rx = _meeting_lex()
    same_rx = _same_time_rx()
    out: list[MeetingMention] = []
    used: set[int] = set()
    for a, b in _sentences(norm):
        idx = [
            i
            for i, t in enumerate(times)
            if a <= t.span[0] < b
            and t.kind in _MEETING_KINDS
            and t.grain not in ("year", "quarter", "month", "second")
        ]
        if not idx:
            continue
        sent = norm[a:b]
        hits: list[tuple[int, str]] = []
        for name, rx in what_lex:
            for m in rx.finditer(sent):
                if name == "meeting" and m.group(0) == "会" and not _lone_hui(sent, m.start()):
                    continue
                hits.append((a + m.start(), name))
        if not hits:
            continue
        order = [n for n, _ in what_lex]
        what = min(hits, key=lambda h: order.index(h[1]))[1]
        mv = moved_rx.search(sent)
        cn = cancel_rx.search(sent)
        status = "scheduled"
        chosen: int | None = None
        if mv:
            after = [i for i in idx if times[i].span[0] >= a + mv.start()]
            if after:
                chosen = after[0]
                status = "moved"
                if same_rx is not None and same_rx.search(sent):
                    _same_time(times, chosen, [i for i in idx if times[i].span[0] < a + mv.start()])
        if chosen is None and cn:
            status = "cancelled"
        if chosen is None:
            # the time closest to a meeting word
            chosen = min(idx, key=lambda i: min(abs(times[i].span[0] - p) for p, _ in hits))
        if chosen in used:
            continue
        used.add(chosen)
        out.append(MeetingMention.model_construct(time=chosen, what=what, status=status))  # type: ignore[arg-type]
    return out


def _lone_hui(sent: str, pos: int) -> bool:
    """ "会" as a noun (the meeting), not the modal verb "will": "下周一的会", "开个会", "这个会"."""
    prev = sent[pos - 1] if pos > 0 else ""
    nxt = sent[pos + 1] if pos + 1 < len(sent) else ""
    return prev in "的个开场次" and nxt not in "议员计话"


# ------------------------------------------------------------------------------------------------ samples


@lru_cache(maxsize=1)
def _sample_lex() -> dict[str, Any]:
    s = lexicon()["sample"]
    units_zh = [str(u) for u in s["units"]["zh"]]
    units_en = [str(u) for u in s["units"]["en"]]
    return {
        "context": _term_regex(_both(s["context"])),
        "committed": _term_regex(_both(s["committed"])),
        "request": _term_regex(_both(s["request"])),
        "sent": _term_regex(_both(s["sent"])),
        "units_zh": "".join(u for u in units_zh if len(u) == 1),
        "units_en": "|".join(sorted(units_en, key=len, reverse=True)),
        "id_label": _label_regex(_both(s.get("not_model_labels"))),
        "id_prefixes": {str(x).upper() for x in s.get("not_model_prefixes") or []},
        "standard": _standard_regex([str(x) for x in s.get("standards") or []]),
    }


def _label_regex(labels: list[str]) -> re.Pattern[str] | None:
    """A label right before a shape: "订单号", "订单号：", "tracking no. ", "PO#"."""
    if not labels:
        return None
    alts = "|".join(re.escape(x) for x in sorted(set(labels), key=len, reverse=True))
    return re.compile(rf"(?:^|(?<![A-Za-z]))(?:{alts})\s*(?:[:：#]|no\.?|号)?\s*$", re.IGNORECASE)


def _standard_regex(prefixes: list[str]) -> re.Pattern[str] | None:
    if not prefixes:
        return None
    alts = "|".join(re.escape(x) for x in sorted(set(prefixes), key=len, reverse=True))
    return re.compile(rf"^(?:{alts})[\s/\-]?\d", re.IGNORECASE)


def _is_identifier(model: str, before: str, lex: dict[str, Any]) -> bool:
    """An order, tracking, invoice or standards number rather than a product model."""
    if re.search(r"\d{6,}", model):
        return True
    if model.split("-")[0].upper() in lex["id_prefixes"]:
        return True
    if lex["standard"] is not None and lex["standard"].match(model):
        return True
    return lex["id_label"] is not None and lex["id_label"].search(before) is not None


_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _model_key(name: str) -> str:
    """Catalogue comparison key: upper case, no separators, O/I/L read as 0/1/1 ("xr-2OO" = "XR200")."""
    return re.sub(r"[\s\-_/.]", "", name.upper()).translate(_CONFUSABLE)


@lru_cache(maxsize=32)
def _catalogue_keys(entries: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for model, aliases in entries:
        for name in (model, *aliases):
            if name and _model_key(name):
                keys.setdefault(_model_key(name), model)
    return keys


def snap_to_catalogue(model: str, keys: dict[str, str], cutoff: float = 90.0) -> str | None:
    """The catalogue model a shape-found model is (fuzzy, rapidfuzz), or None."""
    from rapidfuzz import fuzz, process

    key = _model_key(model)
    if key in keys:
        return keys[key]
    best = process.extractOne(key, list(keys), scorer=fuzz.ratio, score_cutoff=cutoff)
    return keys[best[0]] if best else None


_MODEL = re.compile(
    r"(?<![A-Za-z0-9\-])(?P<m>[A-Za-z]{1,6}[0-9]*(?:-[A-Za-z0-9]+)+(?:\s(?:Pro|Max|Plus|Lite|Mini|Ultra|SE))?"
    r"|[A-Z]{1,3}[0-9]{1,4}[A-Z]?(?:\s(?:Pro|Max|Plus|Lite|Mini|Ultra|SE))?)(?![A-Za-z0-9\-])"
)
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9\-])[A-Za-z0-9][A-Za-z0-9\-]{2,}(?:\s(?:Pro|Max|Plus|Lite|Mini|Ultra|SE))?(?![A-Za-z0-9\-])"
)
_ALNUM = re.compile(r"(?=.*[A-Za-z])(?=.*\d)")
_NUMQ = r"(?P<q>\d+(?:\.\d+)?|[一二两三四五六七八九十百几俩仨]+)"


def extract_samples(
    text: str, norm: str, times: list[TimeMention], catalogue: list[CatalogueEntry] | None = None
) -> list[SampleMention]:
    lex = _sample_lex()
    ctx_rx: Scanner = lex["context"]
    out: list[SampleMention] = []
    sentences = _sentences(norm)
    cat_entries = tuple((c.model, tuple(c.aliases)) for c in catalogue or [])
    cat_rx, cat_map = _catalogue_regex(cat_entries)
    cat_keys = _catalogue_keys(cat_entries) if cat_entries else {}
    for a, b in sentences:
        sent = norm[a:b]
        if not ctx_rx.search(sent) and not (cat_rx and cat_rx.search(sent) and lex["sent"].search(sent)):
            continue
        cands: list[tuple[int, int, str]] = []
        if cat_rx is not None:
            for m in cat_rx.finditer(sent):
                cands.append((a + m.start(), a + m.end(), cat_map[m.group(0).lower()]))
        for m in _MODEL.finditer(sent):
            s, e = a + m.start(), a + m.end()
            if any(s < ce and cs < e for cs, ce, _ in cands):
                continue
            model = m.group("m")
            if not any(c.isdigit() for c in model):
                continue
            if _is_identifier(model, norm[max(0, s - 16) : s], lex):
                continue
            if cat_keys:
                model = snap_to_catalogue(model, cat_keys) or model
            cands.append((s, e, model))
        if cat_keys:
            # a catalogue model written off-shape ("DS2CD3T46WD-I3"): any letters-and-digits token close to it
            for m in _TOKEN.finditer(sent):
                s, e = a + m.start(), a + m.end()
                word = m.group(0)
                if any(s < ce and cs < e for cs, ce, _ in cands) or not _ALNUM.search(word):
                    continue
                if _is_identifier(word, norm[max(0, s - 16) : s], lex):
                    continue
                snapped = snap_to_catalogue(word, cat_keys)
                if snapped:
                    cands.append((s, e, snapped))
        if not cands:
            continue
        cands.sort()
        committed_m = lex["committed"].search(sent)
        request_m = lex["request"].search(sent)
        sent_m = lex["sent"].search(sent)
        promised_word = re.search(r"答应|承诺|promised|agreed|will send|we'll send", sent, re.I)
        committed = bool(promised_word) or (bool(committed_m) and not request_m)
        due = _due_index(times, a, b)
        for s, e, model in cands:
            qty, unit = _quantity(norm, s, e, a, b, lex)
            out.append(
                SampleMention.model_construct(
                    model=model,
                    span=(s, e),
                    quantity=qty,
                    unit=unit,
                    committed=committed or bool(sent_m),
                    requested=bool(request_m) and not committed,
                    status="sent" if sent_m else "promised",
                    due=due,
                )
            )
    return out


def _due_index(times: list[TimeMention], a: int, b: int) -> int | None:
    inside = [i for i, t in enumerate(times) if a <= t.span[0] < b and t.kind == "deadline"]
    if inside:
        return inside[0]
    any_dl = [i for i, t in enumerate(times) if t.kind == "deadline"]
    return any_dl[0] if len(any_dl) == 1 else None


def _quantity(
    norm: str, s: int, e: int, a: int, b: int, lex: dict[str, Any]
) -> tuple[float | None, str | None]:
    uz = lex["units_zh"]
    ue = lex["units_en"]
    before = norm[max(a, s - 24) : s]
    after = norm[e : min(b, e + 14)]
    # "寄两台XR-200", "5箱A3型", "一套K8网关样品"
    m = re.search(rf"{_NUMQ}\s*(?P<u>[{uz}])(?:的)?\s*$", before)
    if m:
        return _num(m.group("q")), m.group("u")
    # "3 units of the LK-90 Pro", "2 x DS-2CD3T46WD-I3"
    m = re.search(
        rf"(?P<q>\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s*(?P<u>{ue})\s*(?:of\s+)?(?:the\s+)?$",
        before,
        re.I,
    )
    if m:
        u = m.group("u").lower()
        return _num(m.group("q")), None if u == "x" else u
    # "新品B7的样品2箱", "XR-200样机两台", "LK-90 x3"
    m = re.match(rf"^[^，,。;；]{{0,8}}?{_NUMQ}\s*(?P<u>[{uz}])", after)
    if m:
        return _num(m.group("q")), m.group("u")
    m = re.match(r"^\s*(?:x|×|\*)\s*(?P<q>\d+)", after, re.I)
    if m:
        return _num(m.group("q")), None
    return None, None


def _num(s: str) -> int | float | None:
    v = cn2num(s)
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


@lru_cache(maxsize=32)
def _catalogue_regex(
    entries: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[Scanner | None, dict[str, str]]:
    mapping: dict[str, str] = {}
    for model, aliases in entries:
        for name in (model, *aliases):
            if name:
                mapping.setdefault(name.lower(), model)
    return _term_regex(list(mapping)), mapping


# ------------------------------------------------------------------------------------------------ contacts


@lru_cache(maxsize=1)
def _contact_rx() -> tuple[re.Pattern[str], Scanner, dict[str, list[str]]]:
    c = lexicon()["contact"]
    surnames = "".join(sorted(set(str(c["surnames"]))))
    compound = "|".join(map(re.escape, c["compound_surnames"]))
    titles = "|".join(map(re.escape, sorted(c["titles"], key=len, reverse=True)))
    zh = re.compile(rf"(?P<s>{compound}|[{surnames}])(?P<t>{titles})")
    en_titles = sorted(c["en_titles"], key=len, reverse=True)
    en = Scanner(
        re.compile(r"(?<![A-Za-z])(?P<t>" + "|".join(re.escape(t) for t in en_titles) + r")(?![A-Za-z])")
    )
    blockers = {str(k): [str(x) for x in v] for k, v in (c.get("title_blockers") or {}).items()}
    return zh, en, blockers


_EN_NAME_BEFORE = re.compile(
    r"(?<![A-Za-z])(?P<n>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)(?:\s+|,\s*(?:the|our|their)\s+|\s*\(\s*)$"
)


def extract_contacts(
    text: str, norm: str, gazetteer: list[GazetteerEntry] | None = None
) -> list[ContactMention]:
    """ "王总", "李经理", "陈采购", "CFO", "Tom Li, the procurement lead". A capitalised word before an
    English title is taken as the person's name unless it is a customer of the gazetteer ("Qiming CFO")."""
    companies = {a.strip().lower() for g in gazetteer or [] for a in (g.name, *g.aliases)}
    zh, en, blockers = _contact_rx()
    out: list[ContactMention] = []
    for m in zh.finditer(norm):
        title = m.group("t")
        nxt = norm[m.end() : m.end() + 4]
        if any(nxt.startswith(x) for x in blockers.get(title, [])):
            continue
        prev = norm[m.start() - 1] if m.start() > 0 else ""
        # "<surname><title>" must not be the tail of a longer word ("一周工", "本周总")
        if prev and prev in "本这上下每一两三四五六七八九十几周" and m.group("s") == "周":
            continue
        if (
            title in ("总", "工", "董", "姐", "哥", "局")
            and prev
            and "\u4e00" <= prev <= "\u9fff"
            and prev in "总"
        ):
            continue
        out.append(
            ContactMention.model_construct(
                name=text[m.start() : m.end()], title=title, span=(m.start(), m.end())
            )
        )
    for m in en.finditer(norm):
        title = m.group("t")
        generic = not title.isupper() and title.lower() in (
            "owner",
            "director",
            "buyer",
            "controller",
            "founder",
        )
        before = norm[max(0, m.start() - 8) : m.start()]
        if generic and not re.search(r"(?:'s|their|our|the|his|her)\s+$", before, re.I):
            # generic words count only with a possessive or article before them
            continue
        s, e = m.start(), m.end()
        name = text[s:e]
        nb = _EN_NAME_BEFORE.search(norm[max(0, s - 30) : s])
        if (
            nb
            and nb.group("n").strip() not in ("The", "Our", "Their")
            and not (
                nb.group("n").strip().lower() in companies or nb.group("n").split()[-1].lower() in companies
            )
        ):
            name = nb.group("n").strip()
            s = s - (len(norm[max(0, s - 30) : s]) - nb.start())
        out.append(ContactMention.model_construct(name=name, title=title, span=(s, e)))
    out.sort(key=lambda c: c.span)
    return out


# ------------------------------------------------------------------------------------------------ customers


@lru_cache(maxsize=32)
def _gazetteer_regex(
    entries: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[Scanner | None, dict[str, str]]:
    mapping: dict[str, str] = {}
    for name, aliases in entries:
        for alias in (name, *aliases):
            alias = alias.strip()
            if alias:
                mapping.setdefault(alias.lower(), name)
    return _term_regex(list(mapping)), mapping


def extract_customers(text: str, norm: str, gazetteer: list[GazetteerEntry] | None) -> list[CustomerMention]:
    if not gazetteer:
        return []
    rx, mapping = _gazetteer_regex(tuple((g.name, tuple(g.aliases)) for g in gazetteer))
    if rx is None:
        return []
    out: list[CustomerMention] = []
    for src in (text, norm) if norm != text else (text,):
        for m in rx.finditer(src):
            written = text[m.start() : m.end()]
            canonical = mapping.get(m.group(0).lower()) or mapping.get(written.lower())
            if canonical is None:
                continue
            if any(c.span[0] < m.end() and m.start() < c.span[1] for c in out):
                continue
            out.append(
                CustomerMention.model_construct(
                    name=canonical, span=(m.start(), m.end()), alias=None if written == canonical else written
                )
            )
    out.sort(key=lambda c: c.span)
    return out
