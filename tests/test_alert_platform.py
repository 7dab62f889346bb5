"""An alert about a fact is delivered on the platform the fact came from when the recipient has an
identity there (finding 14): 小周 has WeCom, DingTalk and Slack identities (tests/helpers.py); his promise
was made in Slack, so the overdue alert goes to Slack, not to his first (WeCom) identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from core import pipeline
from core.db import session_scope
from core.inbox import accept
from core.models import Alert, Notice, Todo
from tests.fakes import fake_extract
from tests.helpers import at, msg, seed


@pytest.mark.parametrize(("platform", "sender"), [("slack", "UZHOU"), ("dingtalk", "dt-zhou")])
def test_overdue_alert_goes_to_the_platform_of_the_fact(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, sender: str
) -> None:
    from core.scan import scan

    monkeypatch.setattr(pipeline.nlp, "extract", fake_extract, raising=False)
    seed(tmp_path)
    acc = accept(
        msg("m1", "SAMPLE:K8x1", at(23, 10), platform=platform, sender=sender, title="杭州甲乙贸易 群"),
        source="ingest",
    )
    assert acc.inbox_id
    pipeline.process_inbox(acc.inbox_id)
    with session_scope() as s:
        todo = s.exec(select(Todo).where(Todo.kind == "send_sample")).one()
        assert todo.due is not None
    with session_scope() as s:
        scan(s, at(30, 10))  # a week later: the todo is overdue
    with session_scope() as s:
        alert = s.exec(select(Alert).where(Alert.subject_type == "todo", Alert.subject_id == todo.id)).one()
        notices = s.exec(select(Notice).where(Notice.alert_id == alert.id)).all()
        assert notices and {n.platform for n in notices} == {platform}
