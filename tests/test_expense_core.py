"""Expense claims, core side: the approvals mapping and its errors, status precedence, reading mapped form
fields in both platforms' documented shapes, the linking rule (working days on the CN calendar, hand-checked
around 国庆 2026) and the report figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from config.approvals import ApprovalsError, load_approvals, parse_approvals
from core import expenses
from core.db import session_scope
from core.messages import ApprovalEvent
from core.models import ApprovalEventLog, Customer, ExpenseClaim, Member, Notice, Visit
from core.visits import create_visit
from integrations.common.approvals import extract_fields
from integrations.dingtalk.approval_form import form_from_instance
from integrations.wecom.approval_form import result_from_detail
from tests.expense_helpers import APPROVALS_YAML, DT_PROCESS, approvals, dingtalk_instance, wecom_detail
from tests.helpers import SH, seed

__all__ = ["approvals"]
REPO = Path(__file__).resolve().parents[1]


# --- the mapping file ---------------------------------------------------------------------------------


def test_shipped_example_is_valid() -> None:
    a = load_approvals(REPO / "config" / "approvals.example.yaml")
    assert a.template_for("dingtalk", "PROC-EXAMPLE-TRAVEL-EXPENSE") is not None
    # a process code not listed, but of the reimbursement suite: the suite's mapping
    fm = a.template_for("dingtalk", "PROC-OTHER", "dingtalk.businessFinance.reimbursement")
    assert fm is not None and fm.date == "visitDate"
    assert a.template_for("wecom", "unknown-template") is None
    assert a.link.unit == "working_days" and a.link.tolerance == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "dingtalk:\n  - process_code: P1\n    fields:\n      date: D1\n",
            "a.yaml:3: dingtalk.0.fields.customer: Field required",
        ),
        ("dingtalk:\n  - name: x\n    fields: {customer: c, date: d}\n", "give process_code"),
        ("wecom:\n  - template_id: T\n    fields: {customer: c, date: d, colour: x}\n", "colour"),
        ("link:\n  unit: weeks\n", "a.yaml:2: link.unit"),
        (
            "wecom:\n  - {template_id: T, fields: {customer: c, date: d}}\n  - {template_id: T, fields: "
            "{customer: c, date: d}}\n",
            "template_id T is mapped twice",
        ),  # fmt: skip
        ("dingtalk: [\n", "not valid YAML"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_mistakes_are_named_with_their_line(text: str, expected: str) -> None:
    with pytest.raises(ApprovalsError) as exc:
        parse_approvals(text, "a.yaml")
    assert expected in str(exc.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ApprovalsError, match="cannot read the approvals file"):
        load_approvals(tmp_path / "nope.yaml")


# --- status precedence ----------------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _claim() -> ExpenseClaim:
    return ExpenseClaim(platform="dingtalk", instance_id="i1")


def test_finish_before_start_ends_approved() -> None:
    c = _claim()
    assert expenses.apply_status(c, "approved", T0 + timedelta(hours=2))
    assert not expenses.apply_status(c, "submitted", T0)  # the start, delivered late
    assert (c.status, c.status_at) == ("approved", T0 + timedelta(hours=2))


def test_later_terminal_event_wins_and_earlier_one_does_not() -> None:
    c = _claim()
    expenses.apply_status(c, "submitted", T0)
    expenses.apply_status(c, "approved", T0 + timedelta(hours=1))
    assert expenses.apply_status(c, "revoked", T0 + timedelta(hours=3))  # WeCom 6: revoked after approval
    assert not expenses.apply_status(c, "rejected", T0 + timedelta(hours=2))  # older news
    assert c.status == "revoked"


@pytest.mark.parametrize(("event", "claim"), [("deleted", "revoked"), ("paid", "approved")])
def test_platform_statuses_map_onto_the_four_claim_statuses(event: str, claim: str) -> None:
    c = _claim()
    expenses.apply_status(c, "submitted", T0)
    expenses.apply_status(c, event, T0 + timedelta(minutes=1))
    assert c.status == claim


# --- mapped form fields -----------------------------------------------------------------------------------


def test_dingtalk_fields_by_biz_alias_and_component_id() -> None:
    a = parse_approvals(APPROVALS_YAML)
    fm = a.template_for("dingtalk", DT_PROCESS)
    assert fm is not None
    form = form_from_instance(dingtalk_instance(customer="杭州甲乙贸易", day="2026-11-20")["result"])
    assert form["applicant"] == "dt-zhou" and form["approvers"] == ["dt-mgr"]
    got = extract_fields(form["fields"], fm, "Asia/Shanghai")
    assert got.customer == "杭州甲乙贸易"  # found by bizAlias customerName
    assert got.date == datetime(2026, 11, 20, 12, 0, tzinfo=SH)  # a date without a time: noon local
    assert (got.place, got.amount, got.missing) == ("杭州", 356.0, [])


def test_dingtalk_date_range_and_select_label() -> None:
    from config.approvals import FieldMap

    fields = {
        "DDDateRangeField-1": {"value": '["2026-11-18 09:30","2026-11-19 18:00"]'},
        "DDSelectField-1": {"value": "", "ext": '{"label":"宁波丙丁电子","key":"option_1"}'},
    }
    got = extract_fields(
        fields, FieldMap(customer="DDSelectField-1", date="DDDateRangeField-1"), "Asia/Shanghai"
    )
    assert got.customer == "宁波丙丁电子"
    assert got.date == datetime(2026, 11, 18, 9, 30, tzinfo=SH)


def test_wecom_fields_by_control_id() -> None:
    from config.approvals import FieldMap

    day = int(datetime(2026, 11, 20, 0, 0, tzinfo=SH).timestamp())
    form = result_from_detail(wecom_detail(sp_no="2026112300001", customer="宁波丙丁电子", day_ts=day))
    assert form["approvers"] == ["wm-mgr"] and form["applicant"] == "wm-zhou"
    fm = FieldMap(customer="Text-customer", date="Date-visitday", place="Text-place", amount="Money-amount")
    got = extract_fields(form["fields"], fm, "Asia/Shanghai")
    assert (got.customer, got.place, got.amount) == ("宁波丙丁电子", "宁波", 128.5)
    assert got.date == datetime(2026, 11, 20, 0, 0, tzinfo=SH)
    missing = extract_fields(form["fields"], FieldMap(customer="Text-gone", date="Date-visitday"), "UTC")
    assert missing.missing == ["customer"] and missing.customer is None


# --- the linking rule -------------------------------------------------------------------------------------


@pytest.fixture
def seeded(db: str, tmp_path: Path, approvals: Path) -> None:
    seed(tmp_path)


def _ids(s) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    zhou = s.exec(select(Member).where(Member.name == "小周")).one()
    jiayi = s.exec(select(Customer).where(Customer.name == "杭州甲乙贸易")).one()
    mgr = s.exec(select(Member).where(Member.name == "王经理")).one()
    return zhou.id, jiayi.id, mgr.id


def _visit_and_claim(visit_day: datetime, claim_day: datetime) -> tuple[int, int]:
    with session_scope() as s:
        zhou, jiayi, _ = _ids(s)
        v, _new = create_visit(s, key="t:v", customer_id=jiayi, rep_id=zhou, at=visit_day, source="command")
        c = ExpenseClaim(platform="dingtalk", instance_id="i-1", applicant_id=zhou, customer_id=jiayi,
                         claimed_date=claim_day, status="submitted", status_at=claim_day)  # fmt: skip
        s.add(c)
        s.flush()
        return v.id or 0, c.id or 0


@pytest.mark.parametrize(
    ("visit_day", "claim_day", "linked"),
    [
        # Fri visit, Mon claim: one working day apart
        (datetime(2026, 11, 20, 15, 0, tzinfo=SH), datetime(2026, 11, 23, 12, 0, tzinfo=SH), True),
        # Thu visit, Mon claim: two working days (Fri, Mon)
        (datetime(2026, 11, 19, 15, 0, tzinfo=SH), datetime(2026, 11, 23, 12, 0, tzinfo=SH), False),
        # Wed 30 Sep visit, Thu 8 Oct claim: 1–7 Oct are 国庆 holidays, so one working day apart
        (datetime(2026, 9, 30, 10, 0, tzinfo=SH), datetime(2026, 10, 8, 12, 0, tzinfo=SH), True),
        # the claim dated before the visit counts the same way
        (datetime(2026, 11, 24, 9, 0, tzinfo=SH), datetime(2026, 11, 23, 12, 0, tzinfo=SH), True),
    ],
)
def test_tolerance_in_working_days(
    seeded: None, visit_day: datetime, claim_day: datetime, linked: bool
) -> None:
    vid, cid = _visit_and_claim(visit_day, claim_day)
    with session_scope() as s:
        claim = s.get(ExpenseClaim, cid)
        assert claim is not None
        out = expenses.link_claim(s, claim, claim_day)
        assert (out == "linked") is linked
        assert (claim.visit_id == vid) is linked


def test_tolerance_in_calendar_days(seeded: None, approvals: Path) -> None:
    from config.approvals import reset_approvals

    approvals.write_text("link: {tolerance: 1, unit: days}\n", encoding="utf-8")
    reset_approvals()
    _vid, cid = _visit_and_claim(
        datetime(2026, 9, 30, 10, 0, tzinfo=SH), datetime(2026, 10, 8, 12, 0, tzinfo=SH)
    )
    with session_scope() as s:
        claim = s.get(ExpenseClaim, cid)
        assert claim is not None
        assert expenses.link_claim(s, claim, T0) == "asked"


def test_no_fit_asks_once_and_a_later_visit_links(seeded: None) -> None:
    claim_day = datetime(2026, 11, 23, 12, 0, tzinfo=SH)
    with session_scope() as s:
        zhou, jiayi, mgr = _ids(s)
        c = ExpenseClaim(platform="wecom", instance_id="sp-1", applicant_id=zhou, customer_id=jiayi,
                         claimed_date=claim_day, status="submitted", status_at=claim_day)  # fmt: skip
        s.add(c)
        s.flush()
        assert expenses.link_claim(s, c, claim_day) == "asked"
        assert expenses.link_claim(s, c, claim_day) == "pending"  # asked before: no second prompt
        notices = s.exec(select(Notice)).all()
        assert sorted((n.recipient_id, n.kind) for n in notices) == sorted(
            [(zhou, "question"), (mgr, "notice")]
        )
        # the rep records the visit afterwards: the waiting claim links itself
        v, _ = create_visit(s, key="cmd:1", customer_id=jiayi, rep_id=zhou, at=claim_day, source="command",
                            now=claim_day)  # fmt: skip
        s.refresh(c)
        assert (c.visit_id, c.link_state) == (v.id, "linked")


def test_event_log_is_unique_on_event_and_on_instance_status(seeded: None) -> None:
    def ev(eid: str, status: str, minutes: int) -> ApprovalEvent:
        return ApprovalEvent(
            platform="dingtalk",
            event_id=eid,
            instance_id="inst-9",
            template_code=DT_PROCESS,
            status=status,  # type: ignore[arg-type]
            applicant="dt-zhou",
            occurred_at=T0 + timedelta(minutes=minutes),
        )

    with session_scope() as s:
        first = expenses.record_event(s, ev("e1", "submitted", 0), T0)
        assert first.new_event and first.claim_id is not None
        assert not expenses.record_event(s, ev("e1", "submitted", 0), T0).new_event  # same event id
        assert not expenses.record_event(s, ev("e2", "submitted", 1), T0).new_event  # same instance+status
        assert expenses.record_event(s, ev("e3", "approved", 5), T0).status_changed
        assert len(s.exec(select(ApprovalEventLog)).all()) == 2
        claim = s.get(ExpenseClaim, first.claim_id)
        assert claim is not None and claim.status == "approved" and claim.applicant_user_id == "dt-zhou"
        # a template nobody mapped: logged, no claim
        other = ev("e4", "submitted", 0).model_copy(
            update={"template_code": "PROC-LEAVE", "instance_id": "x"}
        )
        assert expenses.record_event(s, other, T0).claim_id is None


def test_figures_for_the_report(seeded: None) -> None:
    start = datetime(2026, 11, 16, 0, 0, tzinfo=SH)  # two weeks: 16–29 Nov
    end = start + timedelta(days=14)
    with session_scope() as s:
        zhou, jiayi, _ = _ids(s)
        chen = s.exec(select(Member).where(Member.name == "小陈")).one().id
        day = datetime(2026, 11, 18, 10, 0, tzinfo=SH)
        for i, (rep, result) in enumerate([(zhou, "演示顺利"), (zhou, None), (zhou, "报价"), (chen, None)]):
            at = day + timedelta(days=i)
            create_visit(
                s, key=f"f{i}", customer_id=jiayi, rep_id=rep, at=at, source="command", result=result
            )
        create_visit(
            s, key="old", customer_id=jiayi, rep_id=zhou, at=start - timedelta(days=1), source="command"
        )
        v1 = s.exec(select(Visit).where(Visit.key == "f0")).one()
        for i, linked in enumerate([True, False, False]):
            s.add(ExpenseClaim(platform="wecom", instance_id=f"sp{i}", applicant_id=zhou, created_at=day,
                               visit_id=v1.id if linked else None))  # fmt: skip
        s.add(
            ExpenseClaim(
                platform="wecom", instance_id="sp-rev", applicant_id=zhou, created_at=day, status="revoked"
            )
        )
        s.flush()
        f = expenses.visit_claim_figures(s, start=start, end=end)
    assert (f.claims, f.claims_linked) == (3, 1) and f.claim_link_share == pytest.approx(1 / 3)
    assert (f.visits, f.visits_with_outcome) == (4, 2) and f.outcome_share == 0.5
    assert f.weeks == 2.0 and f.visits_per_rep_week == {"小周": 1.5, "小陈": 0.5}
