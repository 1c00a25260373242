"""The Dagster code location: definitions load, dbt vars, schedule, sensor, and two monthly
partitions materialized in process with the dbt tests evaluated as asset checks."""

import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import golden_expected as exp
import pytest
from golden_bank import MONTHS, write_golden_bank
from tierwise.config import Settings
from tierwise.defs.automation import (
    build_refresh_schedule,
    monthly_refresh_job,
    monthly_refresh_schedule,
    new_batch_sensor,
)
from tierwise.defs.dbt_assets import build_args, run_window_env
from tierwise.defs.landing import landing_batch
from tierwise.defs.resources import TierwiseSettings
from tierwise.refresh import instance_for
from warehouses import snapshot


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("TIERWISE_HOME", str(tmp_path_factory.mktemp("dagster_home")))
    from tierwise.defs.location import build_definitions

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
    # ... and ends in the report, rendered from the publication.
    assert graph.get(dg.AssetKey("monthly_review")).parent_keys == {dg.AssetKey("serving_publication")}
    assert dg.AssetKey(["marts", "rpt_tier_kpis"]) in graph.get(dg.AssetKey("serving_publication")).parent_keys
    # Mart columns (types and descriptions from the dbt YAML) are on the asset definitions.
    spec = graph.get(dg.AssetKey(["marts", "fct_customer_tier"]))
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    assert columns["months_below_tier"].type == "integer" and columns["months_below_tier"].description


def test_dbt_args_are_validated():
    assert build_args(False) == ["build", "--exclude-resource-type", "unit_test"]
    assert build_args(True) == ["build", "--exclude-resource-type", "unit_test", "--full-refresh", "--threads", "1"]
    # a backfill builds one node at a time (its two largest queries never share the memory limit)
    assert build_args(False, 12)[-2:] == ["--threads", "1"] and "--threads" not in build_args(False, 1)
    # the months reach dbt as environment variables (a new --vars value re-parses the project)
    assert run_window_env("2025-09-01", "2025-10-01") == {
        "TIERWISE_FROM_MONTH": "2025-09",
        "TIERWISE_AS_OF_MONTH": "2025-10",
    }
    with pytest.raises(ValueError, match="reversed"):
        run_window_env("2025-10-01", "2025-09-01")
    for bad in ("2025-13-01", "2025-1'; drop", "2025"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            run_window_env(bad, "2025-10-01")


def _resolved(schedule) -> tuple[dg.ScheduleDefinition, dg.RepositoryDefinition]:
    """The schedule as the code location resolves it (the job's partitions come from its assets)."""
    defs = dg.Definitions(
        assets=[landing_batch],
        jobs=[monthly_refresh_job],
        schedules=[schedule],
        resources={"tierwise": TierwiseSettings(home="never-opened")},  # the schedule reads no warehouse
    )
    return defs.resolve_schedule_def("monthly_refresh_schedule"), defs.get_repository_def()


def test_schedule_refreshes_the_month_just_closed():
    schedule, repository = _resolved(monthly_refresh_schedule)
    when = dt.datetime(2026, 11, 3, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository)
    requests = list(schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2026-10-01"]
    assert schedule.cron_schedule == "0 6 3 * *"
    assert schedule.execution_timezone == "Asia/Shanghai"


def test_refresh_time_is_configurable_and_validated(monkeypatch):
    monkeypatch.setenv("TIERWISE_REFRESH_AT", "5 22:30")
    schedule, _ = _resolved(build_refresh_schedule())
    assert schedule.cron_schedule == "30 22 5 * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    for bad in ("31 06:00", "3 6", "3 24:00", "third 06:00"):
        with pytest.raises(ValueError, match="TIERWISE_REFRESH_AT"):
            build_refresh_schedule(bad)


def test_sensor_requests_each_valid_new_batch_once(tmp_path, monkeypatch):
    # the warehouse comes from the resource the Definitions were built with, not the environment
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path / "another_home"))
    resources = {"tierwise": TierwiseSettings.of(Settings(tmp_path))}
    landing = tmp_path / "landing"
    write_golden_bank(landing)
    (landing / "2025-07").mkdir()  # no manifest: not a batch (yet)
    (landing / "2025-08").mkdir()
    (landing / "2025-08" / "_manifest.json").write_text("{broken")
    result = new_batch_sensor(dg.build_sensor_context(cursor=None, resources=resources))
    assert [r.partition_key for r in result.run_requests] == [f"{m}-01" for m in MONTHS]
    again = new_batch_sensor(dg.build_sensor_context(cursor=result.cursor, resources=resources))
    assert again.run_requests == []


