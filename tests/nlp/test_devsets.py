"""Accuracy floors on the shared time dev sets (shared/data/time/*.jsonl).

Floors sit a little under the figures measured with bench/extract.py so that regressions fail
while small trade-offs do not. Skipped when the shared folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nlp.devset import case_prefer, datasets, extract_predictor, score, shared_dir


def _shared() -> Path | None:
    env = os.environ.get("LOOPKEEPER_SHARED_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for cand in (repo / ".." / "shared", repo.parent / "shared"):
        if (cand / "data" / "time").is_dir():
            return cand.resolve()
    return shared_dir(Path(__file__))


SHARED = _shared()

# dataset -> (span F1, point accuracy, range-start accuracy) floors
FLOORS = {
    "duckling_zh": (0.96, 0.90, 0.80),
    "duckling_zh_simplified": (0.96, 0.91, 0.88),
    "jionlp_time_parser": (0.90, 0.86, 0.75),
    "jionlp_time_extractor": (0.92, 0.0, 0.0),
}


@pytest.fixture(scope="module")
def sets() -> dict:
    if SHARED is None:
        pytest.skip(
            "shared data folder not found (../shared or $LOOPKEEPER_SHARED_DIR): dev-set floors not checked"
        )
    found = datasets(SHARED)
    if not found:
        pytest.skip(f"no time dev sets under {SHARED}")
    return found


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_devset_floor(sets: dict, name: str) -> None:
    if name not in sets:
        pytest.skip(f"{name} missing")
    sc = score(sets[name], extract_predictor())
    f1, point, rng = FLOORS[name]
    assert sc.span_f1 >= f1, sc.summary()
    assert sc.point_acc >= point, sc.summary()
    assert sc.range_acc >= rng, sc.summary()


def test_extractor_set_has_no_false_times_on_negatives(sets: dict) -> None:
    """The JioNLP extractor cases with no time in them must give no time."""
    predict = extract_predictor()
    from nlp.devset import _case_now

    bad = []
    for case in sets.get("jionlp_time_extractor", []):
        if case["spans"]:
            continue
        now, tz = _case_now(case)
        got = [p for p in predict(case["text"], now, tz, None)]
        if got:
            bad.append(case["text"])
    assert len(bad) <= 2, bad


def test_declared_suite_options_become_prefer() -> None:
    """JioNLP's ``ret_future`` is passed on as prefer="future"; no option (or another) keeps ours."""
    assert case_prefer({"options": {"ret_future": True}}) == "future"
    assert case_prefer({"options": {"ret_future": False}}) is None
    assert case_prefer({"options": {"lunar_date": False}}) is None
    assert case_prefer({}) is None
    seen = []

    def predict(text, now, tz, prefer):  # noqa: ANN001, ANN202 - a recording stand-in
        seen.append(prefer)
        return []

    case = {
        "id": "x",
        "text": "下午三点",
        "ref": "2021-09-01T15:15:32",
        "ref_source": "test_time_base",
        "spans": [],
    }
    score([{**case, "options": {"ret_future": True}}, {**case, "options": {}}], predict)
    assert seen == ["future", None]
