"""Read one landing file into an Arrow table of text columns, or refuse it precisely.

Every refusal names the file, the data row (1-based, header excluded) and the column.
"""

from __future__ import annotations

import codecs
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


class BatchRefused(Exception):
    """The whole batch is refused; nothing of it is loaded."""


@dataclass
class ReadFile:
    table: pa.Table  # contract columns only, plus _row_number
    rows: int
    sha256: str
    warnings: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _python_codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise BatchRefused(f"_manifest.json: unknown encoding '{encoding}'") from exc


def _check_decodes(path: Path, encoding: str, delimiter: str) -> list[str]:
    """Decode the whole file strictly; on failure name the row and column. Returns the header."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0
    newlines = 0
    header_text = ""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_at = consumed + exc.start
                raw = path.read_bytes()[: bad_at + 1]
                line_no = raw.count(b"\n") + 1
                line_start = raw.rfind(b"\n") + 1
                with path.open("rb") as again:
                    header = again.readline().decode(encoding, errors="replace").rstrip("\r\n")
                names = [h.strip().strip('"') for h in header.split(delimiter)]
                col_idx = raw[line_start:bad_at].count(delimiter.encode(encoding, errors="ignore") or b",")
                column = names[col_idx] if col_idx < len(names) else f"#{col_idx + 1}"
                row = "header" if line_no == 1 else f"row {line_no - 1}"
                raise BatchRefused(
                    f"{path.name}: {row} column {column}: bytes {raw[bad_at : bad_at + 1].hex()} at offset {bad_at} "
                    f"are not valid {encoding} (the manifest declares encoding '{encoding}')"
                ) from exc
            if len(header_text) < 65536:
                header_text += text[:65536]
            newlines += text.count("\n")
            consumed += len(chunk)
    if not header_text.strip():
        raise BatchRefused(f"{path.name}: row 0 column -: file is empty (no header row)")
    return header_text.split("\n", 1)[0].rstrip("\r").split(delimiter)


def read_csv(path: Path, encoding: str, delimiter: str, expected: list[str]) -> ReadFile:
    # The checksum is computed beside the reading (hashlib releases the GIL on large blocks);
    # the caller compares it with the manifest before anything of the file is used.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksum = pool.submit(_sha256, path)
        try:
            read = _read_csv(path, encoding, delimiter, expected)
        finally:
            digest = checksum.result()
    read.sha256 = digest
    return read


def _read_csv(path: Path, encoding: str, delimiter: str, expected: list[str]) -> ReadFile:
    codec = _python_codec(encoding)
    header = [h.strip().strip('"') for h in _check_decodes(path, codec, delimiter)]
    if header and codec == "utf-8":  # a UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted
        header[0] = header[0].removeprefix("\ufeff").strip().strip('"')
    missing = [c for c in expected if c not in header]
    if missing:
        raise BatchRefused(
            f"{path.name}: header row column {missing[0]}: required column missing "
            f"(found {', '.join(header)}; delimiter '{delimiter}')"
        )
    warnings = [
        f"{path.name}: extra column {c!r} is not in the contract and was not loaded"
        for c in header
        if c not in expected
    ]
    invalid: list[str] = []

    def on_invalid(row: pcsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    def parse(threads: bool) -> pa.Table:
        return pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(encoding=codec, use_threads=threads, block_size=1 << 24),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                # only an empty field is null: 'NA', 'NULL', 'NaN' are values (refused where a
                # number or date is expected), not silently empty
                null_values=[""],
            ),
        )

    table = parse(threads=True)
    if invalid:
        invalid.clear()
        parse(threads=False)  # single-threaded parsing reports line numbers
        bad = invalid[0]
        row = f"row {bad.number - 1}" if bad.number is not None else "a row"
        raise BatchRefused(
            f"{path.name}: {row} column {header[min(bad.actual_columns, len(header)) - 1]}: expected "
            f"{bad.expected_columns} fields, found {bad.actual_columns} (file cut mid-row or wrong delimiter?)"
        )
    table = table.select(expected)
    return ReadFile(table, table.num_rows, "", warnings)


def read_parquet(path: Path, expected: list[str]) -> ReadFile:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any reader error refuses the file
        raise BatchRefused(f"{path.name}: row 0 column -: not a readable Parquet file ({exc})") from exc
    missing = [c for c in expected if c not in table.column_names]
    if missing:
        raise BatchRefused(f"{path.name}: schema column {missing[0]}: required column missing")
    warnings = [
        f"{path.name}: extra column {c!r} is not in the contract and was not loaded"
        for c in table.column_names
        if c not in expected
    ]
    table = table.select(expected)
    return ReadFile(table, table.num_rows, _sha256(path), warnings)


def read_file(path: Path, fmt: str, encoding: str, delimiter: str, expected: list[str]) -> ReadFile:
    if not path.is_file():
        raise BatchRefused(f"{path.name}: row 0 column -: file listed in the manifest is missing")
    read = read_parquet(path, expected) if fmt == "parquet" else read_csv(path, encoding, delimiter, expected)
    numbers = pa.array(range(1, read.table.num_rows + 1), type=pa.int64())
    read.table = read.table.append_column("_row_number", numbers)
    return read
