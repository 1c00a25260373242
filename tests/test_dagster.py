"""The Dagster code location: definitions load, dbt vars, schedule, sensor, and two monthly
partitions materialized in process with the dbt tests evaluated as asset checks."""

import datetime as dt
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from tierwise.config import Settings
from tierwise.defs.automation import monthly_refresh_schedule, new_batch_sensor
from tierwise.defs.dbt_assets import build_args
from tierwise.defs.partitions import month_of_partition

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from golden_bank import MONTHS, write_golden_bank  # noqa: E402


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TIERWISE_HOME", str(tmp_path_factory.mktemp("dagster_home")))
    from tierwise.definitions import build_definitions

    yield build_definitions(Settings.from_env())
    mp.undo()


def test_definitions_load_one_graph_from_landing_to_marts(defs):
    dg.Definitions.validate_loadable(defs)
    graph = defs.get_repository_def().asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw/customers",
        "staging/stg_core__customers",
        "marts/fct_customer_tier",
        "marts/fct_churn_signals",
    } <= keys
    # dbt sources hang off the landing assets: the staging view depends on raw/customers.
    parents = graph.get(dg.AssetKey(["staging", "stg_core__customers"])).parent_keys
    assert dg.AssetKey(["raw", "customers"]) in parents
    checks = {c.asset_key.to_user_string() for c in graph.asset_check_keys}
    assert "marts/fct_customer_tier" in checks and "marts/dim_customers" in checks


def test_dbt_args_are_validated():
    assert build_args("2025-09-01", "2025-10-01", False) == [
        "build",
        "--vars",
        json.dumps({"as_of_month": "2025-10", "from_month": "2025-09"}, sort_keys=True),
    ]
    assert build_args("2025-10-01", "2025-10-01", True)[-1] == "--full-refresh"
    with pytest.raises(ValueError, match="reversed"):
        build_args("2025-10-01", "2025-09-01", False)
    for bad in ("2025-13-01", "2025-1'; drop", "2025"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_of_partition(bad)


def test_schedule_refreshes_the_month_just_closed():
    when = dt.datetime(2026, 11, 3, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    context = dg.build_schedule_context(scheduled_execution_time=when)
    requests = list(monthly_refresh_schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2026-10-01"]
    assert monthly_refresh_schedule.cron_schedule == "0 6 3 * *"
    assert monthly_refresh_schedule.execution_timezone == "Asia/Shanghai"


def test_sensor_requests_each_valid_new_batch_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path))
    landing = tmp_path / "landing"
    write_golden_bank(landing)
    (landing / "2025-07").mkdir()  # no manifest: not a batch (yet)
    (landing / "2025-08").mkdir()
    (landing / "2025-08" / "_manifest.json").write_text("{broken")
    result = new_batch_sensor(dg.build_sensor_context(cursor=None))
    assert [r.partition_key for r in result.run_requests] == [f"{m}-01" for m in MONTHS]
    again = new_batch_sensor(dg.build_sensor_context(cursor=result.cursor))
    assert again.run_requests == []


def test_two_partitions_materialize_with_checks(defs, tmp_path):
    settings = Settings.from_env()
    write_golden_bank(settings.landing_dir)
    job = defs.resolve_job_def("monthly_refresh")
    instance = dg.DagsterInstance.ephemeral()
    for month in MONTHS[:2]:
        result = job.execute_in_process(partition_key=f"{month}-01", instance=instance)
        assert result.success, month
        checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
        assert checks and all(e.event_specific_data.passed for e in checks), month
    con = duckdb.connect(str(settings.warehouse_path))
    months = con.execute(
        "select distinct cast(as_of_date as varchar) from marts.fct_customer_tier order by 1"
    ).fetchall()
    con.close()
    assert months == [("2025-01-31",), ("2025-02-28",)]
    # The run ends by publishing the marts for BI.
    serving = duckdb.connect(str(settings.home / "serving" / "serving.duckdb"), read_only=True)
    published = serving.execute("select count(distinct as_of_date) from marts.fct_customer_tier").fetchone()[0]
    serving.close()
    assert published == 2
