"""`make run` on the embedded defaults: the health check answers, and Ctrl-C (SIGINT to the foreground
process group, as a terminal sends it) leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session_members(sid: int) -> list[str]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat (session id), not a zombie
            out.append(text.split(" ", 2)[1])
    return out


def test_make_run_serves_healthz_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKEEPER_")}
    env.update(
        LOOPKEEPER_PORT=str(port),
        LOOPKEEPER_VAR_DIR=str(tmp_path),
        LOOPKEEPER_DATABASE_URL=f"sqlite:///{tmp_path / 'lk.sqlite'}",
        LOOPKEEPER_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
    )
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        ["make", "run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = resp.read()
                    break
            except OSError:
                time.sleep(0.5)
        assert b'"ok"' in body, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
        time.sleep(3)  # let worker, beat and dingtalk finish starting
        output = (tmp_path / "run.log").read_text(errors="replace")
        assert f"http://127.0.0.1:{port}" in output  # where it listens
        assert "DingTalk stream idle" in output
        # the worker really consumes the embedded broker: an enqueued ingest is applied by it
        week = tmp_path / "two.jsonl"
        rows = [
            {
                "platform": "wecom",
                "message_id": f"m{i}",
                "conversation_id": "c1",
                "sender_id": "u1",
                "sender_name": "A",
                "sent_at": f"2026-11-23T09:0{i}:00+08:00",
                "text": "明天下午三点拜访",
            }
            for i in range(2)
        ]
        week.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
        ingest = subprocess.run(
            [str(REPO / ".venv/bin/loopkeeper"), "ingest", str(week), "--enqueue", "--wait"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert "all applied by the workers" in ingest.stdout, ingest.stdout + ingest.stderr
        assert proc.poll() is None, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 20
        while _session_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _session_members(proc.pid) == []
    finally:
        if proc.poll() is None or _session_members(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
