"""`loopkeeper wecom-token MEMBER`: a signed sidebar token the server accepts for that member's WeCom id."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.helpers import seed


def test_token_for_a_member_by_name(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import reset_settings
    from integrations.wecom.jssdk import SessionSigner, derive_key

    seed(tmp_path)
    r = CliRunner().invoke(main, ["wecom-token", "小陈"])
    assert r.exit_code != 0 and "SESSION_SECRET" in r.output  # no key configured
    monkeypatch.setenv("LOOPKEEPER_WECOM__SESSION_SECRET", "s3cret-for-cli")
    reset_settings()
    r = CliRunner().invoke(main, ["wecom-token", "小陈", "--days", "2"])
    assert r.exit_code == 0, r.output
    assert SessionSigner(derive_key("s3cret-for-cli") or b"").verify(r.output.strip()) == "wm-chen"
    r = CliRunner().invoke(main, ["wecom-token", "nobody"])
    assert r.exit_code != 0 and "no member" in r.output
