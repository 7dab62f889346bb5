"""Throughput and dev-set accuracy of `nlp.extract`.

    .venv/bin/python bench/bench_extract.py [--shared PATH] [--repeat N] [--failures NAME]

Times extraction over the sample chat week (shared/data/chats/east-china-week.jsonl) and the time
dev sets (shared/data/time/*.jsonl), single process, and prints messages/s plus span F1, point accuracy
and range-start accuracy per dev set, comparable with the table in shared/data/time/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp import extract  # noqa: E402
from nlp.devset import datasets, extract_predictor, score, shared_dir  # noqa: E402


def _chat_messages(shared: Path) -> list[tuple[str, datetime]]:
    path = shared / "data" / "chats" / "east-china-week.jsonl"
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                out.append((d["text"], datetime.fromisoformat(d["sent_at"])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--failures", default=None, help="print failed cases of this dev set")
    args = ap.parse_args()
    shared = args.shared or shared_dir(Path(__file__))
    if shared is None:
        print("shared data not found (set LOOPKEEPER_SHARED_DIR)")
        return 1

    chats = _chat_messages(shared)
    sets = datasets(shared)
    now0 = datetime.fromisoformat("2026-11-23T09:00:00+08:00")

    # warm up: builds both pipelines and jieba's dictionary once
    t0 = time.perf_counter()
    extract("明天上午十点半电话沟通", now0)
    extract("call tomorrow 10am", now0)
    print(f"pipeline load: {time.perf_counter() - t0:.2f}s")

    if chats:
        n = 0
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            for text, now in chats:
                extract(text, now)
                n += 1
        dt = time.perf_counter() - t0
        avg = sum(len(t) for t, _ in chats) / len(chats)
        print(f"chat messages: {n} in {dt:.2f}s = {n / dt:,.0f} messages/s (avg {avg:.0f} chars)")

    all_cases = [c for name, cs in sets.items() if name != "duckling_zh_simplified" for c in cs]
    if all_cases:
        n = 0
        t0 = time.perf_counter()
        for _ in range(max(1, args.repeat // 4)):
            for c in all_cases:
                extract(c["text"], now0)
                n += 1
        dt = time.perf_counter() - t0
        print(f"dev-set cases: {n} in {dt:.2f}s = {n / dt:,.0f} cases/s")

    predict = extract_predictor()
    print()
    print(f"{'dataset':28s} {'cases':>5s} {'span F1':>8s} {'point':>7s} {'range-start':>12s}")
    for name, cases in sets.items():
        sc = score(cases, predict, keep_failures=name == args.failures)
        pt = f"{100 * sc.point_acc:.1f}" if sc.point_total else "-"
        rs = f"{100 * sc.range_acc:.1f}" if sc.range_total else "-"
        print(f"{name:28s} {sc.cases:5d} {100 * sc.span_f1:8.1f} {pt:>7s} {rs:>12s}")
        if sc.failures:
            print("\n".join(sc.failures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
