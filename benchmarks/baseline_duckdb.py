"""Run baseline (a), benchmarks/baseline_duckdb.sql, on a warehouse: one DuckDB script, same
memory limit and spill folder as the dbt profile. Run by bench.py as its own process.

    python benchmarks/baseline_duckdb.py WAREHOUSE.duckdb SPILL_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from tierwise.config import duckdb_memory_limit

SCRIPT = Path(__file__).with_name("baseline_duckdb.sql")


def main(path: str, spill: str) -> int:
    con = duckdb.connect(path)
    con.execute("set memory_limit = ?", [duckdb_memory_limit()])
    con.execute("set temp_directory = ?", [spill])
    con.execute("set preserve_insertion_order = false")
    con.execute(SCRIPT.read_text(encoding="utf-8"))
    rows = con.execute("select count(*) from baseline.fct_customer_tier").fetchone()[0]
    print(f"baseline_duckdb: {rows} tier rows")
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
