"""The monthly review (定期评估 / 资产检视): HTML, PDF and Excel in Chinese and English, rendered
from the published marts. `render_review` is what the Dagster asset and `tierwise report` call."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
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


RENDER_RECORD = "_render.json"  # which release a month folder was rendered from, and its files


def render_review(serving_path: Path, month: str, out_root: Path, langs=LANGS, formats=FORMATS) -> ReviewFiles:
    """Render a month's review into a staging folder, then swap it in whole for reports/YYYY-MM:
    a failure half-way leaves the previous folder as it was, never a mix of two releases. Files
    of the previous folder that this call does not render (another language or format) are kept
    only when they were rendered from the same release."""
    month = parse_month(month)
    unknown = (set(langs) - set(LANGS)) | (set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown language or format: {', '.join(sorted(unknown))}")
    data = load_review(serving_path, month)
    final = out_root / month
    staging_root = out_root / ".staging"
    _restore_interrupted_swap(final, staging_root)
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{month}-", dir=staging_root))
    try:
        staged = ReviewFiles(month)
        workers = report_workers(len(langs))
        if workers == 1:
            written = [_render_language(data, lang, formats, staging) for lang in langs]
        else:
            # the other languages in worker processes (spawned, not forked: this process may hold
            # DuckDB's and Dagster's threads), the first here, at the same time: each language's
            # PDF and workbook are CPU-bound Python (WeasyPrint, openpyxl)
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
                others = [pool.submit(_render_language, data, lang, formats, staging) for lang in langs[1:]]
                written = [_render_language(data, langs[0], formats, staging)]
                written += [future.result() for future in others]
        for lang, fmts in zip(langs, written, strict=True):
            for fmt in fmts:
                staged.files[(lang, fmt)] = review_path(out_root, month, lang, fmt)
        _carry_over_same_release(final, staging, data.release)
        record = {"month": month, "release": data.release, "run_id": data.run_id,
                  "files": sorted(p.name for p in staging.iterdir() if p.name != RENDER_RECORD)}  # fmt: skip
        (staging / RENDER_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _swap_folder(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staged


def report_workers(languages: int) -> int:
    """How many languages render at once: $TIERWISE_REPORT_WORKERS, by default one per language
    up to the machine's cores (1 renders them one after the other in this process)."""
    text = os.environ.get("TIERWISE_REPORT_WORKERS", "").strip()
    try:
        wanted = int(text) if text else (os.cpu_count() or 1)
    except ValueError:
        raise ValueError(f"TIERWISE_REPORT_WORKERS {text!r}: not a whole number") from None
    if wanted < 1:
        raise ValueError(f"TIERWISE_REPORT_WORKERS {text!r}: at least 1")
    return max(1, min(wanted, languages))


def _render_language(data, lang: str, formats, staging: Path) -> list[str]:
    """One language's formats into the staging folder; returns the formats written."""
    written = []
    html = render_html(data, lang)
    if "html" in formats:
        write_text(review_path(staging.parent, staging.name, lang, "html"), html)
        written.append("html")
    if "pdf" in formats:
        write_pdf(html, review_path(staging.parent, staging.name, lang, "pdf"))
        written.append("pdf")
    if "xlsx" in formats:
        write_excel(data, lang, review_path(staging.parent, staging.name, lang, "xlsx"))
        written.append("xlsx")
    return written


def _carry_over_same_release(final: Path, staging: Path, release: str) -> None:
    try:
        previous = json.loads((final / RENDER_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if previous.get("release") != release:
        return
    for name in previous.get("files", []):
        source, target = final / Path(name).name, staging / Path(name).name
        if source.is_file() and not target.exists():
            shutil.copy2(source, target)


def _swap_folder(staging: Path, final: Path) -> None:
    """staging becomes final: the old folder is renamed aside, the new one renamed in, the old one
    removed. Between the two renames the folder is briefly absent, never mixed; a process that
    dies there leaves the old folder aside, which the next render puts back first."""
    aside = staging.with_name(staging.name + ".previous")
    if final.exists():
        os.rename(final, aside)
    os.rename(staging, final)
    shutil.rmtree(aside, ignore_errors=True)


def _restore_interrupted_swap(final: Path, staging_root: Path) -> None:
    if staging_root.is_dir() and not final.exists():
        for aside in sorted(staging_root.glob(f"{final.name}-*.previous"), reverse=True):
            os.rename(aside, final)
            break
    if staging_root.is_dir():  # folders of renders that died half-way (never published)
        for leftover in staging_root.glob(f"{final.name}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
