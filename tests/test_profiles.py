"""The DuckDB profile gives database-wide options once, at connect time. dbt-duckdb repeats
everything under `settings` with SET on each new cursor, and DuckDB refuses to switch
temp_directory after it has spilled there: a 1M-customer build (which spills) finished every
model and test, then failed in dbt's end-of-run step. Reproduced on the 100k bank with a 1 GB
memory_limit; this keeps the options where that cannot happen."""

from __future__ import annotations

from pathlib import Path

import yaml

PROFILES = Path(__file__).resolve().parents[1] / "dbt_project" / "profiles.yml"


def test_spill_directory_and_memory_limit_are_set_once_per_connection():
    duckdb_output = yaml.safe_load(PROFILES.read_text())["tierwise"]["outputs"]["duckdb"]
    assert {"memory_limit", "temp_directory"} <= set(duckdb_output["config_options"])
    assert not {"memory_limit", "temp_directory"} & set(duckdb_output.get("settings") or {})
