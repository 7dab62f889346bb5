"""One rules pass (`loopkeeper scan`, Celery beat every minute): due timers become Alerts.

Timers are database state; every alert has a dedup key (rule, subject, period), so repeated scans and
two scanners running at once create no duplicates. Order of a pass: reopen ended snoozes, run each SLA
rule of config/rules.yaml (resolving what no longer holds, raising what fell due), move escalation
chains on (a manager/director step also goes to the team channel), then the managers' morning digests
and the team channels' daily summaries (core/channels.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from config.rules import Rules, get_rules
from core import alerts as al
from core.alerts import ScanResult
from core.channels import team_summaries
from core.digest import morning_digests
from core.sla import CONDITIONS
from core.timeutil import ensure_aware

__all__ = ["ScanResult", "scan"]


def scan(session: Session, now: datetime, rules: Rules | None = None) -> ScanResult:
    ensure_aware(now, "now")
    rules = rules or get_rules()
    result = ScanResult()
    al.reopen_snoozed(session, result, rules, now)
    for rule in rules.sla:
        if rule.enabled:
            CONDITIONS[rule.condition](session, result, rules, rule, now)
            session.flush()
    al.escalate_due(session, result, rules, now)
    morning_digests(session, result, rules, now)
    team_summaries(session, result, rules, now)
    return result
