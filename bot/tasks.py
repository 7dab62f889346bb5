"""Celery tasks that deliver (outbox). Safe to run twice: a notice is claimed before it is sent."""

from __future__ import annotations

from bot import delivery
from config.celery import app

# beat runs deliver_pending every 10 s; one run keeps sending for up to this long while notices come due
# (a destination's next rate-limit slot), so a busy destination is served at its full rate
DELIVER_BUDGET_SECONDS = 8.0


@app.task(name="bot.tasks.deliver_pending")
def deliver_pending() -> int:
    return delivery.deliver_pending(budget_seconds=DELIVER_BUDGET_SECONDS)


@app.task(name="bot.tasks.deliver_notice")
def deliver_notice(notice_id: int) -> str:
    return delivery.deliver(notice_id)


@app.task(name="bot.tasks.link_expense_claim", bind=True, max_retries=8, acks_late=True)
def link_expense_claim(self, claim_id: int) -> str:  # type: ignore[no-untyped-def]
    """Fetch a claim's form and link it to a visit (or ask); safe to run twice."""
    from bot.approvals import link_claim_job
    from integrations.common.approvals import FormFetchError

    try:
        return link_claim_job(claim_id)
    except FormFetchError as exc:
        if exc.permanent:
            return "fetch_failed"
        raise self.retry(countdown=min(600, 30 * 2**self.request.retries)) from exc


@app.task(name="bot.tasks.sweep_claims")
def sweep_claims() -> int:
    """Re-enqueue claims whose form was never read (broker lost the task, fetcher was down)."""
    from datetime import timedelta

    from sqlmodel import col, select

    from core.db import session_scope
    from core.models import ExpenseClaim
    from core.timeutil import utcnow

    now = utcnow()
    with session_scope() as s:
        ids = s.exec(
            select(ExpenseClaim.id).where(
                col(ExpenseClaim.form_fetched_at).is_(None),
                ExpenseClaim.updated_at < now - timedelta(minutes=2),
                ExpenseClaim.created_at > now - timedelta(days=2),
            )
        ).all()
    for cid in ids:
        if cid is not None:
            link_expense_claim.delay(cid)
    return len(ids)
