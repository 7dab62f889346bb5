"""The 24 solar terms (二十四节气), 2000–2099.

Dates come from the classic closed formula ``day = floor(Y * 0.2422 + C) - L`` (Y = year % 100, C the
21st-century constant of the term, L = leap days so far: floor(Y / 4), or floor((Y - 1) / 4) for the
January and February terms) with the formula's known exceptions; 冬至 uses the `holidays` package's table.

A term year runs from 立春 to 大寒, as in the traditional cycle: "2017年大寒" is 2018-01-20.
"""

from __future__ import annotations

from datetime import date

# name -> (month, C) in cycle order from 立春
TERMS: dict[str, tuple[int, float]] = {
    "立春": (2, 3.87),
    "雨水": (2, 18.73),
    "惊蛰": (3, 5.63),
    "春分": (3, 20.646),
    "清明": (4, 4.81),
    "谷雨": (4, 20.1),
    "立夏": (5, 5.52),
    "小满": (5, 21.04),
    "芒种": (6, 5.678),
    "夏至": (6, 21.37),
    "小暑": (7, 7.108),
    "大暑": (7, 22.83),
    "立秋": (8, 7.5),
    "处暑": (8, 23.13),
    "白露": (9, 7.646),
    "秋分": (9, 23.042),
    "寒露": (10, 8.318),
    "霜降": (10, 23.438),
    "立冬": (11, 7.438),
    "小雪": (11, 22.36),
    "大雪": (12, 7.18),
    "冬至": (12, 21.94),
    "小寒": (1, 5.4055),
    "大寒": (1, 20.12),
}
# words that are also ordinary words ("下大雪了", "雨水多"): a time only after a year or before 节气/那天
AMBIGUOUS = frozenset({"雨水", "小满", "小暑", "大暑", "处暑", "白露", "寒露", "霜降", "小雪", "大雪"})
# (Gregorian year, term) -> correction of the formula
_EXCEPTIONS: dict[tuple[int, str], int] = {
    (2002, "立秋"): 1,
    (2008, "小满"): 1,
    (2016, "小暑"): 1,
    (2019, "小寒"): -1,
    (2026, "雨水"): -1,
    (2082, "大寒"): 1,
    (2084, "春分"): 1,
    (2089, "霜降"): 1,
    (2089, "立冬"): 1,
}


def term_date(name: str, cycle_year: int) -> date | None:
    """Date of solar term ``name`` in the term year that starts with 立春 of ``cycle_year``."""
    spec = TERMS.get(name)
    if spec is None:
        return None
    month, c = spec
    year = cycle_year + 1 if month == 1 else cycle_year
    if not 2000 <= year <= 2099:
        return None
    if name == "冬至":
        try:
            from holidays.calendars import _ChineseLunisolar

            return _ChineseLunisolar().winter_solstice_date(year)[0]
        except (ImportError, AttributeError, KeyError, TypeError, ValueError):
            pass
    y = year % 100
    leap = (y - 1) // 4 if month in (1, 2) else y // 4
    if y == 0 and month in (1, 2):
        leap = 0
    day = int(y * 0.2422 + c) - leap + _EXCEPTIONS.get((year, name), 0)
    try:
        return date(year, month, day)
    except ValueError:
        return None
