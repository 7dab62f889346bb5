"""Cost of one rules pass (beat runs it every minute) on a synthetic team, as ratios against a baseline
measured in the same process: reading every row the scan looks at once (customers, activities, open
todos, alerts).

    .venv/bin/python bench/bench_scan.py [--customers N]

Prints the first pass (raises every alert), a quiet pass (nothing new: the steady state of beat) and
their ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SH = ZoneInfo("Asia/Shanghai")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=400)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lk-bench-scan-")
    os.environ["LOOPKEEPER_DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite"
    from sqlmodel import select

    from core.db import session_scope
    from core.migrate import upgrade
    from core.models import Activity, Alert, Customer, InboxMessage, Member, Todo
    from core.scan import scan

    upgrade()
    start = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    with session_scope() as s:
        director = Member(name="director", role="director")
        s.add(director)
        s.flush()
        managers = [Member(name=f"mgr{i}", role="manager", manager_id=director.id) for i in range(4)]
        s.add_all(managers)
        s.flush()
        reps = [Member(name=f"rep{i}", role="rep", manager_id=managers[i % 4].id) for i in range(40)]
        s.add_all(reps)
        s.flush()
        for i in range(args.customers):
            rep = reps[i % len(reps)]
            c = Customer(name=f"customer {i}", owner_id=rep.id, stage="需求确认", level="C" if i % 3 else "B")
            s.add(c)
            s.flush()
            for j in range(3):
                at = start + timedelta(hours=i % 50, minutes=j)
                row = InboxMessage(
                    platform="bench", message_id=f"{i}-{j}", sender_id="x", sent_at=at, status="done"
                )
                s.add(row)
                s.flush()
                s.add(Activity(customer_id=c.id or 0, inbox_id=row.id or 0, occurred_at=at))
            s.add(
                Todo(
                    owner_id=rep.id,
                    customer_id=c.id,
                    title=f"todo {i}",
                    due=start + timedelta(days=1, minutes=i),
                    dedup_key=f"bench:{i}",
                )
            )

    def baseline() -> float:
        t0 = time.perf_counter()
        with session_scope() as s:
            for model in (Customer, Activity, Todo, Alert, Member):
                s.exec(select(model)).all()
        return time.perf_counter() - t0

    def one_pass(now: datetime) -> tuple[float, int]:
        t0 = time.perf_counter()
        with session_scope() as s:
            created = scan(s, now).created
        return time.perf_counter() - t0, created

    now = datetime(2026, 12, 3, 9, 0, tzinfo=SH)
    base = min(baseline() for _ in range(3))
    first, created = one_pass(now)
    quiet = min(one_pass(now + timedelta(minutes=k))[0] for k in range(1, 4))
    base = min(base, *(baseline() for _ in range(3)))
    print(f"customers {args.customers}, alerts raised on the first pass {created}")
    print(f"baseline (read the rows once): {base * 1000:.1f} ms")
    print(f"first pass: {first * 1000:.1f} ms  = {first / base:.1f}x baseline")
    print(f"quiet pass: {quiet * 1000:.1f} ms  = {quiet / base:.1f}x baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
