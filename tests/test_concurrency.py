"""Two workers applying messages about the same customer from different conversations at the same moment
record what one worker applying them in turn records (finding 5). Runs on PostgreSQL when
LOOPKEEPER_TEST_POSTGRES_URL is set (the case that needs the customer-row lock), on SQLite otherwise."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from core import pipeline
from core.db import session_scope
from core.inbox import accept
from core.models import InboxMessage, Meeting, PainPoint, SampleCommitment
from tests.fakes import fake_extract
from tests.helpers import at, msg, seed


def test_same_customer_from_two_conversations_at_once(
    any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline.nlp, "extract", fake_extract, raising=False)
    seed(tmp_path)
    # both workers have resolved the customer before either records a fact: without serialization per
    # customer both would see no meeting yet and add one each
    barrier = threading.Barrier(2, timeout=1)
    real_resolve = pipeline.resolve

    def resolve_then_meet(*a, **kw):  # type: ignore[no-untyped-def]
        res = real_resolve(*a, **kw)
        # on SQLite the other writer waits for our transaction, so it cannot be here yet
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return res

    monkeypatch.setattr(pipeline, "resolve", resolve_then_meet)
    convs = []
    for conv, title in (("conv-a", "杭州甲乙贸易 采购群"), ("conv-b", "杭州甲乙贸易 门店群")):
        acc = accept(
            msg(f"{conv}-1", "MEET+24 PAIN:price:太贵 SAMPLE:K8x1", at(23, 9), conv=conv, title=title),
            source="ingest",
        )
        convs.append(acc.inbox_id)
    errors: list[BaseException] = []

    def work(inbox_id: int) -> None:
        try:
            pipeline.process_inbox(inbox_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in convs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with session_scope() as s:
        assert {r.status for r in s.exec(select(InboxMessage)).all()} == {"done"}
        assert len(s.exec(select(Meeting)).all()) == 1
        pain = s.exec(select(PainPoint)).one()
        assert pain.mentions == 2
        # a promise is one per message (facts.record dedupes by evidence message): two here, none lost
        assert len(s.exec(select(SampleCommitment)).all()) == 2
