"""DingTalk OA approval form (platforms.md §2(d)): `GET {api}/v1.0/workflow/processInstances?
processInstanceId=…` with the `x-acs-dingtalk-access-token` header; `result.formComponentValues[]` are
`{id, name, value, extValue, componentType, bizAlias}`. Uses the adapter's token-caching `DingTalkClient`."""

from __future__ import annotations

from typing import Any

import httpx

from core.notices import DeliveryError
from integrations.common.approvals import FormFetchError
from integrations.dingtalk.client import DingTalkClient

INSTANCE_PATH = "/v1.0/workflow/processInstances"


class DingTalkFormFetcher:
    def __init__(self, client: DingTalkClient) -> None:
        self.client = client

    def fetch_form(self, instance_id: str) -> dict[str, Any]:
        for attempt in (1, 2):
            try:
                headers = {"x-acs-dingtalk-access-token": self.client.access_token()}
                resp = self.client.http.get(
                    self.client.api(INSTANCE_PATH),
                    params={"processInstanceId": instance_id},
                    headers=headers,
                )
            except (httpx.HTTPError, DeliveryError) as exc:
                raise FormFetchError(f"processInstances: {type(exc).__name__}") from exc
            try:
                data = resp.json()
            except ValueError:
                data = {}
            code = str((data or {}).get("code") or "")
            if (resp.status_code == 401 or code.lower().startswith("invalidauthentication")) and attempt == 1:
                self.client.reset_token()
                continue
            if resp.status_code != 200 or not isinstance(data.get("result"), dict):
                raise FormFetchError(
                    f"processInstances: HTTP {resp.status_code} {code}",
                    permanent=400 <= resp.status_code < 500 and resp.status_code != 429,
                )
            return form_from_instance(data["result"])
        raise FormFetchError("processInstances: not authorised")  # pragma: no cover


def form_from_instance(result: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for i, c in enumerate(result.get("formComponentValues") or []):
        if not isinstance(c, dict):
            continue
        fields[str(c.get("id") or f"#{i}")] = {
            "title": c.get("name"),
            "control": c.get("componentType"),
            "value": c.get("value"),
            "ext": c.get("extValue"),
            "biz_alias": c.get("bizAlias"),
        }
    approvers = [str(u) for u in result.get("approverUserIds") or []]
    for t in result.get("tasks") or []:
        if isinstance(t, dict) and t.get("userId") and str(t["userId"]) not in approvers:
            approvers.append(str(t["userId"]))
    applicant = result.get("originatorUserId")
    return {"fields": fields, "approvers": approvers, "applicant": str(applicant) if applicant else None}
