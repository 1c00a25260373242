"""The monthly review (定期评估 / 资产检视): HTML, PDF and Excel in Chinese and English, rendered
from the published marts. `render_review` is what the Dagster asset and `tierwise report` call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tierwise.months import parse_month
from tierwise.reporting.data import load_review
from tierwise.reporting.render import render_html, write_excel, write_pdf, write_text
from tierwise.reporting.words import LANGS

FORMATS = ("html", "pdf", "xlsx")


def default_formats() -> list[str]:
    """The formats a refresh renders: $TIERWISE_REPORT_FORMATS (comma-separated, e.g. `html,xlsx`
    to skip the PDFs, which take most of a report's time), by default all of FORMATS."""
    text = os.environ.get("TIERWISE_REPORT_FORMATS", "").strip()
    if not text:
        return list(FORMATS)
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown or not chosen:
        raise ValueError(
            f"TIERWISE_REPORT_FORMATS {text!r}: unknown format(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(FORMATS)}"
        )
    return chosen


@dataclass
class ReviewFiles:
    month: str
    files: dict[tuple[str, str], Path] = field(default_factory=dict)  # (lang, format) -> path

    def paths(self) -> list[Path]:
        return list(self.files.values())


def review_path(out_root: Path, month: str, lang: str, fmt: str) -> Path:
    return out_root / month / f"monthly_review.{lang}.{fmt}"


def render_review(serving_path: Path, month: str, out_root: Path, langs=LANGS, formats=FORMATS) -> ReviewFiles:
    month = parse_month(month)
    unknown = (set(langs) - set(LANGS)) | (set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown language or format: {', '.join(sorted(unknown))}")
    data = load_review(serving_path, month)
    (out_root / month).mkdir(parents=True, exist_ok=True)
    result = ReviewFiles(month)
    for lang in langs:
        html = render_html(data, lang)
        if "html" in formats:
            path = review_path(out_root, month, lang, "html")
            write_text(path, html)
            result.files[(lang, "html")] = path
        if "pdf" in formats:
            path = review_path(out_root, month, lang, "pdf")
            write_pdf(html, path)
            result.files[(lang, "pdf")] = path
        if "xlsx" in formats:
            path = review_path(out_root, month, lang, "xlsx")
            write_excel(data, lang, path)
            result.files[(lang, "xlsx")] = path
    return result
