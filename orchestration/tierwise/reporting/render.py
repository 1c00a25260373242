"""Render the monthly review from ReviewData: HTML (self-contained), PDF (WeasyPrint, from the
same HTML) and an Excel workbook for branches (openpyxl)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import jinja2
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from tierwise.config import REPO_ROOT
from tierwise.reporting import charts, tables
from tierwise.reporting.data import ReviewData
from tierwise.reporting.words import Words, is_missing
from tierwise.safe_text import FORMULA_PREFIXES, excel_text

TEMPLATE_DIR = REPO_ROOT / "reports"
NUMBER_FORMATS = {
    "count": "#,##0",
    "signed_count": "+#,##0;-#,##0;0",
    "money": "#,##0.00",
    "signed_money": "+#,##0.00;-#,##0.00;0.00",
    "pct": "0.0%",
    "points": "+0.0%;-0.0%;0.0%",
    "ratio": "0.000",
}
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")


def _tables(d: ReviewData, w: Words, limit: int | None) -> SimpleNamespace:
    return SimpleNamespace(
        headline=tables.headline(d, w),
        tiers=tables.tiers(d, w),
        concentration=tables.concentration(d, w),
        migration=tables.migration(d, w),
        migration_rates=tables.migration_rates(d, w),
        downgrade_watch=tables.downgrade_watch(d, w, limit),
        watchlist=tables.watchlist(d, w, limit),
        cross_sell_matrix=tables.cross_sell_matrix(d, w),
        top_categories=tables.top_categories(d, w),
        blocked=tables.blocked(d, w),
        rm_books=tables.rm_books(d, w, 15 if limit else None),
        over_capacity_pb=tables.over_capacity_private_bankers(d, w),
        reconciliation=tables.reconciliation(d, w),
        rollforward=tables.rollforward(d, w),
        test_summary=tables.test_summary(d, w),
        failed_tests=tables.failed_tests(d, w),
        rule_versions=tables.rule_versions(d, w),
    )


def render_html(d: ReviewData, lang: str) -> str:
    w = Words(lang, d.tier_names)
    matrix = tables.migration_matrix(d)
    figures = SimpleNamespace(
        tiers=charts.tier_aum_chart(d, w),
        lorenz=charts.lorenz_chart(d, w),
        heatmap=charts.migration_heatmap(matrix, w) if not matrix.empty else "",
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        finalize=_page_value,
    )
    # SVG from our own matplotlib calls is markup; everything else is escaped.
    figures = SimpleNamespace(**{k: jinja2.utils.markupsafe.Markup(v) for k, v in vars(figures).items()})
    template = env.get_template("monthly_review.html.j2")
    return template.render(d=d, w=w, t=_tables(d, w, tables.HTML_ROWS), charts=figures, lang=lang)


def write_pdf(html: str, path: Path) -> None:
    from weasyprint import HTML  # imported here: it loads Pango, only needed for PDFs

    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf(temporary)
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------- Excel
def _page_value(value):
    """Jinja's finalize for the HTML page: every value printed from the marts loses the control
    characters (autoescape then escapes markup); our own SVG (Markup) is left as it is."""
    if isinstance(value, str) and not isinstance(value, jinja2.utils.markupsafe.Markup):
        return excel_text(value)
    return value


def _put_text(ws, row: int, col: int, value: str):
    """A text cell that stays text: never stored as a formula, and Excel keeps it text when the
    cell is edited (quotePrefix), whatever the text starts with."""
    c = ws.cell(row, col)
    c.value = excel_text(value)
    c.data_type = "s"
    if c.value.startswith(FORMULA_PREFIXES):
        c.quotePrefix = True
    return c


def _sheet_title(text: str, used: set[str]) -> str:
    """A valid sheet name, unique in the workbook: no []:*?/\\ or control characters, no
    apostrophe at either end, at most 31 characters, compared case-insensitively as Excel does."""
    title = excel_text("".join("_" if ch in "[]:*?/\\" else ch for ch in text)).strip().strip("'")[:31].strip("'")
    title = title or "Sheet"
    base, n = title, 2
    while title.casefold() in used:
        title = f"{base[:27].rstrip(chr(39))}~{n}"
        n += 1
    used.add(title.casefold())
    return title


def _put_table(ws, table: tables.Table, first_row: int, heading: str | None = None) -> int:
    """Write a table at first_row (with an optional bold heading above); returns the next free row."""
    row = first_row
    if heading:
        _put_text(ws, row, 1, heading).font = Font(bold=True, size=12)
        row += 1
    for col, column in enumerate(table.columns, start=1):
        c = _put_text(ws, row, col, str(column.label))
        c.font, c.fill, c.alignment = Font(bold=True), HEADER_FILL, Alignment(wrap_text=True, vertical="top")
    for values in table.rows:
        row += 1
        for col, (column, value) in enumerate(zip(table.columns, values, strict=True), start=1):
            kind, value = tables.cell(column.kind, value)
            if is_missing(value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()  # numpy scalar -> Python
            elif isinstance(value, Decimal):
                value = float(value)
            c = _put_text(ws, row, col, value) if isinstance(value, str) else ws.cell(row, col, value)
            if kind in NUMBER_FORMATS and value is not None:
                c.number_format = NUMBER_FORMATS[kind]
    return row + 2


def _widths(ws) -> None:
    for column in ws.columns:
        longest = max((len(str(c.value)) if c.value is not None else 0) for c in column)
        ws.column_dimensions[get_column_letter(column[0].column)].width = min(max(10, longest * 1.3 + 2), 60)


def _list_sheet(wb, title: str, table: tables.Table) -> None:
    """A sheet holding one list: frozen header, filters, number formats."""
    ws = wb.create_sheet(title)
    _put_table(ws, table, 1)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(1, len(table.rows) + 1)}"
    _widths(ws)


def write_excel(d: ReviewData, lang: str, path: Path) -> list[str]:
    """Summary sheet, then the lists, then one churn-watchlist sheet per branch. Returns sheet names."""
    w = Words(lang, d.tier_names)
    t = _tables(d, w, None)
    wb = Workbook()
    used: set[str] = set()
    summary = wb.active
    summary.title = _sheet_title(w("workbook_summary"), used)
    _put_text(summary, 1, 1, f"{w('title')} · {d.month}").font = Font(bold=True, size=14)
    _put_text(summary, 2, 1, w("subtitle", as_of_date=d.as_of_date, release=d.release, run_id=d.run_id))
    row = _put_table(summary, t.headline, 4, w("s1"))
    row = _put_table(summary, t.tiers, row, w("s2"))
    row = _put_table(summary, t.concentration, row)
    row = _put_table(summary, t.migration_rates, row, w("s3"))
    row = _put_table(summary, t.blocked, row, w("blocked"))
    summary.freeze_panes = "A4"
    _widths(summary)

    _list_sheet(wb, _sheet_title(w("workbook_migration"), used), t.migration)
    _list_sheet(wb, _sheet_title(w("workbook_downgrade"), used), t.downgrade_watch)
    _list_sheet(wb, _sheet_title(w("workbook_cross_sell"), used), t.cross_sell_matrix)
    _list_sheet(wb, _sheet_title(w("workbook_rm"), used), t.rm_books)

    dq = wb.create_sheet(_sheet_title(w("workbook_dq"), used))
    row = _put_table(dq, t.reconciliation, 1, w("reconciliation"))
    row = _put_table(dq, t.rollforward, row, w("rollforward"))
    row = _put_table(dq, t.test_summary, row, w("tests"))
    row = _put_table(dq, t.failed_tests, row, w("failed_tests"))
    _put_table(dq, t.rule_versions, row, w("rule_versions"))
    _widths(dq)

    frame = tables.watchlist_frame(d, w)
    branches = sorted(frame["branch_id"].fillna(w("na")).unique()) if not frame.empty else []
    if not branches:
        _list_sheet(
            wb, _sheet_title(w("workbook_watchlist"), used), tables.Table("watchlist", tables.watchlist_columns(w))
        )
    for branch in branches:
        rows = frame[frame["branch_id"].fillna(w("na")) == branch]
        table = tables.Table("watchlist", tables.watchlist_columns(w), tables._rows(rows, tables.WATCHLIST_KEYS))
        _list_sheet(wb, _sheet_title(f"{w('workbook_watchlist')} {branch}", used), table)

    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    wb.save(temporary)
    os.replace(temporary, path)
    return wb.sheetnames


def write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
