"""Stage and level changes with their evidence and audit trail, policies, the morning digest, the rules
file's validation, the calendar's fallback and lead intake over HTTP."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from config.rules import RulesError, load_rules, parse_rules
from core.db import session_scope
from core.models import Attachment, AuditEvent, Notice, PolicyAck, PolicyApplication, Todo
from core.scope import NotAllowed
from core.stages import EvidenceMissing, change_level, change_stage
from tests.guard_helpers import (
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

RULES = Path(__file__).resolve().parents[1] / "config" / "rules.yaml"


@pytest.fixture
def team(db: str, tmp_path: Path) -> None:
    setup(tmp_path)


# --- stages and levels ------------------------------------------------------------------------------


def test_blocked_stage_change_lists_the_missing_evidence(team: None) -> None:
    now = t(2026, 12, 1, 10, 0)
    with session_scope() as s:
        zhou, c = member(s, "小周"), customer(s, "宁波丙丁电子")  # 方案报价
        with pytest.raises(EvidenceMissing) as exc:
            change_stage(s, zhou, c, "商务谈判", now)
        assert exc.value.missing == [
            "客户签字的报价单附件 (a customer-signed quote attachment)",
            "报价有效期至少 7 天 (quote valid for at least 7 days)",
        ]
        assert "客户签字的报价单附件" in str(exc.value)
        s.add(Attachment(customer_id=c.id, kind="signed_quote", file_ref="wecom:media-1"))
        s.flush()
        with pytest.raises(EvidenceMissing) as exc:  # valid for 6 days only
            change_stage(s, zhou, c, "商务谈判", now, evidence={"quote_valid_until": "2026-12-06"})
        assert exc.value.missing == ["报价有效期至少 7 天 (quote valid for at least 7 days)"]
        ev = change_stage(s, zhou, c, "商务谈判", now, evidence={"quote_valid_until": "2026-12-08"})
        assert (ev.action, ev.from_value, ev.to_value, ev.actor_id) == (
            "stage.change",
            "方案报价",
            "商务谈判",
            zhou.id,
        )
        assert ev.at == now and ev.detail == {"evidence": {"quote_valid_until": "2026-12-08"}}
        assert c.stage == "商务谈判" and c.stage_since == now


def test_skipping_stages_needs_every_stage_between_and_going_back_needs_none(team: None) -> None:
    now = t(2026, 12, 1, 10, 0)
    with session_scope() as s:
        zhou, c = member(s, "小周"), customer(s, "杭州甲乙贸易")  # 需求确认
        with pytest.raises(EvidenceMissing) as exc:
            change_stage(s, zhou, c, "合同签署", now)
        assert exc.value.missing == [
            "至少一次已发生的拜访或会议 (a visit or meeting held)",
            "客户签字的报价单附件 (a customer-signed quote attachment)",
            "报价有效期至少 7 天 (quote valid for at least 7 days)",
            "双方签署的合同附件 (a signed contract attachment)",
        ]
        ev = change_stage(s, zhou, c, "线索", now)
        assert (ev.from_value, ev.to_value) == ("需求确认", "线索")
        with pytest.raises(Exception, match="没有阶段"):
            change_stage(s, zhou, c, "成交", now)


def test_meeting_held_unblocks_quotation_stage(team: None) -> None:
    add_meeting("杭州甲乙贸易", t(2026, 11, 30, 10, 0))
    with session_scope() as s:
        ev = change_stage(s, member(s, "小周"), customer(s, "杭州甲乙贸易"), "方案报价", t(2026, 12, 1, 9, 0))
        assert ev.to_value == "方案报价"


def test_stage_change_is_scoped_and_resolves_the_stale_alert(team: None) -> None:
    with session_scope() as s:
        c = customer(s, "杭州甲乙贸易")
        c.stage_since = t(2026, 11, 20, 10, 0)
        s.add(c)
    run_scan(t(2026, 11, 25, 10, 0))
    assert [a.state for a in alerts("stage.stale")] == ["open"]
    with session_scope() as s:
        with pytest.raises(NotAllowed):
            change_stage(s, member(s, "小陈"), customer(s, "杭州甲乙贸易"), "线索", t(2026, 11, 25, 11, 0))
        change_stage(s, member(s, "王经理"), customer(s, "杭州甲乙贸易"), "线索", t(2026, 11, 25, 11, 0))
    assert [a.state for a in alerts("stage.stale")] == ["resolved"]
    with session_scope() as s:
        [todo] = s.exec(select(Todo)).all()
        assert todo.status == "done"  # the "explain the delay" todo is settled by the stage change


def test_level_change_checks_each_level_up_to_the_target(team: None) -> None:
    now = t(2026, 12, 1, 10, 0)
    with session_scope() as s:
        zhou, c = member(s, "小周"), customer(s, "宁波丙丁电子")  # level B
        with pytest.raises(EvidenceMissing) as exc:
            change_level(s, zhou, c, "D", now)
        assert exc.value.missing == [
            "客户签字的报价单附件 (a customer-signed quote attachment)",
            "双方签署的合同附件 (a signed contract attachment)",
        ]
        ev = change_level(s, zhou, c, "c", now, evidence={"signed_quote": "dingtalk:file-9"})
        assert (ev.action, ev.from_value, ev.to_value) == ("level.change", "B", "C")
        assert c.level == "C" and c.level_since == now
        assert len(s.exec(select(AuditEvent).where(AuditEvent.action == "level.change")).all()) == 1


# --- policies ---------------------------------------------------------------------------------------


def test_policy_published_acknowledged_reminded_and_first_application(team: None) -> None:
    from core.policies import ack_policy, publish_policy, record_policy_application, unacknowledged

    published = t(2026, 11, 27, 17, 0)  # Friday
    with session_scope() as s:
        with pytest.raises(NotAllowed):
            publish_policy(s, member(s, "小周"), "返利", "...", published)
        p = publish_policy(
            s, member(s, "王经理"), "年底返利政策", "满 10 万返 3%", published, audience="华东-浙沪"
        )
        pid = p.id
        notices = s.exec(select(Notice).where(Notice.kind == "policy")).all()
        assert sorted(n.recipient_id for n in notices) == sorted([member(s, "小周").id, member(s, "小陈").id])
        assert all(n.payload["actions"][0]["value"] == f"policy:{pid}:ack" for n in notices)
        ack_policy(s, member(s, "小周"), f"P{pid}", t(2026, 11, 27, 17, 30))
        ack_policy(s, member(s, "小周"), f"P{pid}", t(2026, 11, 27, 17, 40))  # idempotent
        assert len(s.exec(select(PolicyAck)).all()) == 1
        assert [m.name for m in unacknowledged(s, p)] == ["小陈"]
    # 1 working day after Friday 17:00 is Monday 17:00: only 小陈 is reminded
    assert run_scan(t(2026, 11, 30, 16, 59))[0] == 0
    run_scan(t(2026, 11, 30, 17, 0))
    [a] = alerts("policy.unacked")
    assert notices_of(a.id or 0) == [("小陈", 0, t(2026, 11, 30, 17, 0), None)]
    # two working days later still nothing: the manager is told
    run_scan(t(2026, 12, 2, 17, 0))
    assert [n for n, *_ in notices_of(a.id or 0)] == ["小陈", "王经理"]
    with session_scope() as s:
        ack_policy(s, member(s, "小陈"), pid or 0, t(2026, 12, 2, 17, 5))
        first = record_policy_application(
            s, member(s, "小周"), pid or 0, customer(s, "杭州甲乙贸易"), t(2026, 12, 3, 10, 0)
        )
        again = record_policy_application(
            s, member(s, "小周"), pid or 0, customer(s, "杭州甲乙贸易"), t(2026, 12, 4, 10, 0)
        )
        assert first.id == again.id and again.applied_at == t(2026, 12, 3, 10, 0)
        assert len(s.exec(select(PolicyApplication)).all()) == 1
    assert alerts("policy.unacked")[0].state == "resolved"


# --- morning digest ----------------------------------------------------------------------------------


def test_morning_digest_per_manager_once_per_working_day(team: None) -> None:
    from core.policies import publish_policy

    add_todo("小周", t(2026, 11, 30, 18, 0), title="回访甲乙")
    add_todo("小陈", t(2026, 11, 27, 18, 0), title="寄合同", customer_name="苏州戊己医疗")
    run_scan(t(2026, 11, 27, 18, 1))
    run_scan(t(2026, 11, 30, 18, 1))  # 寄合同 escalated to 王经理 (1 working day)
    [escalated] = [a for a in alerts("todo.overdue") if a.escalation_step == 1]
    add_meeting("苏州戊己医疗", t(2026, 12, 1, 14, 0), owner="小陈")
    with session_scope() as s:
        publish_policy(s, member(s, "林总监"), "新价格表", "...", t(2026, 11, 30, 9, 0))

    def digests(day: str) -> list[Notice]:
        with session_scope() as s:
            rows = s.exec(select(Notice).where(Notice.kind == "digest")).all()
            return [n for n in rows if n.idempotency_key.endswith(":" + day)]

    run_scan(t(2026, 12, 1, 8, 29))
    assert digests("2026-12-01") == []
    run_scan(t(2026, 12, 1, 8, 30))
    run_scan(t(2026, 12, 1, 8, 31))
    with session_scope() as s:
        by = {d.recipient_id: d for d in digests("2026-12-01")}
        assert len(by) == len(digests("2026-12-01")) == 2  # once per manager per day
        assert set(by) == {member(s, "王经理").id, member(s, "林总监").id}
        body = by[member(s, "王经理").id].body or ""
        assert "回访甲乙" in body and "14:00 苏州戊己医疗 visit" in body
        assert "新价格表：小周、小陈" in body
        assert f"- A{escalated.id} 小陈 · 待办已逾期" in body
        assert by[member(s, "王经理").id].created_at == t(2026, 12, 1, 8, 30)
    run_scan(t(2026, 12, 5, 9, 0))  # Saturday: no digest
    assert digests("2026-12-05") == []
    run_scan(t(2026, 12, 7, 23, 0))  # Monday, but in the quiet hours
    assert digests("2026-12-07") == []


# --- rules file --------------------------------------------------------------------------------------


def test_shipped_rules_match_design() -> None:
    r = load_rules(RULES)
    assert r.stage_names() == ["线索", "需求确认", "方案报价", "商务谈判", "合同签署", "交付启动"]
    assert [(lv.name, lv.label) for lv in r.levels] == [
        ("A", "明确需求"),
        ("B", "方案确认"),
        ("C", "报价接受"),
        ("D", "合同签署"),
        ("E", "首付款到账"),
    ]
    lead = r.rule("lead.first_touch")
    assert lead and lead.threshold.minutes == 15 and lead.copy_to == ["manager"] and lead.lower_priority_to
    stale = r.rule("stage.stale")
    assert stale and stale.threshold.working_days == 3 and stale.todo and stale.copy_to == ["manager"]
    overdue = r.rule("todo.overdue")
    assert overdue and [(e.after.working_days, e.to) for e in overdue.escalation] == [
        (1, "manager"),
        (3, "director"),
    ]
    c = r.rule("level.c_stale")
    assert c and c.deal_level == "C" and c.threshold.days == 14 and c.notify == ["owner"]
    assert (r.defaults.quiet_hours.start, r.defaults.quiet_hours.end) == ("22:00", "08:00")


def test_rules_errors_name_the_line_and_the_problem() -> None:
    text = RULES.read_text(encoding="utf-8")
    lines = text.splitlines()
    bad_threshold = next(i for i, ln in enumerate(lines) if "threshold: {working_days: 3}" in ln) + 1
    bad_condition = next(i for i, ln in enumerate(lines) if "condition: todo_past_due" in ln) + 1
    broken = text.replace("threshold: {working_days: 3}", "threshold: {weeks: 3}", 1).replace(
        "condition: todo_past_due", "condition: todo_late", 1
    )
    with pytest.raises(RulesError) as exc:
        parse_rules(broken, "rules.yaml")
    msg = str(exc.value)
    assert f"rules.yaml:{bad_threshold}: sla.1.threshold.weeks: Extra inputs are not permitted" in msg
    assert f"rules.yaml:{bad_condition}: sla.2.condition: Input should be" in msg
    with pytest.raises(RulesError, match=r"rules.yaml:2: defaults.timezone: unknown time zone 'Mars/Base'"):
        parse_rules("stages: [{name: 线索}]\ndefaults: {timezone: Mars/Base}\n", "rules.yaml")
    with pytest.raises(RulesError, match=r"rules.yaml:3: not valid YAML"):
        parse_rules("stages:\n  - name: x\n - bad\n", "rules.yaml")
    with pytest.raises(RulesError, match=r"listed as both a holiday and a working day"):
        parse_rules(
            "stages: [{name: a}]\ncalendar_overrides: {holidays: [2027-01-04], workdays: [2027-01-04]}\n", "r"
        )


def test_team_calendar_overrides_and_time_zone(tmp_path: Path) -> None:
    from core.calendar import context_for

    text = RULES.read_text(encoding="utf-8").replace(
        "    regions: [华东, 华东-浙沪, 华东-江苏]\n",
        "    regions: [华东, 华东-浙沪, 华东-江苏]\n"
        "  - name: Singapore\n    timezone: Asia/Singapore\n    calendar: SG\n    regions: [SEA]\n"
        "    calendar_overrides: {holidays: [2026-12-01]}\n",
    )
    r = parse_rules(text)
    sea = context_for(r, region="SEA")
    assert sea.name == "Singapore" and not sea.calendar.is_working_day(date(2026, 12, 1))
    # the Chinese make-up Saturday is an ordinary weekend day in Singapore
    assert not sea.calendar.is_working_day(date(2026, 10, 10))
    east = context_for(r, region="华东-江苏")
    assert east.calendar.is_working_day(date(2026, 10, 10))
    assert context_for(r, region="nowhere").name == "default"


def test_year_without_holiday_data_falls_back_to_weekends_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import holidays

    from core import calendar as cal_mod

    cal_mod._country_calendar.cache_clear()
    real = holidays.country_holidays
    monkeypatch.setattr(
        cal_mod.holidays,
        "country_holidays",
        lambda c, years: real(c, years=[]) if 2040 in years else real(c, years=years),
    )
    cal = cal_mod.WorkCalendar(extra_holidays=frozenset({date(2040, 1, 2)}))
    with caplog.at_level(logging.WARNING, logger="core.calendar"):
        assert not cal.is_working_day(date(2040, 1, 2))  # Monday, a holiday by override
        assert cal.is_working_day(date(2040, 1, 3))  # Tuesday
        assert not cal.is_working_day(date(2040, 1, 1))  # Sunday
        assert not cal.is_working_day(date(2040, 1, 7))  # Saturday
    assert "no holiday data for CN 2040" in caplog.text
    cal_mod._country_calendar.cache_clear()


# --- lead intake over HTTP ------------------------------------------------------------------------------


def test_post_api_leads_is_token_protected(team: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from tests.conftest import reset_process_state

    monkeypatch.setenv("LOOPKEEPER_API_TOKEN", "s3cret-token-value")
    reset_process_state()
    client = TestClient(create_app())
    body = {"source": "website", "company": "杭州新客户", "contact": "李经理", "message": "想了解 XR-200"}
    assert client.post("/api/leads", json=body).status_code == 401
    res = client.post("/api/leads", json=body, headers={"Authorization": "Bearer s3cret-token-value"})
    assert res.status_code == 201, res.text
    data = res.json()
    assert data["id"].startswith("L") and data["owner"] == "小周" and data["priority"] == "normal"
    bad = client.post(
        "/api/leads", json={"source": "x"}, headers={"Authorization": "Bearer s3cret-token-value"}
    )
    assert bad.status_code == 422


def test_a_bad_rules_file_stops_the_web_process_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import create_app
    from tests.conftest import reset_process_state

    bad = tmp_path / "rules.yaml"
    bad.write_text(
        (
            "stages:\n  - name: 线索\nsla:\n  - id: x\n    condition: lead_untouched\n"
            "    threshold: {minutes: -5}\n    notify: [owner]\n"
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("LOOPKEEPER_RULES_FILE", str(bad))
    reset_process_state()
    try:
        with pytest.raises(
            RulesError, match=rf"{bad}:6: sla.0.threshold.minutes: Input should be greater than or equal to 0"
        ):
            create_app()
    finally:
        monkeypatch.delenv("LOOPKEEPER_RULES_FILE")
        reset_process_state()
