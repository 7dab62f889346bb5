"""The Procfile `dingtalk` process for real: it opens a connection through the (fake) gateway API, answers
frames on a real websocket, and stops cleanly (exit 0) on SIGTERM; unconfigured, it idles and stops too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from tests.dingtalk.conftest import APP_KEY, APP_SECRET, fixture
from tests.fakeserver import FakeServer

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(db: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKEEPER_")}
    env.update(LOOPKEEPER_DATABASE_URL=db, LOOPKEEPER_LOG_LEVEL="INFO", **extra)
    return env


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    code = "from bot.dingtalk_process import run; run()"
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def test_stream_process_acks_frames_and_stops_on_sigterm(db: str, tmp_path: Path) -> None:
    ping = fixture("stream", "developerpedia_frame_system_ping.json")
    acks: list[dict[str, Any]] = []
    got = threading.Event()

    def handler(conn: ServerConnection) -> None:
        conn.send(json.dumps(ping))
        acks.append(json.loads(conn.recv(timeout=10)))
        got.set()
        try:
            for _ in conn:  # keep the connection until the client closes it
                pass
        except Exception:
            pass

    with serve(handler, "127.0.0.1", 0) as ws_server, FakeServer() as api:
        port = ws_server.socket.getsockname()[1]
        threading.Thread(target=ws_server.serve_forever, daemon=True).start()
        api.route(
            "POST",
            "/v1.0/gateway/connections/open",
            body={"endpoint": f"ws://127.0.0.1:{port}/connect", "ticket": "t+1/="},
        )
        env = _env(
            db,
            LOOPKEEPER_DINGTALK__CLIENT_ID=APP_KEY,
            LOOPKEEPER_DINGTALK__CLIENT_SECRET=APP_SECRET,
            LOOPKEEPER_DINGTALK__API_URL=api.url,
            LOOPKEEPER_DINGTALK__STREAM_START_JITTER="0",
        )
        log = tmp_path / "dingtalk.log"
        proc = _spawn(env, log)
        try:
            assert got.wait(30), log.read_text()
            assert acks[0]["code"] == 200 and json.loads(acks[0]["data"]) == {"opaque": "123-dsfs"}
            [opened] = api.calls_to("/v1.0/gateway/connections/open")
            assert opened.json["clientId"] == APP_KEY
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert APP_SECRET not in log.read_text()


def test_unconfigured_process_idles_and_stops(db: str, tmp_path: Path) -> None:
    log = tmp_path / "idle.log"
    proc = _spawn(_env(db), log)
    try:
        deadline = time.monotonic() + 30
        while "idle" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "not configured" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
