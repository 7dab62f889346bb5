"""The Celery app object. Task modules are listed by name so `config` stays a leaf package.

Procfile: ``celery -A config.celery worker`` / ``celery -A config.celery beat``.
Embedded default broker: kombu's SQLAlchemy transport on a SQLite file (no server). Scale-out: set
``LOOPKEEPER_BROKER_URL`` to ``redis://…`` or ``amqp://…``.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery, signals

from config.settings import startup_settings

TASK_MODULES = ["core.tasks", "bot.tasks"]
# Publishing (web: bot.handler enqueues in the background after the INSERT) tries once with a short
# connect timeout: a publish that fails leaves a committed row that the sweepers enqueue later.
PUBLISH_CONNECT_TIMEOUT = 1.0
BROKER_SOCKET_TIMEOUT = 5.0


def make_celery() -> Celery:
    settings = startup_settings()
    from config.rules import get_rules

    get_rules()  # validated at start-up: a mistake in rules.yaml stops worker and beat, line named
    from config.approvals import get_approvals

    get_approvals()  # and the approvals mapping (LOOPKEEPER_APPROVALS_FILE), when set
    broker = settings.broker_url
    if broker.startswith("sqla+sqlite:///"):
        Path(broker.removeprefix("sqla+sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("loopkeeper", broker=broker, include=TASK_MODULES)
    transport_options: dict[str, object] = {}
    if broker.startswith(("redis://", "rediss://", "sqs://")):
        # short, so a task of a killed worker comes back quickly; no task runs longer than this and no
        # ETA/countdown longer than a few minutes is ever used (timers are database rows scanned by beat)
        transport_options["visibility_timeout"] = settings.visibility_timeout
    if broker.startswith(("redis://", "rediss://")):
        # a broker that accepts TCP and never answers fails a publish in seconds, not minutes
        transport_options["socket_connect_timeout"] = PUBLISH_CONNECT_TIMEOUT
        transport_options["socket_timeout"] = BROKER_SOCKET_TIMEOUT
    app.conf.update(
        broker_transport_options=transport_options,
        task_default_queue=settings.celery_queue,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=PUBLISH_CONNECT_TIMEOUT,
        task_publish_retry=False,
        worker_hijack_root_logger=False,
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
        beat_schedule={
            "sweep-inbox": {"task": "core.tasks.sweep_inbox", "schedule": 15.0},
            "rules-scan": {"task": "core.tasks.scan_rules", "schedule": 60.0},
            "deliver-outbox": {"task": "bot.tasks.deliver_pending", "schedule": 10.0},
            "purge-seen": {"task": "core.tasks.purge_seen", "schedule": 3600.0},
            "sweep-claims": {"task": "bot.tasks.sweep_claims", "schedule": 300.0},
        },
    )
    return app


app = make_celery()


@signals.setup_logging.connect
def _logging(**_: object) -> None:
    """Worker and beat log through config/logging.py (LOOPKEEPER_LOG_LEVEL / LOOPKEEPER_LOG_FORMAT);
    connecting this signal stops Celery from installing its own handlers."""
    from config.logging import setup_logging

    settings = startup_settings()
    setup_logging(settings.log_level, settings.log_format)
