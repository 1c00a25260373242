"""Words and number formats of the review in one language (reports/labels.yml)."""

from __future__ import annotations

from functools import cache

import pandas as pd
import yaml

from tierwise.config import REPO_ROOT

LABELS = REPO_ROOT / "reports" / "labels.yml"
LANGS = ("zh", "en")


@cache
def _all_labels() -> dict:
    return yaml.safe_load(LABELS.read_text(encoding="utf-8"))


def catalogue(lang: str) -> dict:
    """Every word of one language (reports/labels.yml): the review's, and under `explain` and
    `grace_branches` those of `tierwise explain`."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    return _all_labels()[lang]


def is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


class Words:
    def __init__(self, lang: str, tier_names: pd.DataFrame | None = None):
        if lang not in LANGS:
            raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
        self.lang = lang
        self.labels = _all_labels()[lang]
        self.tiers = (
            {} if tier_names is None else dict(zip(tier_names["tier"], tier_names[f"name_{lang}"], strict=True))
        )

    def __call__(self, key: str, **values) -> str:
        text = self.labels[key]  # a missing key is a bug: fail the render
        return text.format(**values) if values else text

    def tier(self, code: str) -> str:
        if code in ("none", "left"):
            return self(code)
        return self.tiers.get(code, code)

    def role(self, code: str) -> str:
        return self.labels["roles"].get(code, code)

    def category(self, code: str) -> str:
        return self.labels["categories"].get(code, code)

    def blocked_rule(self, key: str) -> str:
        return self.labels["blocked_rules"][key]

    def reasons(self, codes: str | None) -> str:
        if is_missing(codes) or not codes:
            return self("na")
        sep = "；" if self.lang == "zh" else "; "
        return sep.join(self.labels["reason_codes"].get(c, c) for c in codes.split(","))

    # ---- numbers: the same in both languages, so a figure reads the same in every file
    def money(self, value) -> str:
        return self("na") if is_missing(value) else f"{float(value):,.2f}"

    def count(self, value) -> str:
        return self("na") if is_missing(value) else f"{int(value):,}"

    def pct(self, value) -> str:
        return self("na") if is_missing(value) else f"{float(value):.1%}"

    def ratio(self, value, digits: int = 3) -> str:
        return self("na") if is_missing(value) else f"{float(value):.{digits}f}"

    def signed_money(self, value) -> str:
        return self("na") if is_missing(value) else f"{float(value):+,.2f}"

    def signed_count(self, value) -> str:
        return self("na") if is_missing(value) else f"{int(value):+,}"

    def points(self, value) -> str:
        """A change of a rate, in percentage points."""
        return self("na") if is_missing(value) else f"{float(value) * 100:+.1f} pp"

    def flag(self, value) -> str:
        return self("flag_yes") if bool(value) else self("flag_no")
