"""Text from an extract, made safe to hand to a spreadsheet, a page or a CSV file.

Any text column of a delivered file can carry control characters or start like a formula
(`=HYPERLINK(...)`, `+1`, `@SUM`): the report's workbook and page, the explorer's downloads and
`tierwise metrics --csv` all pass text through here."""

from __future__ import annotations

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as a formula (OWASP)
# the control characters XML 1.0 forbids (openpyxl's ILLEGAL_CHARACTERS_RE)
_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def excel_text(value: str) -> str:
    """Text as a workbook or a page can hold it: the control characters XML 1.0 forbids are
    removed (openpyxl refuses them, HTML calls them a parse error; an extract may carry them in
    any text column)."""
    return _ILLEGAL_CHARACTERS.sub("", value)


def csv_text(value: str) -> str:
    """A CSV cell a spreadsheet opens as text: control characters removed and, when it starts
    like a formula, a leading apostrophe (OWASP's advice for CSV injection)."""
    text = excel_text(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


MARKDOWN_SPECIALS = frozenset("\\`*_{}[]<>()#+-.!|~$")


def markdown_text(text: str) -> str:
    """Text shown where a page reads markdown (a Streamlit heading or message): every markdown
    character escaped, so it shows as typed and never becomes a link, an image or markup."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in str(text))


def csv_bytes(columns: list[str], rows: list[list], bom: bool = False) -> bytes:
    """A CSV file of a table (Python's csv quoting): text cells through csv_text, None empty,
    numbers as they print. `bom`: a UTF-8 byte-order mark first, so Excel reads Chinese right."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_text(str(c)) for c in columns])
    writer.writerows([[csv_text(v) if isinstance(v, str) else ("" if v is None else str(v)) for v in r] for r in rows])
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def xlsx_bytes(columns: list[str], rows: list[list]) -> bytes:
    """A one-sheet workbook of a table: text cells stay text (never a formula, quotePrefix when
    they start like one), numbers stay numbers."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([excel_text(str(c)) for c in columns])
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(r, c)
            if isinstance(value, str):
                cell.value = excel_text(value)
                cell.data_type = "s"
                cell.quotePrefix = cell.value.startswith(FORMULA_PREFIXES)
            else:
                cell.value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
