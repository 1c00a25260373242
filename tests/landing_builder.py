"""Build tiny hand-made landing batches for tests: a valid base, then one deliberate defect.

Every row here is written out by hand so each expected outcome can be checked by eye.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tierwise.landing.contract import TABLES

AS_OF = "2025-10-31"

# A valid October 2025 batch: 2 branches, 3 customers, 2 RMs, 3 products, 3 accounts.
BASE: dict[str, list[list[str]]] = {
    "branches": [["B01", "北京第1支行", "北京", "华北"], ["B02", "上海第1支行", "上海", "华东"]],
    "fx_rates": [["USD", "2025-10-31", "7.100000"]],
    "customers": [
        [
            "C1",
            "张三丰",
            "110101198001011234",
            "13800000001",
            "1980-01-01",
            "M",
            "B01",
            "2020-01-01",
            "C3",
            "2025-01-15",
            "true",
            "2025-01-15 02:00:00",
        ],
        [
            "C2",
            "李四",
            "310101199002022345",
            "13800000002",
            "1990-02-02",
            "F",
            "B02",
            "2021-06-01",
            "",
            "",
            "false",
            "2021-06-01 02:00:00",
        ],
        [
            "C3",
            "王五",
            "110101195003033456",
            "13800000003",
            "1950-03-03",
            "U",
            "B01",
            "2010-05-05",
            "C1",
            "2023-05-05",
            "false",
            "2023-05-05 02:00:00",
        ],
    ],
    "relationship_managers": [
        ["RM1", "周经理", "B01", "private_banker", ""],
        ["RM2", "吴经理", "B02", "wealth_advisor", "150"],
    ],
    "rm_assignments": [["C1", "RM1", "2024-01-01", ""], ["C3", "RM2", "2024-01-01", ""]],
    "products": [
        ["DD01", "活期储蓄", "demand_deposit", "R1", "CNY", "0.00", "2003-01-01", ""],
        ["DD02", "美元活期", "demand_deposit", "R1", "USD", "0.00", "2003-01-01", ""],
        ["WM01", "稳健理财", "wealth_management", "R2", "CNY", "10000.00", "2020-01-01", ""],
    ],
    "accounts": [
        ["A1", "C1", "DD01", "CNY", "B01", "2020-01-01", "", "active", "", "", ""],
        ["A2", "C2", "DD02", "USD", "B02", "2021-06-01", "", "active", "", "", ""],
        ["A3", "C3", "DD01", "CNY", "B01", "2010-05-05", "", "active", "", "", ""],
    ],
    # A1 opens the month at 1000.00: +500.00, -200.00 -> 1300.00. A2: +100.00 from 0 -> 100.00.
    "deposit_transactions": [
        ["T1", "A1", "2025-10-05 10:00:00", "C", "500.00", "deposit", "counter", "", "1500.00"],
        ["T2", "A1", "2025-10-06 11:00:00", "D", "200.00", "transfer_out", "mobile", "工商银行", "1300.00"],
        ["T3", "A2", "2025-10-07 09:30:00", "C", "100.00", "transfer_in", "online", "", "100.00"],
    ],
    "deposit_balances": [["A1", AS_OF, "1300.00"], ["A2", AS_OF, "100.00"], ["A3", AS_OF, "50.00"]],
    "product_holdings": [["C1", "WM01", AS_OF, "20000.0000", "20000.00"]],
    "complaints": [["Q1", "C2", "2025-10-10 09:00:00", "phone", "服务态度", "high", ""]],
}


def _row_text(row: list[str], delimiter: str) -> str:
    return delimiter.join(row)


def write_batch(
    root: Path,
    rows: dict[str, list[list[str]]] | None = None,
    *,
    batch_id: str = "2025-10",
    as_of: str = AS_OF,
    encoding: str = "utf-8",
    delimiter: str = ",",
    headers: dict[str, list[str]] | None = None,
) -> Path:
    """Write a batch folder whose manifest matches its files exactly; returns the folder."""
    rows = {k: [list(r) for r in v] for k, v in (rows or BASE).items()}
    folder = root / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name, spec in TABLES.items():
        header = (headers or {}).get(name, spec.column_names)
        body = [_row_text(header, delimiter)] + [_row_text(r, delimiter) for r in rows.get(name, [])]
        path = folder / f"{name}.csv"
        path.write_bytes(("\n".join(body) + "\n").encode(encoding))
        tables[name] = {"file": path.name, "rows": len(rows.get(name, [])), "sha256": sha256(path)}
    manifest = {
        "batch_id": batch_id,
        "as_of_date": as_of,
        "encoding": encoding,
        "delimiter": delimiter,
        "tables": tables,
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_rows(table: str, new_rows: list[list[str]], base: dict | None = None) -> dict[str, list[list[str]]]:
    """A copy of the base batch with one table's rows replaced."""
    rows = {k: [list(r) for r in v] for k, v in (base or BASE).items()}
    rows[table] = new_rows
    return rows


def edit_manifest(folder: Path, **changes) -> None:
    path = folder / "_manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest, ensure_ascii=False))


def reseal(folder: Path, table: str) -> None:
    """Recompute one table's checksum after a deliberate edit (rows stay as written)."""
    path = folder / "_manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"][table]["sha256"] = sha256(folder / f"{table}.csv")
    path.write_text(json.dumps(manifest, ensure_ascii=False))
