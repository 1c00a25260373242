"""Month identifiers: validated `YYYY-MM` strings and their as_of_date (last calendar day)."""

from __future__ import annotations

import calendar
import re
from datetime import date

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """Return `text` if it is a real month `YYYY-MM`; raise ValueError with a clear message otherwise."""
    if not isinstance(text, str) or not _MONTH.match(text):
        raise ValueError(f"month must look like YYYY-MM (e.g. 2025-10), got {text!r}")
    return text


def as_of_date(month: str) -> date:
    year, mon = (int(p) for p in parse_month(month).split("-"))
    return date(year, mon, calendar.monthrange(year, mon)[1])


def month_range(first: str, last: str) -> list[str]:
    y, m = (int(p) for p in parse_month(first).split("-"))
    end = parse_month(last)
    if first > end:
        raise ValueError(f"--from {first} is after --to {last}")
    months = []
    while f"{y:04d}-{m:02d}" <= end:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


BANK_TIMEZONE = "Asia/Shanghai"


def bank_today() -> date:
    """Today in the bank's time zone (a month closes at its last midnight there)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(BANK_TIMEZONE)).date()


def last_closed_month(today: date | None = None) -> str:
    today = today or date.today()
    y, m = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    return f"{y:04d}-{m:02d}"
