"""The landing contract is one definition: the loader's contract (tierwise/landing/contract.py)
and the dbt sources (dbt_project/models/staging/core/_core__sources.yml) name the same tables
and the same columns in the same order, plus the loader's three lineage columns; and the
documented contract (docs/landing-contract.md) lists every table."""

from __future__ import annotations

from pathlib import Path

import yaml
from tierwise.landing.contract import TABLES

ROOT = Path(__file__).parents[1]
LINEAGE = ["_batch_id", "_source_file", "_row_number"]


def test_dbt_sources_match_the_loader_contract():
    spec = yaml.safe_load((ROOT / "dbt_project/models/staging/core/_core__sources.yml").read_text(encoding="utf-8"))
    sources = {t["name"]: [c["name"] for c in t.get("columns", [])] for t in spec["sources"][0]["tables"]}
    contract_tables = {name: [*table.column_names, *LINEAGE] for name, table in TABLES.items()}
    loader_tables = {name for name in sources if name.startswith("_")}  # the loader's own records
    assert {n: c for n, c in sources.items() if n not in loader_tables} == contract_tables


def test_the_documented_contract_lists_every_table_and_column():
    text = (ROOT / "docs" / "landing-contract.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().split()[0].strip("`"): line for line in text.splitlines()
            if line.startswith("| `")}  # fmt: skip
    assert set(rows) == set(TABLES)
    for name, table in TABLES.items():
        missing = [c for c in table.column_names if c not in rows[name]]
        assert not missing, (name, missing)
