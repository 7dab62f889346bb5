"""Builders for tests: roster, customers and normalized messages written from the documented formats."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.messages import ChatMessage, ConversationRef, Sender

SH = ZoneInfo("Asia/Shanghai")

MEMBERS_CSV = """name,role,region,manager,wecom_userid,dingtalk_staff_id,slack_user_id
林总监,director,华东,,wm-dir,dt-dir,UDIR
王经理,manager,华东-浙沪,林总监,wm-mgr,dt-mgr,UMGR
小周,rep,华东-浙沪,王经理,wm-zhou,dt-zhou,UZHOU
小陈,rep,华东-浙沪,王经理,wm-chen,dt-chen,UCHEN
"""

CUSTOMERS_CSV = """name,aliases,region,owner,stage,level
杭州甲乙贸易,甲乙|JiaYi,华东-浙沪,小周,需求确认,A
宁波丙丁电子,丙丁,华东-浙沪,小周,方案报价,B
苏州戊己医疗,戊己,华东-浙沪,小陈,商务谈判,C
"""


def seed(tmp_path: Path) -> None:
    from core.db import session_scope
    from core.roster import import_customers, import_members

    (tmp_path / "members.csv").write_text(MEMBERS_CSV, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    with session_scope() as s:
        import_members(s, tmp_path / "members.csv")
    with session_scope() as s:
        import_customers(s, tmp_path / "customers.csv")


def msg(
    mid: str,
    text: str,
    at: datetime,
    *,
    conv: str = "conv-1",
    title: str | None = None,
    sender: str = "wm-zhou",
    platform: str = "wecom",
    capture: bool = False,
    quoted: str | None = None,
    customer: str | None = None,
) -> ChatMessage:
    return ChatMessage(
        platform=platform,
        message_id=mid,
        conversation=ConversationRef(id=conv, title=title),
        sender=Sender(platform_user_id=sender),
        text=text,
        sent_at=at,
        intent="capture" if capture else "chat",
        quoted_text=quoted,
        customer_hint=customer,
    )


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)
