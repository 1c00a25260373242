"""Personal data of the golden bank, to search for where it must not be: its customers' full
names, ID numbers and phone numbers, and anything shaped like a Chinese ID or mobile number."""

from __future__ import annotations

import re

from golden_bank import CUSTOMERS

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z.])\d{17}[\dXx](?![0-9A-Za-z])")
PHONE = re.compile(r"(?<![0-9A-Za-z.])1\d{10}(?![0-9A-Za-z])")


def leaks(text: str) -> list[str]:
    """Every piece of personal data found in `text` (empty: none)."""
    found = [v for c in CUSTOMERS for v in c[1:4] if v in text]
    return found + ID_NUMBER.findall(text) + PHONE.findall(text)
