"""spaCy pipelines and the loopkeeper components.

Two blank pipelines — ``zh`` with a jieba word segmenter (rjieba, the Rust port, by default) and ``en`` —
are assembled from ``nlp/pipeline.cfg`` once per process. The components are registered with
``@Language.factory``; each works on the normalised text (regular expressions over ``doc._.lk_norm``)
and stores its results on the per-call `Context`, which ``doc._.lk_ctx`` carries; ``doc._.lk_times``
and friends read them from there (getter extensions), so a component pays for one ``doc._`` lookup.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import DummyTokenizer
from spacy.vocab import Vocab

from nlp import extractors
from nlp.normalize import mask_long_numbers, normalize, without_surrogates
from nlp.timex import extract_times
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

CONFIG_PATH = Path(__file__).with_name("pipeline.cfg")

_log = logging.getLogger(__name__)


@dataclass
class Context:
    """What one call passes in (now, zone, gazetteer, catalogue, raw text) and the components' results."""

    now: datetime
    zone: tzinfo
    gazetteer: list[GazetteerEntry] | None = None
    catalogue: list[CatalogueEntry] | None = None
    text: str = ""  # the raw text (doc.text is rebuilt from tokens on every access)
    norm: str = ""
    times: list[TimeMention] = field(default_factory=list)
    meetings: list[MeetingMention] = field(default_factory=list)
    samples: list[SampleMention] = field(default_factory=list)
    pain_points: list[PainPointMention] = field(default_factory=list)
    contacts: list[ContactMention] = field(default_factory=list)
    customers: list[CustomerMention] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    prefer: str | None = None  # "future" / "past": the caller's reading of open-ended times (`nlp.extract`)


# The context lives in ``doc.user_data`` (spaCy's storage for custom data) under this key; the
# ``doc._.lk_*`` extensions read it. Components look it up directly: one dict access per component.
CTX_KEY = "loopkeeper.ctx"


def _ctx_getter(doc: Doc) -> Context | None:
    return doc.user_data.get(CTX_KEY)


def _ctx_setter(doc: Doc, ctx: Context | None) -> None:
    doc.user_data[CTX_KEY] = ctx


if not Doc.has_extension("lk_ctx"):
    Doc.set_extension("lk_ctx", getter=_ctx_getter, setter=_ctx_setter)


def _getter(attr: str) -> Any:
    def get(doc: Doc) -> Any:
        ctx = doc.user_data.get(CTX_KEY)
        return getattr(ctx, attr) if ctx is not None else None

    return get


for _name in ("norm", "times", "meetings", "samples", "pain_points", "contacts", "customers"):
    if not Doc.has_extension(f"lk_{_name}"):
        Doc.set_extension(f"lk_{_name}", getter=_getter(_name))


def _ctx(doc: Doc) -> Context:
    ctx = doc.user_data.get(CTX_KEY)
    if ctx is None:
        raise ValueError("doc._.lk_ctx is not set: run documents through nlp.extract()")
    if not ctx.text:
        ctx.text = doc.text
    if not ctx.norm:
        ctx.norm = mask_long_numbers(normalize(ctx.text))
    return ctx


# ------------------------------------------------------------------------------------------ tokenizer


def _cutter(segmenter: str) -> Any:
    if segmenter == "rjieba":
        import rjieba

        return rjieba.cut
    if segmenter == "jieba":
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        return lambda text: jieba.cut(text, cut_all=False)
    raise ValueError(f"unknown Chinese segmenter {segmenter!r} (rjieba or jieba)")


class ChineseTokenizer(DummyTokenizer):
    """spaCy tokenizer over a jieba segmenter: one token per word, a single following space folded into
    the token's ``whitespace_`` as spaCy does. The Doc's text equals the input, except that lone
    surrogates (which no segmenter accepts) read as U+FFFD."""

    def __init__(self, vocab: Vocab, segmenter: str = "rjieba") -> None:
        self.vocab = vocab
        self.segmenter = segmenter
        self._cut = _cutter(segmenter)

    def __call__(self, text: str) -> Doc:
        text = without_surrogates(text)
        pieces = self._cut(text)
        if " " not in text:
            plain = [w for w in pieces if w]
            return Doc(self.vocab, words=plain, spaces=[False] * len(plain))
        words: list[str] = []
        spaces: list[bool] = []
        for w in pieces:
            if not w:
                continue
            if w == " " and spaces and not spaces[-1]:
                spaces[-1] = True
                continue
            words.append(w)
            spaces.append(False)
        return Doc(self.vocab, words=words, spaces=spaces)


@spacy.registry.tokenizers("loopkeeper.ChineseTokenizer.v1")
def create_chinese_tokenizer(segmenter: str = "rjieba") -> Any:
    def make(nlp: Language) -> ChineseTokenizer:
        return ChineseTokenizer(nlp.vocab, segmenter)

    return make


class GuardedTokenizer(DummyTokenizer):
    """spaCy's rule-based tokenizer, except for text with a very long run without spaces.

    The rule-based tokenizer splits prefixes and suffixes off a run one at a time, which takes time
    quadratic in the run's length (6,000 full stops: seconds). Such text — never a real chat message —
    is split linearly instead: words, numbers and single other characters."""

    LONG_RUN = re.compile(r"\S{200,}")
    PIECES = re.compile(r"\w+|\s+|[^\w\s]")

    def __init__(self, vocab: Vocab, inner: Any) -> None:
        self.vocab = vocab
        self.inner = inner

    def __call__(self, text: str) -> Doc:
        if self.LONG_RUN.search(text) is None:
            return self.inner(text)
        words: list[str] = []
        spaces: list[bool] = []
        for w in self.PIECES.findall(text):
            if w == " " and spaces and not spaces[-1]:
                spaces[-1] = True
                continue
            words.append(w)
            spaces.append(False)
        return Doc(self.vocab, words=words, spaces=spaces)


