"""Robot payloads and approval events → normalized types. Inputs are DingTalk's documented examples
(../shared/fixtures/dingtalk) and payloads written here from the observed quote shapes platforms.md §2(b)
lists (content.text, content.content, richText, cardContent, originalMsgId only, quoteMessage)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.dingtalk.normalize import (
    PayloadError,
    approval_event,
    approval_keys,
    quote_of,
    robot_message,
)
from tests.dingtalk.conftest import NOW, fixture, robot_payload


def test_documented_single_chat_text() -> None:
    m = robot_message(fixture("robot", "developerpedia_text_single_chat.json"), received_at=NOW)
    assert (m.platform, m.message_id, m.text) == ("dingtalk", "msgY****Pw==", "hello DingTalk!")
    assert m.conversation.kind == "direct" and m.addressed
    assert m.sender.platform_user_id == "042***297"  # senderStaffId, not the encrypted senderId
    assert m.sent_at == datetime.fromtimestamp(1695283635.765, tz=UTC)
    assert m.reply_handle is not None and m.reply_handle["session_webhook_expires_ms"] == 1695289035996
    assert m.quoted_text is None


def test_documented_group_at_bot() -> None:
    m = robot_message(
        fixture("robot", "developerpedia_text_group_at_bot_from_stream_frame.json"), received_at=NOW
    )
    assert m.conversation.kind == "group" and m.conversation.title == "测试群"
    assert m.addressed and m.text == "测试数据"
    # the official example misspells createAt ("createA"): the receive time stands in
    assert m.sent_at == NOW


def test_voice_message_carries_its_recognition() -> None:
    m = robot_message(fixture("robot", "developerpedia_audio_single_chat.json"), received_at=NOW)
    assert m.text == "钉钉PaaS开放中心，致力为企业……"


def test_rich_text_keeps_its_text_parts() -> None:
    m = robot_message(fixture("robot", "developerpedia_richText_single_chat.json"), received_at=NOW)
    assert m.text == "这个问题示例图如下：\n通过以上示意图可以明白完整的交互流程"


@pytest.mark.parametrize("name", ["picture", "video", "file", "unknown"])
def test_media_has_no_text(name: str) -> None:
    assert (
        robot_message(fixture("robot", f"developerpedia_{name}_single_chat.json"), received_at=NOW).text == ""
    )


def test_quote_content_text_shape() -> None:
    q = quote_of(fixture("robot", "soimy_quote_reply_text.json"))
    assert q is not None and (q.text, q.message_id, q.shape) == (
        "被引用文字",
        "quoted_text_2",
        "repliedMsg.content.text",
    )


def test_quote_rich_text_shape() -> None:
    q = quote_of(fixture("robot", "soimy_quote_reply_richtext_group.json"))
    assert q is not None and q.text == "@张三\n测试11111" and q.shape == "repliedMsg.content.richText"


def test_quote_of_a_file_has_only_an_id() -> None:
    q = quote_of(fixture("robot", "soimy_quote_reply_file.json"))
    assert q is not None and q.text is None and q.message_id == "msg456"
    assert q.sent_at == datetime.fromtimestamp(1774356117.207, tz=UTC)


def test_quote_with_only_original_msg_id() -> None:
    q = quote_of(fixture("robot", "soimy_quote_reply_original_msgid_only.json"))
    assert q is not None and (q.text, q.message_id, q.shape) == (None, "orig_msg_001", "id-only")


QUOTED = "他们说账期太短，现款现货压力很大"


@pytest.mark.parametrize(
    ("extra_text", "top", "shape"),
    [
        (
            {"isReplyMsg": True, "repliedMsg": {"msgId": "q1", "content": {"content": QUOTED}}},
            {},
            "content.content",
        ),
        (
            {
                "isReplyMsg": True,
                "repliedMsg": {
                    "msgId": "q1",
                    "msgType": "interactiveCard",
                    "content": {"cardContent": {"markdown": QUOTED}},
                },
            },
            {},
            "content.cardContent",
        ),
        (
            {
                "isReplyMsg": True,
                "repliedMsg": {
                    "msgId": "q1",
                    "msgType": "richText",
                    "content": {"richText": [{"type": "text", "text": QUOTED}]},
                },
            },
            {},
            "content.richText",
        ),
        (
            {"isReplyMsg": True, "repliedMsg": f'{{"msgId": "q1", "content": {{"text": "{QUOTED}"}}}}'},
            {},
            "content.text",
        ),
        ({}, {"quoteMessage": {"msgId": "q1", "text": QUOTED}}, "text"),
    ],
)
def test_other_observed_quote_shapes(extra_text: dict[str, Any], top: dict[str, Any], shape: str) -> None:
    q = quote_of(robot_payload("@loopkeeper 记一下 甲乙", extra_text=extra_text, **top))
    assert q is not None and q.text == QUOTED and q.shape.endswith(shape) and q.message_id == "q1"


def test_quote_reply_becomes_addressed_message_with_quoted_text() -> None:
    p = robot_payload(
        "记一下 甲乙",
        extra_text={
            "isReplyMsg": True,
            "repliedMsg": {"msgId": "q9", "createdAt": 1763859600000, "content": {"text": QUOTED}},
        },
    )
    m = robot_message(p, received_at=NOW)
    assert (m.text, m.quoted_text, m.quoted_message_id, m.addressed) == ("记一下 甲乙", QUOTED, "q9", True)
    assert m.quoted_sent_at == datetime.fromtimestamp(1763859600, tz=UTC)


def test_sender_from_another_org_marks_the_group_external() -> None:
    m = robot_message(robot_payload("hi", senderCorpId="dingCUSTOMERcorp"), received_at=NOW)
    assert m.conversation.external


@pytest.mark.parametrize("missing", ["msgId", "conversationId"])
def test_unusable_payload(missing: str) -> None:
    p = robot_payload("hi")
    del p[missing]
    with pytest.raises(PayloadError):
        robot_message(p, received_at=NOW)


# --- approvals ------------------------------------------------------------


def test_documented_instance_change_stream_body() -> None:
    body = fixture("stream", "opendoc_event_bpms_instance_change_stream_body.json")
    ev = approval_event(
        body["eventType"],
        body["data"],
        event_id=body["eventId"],
        occurred_ms=body["eventBornTime"],
        received_at=NOW,
    )
    assert ev is not None
    assert (ev.event_id, ev.instance_id, ev.template_code, ev.status, ev.applicant, ev.kind) == (
        "c7c7120f2c07419**ebdba0318c8",
        "9Qgx5QqjR7axMwxxxx",
        "Pro-xxx",
        "approved",
        "manager75",
        "other",
    )
    assert ev.occurred_at == datetime.fromtimestamp(1683533823.336, tz=UTC)


def test_documented_instance_change_http_push_body() -> None:
    body = fixture("stream", "opendoc_event_bpms_instance_change_http_push_body.json")
    ev = approval_event(
        body["EventType"], body, event_id=body["eventId"], occurred_ms=body["EventTime"], received_at=NOW
    )
    assert ev is not None and ev.status == "approved" and ev.instance_id == "9Qgx5QqjR7axMwxxxx"
    assert approval_keys(ev) == [
        "event:c7c7120f2c07419**ebdba0318c8",
        "instance:9Qgx5QqjR7axMwxxxx:finish:agree",
    ]


@pytest.mark.parametrize(
    ("event_type", "kind", "result", "status"),
    [
        ("bpms_instance_change", "start", None, "submitted"),
        ("bpms_instance_change", "finish", "agree", "approved"),
        ("bpms_instance_change", "finish", "refuse", "rejected"),
        ("bpms_instance_change", "terminate", None, "revoked"),
        ("bpms_instance_change", "delete", None, "deleted"),
        ("bpms_task_change", "finish", "agree", "submitted"),
        ("bpms_task_change", "finish", "refuse", "rejected"),
        ("bpms_task_change", "comment", None, "submitted"),
    ],
)
def test_status_mapping(event_type: str, kind: str, result: str | None, status: str) -> None:
    data = {"processInstanceId": "P1", "type": kind, "result": result, "staffId": "dt-zhou", "taskId": 7}
    ev = approval_event(event_type, data, event_id="e1", received_at=NOW)
    assert ev is not None and ev.status == status


def test_expense_category_and_other_events() -> None:
    data = {
        "processInstanceId": "P1",
        "type": "start",
        "bizCategoryId": "dingtalk.businessFinance.reimbursement",
    }
    ev = approval_event("bpms_instance_change", data, event_id="e1", received_at=NOW)
    assert ev is not None and ev.kind == "expense"
    assert approval_event("user_add_org", {"userId": ["1"]}, event_id="e2", received_at=NOW) is None


@pytest.mark.parametrize("created", [10**20, "1e400", -5])
def test_create_at_out_of_range_falls_back_to_the_receive_time(created: Any) -> None:
    m = robot_message(robot_payload("甲乙要月结", createAt=created), received_at=NOW)
    assert m.sent_at == NOW
