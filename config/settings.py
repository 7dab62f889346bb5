"""Typed settings (environment prefix ``LOOPKEEPER_``, nested with ``__``; also read from ``.env``).

Names follow DESIGN §7. Secrets are ``SecretStr`` and never appear in logs or reprs.
A platform is enabled when its credentials are set; credentials left at a placeholder refuse to start.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"

# Values people copy from a template and forget to replace.
_PLACEHOLDER = re.compile(
    r"^(|x+|\*+|\.\.\.|<.*>|\{.*\}|\$\{.*\}|\$[A-Z_][A-Z0-9_]*|changeme|change[-_ ]?me|todo|tbd|placeholder"
    r"|your[-_ ].*|replace[-_ ]?me|example|dummy|secret|none|null"
    # a token prefix followed by nothing real: xoxb-..., xoxb-xxxxxxxxxxxx-…, xapp-XXXX
    r"|(?:xox[abpe]|xapp)-[xX.…*\-]*|xox[abpe]-your.*"
    # only filler characters: ------, x-x-x, ……, ***
    r"|[xX.…*\-]+)$",
    re.IGNORECASE,
)


# the fixed offsets core.timeutil.parse_tz reads (+08:00, -0230, UTC+8)
_FIXED_OFFSET = re.compile(r"^(?:UTC|GMT)?[+-]\d{1,2}(?::?\d{2})?$")


class PlaceholderCredential(ValueError):
    """A platform credential was set but still holds a placeholder value."""


def _is_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value.strip()))


class _Platform(BaseModel):
    #: field names that must all be set for the platform to be enabled
    _required: tuple[str, ...] = ()
    #: other plain-text values copied from the admin console (checked for placeholders too)
    _identifiers: tuple[str, ...] = ()

    def _credential_values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = value.get_secret_value()
            elif (name in self._required or name in self._identifiers) and isinstance(value, str):
                out[name] = value
        return out

    @property
    def enabled(self) -> bool:
        values = self._credential_values()
        return all(values.get(name) for name in self._required)

    def check_placeholders(self, platform: str) -> None:
        for name, value in self._credential_values().items():
            if value and _is_placeholder(value):
                env = f"LOOPKEEPER_{platform.upper()}__{name.upper()}"
                raise PlaceholderCredential(  # never echo the value: it may be a real secret mistaken
                    f"{env} is set to a placeholder; paste the real value from the "
                    f"{platform} admin console or unset it to disable {platform}."
                )


class SlackSettings(_Platform):
    _required = ("bot_token", "signing_secret")
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    command: str = "/lk"
    api_url: str = "https://slack.com/api/"
    capture_reaction: str = "memo"
    #: link an unknown Slack user to the member with the same email (users.info; needs users:read.email)
    email_match: bool = False


class DingTalkSettings(_Platform):
    _required = ("client_id", "client_secret")
    _identifiers = ("robot_code",)
    client_id: str | None = None
    client_secret: SecretStr | None = None
    robot_code: str | None = None
    event_token: SecretStr | None = None
    event_aes_key: SecretStr | None = None
    api_url: str | None = None  # one override for both api.dingtalk.com and oapi.dingtalk.com
    mode: str = "stream"
    #: where DingTalk users reach the web process (https://HOST); ActionCard buttons link to
    #: {public_url}/dingtalk/action?token=… — without it messages carry no buttons
    public_url: str | None = None
    #: stream watchdog: reconnect when neither a frame nor a pong arrived for this many seconds
    stream_idle_seconds: float = 75.0
    #: random delay before the first connection, so replicas restarted together spread their connects
    stream_start_jitter: float = 5.0

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in ("stream", "http"):
            raise ValueError("DINGTALK__MODE must be 'stream' or 'http'")
        return v


class WeComSettings(_Platform):
    _required = ("corp_id", "secret")
    _identifiers = ("agent_id",)
    corp_id: str | None = None
    agent_id: str | None = None
    secret: SecretStr | None = None
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    aibot_token: SecretStr | None = None
    aibot_aes_key: SecretStr | None = None
    api_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    #: seconds a callback's signed timestamp may differ from now
    callback_window: float = 300.0
    #: signs the 客户快记 sidebar's member sessions (defaults to a key derived from SECRET, then API_TOKEN)
    session_secret: SecretStr | None = None
    #: WeCom web OAuth (the sidebar learns which member opened it)
    oauth_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"


class AlertChannel(BaseModel):
    platform: str
    team: str | None = None
    webhook: str | None = None
    secret: SecretStr | None = None
    channel: str | None = None

    @property
    def ref(self) -> str:
        """A stable name for the channel that is safe to store and log: the Slack channel id, else
        ``robot-`` and a hash of the webhook (a robot webhook carries its access token)."""
        if self.channel:
            return self.channel
        import hashlib

        return "robot-" + hashlib.sha256((self.webhook or "").encode()).hexdigest()[:16]


def default_database_url(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    return f"sqlite:///{var_dir / 'loopkeeper.sqlite'}"


def default_broker_url(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    return f"sqla+sqlite:///{var_dir / 'celery-broker.sqlite'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOOPKEEPER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    #: default (empty): the SQLite file in var_dir
    database_url: str = ""
    #: default (empty): kombu's SQLAlchemy transport on a SQLite file in var_dir
    broker_url: str = ""
    redis_url: str | None = None
    timezone: str = "Asia/Shanghai"
    #: where the embedded defaults keep their files (SQLite database, broker, beat schedule)
    var_dir: Path = DEFAULT_VAR_DIR
    log_level: str = "INFO"
    log_format: str = "console"  # console | json
    host: str = "127.0.0.1"
    port: int = 8000
    api_token: SecretStr | None = None
    rules_file: Path = PROJECT_ROOT / "config" / "rules.yaml"
    approvals_file: Path | None = None
    #: extra extraction vocabulary (YAML files shaped like nlp/lexicon.yaml) merged over the packaged one
    lexicon_files: list[Path] = Field(default_factory=list)
    #: SQLite busy timeout: below the platforms' ack budgets (Slack 3 s)
    sqlite_busy_timeout_ms: int = 2500
    #: how long a worker may hold an inbox row / conversation before the sweeper takes it back
    lease_seconds: int = 60
    #: Redis/SQS visibility timeout for unacked tasks (short, so a killed worker's task comes back fast)
    visibility_timeout: int = 120
    #: re-enqueue pending inbox rows older than this
    sweep_after_seconds: int = 30
    #: Celery queue name (separate deployments or test runs can share one broker)
    celery_queue: str = "loopkeeper"
    slack: SlackSettings = Field(default_factory=SlackSettings)
    dingtalk: DingTalkSettings = Field(default_factory=DingTalkSettings)
    wecom: WeComSettings = Field(default_factory=WeComSettings)
    alert_channels: list[AlertChannel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        self.var_dir = self.var_dir.expanduser().absolute()
        if not self.database_url.strip():
            self.database_url = default_database_url(self.var_dir)
        if not self.broker_url.strip():
            self.broker_url = default_broker_url(self.var_dir)
        return self

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        v = v.strip()
        if _FIXED_OFFSET.match(v):
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"LOOPKEEPER_TIMEZONE={v!r} is not a time zone: use an IANA name such as Asia/Shanghai "
                "or a fixed offset such as +08:00"
            ) from None
        return v

    @field_validator("alert_channels", mode="before")
    @classmethod
    def _parse_channels(cls, v: Any) -> Any:
        if isinstance(v, str):
            import yaml

            return yaml.safe_load(v) or []
        return v

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self._check_placeholders()

    def _check_placeholders(self) -> None:
        self.slack.check_placeholders("slack")
        self.dingtalk.check_placeholders("dingtalk")
        self.wecom.check_placeholders("wecom")
        if self.api_token is not None and _is_placeholder(self.api_token.get_secret_value()):
            raise PlaceholderCredential("LOOPKEEPER_API_TOKEN is set to a placeholder; set a real token.")
        for i, ch in enumerate(self.alert_channels):
            for name in ("webhook", "secret", "channel"):
                value = getattr(ch, name)
                text = value.get_secret_value() if isinstance(value, SecretStr) else value
                if text and _is_placeholder(text):
                    raise PlaceholderCredential(
                        f"LOOPKEEPER_ALERT_CHANNELS entry {i + 1} ({ch.platform}): {name} is set to a "
                        "placeholder; paste the real value or remove the entry."
                    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def effective_redis_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    def enabled_platforms(self) -> list[str]:
        return [
            name
            for name, plat in (("slack", self.slack), ("dingtalk", self.dingtalk), ("wecom", self.wecom))
            if plat.enabled
        ]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def startup_settings() -> Settings:
    """`get_settings` for process entry points (web, worker, beat): a configuration mistake ends the
    process with one clear line instead of a traceback. Values are never echoed."""
    try:
        return get_settings()
    except PlaceholderCredential as exc:
        raise SystemExit(f"loopkeeper: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SystemExit(f"loopkeeper: configuration error: {problems}") from None


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment) and the rules read through them."""
    get_settings.cache_clear()
    from config.rules import reset_rules

    reset_rules()
