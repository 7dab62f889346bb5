"""The capture pipeline's mechanics with a fixed stand-in extractor (tests/fakes.py): the inbox dedupes,
facts carry evidence, ordering per conversation, evidence reuse, customer resolution order, questions,
chatter, todos and notices. Expected values are worked out by hand from the fake's markers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from core import pipeline
from core.db import session_scope
from core.inbox import accept
from core.models import (
    Activity,
    Conversation,
    Customer,
    InboxMessage,
    Meeting,
    Member,
    Notice,
    PainPoint,
    PainPointMention,
    Question,
    SampleCommitment,
    Todo,
)
from tests.fakes import fake_extract
from tests.helpers import SH, at, msg, seed


@pytest.fixture(autouse=True)
def _fake_nlp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.nlp, "extract", fake_extract, raising=False)


@pytest.fixture
def seeded(db: str, tmp_path: Path) -> None:
    seed(tmp_path)


def ingest(*messages):  # type: ignore[no-untyped-def]
    from bot.ingest import ingest as run

    return run(list(messages))


def test_duplicate_delivery_is_a_noop(seeded: None) -> None:
    m = msg("m1", "PAIN:price:太贵", at(23, 9), title="杭州甲乙贸易 群")
    first = accept(m, source="ingest")
    second = accept(m, source="ingest")
    assert not first.duplicate and first.inbox_id
    assert second.duplicate and second.inbox_id is None
    with session_scope() as s:
        assert len(s.exec(select(InboxMessage)).all()) == 1


def test_naive_datetime_is_refused() -> None:
    from datetime import datetime

    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="time zone"):
        msg("m1", "x", datetime(2026, 11, 23, 9, 0))


def test_title_binds_conversation_and_facts_keep_evidence(seeded: None) -> None:
    ingest(msg("m1", "PAIN:price:太贵 MEET+24", at(23, 9), title="杭州甲乙贸易 采购群"))
    with session_scope() as s:
        conv = s.exec(select(Conversation)).one()
        cust = s.exec(select(Customer).where(Customer.name == "杭州甲乙贸易")).one()
        assert conv.customer_id == cust.id
        pp = s.exec(select(PainPoint)).one()
        assert (pp.category, pp.phrase, pp.mentions) == ("price", "太贵", 1)
        mention = s.exec(select(PainPointMention)).one()
        row = s.exec(select(InboxMessage)).one()
        assert mention.inbox_id == row.id and (mention.span_start, mention.span_end) == (0, 13)
        meeting = s.exec(select(Meeting)).one()
        assert meeting.start == at(24, 9) and meeting.inbox_id == row.id
        todo = s.exec(select(Todo)).one()
        assert todo.kind == "meeting_outcome" and todo.due == at(24, 10)  # ends 1 h after it starts
        assert row.status == "done"


def test_chatter_creates_nothing(seeded: None) -> None:
    ingest(msg("m1", "收到", at(23, 9), title="杭州甲乙贸易 采购群"), msg("m2", "好的👍", at(23, 9, 1)))
    with session_scope() as s:
        assert s.exec(select(Activity)).all() == []
        assert {r.outcome for r in s.exec(select(InboxMessage))} == {"chatter"}


def test_resolution_order(seeded: None) -> None:
    # an alias in the text wins over the conversation title
    ingest(msg("m1", "丙丁 PAIN:delivery:太慢", at(23, 9), title="杭州甲乙贸易 采购群"))
    # the sender owns two customers and nothing else fits: a question, not a guess
    ingest(msg("m2", "PAIN:price:太贵", at(23, 10), conv="dm-zhou", sender="wm-zhou"))
    # the sender owns exactly one customer
    ingest(msg("m3", "PAIN:quality:坏了", at(23, 11), conv="dm-chen", sender="wm-chen"))
    with session_scope() as s:
        by_customer = {
            s.get(Customer, p.customer_id).name: p.category  # type: ignore[union-attr]
            for p in s.exec(select(PainPoint))
        }
        assert by_customer == {"宁波丙丁电子": "delivery", "苏州戊己医疗": "quality"}
        q = s.exec(select(Question)).one()
        assert sorted(q.options) == ["宁波丙丁电子", "杭州甲乙贸易"]
        notice = s.exec(select(Notice).where(Notice.kind == "question")).one()
        assert notice.payload["extra"]["private"] is True


def test_capture_reuses_stored_message_as_evidence(seeded: None) -> None:
    customer_words = msg(
        "m1", "PAIN:payment:账期太短", at(23, 9), title="杭州甲乙贸易 采购群", sender="wo-ext-1"
    )
    capture = msg(
        "m2",
        "@bot 记一下",
        at(23, 9, 5),
        title="杭州甲乙贸易 采购群",
        capture=True,
        quoted="PAIN:payment:账期太短",
        customer="杭州甲乙贸易",
    )
    ingest(customer_words, capture)
    with session_scope() as s:
        pp = s.exec(select(PainPoint)).one()
        assert pp.mentions == 1  # the capture points at m1 instead of counting it twice
        acts = s.exec(select(Activity).order_by(Activity.id)).all()
        assert [a.kind for a in acts] == ["customer_message", "chat_capture"]
        m1 = s.exec(select(InboxMessage).where(InboxMessage.message_id == "m1")).one()
        assert acts[1].evidence_inbox_id == m1.id
        confirm = s.exec(select(Notice).where(Notice.kind == "capture_confirmation")).one()
        assert "杭州甲乙贸易" in confirm.title and confirm.recipient_id is not None


def test_customer_message_in_bound_conversation_and_second_mention_counts(seeded: None) -> None:
    ingest(
        msg("m1", "PAIN:payment:账期太短", at(23, 9), title="杭州甲乙贸易 采购群", sender="wo-ext-1"),
        msg("m2", "PAIN:payment:账期太短了", at(24, 9), title="杭州甲乙贸易 采购群", sender="wo-ext-1"),
    )
    with session_scope() as s:
        pp = s.exec(select(PainPoint)).one()
        assert pp.mentions == 2 and pp.last_seen == at(24, 9)


def test_messages_apply_in_sent_at_order_even_when_accepted_out_of_order(seeded: None) -> None:
    # the "moved" message arrives first but was sent later: it must apply after the meeting exists
    moved = msg("m2", "MOVE+48", at(23, 12), title="杭州甲乙贸易 采购群")
    meeting = msg("m1", "MEET+24", at(23, 9), title="杭州甲乙贸易 采购群")
    a = accept(moved, source="ingest")
    accept(meeting, source="ingest")
    pipeline.process_inbox(a.inbox_id or 0)
    with session_scope() as s:
        meetings = s.exec(select(Meeting)).all()
        assert len(meetings) == 1
        assert meetings[0].status == "moved" and meetings[0].start == at(25, 12)
        order = [r.message_id for r in s.exec(select(InboxMessage).order_by(InboxMessage.processed_at))]
        assert order == ["m1", "m2"]


def test_samples_send_then_follow_up_on_working_days(seeded: None) -> None:
    ingest(
        msg("m1", "SAMPLE:XR-200x2", at(23, 10), title="杭州甲乙贸易 采购群"),
        msg("m2", "SENT:XR-200", at(25, 16, 40), title="杭州甲乙贸易 采购群"),
    )
    with session_scope() as s:
        sample = s.exec(select(SampleCommitment)).one()
        assert (sample.model, sample.quantity, sample.status) == ("XR-200", 2, "sent")
        todos = {t.kind: t for t in s.exec(select(Todo))}
        # promised Mon 11-23 10:00 with no date: due 2 working days later, Wed 11-25 10:00
        assert todos["send_sample"].due == at(25, 10) and todos["send_sample"].status == "done"
        # sent Wed 11-25 16:40: follow up 3 working days later, Mon 11-30 16:40
        assert (
            todos["follow_up_trial"].due == at(30, 16, 40).replace()
            and todos["follow_up_trial"].status == "open"
        )


def test_reapplying_is_idempotent(seeded: None) -> None:
    m = msg("m1", "PAIN:price:太贵 MEET+24 SAMPLE:K8x1", at(23, 9), title="杭州甲乙贸易 采购群")
    ingest(m)
    with session_scope() as s:
        row = s.exec(select(InboxMessage)).one()
        row.status = "pending"  # as if the broker delivered the task again after a crash
        s.add(row)
    pipeline.process_inbox(row.id or 0)
    with session_scope() as s:
        assert len(s.exec(select(Meeting)).all()) == 1
        assert len(s.exec(select(SampleCommitment)).all()) == 1
        assert s.exec(select(PainPoint)).one().mentions == 1


def test_live_chatter_outside_bound_conversations_is_not_stored_as_facts(seeded: None) -> None:
    acc = accept(msg("m1", "PAIN:price:太贵", at(23, 9), title="杭州甲乙贸易 采购群"))  # live, not a capture
    pipeline.process_inbox(acc.inbox_id or 0)
    with session_scope() as s:
        assert s.exec(select(PainPoint)).all() == []
        assert s.exec(select(InboxMessage)).one().outcome == "not_recorded"


def test_sweeper_finds_rows_whose_task_was_lost(seeded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import tasks

    acc = accept(msg("m1", "PAIN:price:太贵", at(23, 9), title="杭州甲乙贸易 采购群"), source="ingest")
    with session_scope() as s:
        row = s.get(InboxMessage, acc.inbox_id)
        assert row is not None
        row.received_at = row.received_at - timedelta(minutes=5)
        s.add(row)
    enqueued: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_inbox", enqueued.append)
    assert tasks.sweep_inbox.run() == 1
    assert enqueued == [acc.inbox_id]
    for inbox_id in enqueued:
        pipeline.process_inbox(inbox_id)
    assert tasks.sweep_inbox.run() == 0


def test_undo_information_is_kept_per_capture(seeded: None) -> None:
    ingest(msg("m1", "PAIN:price:太贵 MEET+24", at(23, 9), title="杭州甲乙贸易 采购群"))
    with session_scope() as s:
        from core.models import Capture

        cap = s.exec(select(Capture)).one()
        assert len(cap.facts["pain_points"]) == 1 and len(cap.facts["meetings"]) == 1
        assert cap.facts["resolved_by"] == ["title"]
        _ = SH


def test_which_customer_options_list_only_the_askers_customers(seeded: None) -> None:
    # 小陈 (a rep) owns only 苏州戊己医疗; the text names three customers: only the visible one is offered
    ingest(msg("m1", "甲乙 丙丁 戊己 PAIN:price:太贵", at(23, 10), conv="dm-chen", sender="wm-chen"))
    # 王经理 (their manager) sees all three
    ingest(msg("m2", "甲乙 丙丁 戊己 PAIN:price:太贵", at(23, 11), conv="dm-mgr", sender="wm-mgr"))
    with session_scope() as s:
        by_asker = {
            s.get(InboxMessage, q.inbox_id).sender_member_id: sorted(q.options)
            for q in s.exec(select(Question))
        }  # type: ignore[union-attr]
        names = {m.id: m.name for m in s.exec(select(Member))}
        assert {names[k]: v for k, v in by_asker.items()} == {
            "小陈": ["苏州戊己医疗"],
            "王经理": ["宁波丙丁电子", "杭州甲乙贸易", "苏州戊己医疗"],
        }
        for notice in s.exec(select(Notice).where(Notice.kind == "question")):
            assert notice.recipient_id is not None
            if names[notice.recipient_id] == "小陈":
                assert "甲乙" not in notice.payload["body"] and "丙丁" not in notice.payload["body"]
