"""DingTalk robot signatures: our HMAC-SHA256 against an independent implementation (the DingtalkChatbot
package, which signs custom-robot webhooks with the same documented formula) and against the formula
computed here directly; the 1-hour window in both directions."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from integrations.dingtalk.signing import (
    SignatureError,
    robot_sign,
    signed_webhook_url,
    verify_robot_request,
)

SECRET = "SECa1b2c3d4e5f60718293a4b5c6d7e8f9"
WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=abc123"
T0 = 1764810000.0  # 2025-12-04T01:00:00Z


def _chatbot_sign(at: float) -> tuple[str, str]:
    """(timestamp, sign) as DingtalkChatbot puts them in its webhook URL (URL-decoded)."""
    from dingtalkchatbot.chatbot import DingtalkChatbot

    with time_machine.travel(at, tick=False):
        bot = DingtalkChatbot(WEBHOOK, secret=SECRET)
    q = parse_qs(urlsplit(bot.webhook).query)
    return q["timestamp"][0], q["sign"][0]


def test_sign_matches_dingtalkchatbot() -> None:
    ts, sign = _chatbot_sign(T0)
    assert ts == str(int(T0 * 1000))
    assert robot_sign(SECRET, ts) == sign
    verify_robot_request(ts, sign, SECRET, now=T0 + 5)


def test_sign_matches_the_documented_formula() -> None:
    ts = "1700000000123"
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), (ts + "\n" + SECRET).encode(), hashlib.sha256).digest()
    ).decode()
    assert robot_sign(SECRET, ts) == expected


def test_webhook_url_signed_like_dingtalkchatbot() -> None:
    ts, sign = _chatbot_sign(T0)
    ours = parse_qs(urlsplit(signed_webhook_url(WEBHOOK, SECRET, now=T0)).query)
    assert ours == {"access_token": ["abc123"], "timestamp": [ts], "sign": [sign]}
    # re-signing replaces the old parameters instead of appending a second pair
    again = signed_webhook_url(signed_webhook_url(WEBHOOK, SECRET, now=T0), SECRET, now=T0 + 60)
    q = parse_qs(urlsplit(again).query)
    assert q["timestamp"] == [str(int((T0 + 60) * 1000))] and len(q["sign"]) == 1


@pytest.mark.parametrize("skew", [-3599, 3599])
def test_inside_the_hour(skew: float) -> None:
    ts = str(int(T0 * 1000))
    verify_robot_request(ts, robot_sign(SECRET, ts), SECRET, now=T0 + skew)


@pytest.mark.parametrize("skew", [-3601, 3601])
def test_outside_the_hour_in_both_directions(skew: float) -> None:
    ts = str(int(T0 * 1000))
    with pytest.raises(SignatureError, match="window"):
        verify_robot_request(ts, robot_sign(SECRET, ts), SECRET, now=T0 + skew)


@pytest.mark.parametrize(
    ("ts", "sign", "reason"),
    [
        (None, "x", "missing"),
        ("1764810000000", None, "missing"),
        ("17648x0000000", "x", "not a number"),
        ("1764810000000", "AAAA", "bad sign"),
    ],
)
def test_refusals(ts: str | None, sign: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_robot_request(ts, sign, SECRET, now=T0)


def test_other_secret_is_refused() -> None:
    ts = str(int(T0 * 1000))
    with pytest.raises(SignatureError, match="bad sign"):
        verify_robot_request(ts, robot_sign("another-secret", ts), SECRET, now=T0)
