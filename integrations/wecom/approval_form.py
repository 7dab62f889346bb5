"""WeCom approval detail (platforms.md §3.6): `POST {api}/cgi-bin/oa/getapprovaldetail?access_token=…`
with `{"sp_no"}`, read through the adapter's token-caching `WeComClient` and `form_from_detail`."""

from __future__ import annotations

from typing import Any

import httpx

from integrations.common.approvals import FormFetchError
from integrations.wecom.client import WeComApiError, WeComClient
from integrations.wecom.normalize import form_from_detail


class WeComFormFetcher:
    def __init__(self, client: WeComClient) -> None:
        self.client = client

    def fetch_form(self, instance_id: str) -> dict[str, Any]:
        try:
            detail = self.client.approval_detail(instance_id)
        except WeComApiError as exc:
            # 301055-ish "no such approval" and permission errors will not get better; -1/5xx may
            raise FormFetchError(str(exc), permanent=exc.errcode > 0) from exc
        except httpx.HTTPError as exc:
            raise FormFetchError(f"getapprovaldetail: {type(exc).__name__}") from exc
        return result_from_detail(detail)


def approvers_of(info: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for rec in info.get("sp_record") or []:
        for d in (rec or {}).get("details") or []:
            uid = ((d or {}).get("approver") or {}).get("userid")
            if uid and uid not in out:
                out.append(str(uid))
    return out


def result_from_detail(detail: dict[str, Any]) -> dict[str, Any]:
    info = detail.get("info") or {}
    applicant = (info.get("applyer") or {}).get("userid")
    return {
        "fields": form_from_detail(detail),
        "approvers": approvers_of(info),
        "applicant": str(applicant) if applicant else None,
    }
