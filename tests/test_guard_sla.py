"""The SLA rules of DESIGN §5 driven with frozen time across weekends, statutory holidays and their make-up
working days. Expected times are hand-checked against the State Council's 2026 arrangement (the
`holidays` package's China calendar):
- 国庆 2026: 10-01..10-07 off, Saturday 10-10 (and Sunday 09-20) are working days;
- 春节 2026: 02-15..02-23 off, Saturday 02-14 and Saturday 02-28 are working days.
Quiet hours 22:00–08:00 Asia/Shanghai (config/rules.yaml defaults).
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from core.actions import ActionError, ack_alert, snooze_alert
from core.db import session_scope
from core.leads import create_lead, touch_lead
from core.models import Lead, Notice, Todo
from tests.guard_helpers import (
    add_activity,
    add_meeting,
    add_todo,
    alerts,
    customer,
    member,
    notices_of,
    run_scan,
    setup,
    t,
)


@pytest.fixture
def team(db: str, tmp_path: Path) -> None:
    setup(tmp_path)


def test_todo_past_due_escalates_across_national_day_and_its_make_up_saturday(team: None) -> None:
    todo_id = add_todo("小周", t(2026, 9, 30, 18, 0))
    assert run_scan(t(2026, 9, 30, 18, 0)) == (0, 0)  # due, not yet past due
    assert run_scan(t(2026, 9, 30, 18, 1))[0] == 1
    [a] = alerts("todo.overdue")
    assert (a.subject_type, a.subject_id, a.state) == ("todo", todo_id, "open")
    assert notices_of(a.id or 0) == [("小周", 0, t(2026, 9, 30, 18, 1), None)]
    # 1 working day later: the holiday week is skipped, Thu 10-08 18:01
    run_scan(t(2026, 10, 3, 12, 0))
    run_scan(t(2026, 10, 8, 18, 0))
    assert len(notices_of(a.id or 0)) == 1
    run_scan(t(2026, 10, 8, 18, 1))
    assert notices_of(a.id or 0)[1] == ("王经理", 1, t(2026, 10, 8, 18, 1), None)
    # 3 working days: 10-08, 10-09, Saturday 10-10 (make-up working day) 18:01
    run_scan(t(2026, 10, 10, 18, 0))
    assert len(notices_of(a.id or 0)) == 2
    run_scan(t(2026, 10, 10, 18, 1))
    assert notices_of(a.id or 0)[2] == ("林总监", 2, t(2026, 10, 10, 18, 1), None)
    # the chain is at its end: nothing more, ever
    run_scan(t(2026, 10, 20, 10, 0))
    assert len(notices_of(a.id or 0)) == 3
    assert len(alerts()) == 1


def test_stage_unchanged_across_spring_festival_then_new_activity_resolves(team: None) -> None:
    with session_scope() as s:
        c = customer(s, "杭州甲乙贸易")
        c.stage_since = t(2026, 2, 12, 10, 0)  # Thursday before the festival
        s.add(c)
        for other in ("宁波丙丁电子", "苏州戊己医疗"):  # no clock: no activity, no stage_since
            assert customer(s, other).stage_since is None
    # 3 working days: Fri 02-13, Sat 02-14 (make-up), Tue 02-24 (after 02-15..02-23)
    assert run_scan(t(2026, 2, 24, 9, 59))[0] == 0
    assert run_scan(t(2026, 2, 24, 10, 0))[0] == 1
    [a] = alerts("stage.stale")
    assert notices_of(a.id or 0) == [
        ("小周", 0, t(2026, 2, 24, 10, 0), None),
        ("王经理", 0, t(2026, 2, 24, 10, 0), None),  # manager copied
    ]
    with session_scope() as s:
        [todo] = s.exec(select(Todo).where(Todo.origin_rule == "stage.stale")).all()
        assert todo.owner_id == member(s, "小周").id
        assert todo.title.startswith("说明停滞原因并更新下一步")
        assert todo.due == t(2026, 2, 25, 18, 0)  # 1 working day, end of that day
    # new activity on the customer resolves it ...
    add_activity("杭州甲乙贸易", t(2026, 2, 24, 11, 0))
    assert run_scan(t(2026, 2, 24, 11, 1)) == (0, 1)
    assert alerts("stage.stale")[0].state == "resolved"
    # ... and the clock restarts from then: 02-25, 02-26, 02-27 11:01
    run_scan(t(2026, 2, 27, 11, 0))
    assert len(alerts("stage.stale")) == 1
    run_scan(t(2026, 2, 27, 11, 1))
    assert [x.state for x in alerts("stage.stale")] == ["resolved", "open"]
    # meanwhile the "explain the delay" todo (due 02-25 18:00) fell overdue on its own
    assert [a.subject_type for a in alerts("todo.overdue")] == ["todo"]


def test_lead_first_touch_reminds_lowers_priority_tells_manager(team: None) -> None:
    with session_scope() as s:
        lead = create_lead(
            s, source="web", company="苏州新客户", contact="李经理", now=t(2026, 11, 27, 17, 50)
        )
        lead_id = lead.id
        assert lead.owner_id == member(s, "小周").id  # the least-loaded rep (ties: first in the roster)
        known = create_lead(s, source="expo", company="戊己", now=t(2026, 11, 27, 17, 51))
        assert known.owner_id == member(s, "小陈").id  # a known customer's owner
    assert run_scan(t(2026, 11, 27, 18, 4))[0] == 0
    assert run_scan(t(2026, 11, 27, 18, 5))[0] == 1
    [a] = alerts("lead.first_touch")
    assert a.subject_id == lead_id
    assert notices_of(a.id or 0) == [
        ("小周", 0, t(2026, 11, 27, 18, 5), None),
        ("王经理", 0, t(2026, 11, 27, 18, 5), None),
    ]
    with session_scope() as s:
        assert s.get(Lead, lead_id).priority == "low"  # type: ignore[union-attr]
    assert run_scan(t(2026, 11, 27, 18, 6)) == (1, 0)  # the second lead, 17:51 + 15 minutes
    assert [n for n, *_ in notices_of(alerts("lead.first_touch")[1].id or 0)] == ["小陈", "王经理"]
    with session_scope() as s:
        touch_lead(s, member(s, "小周"), f"L{lead_id}", t(2026, 11, 27, 18, 10))
    assert run_scan(t(2026, 11, 27, 18, 11)) == (0, 1)
    assert [a.state for a in alerts("lead.first_touch")] == ["resolved", "open"]


def test_quiet_hours_hold_pushes_until_the_next_morning(team: None) -> None:
    with session_scope() as s:
        create_lead(s, source="web", company="夜间线索", now=t(2026, 11, 27, 21, 55))
    run_scan(t(2026, 11, 27, 22, 10))
    [a] = alerts("lead.first_touch")
    # raised at 22:10, delivered at 08:00 the next morning (a Saturday: quiet hours are per clock)
    assert [(n, held) for n, _, _, held in notices_of(a.id or 0)] == [
        ("小周", t(2026, 11, 28, 8, 0)),
        ("王经理", t(2026, 11, 28, 8, 0)),
    ]


def test_level_c_for_14_days_is_a_risk_notice_to_the_owner(team: None) -> None:
    with session_scope() as s:
        c = customer(s, "苏州戊己医疗")
        c.level_since = t(2026, 11, 16, 10, 0)
        s.add(c)
    assert run_scan(t(2026, 11, 30, 9, 59))[0] == 0
    run_scan(t(2026, 11, 30, 10, 0))
    [a] = alerts("level.c_stale")
    assert notices_of(a.id or 0) == [("小陈", 0, t(2026, 11, 30, 10, 0), None)]
    assert "风险" in a.title


def test_meeting_reminder_one_hour_before_and_outcome_todo(team: None) -> None:
    from core import followups
    from core.models import Meeting

    mid = add_meeting("杭州甲乙贸易", t(2026, 10, 8, 10, 0))
    with session_scope() as s:
        m = s.get(Meeting, mid)
        assert m is not None
        followups.for_meeting(s, m, customer(s, "杭州甲乙贸易"), None)
    assert run_scan(t(2026, 10, 8, 8, 59))[0] == 0
    run_scan(t(2026, 10, 8, 9, 0))
    [a] = alerts("meeting.reminder")
    assert notices_of(a.id or 0) == [("小周", 0, t(2026, 10, 8, 9, 0), None)]
    # the outcome todo is due when the meeting ends (1 hour by default); past it, the owner is told
    run_scan(t(2026, 10, 8, 11, 1))
    [o] = alerts("todo.overdue")
    assert notices_of(o.id or 0) == [("小周", 0, t(2026, 10, 8, 11, 1), None)]


def test_promised_sample_send_todo_over_a_weekend(team: None) -> None:
    from core import followups
    from core.calendar import WorkCalendar
    from core.models import SampleCommitment
    from tests.guard_helpers import inbox_row

    promised = t(2026, 11, 27, 10, 0)  # Friday
    with session_scope() as s:
        due = followups.sample_due(promised, None, WorkCalendar())
        assert due == t(2026, 12, 1, 10, 0)  # 2 working days: Mon, Tue
        c = customer(s, "杭州甲乙贸易")
        sample = SampleCommitment(
            customer_id=c.id or 0,
            model="XR-200",
            quantity=2,
            unit="台",
            due=due,
            inbox_id=inbox_row(s, promised),
        )
        s.add(sample)
        s.flush()
        followups.for_sample_promised(s, sample, c, None)
    assert run_scan(t(2026, 12, 1, 10, 0))[0] == 0
    run_scan(t(2026, 12, 1, 10, 1))
    [a] = alerts("todo.overdue")
    assert "寄出样品 2台 XR-200" in a.title
    assert notices_of(a.id or 0)[0][0] == "小周"


def test_acknowledge_stops_the_chain(team: None) -> None:
    add_todo("小周", t(2026, 11, 27, 18, 0))  # Friday
    run_scan(t(2026, 11, 27, 18, 1))
    [a] = alerts("todo.overdue")
    with session_scope() as s:
        ack_alert(s, member(s, "小周"), f"A{a.id}", t(2026, 11, 28, 10, 0))
    run_scan(t(2026, 11, 30, 18, 1))  # Monday: the manager step would be due now
    run_scan(t(2026, 12, 3, 18, 1))
    assert [n for n, *_ in notices_of(a.id or 0)] == ["小周"]
    assert alerts("todo.overdue")[0].state == "acked"
    assert len(alerts()) == 1  # the same todo and due date never raise a second alert


def test_snooze_needs_a_reason_and_holds_the_chain_for_working_days(team: None) -> None:
    todo_id = add_todo("小周", t(2026, 11, 27, 18, 0))  # Friday
    run_scan(t(2026, 11, 27, 18, 1))
    [a] = alerts("todo.overdue")
    with session_scope() as s:
        with pytest.raises(ActionError):
            snooze_alert(s, member(s, "小周"), f"A{a.id}", 2, "  ", t(2026, 11, 27, 18, 30))
        snoozed = snooze_alert(s, member(s, "小周"), f"A{a.id}", 2, "客户出差", t(2026, 11, 27, 18, 30))
        # 2 working days from Friday evening: Mon 11-30, Tue 12-01 -> until Tue 09:00
        assert snoozed.snoozed_until == t(2026, 12, 1, 9, 0)
    run_scan(t(2026, 11, 30, 18, 1))  # the manager step was due: the snooze holds it
    assert [n for n, *_ in notices_of(a.id or 0)] == ["小周"]
    run_scan(t(2026, 12, 1, 9, 0))  # the snooze ends: reopened, the owner reminded
    assert alerts("todo.overdue")[0].state == "open"
    assert [n for n, *_ in notices_of(a.id or 0)] == ["小周", "小周"]
    run_scan(t(2026, 12, 2, 8, 59))
    assert len(notices_of(a.id or 0)) == 2
    run_scan(t(2026, 12, 2, 9, 0))  # one working day after the snooze: the chain resumes
    assert notices_of(a.id or 0)[2][:2] == ("王经理", 1)
    # doing the todo resolves the alert
    with session_scope() as s:
        todo = s.get(Todo, todo_id)
        assert todo is not None
        todo.status = "done"
        s.add(todo)
    assert run_scan(t(2026, 12, 2, 10, 0)) == (0, 1)


def test_moving_a_todo_due_date_opens_a_new_period(team: None) -> None:
    todo_id = add_todo("小周", t(2026, 11, 27, 18, 0))
    run_scan(t(2026, 11, 27, 18, 1))
    with session_scope() as s:
        todo = s.get(Todo, todo_id)
        assert todo is not None
        todo.due = t(2026, 11, 30, 18, 0)
        s.add(todo)
    assert run_scan(t(2026, 11, 28, 10, 0)) == (0, 1)
    assert run_scan(t(2026, 11, 30, 18, 1)) == (1, 0)
    assert [a.state for a in alerts("todo.overdue")] == ["resolved", "open"]


def _counts() -> tuple[int, int, int]:
    with session_scope() as s:
        from core.models import Alert

        return (
            len(s.exec(select(Alert)).all()),
            len(s.exec(select(Notice)).all()),
            len(s.exec(select(Todo)).all()),
        )


def test_repeated_and_concurrent_scans_create_nothing_twice(team: None) -> None:
    add_todo("小周", t(2026, 11, 23, 18, 0))
    add_todo("小陈", t(2026, 11, 24, 18, 0), customer_name="苏州戊己医疗")
    add_activity("宁波丙丁电子", t(2026, 11, 20, 10, 0))
    with session_scope() as s:
        create_lead(s, source="web", company="并发线索", now=t(2026, 11, 26, 9, 0))
    now = t(2026, 11, 26, 10, 0)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    from core.scan import scan

    def worker() -> None:
        try:
            barrier.wait()
            with session_scope() as s:  # each its own connection and transaction, like two beats
                scan(s, now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    first = _counts()
    # 2 overdue todos, 1 lead, 1 stage.stale (丙丁: activity 11-20 + 3 working days = 11-25)
    assert first[0] == 4
    assert run_scan(now) == (0, 0)
    assert _counts() == first


def test_two_scanner_processes_on_one_sqlite_file_create_nothing_twice(team: None, db: str) -> None:
    """Two `loopkeeper scan` processes at once, like two beat processes by mistake."""
    import os
    import subprocess
    import sys

    add_todo("小周", t(2026, 11, 23, 18, 0))
    add_todo("小陈", t(2026, 11, 24, 18, 0), customer_name="苏州戊己医疗")
    add_activity("宁波丙丁电子", t(2026, 11, 20, 10, 0))
    env = {**os.environ, "LOOPKEEPER_DATABASE_URL": db}
    cmd = [sys.executable, "-m", "bot.cli", "scan", "--now", "2026-11-26T10:00:00+08:00"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    raised = [int(o.decode().split(": ")[1].split(" ")[0]) for o, _ in outs]
    assert sum(raised) == 3  # between them each alert was raised once
    assert _counts()[0] == 3


def test_quiet_hours_follow_the_recipients_team_time_zone(team: None) -> None:
    from config.rules import get_rules
    from core.models import Member
    from core.scan import scan

    rules = get_rules().model_copy(
        update={
            "teams": [
                *get_rules().teams,
                get_rules()
                .teams[0]
                .model_copy(
                    update={
                        "name": "NYC",
                        "timezone": "America/New_York",
                        "calendar": "US",
                        "regions": ["US-East"],
                    }
                ),
            ]
        }
    )
    with session_scope() as s:
        zhou = s.exec(select(Member).where(Member.name == "小周")).one()
        zhou.region = "US-East"  # 小周 now works from New York; his manager stays in Shanghai
        s.add(zhou)
        create_lead(s, source="web", company="纽约线索", now=t(2026, 11, 25, 11, 0), owner=zhou)
    now = t(2026, 11, 25, 11, 15)  # 22:15 in New York (EST), 11:15 in Shanghai
    with session_scope() as s:
        scan(s, now, rules)
    [a] = alerts("lead.first_touch")
    assert [(n, held) for n, _, _, held in notices_of(a.id or 0)] == [
        ("小周", t(2026, 11, 25, 21, 0)),  # held until 08:00 in New York = 21:00 Shanghai
        ("王经理", None),  # Shanghai daytime: sent at once
    ]


@pytest.fixture
def pg_team(pg_db: str, tmp_path: Path) -> None:
    setup(tmp_path)


def test_concurrent_scans_on_postgresql_create_nothing_twice(pg_team: None) -> None:
    """PostgreSQL has no BEGIN IMMEDIATE: the two scans really overlap, and the UNIQUE dedup keys with
    ON CONFLICT DO NOTHING (plus the conditional UPDATE of an escalation step) keep them apart."""
    from core.scan import scan

    add_todo("小周", t(2026, 11, 23, 18, 0))
    add_todo("小陈", t(2026, 11, 24, 18, 0), customer_name="苏州戊己医疗")
    add_activity("宁波丙丁电子", t(2026, 11, 20, 10, 0))
    with session_scope() as s:
        create_lead(s, source="web", company="并发线索", now=t(2026, 11, 26, 9, 0))
    errors: list[BaseException] = []

    def scan_twice_at(now: datetime) -> None:
        barrier = threading.Barrier(2)

        def worker() -> None:
            try:
                barrier.wait()
                with session_scope() as s:
                    scan(s, now)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    scan_twice_at(t(2026, 11, 26, 10, 0))
    assert not errors
    assert _counts()[0] == 4
    scan_twice_at(t(2026, 11, 27, 10, 0))  # the manager step of both overdue todos, once each
    assert not errors
    for a in alerts("todo.overdue"):
        assert [(n, step) for n, step, *_ in notices_of(a.id or 0)] == [
            (a_owner(a.recipient_id), 0),
            ("王经理", 1),
        ]


def a_owner(member_id: int | None) -> str:
    from core.models import Member

    with session_scope() as s:
        m = s.get(Member, member_id)
        return m.name if m else "?"
