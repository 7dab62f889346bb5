"""A small hand-built team for the command and RBAC tests (written from the documented roster format).

Two regions: 浙沪 (manager 王经理, reps 小周 and 小陈) and 江苏 (manager 赵经理, rep 小李); director 林总监.
小周 owns 甲乙 (two opportunities) and 丙丁, 小陈 owns 戊己, 小李 owns 庚辛 in 江苏. Ids are fixed by the
insertion order: T1 (小周, overdue), T2 (小周, due later), T3 (小陈, overdue), T4 (小李, overdue);
A1 to 小周 (on T1), A2 to 小李 (on T4); capture C1 by 小周 on 甲乙 (one pain point, one activity).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SH)  # a Wednesday

MEMBERS = """name,role,region,manager,wecom_userid,dingtalk_staff_id,slack_user_id,email
林总监,director,华东,,wm-dir,dt-dir,UDIR,lin@example.com
王经理,manager,华东-浙沪,林总监,wm-wang,dt-wang,UWANG,wang@example.com
赵经理,manager,华东-江苏,林总监,wm-zhao,dt-zhao,UZHAO,zhao@example.com
小周,rep,华东-浙沪,王经理,wm-zhou,dt-zhou,UZHOU,zhou@example.com
小陈,rep,华东-浙沪,王经理,wm-chen,dt-chen,UCHEN,chen@example.com
小李,rep,华东-江苏,赵经理,wm-li,dt-li,ULI,li@example.com
"""

CUSTOMERS = """name,aliases,region,owner,stage,level,stage_since
杭州甲乙贸易,甲乙,华东-浙沪,小周,方案报价,B,2026-11-16T10:00:00+08:00
宁波丙丁电子,丙丁,华东-浙沪,小周,需求确认,A,2026-11-24T10:00:00+08:00
苏州戊己医疗,戊己,华东-浙沪,小陈,商务谈判,C,2026-11-10T10:00:00+08:00
南京庚辛超市,庚辛,华东-江苏,小李,需求确认,A,2026-11-02T10:00:00+08:00
"""

# the platform user id of each member, per platform (the roster columns above)
IDS = {
    "wecom": {
        "林总监": "wm-dir",
        "王经理": "wm-wang",
        "赵经理": "wm-zhao",
        "小周": "wm-zhou",
        "小陈": "wm-chen",
    },
    "dingtalk": {
        "林总监": "dt-dir",
        "王经理": "dt-wang",
        "赵经理": "dt-zhao",
        "小周": "dt-zhou",
        "小陈": "dt-chen",
    },
    "slack": {"林总监": "UDIR", "王经理": "UWANG", "赵经理": "UZHAO", "小周": "UZHOU", "小陈": "UCHEN"},
}
for _p, _ids in (("wecom", "wm-li"), ("dingtalk", "dt-li"), ("slack", "ULI")):
    IDS[_p]["小李"] = _ids


def build(tmp_path: Path) -> None:
    from core.db import session_scope
    from core.models import (
        Activity,
        Alert,
        Capture,
        Customer,
        InboxMessage,
        Member,
        Opportunity,
        PainPoint,
        PainPointMention,
        Todo,
    )
    from core.roster import import_customers, import_members

    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    with session_scope() as s:
        import_members(s, tmp_path / "members.csv")
    with session_scope() as s:
        import_customers(s, tmp_path / "customers.csv")
    with session_scope() as s:
        m = {x.name: x.id for x in s.exec(select(Member)).all()}
        c = {x.name: x.id for x in s.exec(select(Customer)).all()}
        jy, cd, wj, gx = c["杭州甲乙贸易"], c["宁波丙丁电子"], c["苏州戊己医疗"], c["南京庚辛超市"]
        s.add(Opportunity(customer_id=jy, name="一期", stage="方案报价", amount=120_000, owner_id=m["小周"]))
        s.add(Opportunity(customer_id=jy, name="二期", stage="方案报价", amount=30_000, owner_id=m["小周"]))
        s.add(Opportunity(customer_id=wj, name="整包", stage="商务谈判", amount=500_000, owner_id=m["小陈"]))
        for title, owner, cust, due in (
            ("寄出样品 · 杭州甲乙贸易", "小周", jy, NOW - timedelta(days=1)),
            ("记录拜访结果 · 宁波丙丁电子", "小周", cd, NOW + timedelta(days=2)),
            ("记录电话结果 · 苏州戊己医疗", "小陈", wj, NOW - timedelta(hours=3)),
            ("记录会议结果 · 南京庚辛超市", "小李", gx, NOW - timedelta(days=2)),
        ):
            s.add(Todo(owner_id=m[owner], customer_id=cust, title=title, due=due, dedup_key=f"t:{title}"))
        s.flush()
        for i, (who, cust, todo) in enumerate((("小周", jy, 1), ("小李", gx, 4)), start=1):
            s.add(
                Alert(
                    rule="todo.overdue",
                    subject_type="todo",
                    subject_id=todo,
                    customer_id=cust,
                    recipient_id=m[who],
                    level="warning",
                    dedup_key=f"todo.overdue:{todo}",
                    title=f"待办已逾期 T{todo}",
                    due_at=NOW - timedelta(hours=i),
                )
            )
        inbox = InboxMessage(
            platform="wecom",
            message_id="w-1",
            sender_id="wm-zhou",
            sender_member_id=m["小周"],
            text="甲乙说账期太短",
            sent_at=NOW - timedelta(days=1),
            intent="capture",
            status="done",
        )
        s.add(inbox)
        s.flush()
        cap = Capture(
            inbox_id=inbox.id or 0, member_id=m["小周"], customer_id=jy, created_at=NOW - timedelta(days=1)
        )
        s.add(cap)
        s.flush()
        pp = PainPoint(
            customer_id=jy,
            phrase="账期太短",
            phrase_key="账期太短",
            category="payment",
            first_seen=inbox.sent_at,
            last_seen=inbox.sent_at,
        )
        s.add(pp)
        s.flush()
        s.add(
            PainPointMention(
                pain_point_id=pp.id or 0,
                inbox_id=inbox.id or 0,
                span_start=3,
                span_end=7,
                text="账期太短",
                capture_id=cap.id,
            )
        )
        s.add(
            Activity(
                customer_id=jy,
                inbox_id=inbox.id or 0,
                captured_by_id=m["小周"],
                occurred_at=inbox.sent_at,
                summary="甲乙说账期太短",
                capture_id=cap.id,
            )
        )
