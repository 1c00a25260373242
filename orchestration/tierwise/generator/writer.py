"""Write MonthBatch tables as a landing batch: one file per table plus `_manifest.json`."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tierwise.generator.bank import BankSpec, MonthBatch, SyntheticBank
from tierwise.landing.contract import TABLES


@dataclass(frozen=True)
class OutputFormat:
    fmt: str = "csv"  # csv | parquet
    encoding: str = "utf-8"  # utf-8 | gbk
    delimiter: str = ","


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _transcode(path: Path, encoding: str) -> None:
    """Re-encode a UTF-8 file in place, line-aligned chunks so multibyte chars never split."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with path.open("rb") as src, tmp.open("wb") as dst:
        for line_block in iter(lambda: src.readlines(1 << 22), []):
            dst.write(b"".join(line_block).decode("utf-8").encode(encoding))
    tmp.replace(path)


def write_table(table: pa.Table, path: Path, out: OutputFormat) -> None:
    if out.fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
        return
    con = duckdb.connect()
    con.execute("SET threads = 1")  # one writer thread: row order and bytes are reproducible
    con.register("landing_table", table)
    sep = out.delimiter.replace("'", "")
    con.execute(f"COPY landing_table TO '{path.as_posix()}' (FORMAT csv, HEADER, DELIMITER '{sep}')")
    con.close()
    if out.encoding.lower() not in ("utf-8", "utf8"):
        _transcode(path, out.encoding)


def write_batch(batch: MonthBatch, root: Path, out: OutputFormat) -> Path:
    folder = root / batch.month
    folder.mkdir(parents=True, exist_ok=True)
    ext = "parquet" if out.fmt == "parquet" else "csv"
    manifest_tables = {}
    for name, spec in TABLES.items():
        table = batch.tables[name].select(spec.column_names)
        path = folder / f"{name}.{ext}"
        write_table(table, path, out)
        manifest_tables[name] = {"file": path.name, "rows": table.num_rows, "sha256": sha256_of(path)}
    manifest = {
        "batch_id": batch.month,
        "as_of_date": str(batch.as_of_date),
        "encoding": out.encoding if out.fmt == "csv" else "binary",
        "delimiter": out.delimiter if out.fmt == "csv" else None,
        "format": out.fmt,
        "tables": manifest_tables,
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return folder


def generate(
    spec: BankSpec, root: Path, out: OutputFormat, progress: Callable[[str], None] = lambda _m: None
) -> list[Path]:
    """Simulate the bank and write one batch folder per month; returns the folders in order."""
    started = time.perf_counter()
    bank = SyntheticBank(spec, progress)
    folders = []
    for batch in bank.batches():
        folders.append(write_batch(batch, root, out))
        rows = sum(t.num_rows for t in batch.tables.values())
        progress(f"wrote {folders[-1]} ({rows:,} rows, {time.perf_counter() - started:.1f}s elapsed)")
    return folders
