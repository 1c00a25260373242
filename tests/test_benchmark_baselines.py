"""The benchmark's two baselines (issue #8) are independent restatements of docs/business-rules.md: a hand-written
DuckDB script and a pandas program. `make bench` times them against dbt and asserts that all three
produce the same fct_customer_month and fct_customer_tier rows; here the same equality is checked
on the golden bank (whose marts tests/test_golden.py compares with hand-worked values), so a
baseline that drifts from the rules fails `make test`, not only a benchmark run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import baseline_duckdb  # noqa: E402
import baseline_pandas  # noqa: E402
import bench  # noqa: E402


@pytest.fixture(scope="module")
def golden_copy(golden_sequential, tmp_path_factory):
    copy = tmp_path_factory.mktemp("baselines") / "build.duckdb"
    shutil.copy(golden_sequential / "warehouse" / "build.duckdb", copy)
    return copy


def test_sql_and_pandas_baselines_equal_the_marts_on_the_golden_bank(golden_copy, tmp_path):
    assert baseline_duckdb.main(str(golden_copy), str(tmp_path / "spill")) == 0
    assert baseline_pandas.main(str(golden_copy)) == 0
    assert bench.compare(golden_copy, ["baseline", "baseline_pandas"]) == []

    con = duckdb.connect(str(golden_copy), read_only=True)
    try:
        for schema in ("baseline", "baseline_pandas"):
            # the comparison is only meaningful if the grace carried state: a downgrade after
            # the grace and months on watch are among the rows compared
            rows = con.execute(f"select distinct tier_change from {schema}.fct_customer_tier").fetchall()
            changes = {r[0] for r in rows}
            assert {"new", "up", "down", "same"} <= changes, schema
            watched = con.execute(f"select max(months_below_tier) from {schema}.fct_customer_tier").fetchone()[0]
            assert watched >= 2, schema
    finally:
        con.close()


def test_compare_reports_a_changed_row(golden_copy, tmp_path):
    assert baseline_duckdb.main(str(golden_copy), str(tmp_path / "spill")) == 0
    con = duckdb.connect(str(golden_copy))
    try:
        con.execute(
            "update baseline.fct_customer_month set aum_cny = aum_cny + 0.01 "
            "where customer_id = 'G05' and as_of_date = date '2025-03-31'"
        )
    finally:
        con.close()
    failures = bench.compare(golden_copy, ["baseline"])
    assert failures == ["baseline.fct_customer_month: 1 rows only in marts, 1 only in the baseline"]
