"""Structured logging (structlog) for every process.

`setup_logging` configures structlog *and* the standard library's root logger, so records of every library
(and of our modules using ``logging.getLogger``) come out in the chosen format: ``console`` (one plain
line) or ``json`` (one JSON object per line: ``timestamp``, ``level``, ``logger``, ``event``, extras,
``exception``).
Web, the DingTalk/Slack processes, the CLI and Celery worker/beat (through Celery's ``setup_logging`` signal,
see config/celery.py) all call it.

Personal data (message text, phone numbers) is only ever logged at DEBUG.
"""

from __future__ import annotations

import logging
import sys

import structlog

_HANDLER_NAME = "loopkeeper"
NOISY = ("httpx", "httpcore", "slack_sdk.web.base_client", "jieba", "urllib3")


def setup_logging(level: str = "INFO", fmt: str = "console") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    formatter: logging.Formatter
    if fmt == "json":
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    else:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:  # installed once per process; a later call changes its format and level
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(formatter)
    root.setLevel(lvl)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
