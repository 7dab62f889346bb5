"""`loopkeeper extract` answers bad input with one line and a non-zero exit, never a traceback (finding 12).
None of these cases reaches the extractor, so no model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return res.exit_code, res.output


def test_invalid_tz() -> None:
    code, out = run("extract", "--tz", "Mars/Olympus", "明天见")
    assert code == 2 and "--tz" in out and "'Mars/Olympus' is not a time zone" in out


def test_missing_jsonl_file(tmp_path: Path) -> None:
    code, out = run("extract", "--jsonl", str(tmp_path / "nope.jsonl"))
    assert code == 1 and "nope.jsonl: No such file or directory" in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": 1, "text": 42}', "line 1: text must be a string, not int"),
        ('{"id": 1}', "line 1: missing field 'text'"),
        ('{"id": 1, "text": "x", "now": 5}', "line 1: now must be an ISO 8601 string"),
        ('{"id": 1, "text": "x", "tz": "Mars/X"}', "line 1: 'Mars/X' is not a time zone"),
        ("[1]", "line 1: a line is an object"),
    ],
)
def test_bad_jsonl_lines(line: str, expected: str) -> None:
    code, out = run("extract", "--jsonl", "-", stdin=line + "\n")
    assert code == 1 and expected in out, out


def test_gazetteer_without_name_column(tmp_path: Path) -> None:
    g = tmp_path / "g.csv"
    g.write_text("customer,aliases\n甲乙,JY\n", encoding="utf-8")
    code, out = run("extract", "--gazetteer", str(g), "甲乙明天来")
    assert code == 1 and "g.csv: the first line must name the columns, one of them 'name'" in out