@spacy.registry.tokenizers("loopkeeper.GuardedTokenizer.v1")
def create_guarded_tokenizer() -> Any:
    def make(nlp: Language) -> GuardedTokenizer:
        inner = spacy.registry.tokenizers.get("spacy.Tokenizer.v1")()(nlp)
        return GuardedTokenizer(nlp.vocab, inner)

    return make


# ------------------------------------------------------------------------------------------ components


@Language.factory("lk_normalize")
def make_normalize(nlp: Language, name: str):  # noqa: ANN201 - spaCy component
    def normalize_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        ctx.norm = mask_long_numbers(normalize(ctx.text))
        return doc

    return normalize_component


@Language.factory("lk_times")
def make_times(nlp: Language, name: str):  # noqa: ANN201
    def times_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        text = ctx.text
        ctx.times = [
            TimeMention.model_construct(  # our own values: types known, no validation needed
                text=text[h.span[0] : h.span[1]],
                span=h.span,
                kind=h.kind,  # type: ignore[arg-type]
                start=h.start,
                end=h.end,
                grain=h.grain,  # type: ignore[arg-type]
            )
            for h in extract_times(ctx.norm, ctx.now, ctx.prefer)
        ]
        return doc

    return times_component


@Language.factory("lk_meetings")
def make_meetings(nlp: Language, name: str):  # noqa: ANN201
    def meetings_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        ctx.meetings = extractors.extract_meetings(ctx.norm, ctx.times)
        return doc

    return meetings_component


@Language.factory("lk_samples")
def make_samples(nlp: Language, name: str):  # noqa: ANN201
    def samples_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        ctx.samples = extractors.extract_samples(ctx.text, ctx.norm, ctx.times, ctx.catalogue)
        return doc

    return samples_component


@Language.factory("lk_pain_points")
def make_pain_points(nlp: Language, name: str):  # noqa: ANN201
    def pain_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        ctx.pain_points = extractors.extract_pain_points(ctx.text, ctx.norm)
        return doc

    return pain_component


@Language.factory("lk_contacts")
def make_contacts(nlp: Language, name: str):  # noqa: ANN201
    def contacts_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        ctx.contacts = extractors.extract_contacts(ctx.text, ctx.norm, ctx.gazetteer)
        return doc

    return contacts_component


@Language.factory("lk_customers")
def make_customers(nlp: Language, name: str):  # noqa: ANN201
    def customers_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        ctx.customers = extractors.extract_customers(ctx.text, ctx.norm, ctx.gazetteer)
        return doc

    return customers_component


_PIPELINES: dict[str, Language] = {}
_LOCK = threading.Lock()


def _build(lang: str) -> Language:
    cfg = spacy.util.load_config(CONFIG_PATH, interpolate=False)
    tok = dict(cfg["nlp"]["languages"][lang]["tokenizer"])
    nlp = spacy.blank(lang, config={"nlp": {"tokenizer": tok}})
    for comp in cfg["nlp"]["pipeline"]:
        section = dict(cfg["components"][comp])
        factory = section.pop("factory")
        nlp.add_pipe(factory, name=comp, config=section)
    _log.debug("built %s pipeline: %s", lang, nlp.pipe_names)
    return nlp


_RUNNERS: dict[str, tuple[Any, tuple[Any, ...]]] = {}
#: a pipeline's vocabulary grows with every new word it tokenizes (order numbers, names...); past this many
#: strings the pipeline is rebuilt, so a long-running worker's memory stays bounded
MAX_VOCAB_STRINGS = 300_000
_CHECK_EVERY = 5_000
_calls = 0


def get_pipeline(lang: str) -> Language:
    """The process-wide pipeline for ``lang`` ("zh" or "en"), built on first use."""
    nlp = _PIPELINES.get(lang)
    if nlp is None:
        with _LOCK:
            nlp = _PIPELINES.get(lang)
            if nlp is None:
                nlp = _build(lang)
                _RUNNERS[lang] = (nlp.tokenizer, tuple(proc for _name, proc in nlp.pipeline))
                _PIPELINES[lang] = nlp
    return nlp


def run(lang: str, text: str, ctx: Context) -> Doc:
    """Tokenize ``text`` and run every component of the ``lang`` pipeline over it with ``ctx``.

    What ``nlp(text)`` does, minus its per-call bookkeeping (the tokenizer and components are taken
    once, when the pipeline is built)."""
    global _calls
    _calls += 1
    if _calls % _CHECK_EVERY == 0:
        _renew_if_grown()
    runner = _RUNNERS.get(lang)
    if runner is None:
        get_pipeline(lang)
        runner = _RUNNERS[lang]
    tokenizer, procs = runner
    doc = tokenizer(without_surrogates(text))
    ctx.text = text
    doc.user_data[CTX_KEY] = ctx
    for proc in procs:
        doc = proc(doc)
    return doc


def _renew_if_grown() -> None:
    """Rebuild any pipeline whose vocabulary passed `MAX_VOCAB_STRINGS` (the old one is dropped)."""
    with _LOCK:
        for lang, nlp in list(_PIPELINES.items()):
            if len(nlp.vocab.strings) > MAX_VOCAB_STRINGS:
                _log.debug("rebuilding the %s pipeline: %d strings", lang, len(nlp.vocab.strings))
                fresh = _build(lang)
                _RUNNERS[lang] = (fresh.tokenizer, tuple(proc for _name, proc in fresh.pipeline))
                _PIPELINES[lang] = fresh