@pytest.mark.slow
def test_two_partitions_materialize_with_checks(golden_jan, tmp_path, monkeypatch):
    """January's partition was materialized by `tierwise run` (the same job, in this instance:
    tests/warehouses.py, state golden_jan); February's is materialized here by the job of the
    definitions the code location loads for that home (`tierwise.definitions`: from the
    environment, once)."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_jan, tmp_path / "home")))
    monkeypatch.setenv("TIERWISE_REPORT_FORMATS", "html,pdf,xlsx")  # the report checked below: every format
    from tierwise.defs.location import build_definitions

    settings = Settings.from_env()
    job = build_definitions().resolve_job_def("monthly_refresh")
    instance = instance_for(settings)  # the persistent one under $TIERWISE_HOME/dagster
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    [january] = instance.get_runs(dg.RunsFilter(job_name="monthly_refresh", tags={"dagster/partition": "2025-01-01"}))
    assert january.status == dg.DagsterRunStatus.SUCCESS
    evaluations = instance.all_logs(january.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    assert evaluations and all(e.dagster_event.event_specific_data.passed for e in evaluations), MONTHS[0]
    result = job.execute_in_process(partition_key=f"{MONTHS[1]}-01", instance=instance)
    assert result.success, MONTHS[1]
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks), MONTHS[1]
    assert len(checks) == len(evaluations)  # every check of the graph, both months
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    months = con.execute(
        "select distinct cast(as_of_date as varchar) from marts.fct_customer_tier order by 1"
    ).fetchall()
    con.close()
    assert months == [("2025-01-31",), ("2025-02-28",)]
    # Row counts on the mart materializations: all rows, and the partition's rows (customers on
    # book in February per the golden bank).
    event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "fct_customer_tier"]))
    metadata = event.asset_materialization.metadata
    on_book = {m: sum(m in spec["on_book"] for spec in exp.CUSTOMER_MONTH.values()) for m in exp.M[:2]}
    assert metadata["dagster/partition_row_count"].value == on_book[exp.M[1]]
    assert metadata["dagster/row_count"].value == sum(on_book.values())
    rendered = {f"monthly_review.{lang}.{fmt}" for lang in ("zh", "en") for fmt in ("html", "pdf", "xlsx")}
    assert {p.name for p in (settings.reports_dir / "2025-02").iterdir()} == rendered | {"_render.json"}
    record = json.loads((settings.reports_dir / "2025-02" / "_render.json").read_text())
    published = duckdb.connect(str(settings.home / "serving" / "serving.duckdb"), read_only=True)
    assert record["release"] == published.execute("select release from marts._publication").fetchone()[0]
    published.close()
    assert set(record["files"]) == rendered
    # The run ends by publishing the marts for BI.
    serving = duckdb.connect(str(settings.home / "serving" / "serving.duckdb"), read_only=True)
    published = serving.execute("select count(distinct as_of_date) from marts.fct_customer_tier").fetchone()[0]
    serving.close()
    assert published == 2


@pytest.mark.slow
def test_error_check_stops_publish_warn_check_does_not(golden_jan, tmp_path, monkeypatch):
    """A warn-severity test (roll-forward break) is visible but the month still publishes; an
    error-severity failure (a broken rule file) stops that month's publish and the previous
    publication stays as it was. Starts from a copy of the golden bank after January; February's
    delivered month-end balance of one account is then 1.00 short of its roll-forward, which
    the build finds (int_deposit_rollforward_breaks, whose arithmetic the dbt unit tests check)."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_jan, tmp_path / "home")))
    from tierwise.defs.location import build_definitions
    from tierwise.rules import DEFAULT_RULES_DIR

    settings = Settings.from_env()
    # G11's account A12 does not roll forward from January to February by 1.00 (the batch is
    # already loaded and unchanged, so the refresh builds on raw as it is)
    con = duckdb.connect(str(settings.warehouse_path))
    changed = con.execute(
        "update raw.deposit_balances set ledger_balance = ledger_balance - 1 "
        "where account_id = 'A12' and as_of_date = ? returning ledger_balance",
        [exp.M[1]],
    ).fetchall()
    con.close()
    assert len(changed) == 1

    defs = build_definitions(settings, dbt_retries=0)
    job = defs.resolve_job_def("monthly_refresh")
    instance = dg.DagsterInstance.ephemeral()
    first = job.execute_in_process(partition_key=f"{MONTHS[1]}-01", instance=instance)
    assert first.success
    evaluations = [e.event_specific_data for e in first.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    warned = [e for e in evaluations if not e.passed]
    assert warned and all(e.severity == dg.AssetCheckSeverity.WARN for e in warned)
    assert any("rollforward" in e.asset_check_key.name for e in warned), [e.asset_check_key.name for e in warned]
    serving = settings.home / "serving" / "serving.duckdb"
    published = duckdb.connect(str(serving), read_only=True).execute("select run_id from marts._publication")
    assert published.fetchone()[0] == first.run_id

    # `--rules` refuses this folder (rules_check); a rules folder edited in place is not checked
    # before dbt, and there the unique test on policy_key (severity error) must stop the publish
    shutil.copytree(DEFAULT_RULES_DIR, settings.rules_dir)
    with (settings.rules_dir / "tier_policy.csv").open("a") as policy:
        policy.write("downgrade_grace_months,5,duplicate key: the unique test on policy_key fails\n")
    second = job.execute_in_process(partition_key=f"{MONTHS[2]}-01", instance=instance, raise_on_error=False)
    assert not second.success
    failed = [
        e.event_specific_data
        for e in second.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert any(e.severity == dg.AssetCheckSeverity.ERROR for e in failed)
    con = duckdb.connect(str(serving), read_only=True)
    assert con.execute("select run_id from marts._publication").fetchone()[0] == first.run_id
    assert con.execute("select count(distinct as_of_date) from marts.fct_customer_tier").fetchone()[0] == 2
    con.close()


@pytest.mark.slow
def test_dagster_cli_validates_the_code_location(golden_jan, tmp_path):
    """What `make dagster` loads: `dagster definitions validate -m tierwise.definitions`, on an
    operator's home (a copy of the golden bank after January: its parsed dbt project is reused)."""
    import os
    import subprocess

    home = snapshot(golden_jan, tmp_path / "home")
    env = {**os.environ, "TIERWISE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "tierwise.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr
