"""Accuracy and throughput of `nlp.extract`, beside the open parsers measured in the same run.

    .venv/bin/python bench/extract.py [--shared PATH] [--rounds N] [--seconds S] [--failures NAME]

Accuracy: the time dev sets in ``shared/data/time/*.jsonl`` with that folder's metrics — span F1 (exact
span), point E2E (resolved start right to the minute for single instants and days, extracting from the
full text), point oracle (the same, resolving the gold span alone), range-start E2E (start of ranges and
coarse points). Throughput: messages per second on one core for the *full* extraction (times, meetings,
pain points, samples, contacts, customers against a gazetteer) over realistic 20-80 character chat
messages (``bench/messages.txt`` plus the shared chat week), each resolved against its own send time.

When jionlp is installed (``pip install -e '.[bench]'``) its time extraction alone (``jio.ner.extract_time``
with parsing) is measured on the same messages and cases in the same process, and the ratio printed;
otherwise ours alone. Each throughput figure is the best of ``--rounds`` rounds (as timeit does), in
CPU seconds of this single-threaded process, the two sides' rounds alternating, so that other load on
the machine perturbs both alike.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp import GazetteerEntry, extract  # noqa: E402
from nlp.devset import Predictor, case_prefer, datasets, extract_predictor, score, shared_dir  # noqa: E402

HERE = Path(__file__).resolve().parent
SH = ZoneInfo("Asia/Shanghai")
GAZETTEER = [
    GazetteerEntry(name="杭州百润商贸", aliases=["百润"]),
    GazetteerEntry(name="无锡嘉丰连锁", aliases=["嘉丰"]),
    GazetteerEntry(name="宁波海晟电子", aliases=["海晟", "Haisheng"]),
    GazetteerEntry(name="苏州恒远医疗器械", aliases=["恒远"]),
    GazetteerEntry(name="上海启明科技", aliases=["启明", "Qiming"]),
]


# ------------------------------------------------------------------------------------------ messages


def messages(shared: Path | None) -> list[tuple[str, datetime]]:
    """Chat messages of 20-80 characters with a send time each."""
    out: list[tuple[str, datetime]] = []
    base = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday
    own = [
        ln.strip()
        for ln in (HERE / "messages.txt").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    for i, text in enumerate(own):
        # spread over a week, including the Sunday-night boundary
        out.append((text, base + timedelta(hours=7 * i + 0.5 * (i % 3))))
    if shared is not None:
        path = shared / "data" / "chats" / "east-china-week.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    d = json.loads(line)
                    out.append((d["text"], datetime.fromisoformat(d["sent_at"])))
    return [(t, n) for t, n in out if 20 <= len(t) <= 80]


def throughput(
    fns: list[Callable[[str, datetime], Any]], msgs: list[tuple[str, datetime]], rounds: int, seconds: float
) -> list[float]:
    """Best messages per CPU-second of each function over ``rounds`` rounds of at least ``seconds`` each.

    CPU time of this (single-threaded) process, so other processes on the machine do not count; the
    functions' rounds alternate, so what remains of a change of load hits all of them alike."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            n = 0
            t0 = time.process_time()
            while True:
                for text, now in msgs:
                    fn(text, now)
                n += len(msgs)
                dt = time.process_time() - t0
                if dt >= seconds:
                    break
            best[k] = max(best[k], n / dt)
    return best


# ------------------------------------------------------------------------------------------ jionlp


def jionlp_module() -> Any | None:
    try:
        import jionlp
    except Exception:  # noqa: BLE001 - not installed or broken: ours alone
        return None
    # jionlp logs a traceback at ERROR for every string it cannot parse: keep the table readable
    logging.disable(logging.ERROR)
    return jionlp


def _time_base(now: datetime) -> dict[str, int]:
    # a dict, so jionlp reads the wall time of the message's own zone, not the process's
    return {
        "year": now.year,
        "month": now.month,
        "day": now.day,
        "hour": now.hour,
        "minute": now.minute,
        "second": now.second,
    }


def jionlp_extract(jio: Any) -> Callable[..., list[dict[str, Any]]]:
    def run(text: str, now: datetime, ret_future: bool = False) -> list[dict[str, Any]]:
        kw = {"ret_future": True} if ret_future else {}
        try:
            return jio.ner.extract_time(text, time_base=_time_base(now), with_parsing=True, **kw)
        except TypeError:
            if not kw:
                return []
            return run(text, now)  # a jionlp without ret_future on extract_time
        except Exception:  # noqa: BLE001 - jionlp raises on some inputs; count it as "nothing found"
            return []

    return run


def jionlp_predictor(jio: Any) -> Predictor:
    run = jionlp_extract(jio)

    def predict(
        text: str, now: datetime, tz: str, prefer: str | None = None
    ) -> list[tuple[tuple[int, int], datetime]]:
        out = []
        for r in run(text, now, ret_future=prefer == "future"):
            t = (r.get("detail") or {}).get("time")
            if not (isinstance(t, list) and t and isinstance(t[0], str)):
                continue  # durations and periods: no start instant
            try:
                start = datetime.strptime(t[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=now.tzinfo)
            except ValueError:
                continue  # "inf" and other open bounds
            out.append(((int(r["offset"][0]), int(r["offset"][1])), start))
        return out

    return predict


# ------------------------------------------------------------------------------------------ accuracy


def oracle_cases(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One case per gold span with a value: the span's text alone, the span covering all of it."""
    out = []
    for c in cases:
        for k, sp in enumerate(c["spans"]):
            if not sp.get("values"):
                continue
            text = c["text"][sp["start"] : sp["end"]]
            out.append(
                {**c, "id": f"{c['id']}#{k}", "text": text, "spans": [{**sp, "start": 0, "end": len(text)}]}
            )
    return out


def accuracy_row(
    cases: list[dict[str, Any]], predict: Predictor, failures: bool = False
) -> tuple[list[str], list[str]]:
    e2e = score(cases, predict, keep_failures=failures)
    orc = score(oracle_cases(cases), predict)

    def pct(ok: int, total: int) -> str:
        return f"{100 * ok / total:.1f}" if total else "-"

    row = [
        f"{100 * e2e.span_f1:.1f}",
        pct(e2e.point_ok, e2e.point_total),
        pct(orc.point_ok, orc.point_total),
        pct(e2e.range_ok, e2e.range_total),
    ]
    return row, e2e.failures


def one_core(pin: bool) -> str:
    if pin and hasattr(os, "sched_setaffinity"):
        try:
            cpu = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpu})
            return f"pinned to CPU {cpu}"
        except OSError:
            pass
    return "one thread, CPU time"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum length of one timing round")
    ap.add_argument("--pin", action="store_true", help="pin the process to one CPU")
    ap.add_argument("--failures", default=None, help="print our failed cases of this dev set")
    args = ap.parse_args()
    shared = args.shared or shared_dir(Path(__file__))
    print(f"loopkeeper extraction benchmark ({one_core(args.pin)}, Python {sys.version.split()[0]})")
    if shared is None:
        print("shared data not found (../shared or $LOOPKEEPER_SHARED_DIR): own messages only, no accuracy")

    jio = jionlp_module()
    msgs = messages(shared)
    avg = sum(len(t) for t, _ in msgs) / len(msgs)

    def ours(text: str, now: datetime) -> Any:
        return extract(text, now, gazetteer=GAZETTEER)

    t0 = time.perf_counter()
    for text, now in msgs:  # builds both pipelines and the scanners' per-character sub-patterns
        ours(text, now)
    print(f"our pipeline load and warm-up: {time.perf_counter() - t0:.2f}s")
    if jio is not None:
        t0 = time.perf_counter()
        jio_run = jionlp_extract(jio)
        for text, now in msgs:
            jio_run(text, now)
        print(f"jionlp {getattr(jio, '__version__', '?')} load and warm-up: {time.perf_counter() - t0:.2f}s")
    else:
        print("jionlp not installed (pip install -e '.[bench]'): our figures alone")

    print()
    print(f"throughput over {len(msgs)} messages of 20-80 characters (avg {avg:.0f}), best of {args.rounds}:")
    fns = [ours] if jio is None else [ours, jionlp_extract(jio)]
    rates = throughput(fns, msgs, args.rounds, args.seconds)
    print(f"  loopkeeper full extraction (every component)   {rates[0]:8,.0f} messages/s")
    if jio is not None:
        print(f"  jionlp time extraction alone                   {rates[1]:8,.0f} messages/s")
        print(f"  ratio loopkeeper / jionlp                      {rates[0] / rates[1]:8.2f}x")

    if shared is None:
        return 0
    sets = datasets(shared)
    if not sets:
        print("no time dev sets found")
        return 0
    parsers: list[tuple[str, Predictor]] = [("loopkeeper", extract_predictor())]
    if jio is not None:
        parsers.append((f"jionlp {getattr(jio, '__version__', '')}".strip(), jionlp_predictor(jio)))
    print()
    print("accuracy on shared/data/time (%):")
    n_future = sum(case_prefer(c) == "future" for cs in sets.values() for c in cs)
    if n_future:
        print(
            f"  (suite options used as declared: {n_future} cases with ret_future are resolved with "
            'prefer="future", every other case with our own conventions)'
        )
    head = f"| {'dataset':34s} | {'parser':16s} | span F1 | point E2E | point oracle | range-start E2E |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    all_failures: list[str] = []
    for name, cases in sets.items():
        label = f"{name} ({len(cases)})"
        for pname, predict in parsers:
            row, failures = accuracy_row(
                cases, predict, failures=(name == args.failures and pname == "loopkeeper")
            )
            all_failures += failures
            print(
                f"| {label:34s} | {pname:16s} | {row[0]:>7s} | {row[1]:>9s} | {row[2]:>12s} | {row[3]:>15s} |"
            )
            label = ""
    if all_failures:
        print()
        print("\n".join(all_failures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
