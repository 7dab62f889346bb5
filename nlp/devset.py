"""Scoring of a time extractor on the shared development sets (``shared/data/time/*.jsonl``).

Metrics follow ``shared/data/time/README.md``: span F1 = exact span match; *point* = the resolved start is
right to the minute for gold that is a single instant or day; *range-start* = the same for ranges and
coarse points (start only). Extraction always runs on the full text (end to end).

A case's declared suite options are used as the suite specifies them: JioNLP's ``ret_future`` (resolve an
open-ended time to its next occurrence) is passed to the predictor as ``prefer="future"``
(`case_prefer`); every other case gets ``prefer=None``, our own conventions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nlp.normalize import normalize

# (span, start) pairs produced by an extractor for one text, given (text, now, tz, prefer)
Predictor = Callable[[str, datetime, str, str | None], list[tuple[tuple[int, int], datetime]]]

_DUCKLING_TZ = "-02:00"
_JIONLP_TZ = "Asia/Shanghai"
_FALLBACK_REF = "2021-06-14T01:06:40"


def shared_dir(start: Path | None = None) -> Path | None:
    """Locate the shared data folder: $LOOPKEEPER_SHARED_DIR, else ``../shared`` next to the repository."""
    env = os.environ.get("LOOPKEEPER_SHARED_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        for cand in (parent / "shared", parent.parent / "shared"):
            if (cand / "data" / "time").is_dir():
                return cand
    return None


def load_cases(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def is_simplified(text: str) -> bool:
    """True when the text has no traditional characters or Cantonese words (those `nlp.normalize` rewrites,
    plus the traditional characters outside GB2312 that `nlp.timex.fold` maps)."""
    from nlp.timex import fold

    return normalize(text) == text and fold(text) == text


@dataclass
class Score:
    cases: int = 0
    gold_spans: int = 0
    pred_spans: int = 0
    span_tp: int = 0
    point_total: int = 0
    point_ok: int = 0
    range_total: int = 0
    range_ok: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def span_f1(self) -> float:
        p = self.span_tp / self.pred_spans if self.pred_spans else 0.0
        r = self.span_tp / self.gold_spans if self.gold_spans else 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def point_acc(self) -> float:
        return self.point_ok / self.point_total if self.point_total else 0.0

    @property
    def range_acc(self) -> float:
        return self.range_ok / self.range_total if self.range_total else 0.0

    def summary(self) -> str:
        return (
            f"cases={self.cases} spanF1={100 * self.span_f1:.1f} point={100 * self.point_acc:.1f} "
            f"({self.point_ok}/{self.point_total}) range-start={100 * self.range_acc:.1f} "
            f"({self.range_ok}/{self.range_total})"
        )


def _parse_gold(s: str | None) -> datetime | None:
    if not s:
        return None
    s = s.replace("-00T", "-01T")
    if s[5:7] == "00":
        s = s[:5] + "01" + s[7:]
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def _case_now(case: dict[str, Any]) -> tuple[datetime, str]:
    from nlp.tzutil import zone_for

    tzname = _DUCKLING_TZ if "duckling" in case.get("ref_source", "") else _JIONLP_TZ
    ref = case.get("ref") or _FALLBACK_REF
    tz = zone_for(tzname)
    return datetime.fromisoformat(ref).replace(tzinfo=tz), tzname


def case_prefer(case: dict[str, Any]) -> str | None:
    """The reading a case's options ask for: "future" for JioNLP's ``ret_future``, else None."""
    return "future" if (case.get("options") or {}).get("ret_future") is True else None


def score(cases: Iterable[dict[str, Any]], predict: Predictor, keep_failures: bool = False) -> Score:
    sc = Score()
    for case in cases:
        sc.cases += 1
        now, tzname = _case_now(case)
        preds = predict(case["text"], now, tzname, case_prefer(case))
        pred_spans = {p[0] for p in preds}
        sc.pred_spans += len(pred_spans)
        for sp in case["spans"]:
            sc.gold_spans += 1
            gspan = (sp["start"], sp["end"])
            if gspan in pred_spans:
                sc.span_tp += 1
            if not sp.get("values"):
                continue
            norm = sp["values"][0].get("norm") or {}
            gstart = _parse_gold(norm.get("start"))
            if gstart is None or case.get("ref") is None:
                continue
            gend = _parse_gold(norm.get("end"))
            kind = norm.get("kind")
            is_point = kind == "point" and (
                (gend is None and norm.get("grain") in ("day", "hour", "minute", "second"))
                or (gend is not None and gend - gstart < timedelta(days=1))
            )
            is_range = not is_point and kind in ("point", "range", "time_range")
            if not (is_point or is_range):
                continue
            best = None
            best_ov = 0
            for (a, b), st in preds:
                ov = min(b, gspan[1]) - max(a, gspan[0])
                if ov > best_ov:
                    best, best_ov = st, ov
            ok = best is not None and best.replace(tzinfo=None, second=0, microsecond=0) == gstart
            if is_point:
                sc.point_total += 1
                sc.point_ok += ok
            else:
                sc.range_total += 1
                sc.range_ok += ok
            if not ok and keep_failures:
                got = best.strftime("%Y-%m-%dT%H:%M") if best else None
                sc.failures.append(
                    f"{case['id']}\t{case['text']}\tgold={gstart:%Y-%m-%dT%H:%M}({kind})\tgot={got}\tref={case.get('ref')}"
                )
    return sc


def extract_predictor() -> Predictor:
    """A predictor backed by the full `nlp.extract` pipeline."""
    from nlp import extract

    def predict(
        text: str, now: datetime, tz: str, prefer: str | None = None
    ) -> list[tuple[tuple[int, int], datetime]]:
        ex = extract(text, now, tz=tz, prefer=prefer)
        return [(t.span, t.start.astimezone(now.tzinfo)) for t in ex.times]

    return predict


def datasets(shared: Path) -> dict[str, list[dict[str, Any]]]:
    """The named dev sets: duckling (all / simplified only), jionlp parser and extractor."""
    base = shared / "data" / "time"
    out: dict[str, list[dict[str, Any]]] = {}
    if (base / "duckling_zh_time.jsonl").exists():
        duck = load_cases(base / "duckling_zh_time.jsonl")
        out["duckling_zh"] = duck
        out["duckling_zh_simplified"] = [c for c in duck if is_simplified(c["text"])]
    for name in ("jionlp_time_parser", "jionlp_time_extractor"):
        p = base / f"{name}.jsonl"
        if p.exists():
            out[name] = load_cases(p)
    return out
