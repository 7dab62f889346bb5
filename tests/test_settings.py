from __future__ import annotations

import os
from pathlib import Path

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


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("LOOPKEEPER_SLACK__BOT_TOKEN", "xoxb-..."),
        ("LOOPKEEPER_SLACK__BOT_TOKEN", "xoxb-xxxxxxxxxxxx-…"),
        ("LOOPKEEPER_SLACK__BOT_TOKEN", "${SLACK_BOT_TOKEN}"),
        ("LOOPKEEPER_SLACK__SIGNING_SECRET", "$SLACK_SIGNING_SECRET"),
        ("LOOPKEEPER_WECOM__AGENT_ID", "changeme"),
        ("LOOPKEEPER_DINGTALK__ROBOT_CODE", "<robot code>"),
    ],
)
def test_more_placeholders_refuse_to_start_without_echoing(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(PlaceholderCredential, match=env) as err:
        Settings()
    assert value[:4] not in str(err.value)


def test_placeholder_error_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__BOT_TOKEN", "your-real-looking-token-1234")
    with pytest.raises(PlaceholderCredential) as err:
        Settings()
    assert "your-real" not in str(err.value)


def test_alert_channel_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LOOPKEEPER_ALERT_CHANNELS",
        '[{"platform": "dingtalk", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=abc",'
        ' "secret": "changeme"}]',
    )
    with pytest.raises(PlaceholderCredential, match="LOOPKEEPER_ALERT_CHANNELS entry 1 .dingtalk.: secret"):
        Settings()


def test_real_looking_values_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPKEEPER_SLACK__BOT_TOKEN", "xoxb-1234-5678-abcdef")
    monkeypatch.setenv("LOOPKEEPER_SLACK__SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
    monkeypatch.setenv("LOOPKEEPER_WECOM__AGENT_ID", "1000002")
    Settings()


@pytest.mark.parametrize("module", ["bot.asgi", "config.celery"])
def test_entry_points_stop_with_one_line(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPKEEPER_")}
    env["LOOPKEEPER_SLACK__BOT_TOKEN"] = "xoxb-..."
    env["LOOPKEEPER_SLACK__SIGNING_SECRET"] = "8f742231b10e8888abcd99yyyzzz85a5"
    res = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        "loopkeeper: LOOPKEEPER_SLACK__BOT_TOKEN is set to a placeholder; paste the real value from the "
        "slack admin console or unset it to disable slack."
    )


def test_var_dir_moves_the_embedded_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOOPKEEPER_VAR_DIR", str(tmp_path / "state"))
    s = Settings()
    assert s.database_url == f"sqlite:///{tmp_path}/state/loopkeeper.sqlite"
    assert s.broker_url == f"sqla+sqlite:///{tmp_path}/state/celery-broker.sqlite"
    monkeypatch.setenv("LOOPKEEPER_DATABASE_URL", "postgresql://lk@db:5432/lk")
    assert Settings().database_url == "postgresql://lk@db:5432/lk"  # an explicit URL still wins
