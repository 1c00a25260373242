"""dbt's unit tests (the hand-worked fixtures in the YAML beside each tested model) gate the suite:
production refreshes leave them out (`build_args`), so they run here, against a warehouse whose
models were built empty (tests/warehouses.py, state schema_only): dbt reads the column types of
a tested model's parents from it, as dbt advises for CI (`dbt run --empty`)."""

from __future__ import annotations

import json

from tierwise.config import Settings
from warehouses import snapshot


def test_every_dbt_unit_test_passes(schema_only, tmp_path):
    home = snapshot(schema_only, tmp_path / "home")  # dbt opens the database to write
    result = Settings(home).run_dbt(
        "test", "--select", "test_type:unit", "--vars", '{"as_of_month": "2025-06"}',
        env={"DBT_TARGET_PATH": str(tmp_path / "target")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"] for r in results} == set(manifest["unit_tests"])
    assert len(results) >= 17 and all(r["status"] == "pass" for r in results)
