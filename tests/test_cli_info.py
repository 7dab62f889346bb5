"""`loopkeeper info` points at a README heading that exists and at a command the user can run (finding 14)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.conftest import REPO


def test_info_names_a_real_heading_and_a_runnable_command(db: str) -> None:
    out = CliRunner().invoke(main, ["info"], catch_exceptions=False).output
    m = re.search(r"README '([^']+)'", out)
    assert m is not None, out
    headings = [
        h.lstrip("#").strip()
        for h in (REPO / "README.md").read_text("utf-8").splitlines()
        if h.startswith("#")
    ]
    assert m.group(1) in headings
    # run from the repository without an activated venv, `loopkeeper` is not on PATH
    assert "try: .venv/bin/loopkeeper members import FILE" in out


def test_customer_card_spacing_and_empty_sections(db: str, tmp_path: Path) -> None:
    from bot.cli import _amount
    from tests.helpers import seed

    assert _amount({"quantity": 3, "unit": "units"}) == "3 units "
    assert _amount({"quantity": 2.0, "unit": "台"}) == "2台 "
    assert _amount({"quantity": 1.5, "unit": "kg"}) == "1.5 kg "
    assert _amount({"quantity": None, "unit": None}) == ""
    seed(tmp_path)
    out = CliRunner().invoke(main, ["customer", "丙丁"], catch_exceptions=False).output
    assert out.splitlines()[1:] == [
        "pain points: none",
        "meetings: none",
        "samples: none",
        "todos: none",
        "activities: 0",
    ]
