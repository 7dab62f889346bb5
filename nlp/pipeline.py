"""spaCy pipelines and the loopkeeper components.

Two blank pipelines — ``zh`` with jieba as the segmenter and ``en`` — are assembled from
``nlp/pipeline.cfg`` once per process. The components are registered with ``@Language.factory``; each
works on the normalised text (regular expressions over ``doc._.lk_norm``) and stores its results on
``doc._``. Per-call context (now, zone, gazetteer, catalogue) travels in ``doc._.lk_ctx``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from nlp import extractors
from nlp.normalize import normalize
from nlp.timex import extract_times
from nlp.types import CatalogueEntry, GazetteerEntry, TimeMention

CONFIG_PATH = Path(__file__).with_name("pipeline.cfg")

_log = logging.getLogger(__name__)


@dataclass
class Context:
    now: datetime
    zone: tzinfo
    gazetteer: list[GazetteerEntry] | None = None
    catalogue: list[CatalogueEntry] | None = None
    text: str = ""  # the raw text (doc.text is rebuilt from tokens on every access)
    extra: dict[str, Any] = field(default_factory=dict)


_EXTENSIONS = {
    "lk_ctx": None,
    "lk_norm": None,
    "lk_times": None,
    "lk_meetings": None,
    "lk_samples": None,
    "lk_pain_points": None,
    "lk_contacts": None,
    "lk_customers": None,
}
for _name, _default in _EXTENSIONS.items():
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=_default)


def _ctx(doc: Doc) -> Context:
    ctx = doc._.lk_ctx
    if ctx is None:
        raise ValueError("doc._.lk_ctx is not set: run documents through nlp.extract()")
    return ctx


def _norm(doc: Doc) -> str:
    norm = doc._.lk_norm
    if norm is None:
        norm = doc._.lk_norm = normalize(_text(doc))
    return norm


def _text(doc: Doc) -> str:
    ctx = doc._.lk_ctx
    return ctx.text if ctx is not None and ctx.text else doc.text


@Language.factory("lk_normalize")
def make_normalize(nlp: Language, name: str):  # noqa: ANN201 - spaCy component
    def normalize_component(doc: Doc) -> Doc:
        doc._.lk_norm = normalize(_text(doc))
        return doc

    return normalize_component


@Language.factory("lk_times")
def make_times(nlp: Language, name: str):  # noqa: ANN201
    def times_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        text = _text(doc)
        out: list[TimeMention] = []
        for h in extract_times(_norm(doc), ctx.now):
            out.append(
                TimeMention(
                    text=text[h.span[0] : h.span[1]],
                    span=h.span,
                    kind=h.kind,  # type: ignore[arg-type]
                    start=h.start,
                    end=h.end,
                    grain=h.grain,  # type: ignore[arg-type]
                )
            )
        doc._.lk_times = out
        return doc

    return times_component


@Language.factory("lk_meetings")
def make_meetings(nlp: Language, name: str):  # noqa: ANN201
    def meetings_component(doc: Doc) -> Doc:
        doc._.lk_meetings = extractors.extract_meetings(_norm(doc), doc._.lk_times or [])
        return doc

    return meetings_component


@Language.factory("lk_samples")
def make_samples(nlp: Language, name: str):  # noqa: ANN201
    def samples_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        doc._.lk_samples = extractors.extract_samples(
            _text(doc), _norm(doc), doc._.lk_times or [], ctx.catalogue
        )
        return doc

    return samples_component


@Language.factory("lk_pain_points")
def make_pain_points(nlp: Language, name: str):  # noqa: ANN201
    def pain_component(doc: Doc) -> Doc:
        doc._.lk_pain_points = extractors.extract_pain_points(_text(doc), _norm(doc))
        return doc

    return pain_component


@Language.factory("lk_contacts")
def make_contacts(nlp: Language, name: str):  # noqa: ANN201
    def contacts_component(doc: Doc) -> Doc:
        doc._.lk_contacts = extractors.extract_contacts(_text(doc), _norm(doc))
        return doc

    return contacts_component


@Language.factory("lk_customers")
def make_customers(nlp: Language, name: str):  # noqa: ANN201
    def customers_component(doc: Doc) -> Doc:
        ctx = _ctx(doc)
        doc._.lk_customers = extractors.extract_customers(_text(doc), _norm(doc), ctx.gazetteer)
        return doc

    return customers_component


_PIPELINES: dict[str, Language] = {}
_LOCK = threading.Lock()


def _build(lang: str) -> Language:
    cfg = spacy.util.load_config(CONFIG_PATH, interpolate=False)
    tok = dict(cfg["nlp"]["languages"][lang]["tokenizer"])
    if lang == "zh":
        import jieba

        jieba.setLogLevel(logging.WARNING)
        nlp = spacy.blank("zh", config={"nlp": {"tokenizer": tok}})
        jieba.initialize()
    else:
        nlp = spacy.blank(lang)
    for comp in cfg["nlp"]["pipeline"]:
        section = dict(cfg["components"][comp])
        factory = section.pop("factory")
        nlp.add_pipe(factory, name=comp, config=section)
    _log.debug("built %s pipeline: %s", lang, nlp.pipe_names)
    return nlp


def get_pipeline(lang: str) -> Language:
    """The process-wide pipeline for ``lang`` ("zh" or "en"), built on first use."""
    nlp = _PIPELINES.get(lang)
    if nlp is None:
        with _LOCK:
            nlp = _PIPELINES.get(lang)
            if nlp is None:
                nlp = _build(lang)
                _PIPELINES[lang] = nlp
    return nlp


def run(lang: str, text: str, ctx: Context) -> Doc:
    nlp = get_pipeline(lang)
    doc = nlp.make_doc(text)
    ctx.text = text
    doc._.lk_ctx = ctx
    for _name, proc in nlp.pipeline:
        doc = proc(doc)
    return doc
