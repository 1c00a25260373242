"""Issues #9 and #23: the same dbt project on an Apache Spark cluster, reached as a bank reaches
one: dbt-spark through the Spark Thrift server. A standalone cluster on 127.0.0.1 (master, one
worker whose executors are separate JVMs, Thrift server: tests/spark_cluster.py) is started by
the pytest process that first needs it and stopped after them; the two tests are ordered first
(conftest.py) and dealt to one xdist worker together, so one cluster serves both (a worker that
gets only one starts its own). The golden bank and a small generated bank are built on both
engines and every mart must be row-for-row equal (money to the cent). The golden bank's Spark
build runs every seed, model and test (the SCD2 snapshot is disabled there: dbt-spark
snapshots need Delta); the generated bank's builds three months, then the fourth as an
incremental run (the month partitions overwritten, as an operator's monthly run does), and
compares again, then once more after one row is added on Spark, which it must find. Both banks
are session states (tests/warehouses.py) already built on DuckDB; each test works on a copy.
Slow: the cluster and the builds keep both cores busy for minutes."""

from __future__ import annotations

import shutil

import pytest
import warehouses
from golden_bank import MONTHS
from spark_cluster import Cluster
from tierwise import spark
from tierwise.config import Settings
from warehouses import snapshot

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """A running standalone cluster and Thrift server; its logs stay in the folder (pytest keeps
    the last sessions' tmp folders) and their tail is in any failure message. Stopped when this
    module's tests are done, not at the session's end: idle, its JVMs still took ~4 % of a core."""
    cluster = Cluster(tmp_path_factory.mktemp("spark_cluster")).start()
    mp = pytest.MonkeyPatch()
    for key, value in cluster.env().items():
        mp.setenv(key, value)  # what an operator sets to reach a cluster (README, "Spark")
    try:
        yield cluster
    finally:
        mp.undo()
        cluster.stop()


def _assert_all_marts_equal(settings: Settings) -> dict[str, tuple[int, int, int]]:
    result = spark.compare_marts(settings)
    assert {"fct_customer_month", "fct_customer_tier", "fct_churn_signals", "fct_cross_sell", "rpt_tier_kpis"} <= set(
        result
    )
    different = {mart: counts for mart, counts in result.items() if counts[1] or counts[2]}
    assert different == {}, f"marts differ between DuckDB and Spark (rows, only DuckDB, only Spark): {different}"
    assert all(rows > 0 for mart, (rows, _, _) in result.items() if mart != "rpt_rollforward_breaks"), result
    return result


def _spark_build(cluster: Cluster, settings: Settings, first: str, last: str, *extra: str) -> str:
    built = spark.dbt_build(settings, first, last, *extra)
    assert built.returncode == 0, built.stdout[-4000:] + "\n--- thrift server log ---\n" + cluster.log("thrift")[-3000:]
    summary = next(line for line in reversed(built.stdout.splitlines()) if "Done. PASS=" in line)
    assert " ERROR=0 " in summary and " WARN=0 " in summary, summary
    return summary


def test_golden_bank_on_spark_equals_duckdb(spark_cluster, golden_loaded, tmp_path):
    # Spark builds from the loaded golden bank (the state ready first), while the DuckDB side is
    # still being refreshed month by month; the comparison then takes that finished warehouse,
    # whose raw tables are the same rows (every later run found its batch unchanged).
    settings = Settings(snapshot(golden_loaded, tmp_path / "home"))
    tables = spark.sync_raw(settings)
    assert tables["customers"] > 0 and tables["deposit_transactions"] > 0
    # --full-refresh: the cluster's tables may hold another bank's months
    summary = _spark_build(spark_cluster, settings, MONTHS[0], MONTHS[-1], "--full-refresh")
    # every data test and unit test ran on Spark too, not only the models
    passed = int(summary.split("PASS=")[1].split()[0])
    assert passed >= 200, summary
    golden = warehouses.state("golden_all") / "warehouse"
    for name in ("build.duckdb", "build.duckdb.wal"):
        settings.warehouse_path.with_name(name).unlink(missing_ok=True)
        if (golden / name).exists():
            shutil.copy2(golden / name, settings.warehouse_path.with_name(name))
    result = _assert_all_marts_equal(settings)
    # the hand-worked golden values (tests/test_golden.py) are thus also Spark's
    assert result["fct_customer_tier"][0] == result["fct_customer_month"][0] > 0


def test_generated_bank_on_spark_equals_duckdb(spark_cluster, generated_bank, tmp_path):
    # the DuckDB side: 300 customers, 1995-01..1995-04, built by one backfill run (tests/warehouses.py)
    settings = Settings(snapshot(generated_bank, tmp_path / "bank"))
    spark.sync_raw(settings)
    # Seeds and models only: every data and unit test runs on Spark in the golden bank's build
    # above (the smallest bank that fills every mart); here a real bank's worth of rows must come
    # out equal, through a full build and then an incremental month.
    models_only = ("--exclude-resource-type", "test", "unit_test")
    summary = _spark_build(spark_cluster, settings, "1995-01", "1995-03", "--full-refresh", *models_only)
    assert "PASS=" in summary and int(summary.split("PASS=")[1].split()[0]) >= 50, summary
    before = spark.compare_marts(settings)["fct_customer_month"]
    # months 1-3 only: every DuckDB row of April is missing on Spark, nothing else differs
    assert before[2] == 0 and 0 < before[1] < before[0], before

    # the month's run: its tables only (seeds and staging views are as the first build left them)
    _spark_build(spark_cluster, settings, "1995-04", "1995-04", *models_only, "--exclude", "resource_type:seed",
                 "config.materialized:view")  # fmt: skip
    log = (settings.logs_dir / "dbt-spark" / "dbt.log").read_text()
    # the month went in as a partition overwrite of the existing tables, not a rebuild
    assert "insert overwrite table marts.fct_customer_month" in log and "partition (as_of_date = '1995-04-30')" in log
    result = _assert_all_marts_equal(settings)
    assert result["fct_cross_sell"][0] > 1000  # a real bank's worth of rows, not a toy

    # and the comparison can fail: one row more on Spark is found, in that mart only
    cursor = spark._Thrift()
    try:
        cursor.sql("insert into marts.rpt_bank_kpis select * from marts.rpt_bank_kpis limit 1")
    finally:
        cursor.close()
    mutated = spark.compare_marts(settings)
    assert mutated["rpt_bank_kpis"] == (result["rpt_bank_kpis"][0], 0, 1)
    assert {mart: counts for mart, counts in mutated.items() if mart != "rpt_bank_kpis"} == {
        mart: counts for mart, counts in result.items() if mart != "rpt_bank_kpis"
    }
