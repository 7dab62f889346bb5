from __future__ import annotations

import pytest

from config.settings import PlaceholderCredential, Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("loopkeeper.sqlite")
    assert s.broker_url.startswith("sqla+sqlite:///")
    assert s.timezone == "Asia/Shanghai"
    assert s.enabled_platforms() == []


def test_urls_switch_to_postgres_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_DATABASE_URL", "postgresql://lk@db:5432/lk")
    monkeypatch.setenv("LOOPKEEPER_BROKER_URL", "redis://cache:6379/0")
    s = Settings()
    assert s.database_url == "postgresql://lk@db:5432/lk"
    assert s.effective_redis_url == "redis://cache:6379/0"
    assert not s.is_sqlite


def test_secrets_are_hidden_and_platform_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__BOT_TOKEN", "xoxb-1234-5678-abcdef")
    monkeypatch.setenv("LOOPKEEPER_SLACK__SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
    s = Settings()
    assert s.enabled_platforms() == ["slack"]
    assert "abcdef" not in repr(s) and "8f742231" not in repr(s)
    assert s.slack.bot_token is not None and s.slack.bot_token.get_secret_value().endswith("abcdef")


@pytest.mark.parametrize("value", ["changeme", "xoxb-your-token", "<paste here>", "your-secret", "xxxxxxxx"])
def test_placeholder_credentials_refuse_to_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__BOT_TOKEN", value)
    with pytest.raises(PlaceholderCredential, match="LOOPKEEPER_SLACK__BOT_TOKEN"):
        Settings()


def test_dingtalk_mode_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_DINGTALK__MODE", "carrier-pigeon")
    with pytest.raises(ValueError, match="stream"):
        Settings()


def test_alert_channels_from_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LOOPKEEPER_ALERT_CHANNELS", '[{"platform": "slack", "team": "east", "channel": "C123"}]'
    )
    s = Settings()
    assert s.alert_channels[0].channel == "C123"


@pytest.mark.parametrize("value", ["Mars/Olympus", "Asia/Shanghia", "../etc/passwd", "+25:00x", ""])
def test_timezone_is_validated_at_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOOPKEEPER_TIMEZONE", value)
    with pytest.raises(ValueError, match="LOOPKEEPER_TIMEZONE"):
        Settings()


@pytest.mark.parametrize("value", ["Asia/Shanghai", "Europe/Berlin", "UTC", "+08:00", "-0230"])
def test_valid_timezones_are_kept(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOOPKEEPER_TIMEZONE", value)
    assert Settings().timezone == value
