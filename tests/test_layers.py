"""The import direction bot → integrations → core → nlp → config holds (import-linter contracts in
pyproject.toml), and no platform folder imports another."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower() or "0 broken" in result.stdout.lower()


FORBIDDEN = {
    "config": ("core", "nlp", "integrations", "bot"),
    "nlp": ("core", "integrations", "bot"),
    "core": ("integrations", "bot"),
    "integrations": ("bot",),
}


def test_no_forbidden_import_lines() -> None:
    """A second, textual check (also catches imports inside functions, which the linter sees too)."""
    problems = []
    for pkg, banned in FORBIDDEN.items():
        for path in (REPO / pkg).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = re.match(r"\s*(?:from|import)\s+([a-z_]+)", line)
                if m and m.group(1) in banned:
                    problems.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    for platform in ("slack", "dingtalk", "wecom"):
        for path in (REPO / "integrations" / platform).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = re.match(r"\s*(?:from|import)\s+integrations\.([a-z_]+)", line)
                if m and m.group(1) not in (platform, "common"):
                    problems.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not problems, "\n".join(problems)
