"""Builders for the expense-claim tests: an approvals mapping file, DingTalk process-instance responses
(`GET /v1.0/workflow/processInstances`, platforms.md §2(d)) and WeCom approval details
(`oa/getapprovaldetail`, §3.6), written from the documented field tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DT_PROCESS = "PROC-TRAVEL-EXPENSE"
WECOM_TEMPLATE = "3TkVisitExpenseTemplate00000000000000001"

APPROVALS_YAML = f"""
link:
  tolerance: 1
  unit: working_days
dingtalk:
  - process_code: {DT_PROCESS}
    name: 差旅报销
    fields:
      customer: customerName        # a bizAlias
      date: DDDateField-visitday    # a component id
      place: TextField-place
      amount: MoneyField-amount
  - biz_category_id: dingtalk.businessFinance.reimbursement
    fields:
      customer: customerName
      date: DDDateField-visitday
wecom:
  - template_id: {WECOM_TEMPLATE}
    fields:
      customer: Text-customer
      date: Date-visitday
      place: Text-place
      amount: Money-amount
"""


@pytest.fixture
def approvals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from config.approvals import reset_approvals
    from config.settings import reset_settings
    from integrations.common.approvals import reset_fetchers

    path = tmp_path / "approvals.yaml"
    path.write_text(APPROVALS_YAML, encoding="utf-8")
    monkeypatch.setenv("LOOPKEEPER_APPROVALS_FILE", str(path))
    reset_settings()
    reset_approvals()
    reset_fetchers()
    yield path
    reset_approvals()
    reset_fetchers()


def dingtalk_instance(
    *,
    customer: str,
    day: str,
    amount: str = "356.00",
    place: str = "杭州",
    originator: str = "dt-zhou",
    approvers: tuple[str, ...] = ("dt-mgr",),
) -> dict[str, Any]:
    """A process-instance response: `result.formComponentValues[{id, name, value, extValue,
    componentType, bizAlias}]` as in the documented sample."""
    return {
        "success": True,
        "result": {
            "title": "小周提交的差旅报销",
            "originatorUserId": originator,
            "status": "RUNNING",
            "approverUserIds": list(approvers),
            "createTime": "2026-11-23T01:00Z",
            "formComponentValues": [
                {
                    "id": "TextField-K9X1",
                    "name": "拜访客户",
                    "value": customer,
                    "extValue": "",
                    "componentType": "TextField",
                    "bizAlias": "customerName",
                },
                {
                    "id": "DDDateField-visitday",
                    "name": "拜访日期",
                    "value": day,
                    "componentType": "DDDateField",
                    "bizAlias": "",
                },
                {
                    "id": "TextField-place",
                    "name": "地点",
                    "value": place,
                    "componentType": "TextField",
                },
                {
                    "id": "MoneyField-amount",
                    "name": "金额（元）",
                    "value": amount,
                    "componentType": "MoneyField",
                },
            ],
        },
    }


def wecom_detail(
    *,
    sp_no: str,
    customer: str,
    day_ts: int,
    amount: str = "128.50",
    applicant: str = "wm-zhou",
    approver: str = "wm-mgr",
) -> dict[str, Any]:
    """An `oa/getapprovaldetail` response (/document/path/91983): `info.apply_data.contents[]`."""

    def title(t: str) -> list[dict[str, str]]:
        return [{"text": t, "lang": "zh_CN"}]

    return {
        "errcode": 0,
        "errmsg": "ok",
        "info": {
            "sp_no": sp_no,
            "sp_name": "拜访报销",
            "sp_status": 1,
            "template_id": WECOM_TEMPLATE,
            "apply_time": day_ts,
            "applyer": {"userid": applicant, "partyid": "2"},
            "sp_record": [
                {
                    "sp_status": 1,
                    "approverattr": 1,
                    "details": [{"approver": {"userid": approver}, "sp_status": 1}],
                }
            ],
            "apply_data": {
                "contents": [
                    {
                        "control": "Text",
                        "id": "Text-customer",
                        "title": title("客户"),
                        "value": {"text": customer},
                    },
                    {
                        "control": "Date",
                        "id": "Date-visitday",
                        "title": title("拜访日期"),
                        "value": {"date": {"type": "day", "s_timestamp": str(day_ts)}},
                    },
                    {
                        "control": "Text",
                        "id": "Text-place",
                        "title": title("地点"),
                        "value": {"text": "宁波"},
                    },
                    {
                        "control": "Money",
                        "id": "Money-amount",
                        "title": title("金额"),
                        "value": {"new_money": amount},
                    },
                ]
            },
        },
    }
