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


def test_every_connection_gets_the_same_memory_limit(tmp_path, monkeypatch):
    """dbt (through dbt_env and the profile) and tierwise's own connections (load, publish, the
    Dagster assets) are held to one limit; by default 7 GB, which kept a 1M-customer build's
    resident memory under the 8 GB budget (at 8 GB it peaked at 8.7 GB)."""
    from tierwise.config import DEFAULT_MEMORY_LIMIT, Settings

    profile_default = yaml.safe_load(PROFILES.read_text())["tierwise"]["outputs"]["duckdb"]["config_options"]
    assert f"'{DEFAULT_MEMORY_LIMIT}'" in profile_default["memory_limit"]

    monkeypatch.setenv("TIERWISE_DUCKDB_MEMORY_LIMIT", "1GB")
    settings = Settings(tmp_path)
    settings.ensure()
    assert settings.dbt_env()["TIERWISE_DUCKDB_MEMORY_LIMIT"] == "1GB"
    con = settings.connect()
    try:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert limit in {"953.6 MiB", "1000.0 MB", "1.0 GB"}, limit
