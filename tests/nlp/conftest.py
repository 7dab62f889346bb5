from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def monday() -> datetime:
    """2026-11-23 is a Monday (checked on a calendar); 09:12 Shanghai time."""
    return datetime(2026, 11, 23, 9, 12, tzinfo=SH)
