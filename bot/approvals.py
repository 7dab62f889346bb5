"""Expense claims, bot side: the form-fetcher wiring (one per configured platform) and the claim job a
Celery task runs (`bot.tasks.link_expense_claim`): fetch the form (outside any transaction), read the
mapped fields, hand them to core, link or ask. Safe to run twice: fields are overwritten with the same
values, links are idempotent, notices have keys."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import select

from config.approvals import get_approvals
from core import expenses
from core.db import session_scope
from core.models import ApprovalEventLog, ExpenseClaim
from core.people import context_for_id
from core.timeutil import utcnow
from integrations.common.approvals import extract_fields, fetcher_for, register_fetcher

log = logging.getLogger(__name__)
_configured = False


def configure_fetchers() -> None:
    """Register the form fetchers of the configured platforms (once per process)."""
    global _configured
    if _configured:
        return
    _configured = True
    from config.settings import get_settings

    settings = get_settings()
    dt = settings.dingtalk
    if dt.enabled and fetcher_for("dingtalk") is None:
        from integrations.dingtalk.approval_form import DingTalkFormFetcher
        from integrations.dingtalk.client import DingTalkClient

        assert dt.client_id is not None and dt.client_secret is not None
        client = DingTalkClient(
            client_id=dt.client_id, client_secret=dt.client_secret.get_secret_value(), api_url=dt.api_url
        )
        register_fetcher("dingtalk", DingTalkFormFetcher(client))
    if fetcher_for("wecom") is None:
        from integrations.wecom.approval_form import WeComFormFetcher
        from integrations.wecom.service import client_from_settings

        wecom = client_from_settings(settings)
        if wecom is not None:
            register_fetcher("wecom", WeComFormFetcher(wecom))


def _category(claim_id: int) -> str | None:
    with session_scope() as s:
        for row in s.exec(select(ApprovalEventLog).where(ApprovalEventLog.claim_id == claim_id)).all():
            cat = (row.raw or {}).get("category")
            if cat:
                return str(cat)
    return None


def link_claim_job(claim_id: int) -> str:
    """Fetch the form of a claim when it is not read yet, then link or ask. Returns the outcome; raises
    `FormFetchError` when the form could not be fetched (the task retries transient ones)."""
    configure_fetchers()
    with session_scope() as s:
        claim = s.get(ExpenseClaim, claim_id)
        if claim is None:
            return "missing"
        platform, instance, template = claim.platform, claim.instance_id, claim.template_code
        have_form = claim.form_fetched_at is not None
        stored: dict[str, Any] | None = (claim.form or {}).get("fields") if claim.form else None
        tz = context_for_id(s, claim.applicant_id).tz
    fetched: dict[str, Any] | None = None
    if not have_form:
        mapping = get_approvals().template_for(platform, template, _category(claim_id))
        if mapping is None:
            return "unmapped"
        fetcher = fetcher_for(platform)
        if fetcher is not None:
            # read once per claim even when the event carried the form (WeCom's adapter reads it): the
            # detail also names the approvers to tell when the visit link is missing
            fetched = fetcher.fetch_form(instance)  # network: outside the transaction
        elif stored:
            fetched = {"fields": stored, "approvers": [], "applicant": None}
        else:
            log.warning("no approval form fetcher for %s; claim %s waits", platform, claim_id)
            return "no_fetcher"
        values = extract_fields(fetched.get("fields") or {}, mapping, tz)
        if values.missing:
            log.warning(
                "approval form lacks mapped fields",
                extra={"platform": platform, "template": template, "missing": values.missing},
            )
    now = utcnow()
    with session_scope() as s:
        claim = s.get(ExpenseClaim, claim_id)
        if claim is None:
            return "missing"
        if fetched is not None and claim.form_fetched_at is None:
            expenses.set_claim_fields(
                s,
                claim,
                customer_name=values.customer,
                claimed_date=values.date,
                place=values.place,
                amount=values.amount,
                form=fetched.get("fields") or {},
                approvers=fetched.get("approvers") or [],
                applicant_user_id=fetched.get("applicant"),
                now=now,
            )
        return expenses.link_claim(s, claim, now)


def reset() -> None:
    """Forget the registered fetchers (tests change the settings)."""
    global _configured
    from integrations.common.approvals import reset_fetchers

    reset_fetchers()
    _configured = False
