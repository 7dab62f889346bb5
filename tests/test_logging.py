"""LOOPKEEPER_LOG_FORMAT=json makes every process log one JSON object per line, standard-library loggers
included, and Celery worker/beat use the same setup (finding 8). Each case runs in a fresh interpreter so
the test's own logging is untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging
from config.logging import setup_logging
setup_logging("INFO", "json")
logging.getLogger("core.pipeline").info("inbox %s failed", 12, extra={"platform": "wecom"})
logging.getLogger("core.pipeline").debug("not shown")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("bot.app").exception("boom")
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LOOPKEEPER_")}


def test_json_format_renders_stdlib_records() -> None:
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=_env(), capture_output=True, text=True, timeout=60
    )
    lines = [json.loads(x) for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 2, res.stderr
    first, second = lines
    assert (first["event"], first["level"], first["logger"], first["platform"]) == (
        "inbox 12 failed",
        "info",
        "core.pipeline",
        "wecom",
    )
    assert first["timestamp"].endswith("Z")
    assert second["level"] == "error" and "ZeroDivisionError" in second["exception"]


def test_celery_worker_uses_our_logging_setup(tmp_path: Path) -> None:
    script = (
        "import logging, celery.signals\n"
        "import config.celery\n"
        "celery.signals.setup_logging.send(\n"
        "    sender=None, loglevel='INFO', logfile=None, format='', colorize=False)\n"
        "logging.getLogger('celery.worker').warning('ready')\n"
    )
    env = _env() | {"LOOPKEEPER_LOG_FORMAT": "json", "LOOPKEEPER_VAR_DIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    [line] = [json.loads(x) for x in res.stderr.splitlines() if x.strip()]
    assert (line["event"], line["logger"], line["level"]) == ("ready", "celery.worker", "warning")
