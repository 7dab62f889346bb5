"""Slack acknowledgement latency: how long `POST /slack/events` takes to answer, against a baseline.

    .venv/bin/python bench/bench_slack_ack.py [--n 300]

In one process, on a fresh SQLite file: the baseline is `GET /healthz` (one `SELECT 1`); then signed
requests through the whole bolt stack: a message in a channel bound to a customer (signature check + the
inbox INSERT before the ack), a slash command (ack first, answer afterwards) and a duplicate delivery.
Prints p50/p99 in ms and the ratio to the baseline's p50. Slack's budget is 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lk-bench-slack-"))
    for k in [k for k in os.environ if k.startswith("LOOPKEEPER_")]:
        del os.environ[k]
    os.environ.update(
        LOOPKEEPER_DATABASE_URL=f"sqlite:///{tmp / 'lk.sqlite'}",
        LOOPKEEPER_BROKER_URL=f"sqla+sqlite:///{tmp / 'broker.sqlite'}",
        LOOPKEEPER_SLACK__BOT_TOKEN="xoxb-1111-2222-abcdefghijklmnop",
        LOOPKEEPER_SLACK__SIGNING_SECRET=SECRET,
        LOOPKEEPER_LOG_LEVEL="WARNING",
    )
    from fastapi.testclient import TestClient
    from slack_sdk.signature import SignatureVerifier
    from sqlmodel import select

    from bot.app import create_app
    from bot.handler import BotHandler
    from core.db import session_scope
    from core.migrate import upgrade
    from core.models import Conversation, Customer
    from tests.fakeserver import FakeServer

    fake = FakeServer().__enter__()  # answers what runs after the ack (the slash command's response_url)
    fake.route("POST", "/respond", body="")
    fake.route("POST", "/api/chat.postMessage", body={"ok": True})
    os.environ["LOOPKEEPER_SLACK__API_URL"] = fake.url + "/api/"
    upgrade()
    with session_scope() as s:
        c = Customer(name="杭州甲乙贸易")
        s.add(c)
        s.flush()
        s.add(Conversation(platform="slack", conversation_id="C0CUST", customer_id=c.id, auto_record=True))
    signer = SignatureVerifier(SECRET)

    def signed(body: str, ctype: str) -> dict[str, str]:
        ts = str(int(time.time()))
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signer.generate_signature(timestamp=ts, body=body),
            "Content-Type": ctype,
        }

    def event(i: int) -> str:
        ts = f"1764122400.{i:06d}"
        ev = {"type": "message", "channel": "C0CUST", "user": "UCUST", "text": f"库存周转太慢 {i}", "ts": ts}
        return json.dumps({"type": "event_callback", "event_id": f"Ev{i}", "event": ev, "team_id": "T0"})

    results: dict[str, list[float]] = {"healthz (baseline)": [], "bound message": [], "duplicate": []}
    results["slash command"] = []
    with TestClient(create_app(BotHandler(enqueue=None))) as client:
        for _ in range(20):  # warm up
            client.get("/healthz")
        for i in range(args.n):
            t = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            results["healthz (baseline)"].append(time.perf_counter() - t)
            body = event(i)
            t = time.perf_counter()
            assert (
                client.post(
                    "/slack/events", content=body, headers=signed(body, "application/json")
                ).status_code
                == 200
            )
            results["bound message"].append(time.perf_counter() - t)
            t = time.perf_counter()
            assert (
                client.post(
                    "/slack/events", content=body, headers=signed(body, "application/json")
                ).status_code
                == 200
            )
            results["duplicate"].append(time.perf_counter() - t)
            form = urlencode(
                {
                    "command": "/lk",
                    "text": "help",
                    "user_id": "UX",
                    "channel_id": "C1",
                    "trigger_id": f"t{i}",
                    "response_url": fake.url + "/respond",
                }
            )
            t = time.perf_counter()
            resp = client.post(
                "/slack/events", content=form, headers=signed(form, "application/x-www-form-urlencoded")
            )
            assert resp.status_code == 200
            results["slash command"].append(time.perf_counter() - t)
        client.portal.call(client.app.state.slack.drain)  # type: ignore[attr-defined]
    with session_scope() as s:
        from core.models import InboxMessage

        stored = len(s.exec(select(InboxMessage)).all())
    fake.__exit__()
    base = statistics.median(results["healthz (baseline)"])
    print(f"n={args.n}  inbox rows stored: {stored} (expected {args.n})")
    print(f"{'request':22} {'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15}")
    for name, xs in results.items():
        p50 = statistics.median(xs)
        print(f"{name:22} {p50 * 1000:8.2f} {_pct(xs, 99) * 1000:8.2f} {p50 / base:15.2f}")
    return 0 if stored == args.n else 1


if __name__ == "__main__":
    raise SystemExit(main())
