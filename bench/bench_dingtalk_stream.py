"""Stream-mode acknowledgement cost: robot and event frames through `DingTalkStreamClient.route_message`
(the SDK's parsing and ack code, our handlers, the msgId/eventId dedup INSERT on SQLite) against a
baseline in the same process (json.loads + json.dumps of the same frames, the least any client does).

    .venv/bin/python bench/bench_dingtalk_stream.py [--frames N]

Prints frames/s, mean and p99 time to ack, and the ratio to the baseline. The reliability budget
(reliability.md L5) is an ack within 500 ms of the frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class _WS:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, data: str) -> None:
        self.sent += 1


class _Handler:
    def on_message(self, msg: Any) -> None:
        return None

    def on_command(self, inv: Any) -> Any:
        raise NotImplementedError

    def on_action(self, action: Any) -> None:
        return None

    def on_approval(self, event: Any) -> None:
        return None


def _frames(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 5 == 4:
            data = {
                "processInstanceId": f"P{i}",
                "type": "finish",
                "result": "agree",
                "processCode": "PROC-1",
            }
            headers = {
                "topic": "*",
                "messageId": f"m{i}",
                "eventType": "bpms_instance_change",
                "eventId": f"e{i}",
            }
            out.append({"specVersion": "1.0", "type": "EVENT", "headers": headers, "data": json.dumps(data)})
        else:
            body = {
                "msgId": f"msg{i}",
                "conversationId": "cidG",
                "conversationType": "2",
                "senderStaffId": "dt-1",
                "createAt": 1764810000000,
                "msgtype": "text",
                "text": {"content": "他们说账期太短"},
            }
            headers = {"topic": "/v1.0/im/bot/messages/get", "messageId": f"m{i}"}
            out.append(
                {"specVersion": "1.0", "type": "CALLBACK", "headers": headers, "data": json.dumps(body)}
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=500)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ["LOOPKEEPER_DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite"
    from core.migrate import upgrade
    from integrations.dingtalk.adapter import DingTalkAdapter
    from integrations.dingtalk.client import DingTalkClient
    from integrations.dingtalk.links import ActionLinks
    from integrations.dingtalk.stream import StreamClient

    upgrade()
    adapter = DingTalkAdapter(
        _Handler(),
        DingTalkClient(client_id="k", client_secret="s", api_url="http://127.0.0.1:9"),
        ActionLinks("s", None),
    )
    client = StreamClient(adapter, client_id="k", client_secret="s", start_jitter=0)
    frames = _frames(args.frames)

    async def run() -> list[float]:
        ws = _WS()
        client.websocket = ws
        times = []
        for f in frames:
            t0 = time.perf_counter()
            await client.route_message(f)
            times.append(time.perf_counter() - t0)
        assert ws.sent == len(frames)
        return times

    times = asyncio.run(run())
    t0 = time.perf_counter()
    for f in frames:
        json.dumps(json.loads(f["data"]))
    base = (time.perf_counter() - t0) / len(frames)
    mean = statistics.mean(times)
    p99 = sorted(times)[int(len(times) * 0.99) - 1]
    print(f"frames: {len(frames)} ({len(frames) // 5} approval events)")
    print(f"ack: {1 / mean:.0f} frames/s, mean {mean * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms (budget 500 ms)")
    print(f"ratio to the json baseline: {mean / base:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
