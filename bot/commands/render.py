"""Small formatting helpers shared by the command modules (markdown is the common language)."""

from __future__ import annotations

from datetime import datetime

from core.queries import team_tz


def when(dt: datetime | None) -> str:
    """A time as people read it in the team's zone: ``12-02 15:00``."""
    if dt is None:
        return "—"
    return dt.astimezone(team_tz()).strftime("%m-%d %H:%M")


def money(amount: float) -> str:
    if not amount:
        return "0"
    if amount >= 10_000:
        return f"{amount / 10_000:,.1f}万"
    return f"{amount:,.0f}"


def pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table (Slack shows it as text; DingTalk and WeCom markdown render it)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
