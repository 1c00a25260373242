"""dbt's unit tests (the hand-worked fixtures in the YAML beside each tested model) gate the suite:
production refreshes leave them out (`build_args`), so they run here, against a warehouse whose
models were built empty (tests/warehouses.py, state schema_only): dbt reads the column types of
a tested model's parents from it, as dbt advises for CI (`dbt run --empty`)."""

from __future__ import annotations

import json

from tierwise.config import Settings
from warehouses import snapshot


def test_every_dbt_unit_test_passes(schema_only, tmp_path):
    settings = Settings(snapshot(schema_only, tmp_path / "home"))  # dbt opens the database to write
    # The month reaches dbt as a refresh passes it (macros/months.sql), not as --vars: a new vars
    # value would make dbt parse the whole project again, where the copied home's parsed project
    # is reused. Unit tests that need other months override the vars themselves.
    result = settings.run_dbt("test", "--select", "test_type:unit", env={"TIERWISE_AS_OF_MONTH": "2025-06"})
    assert result.returncode == 0, result.stdout[-4000:]
    target = settings.dbt_target_dir
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    assert {r["unique_id"] for r in results} == set(manifest["unit_tests"])
    assert len(results) >= 17 and all(r["status"] == "pass" for r in results)
