"""Which months a data test reads (macros/test_scope.sql): on a month-incremental model a row
test or a key with as_of_date reads the run's months, a key across months reads the whole
table, a staging key with batch_id reads the run's batches, and a full refresh reads every
month. Checked on the SQL dbt compiles against the golden January with every model built
(empty: tests/warehouses.py, state schema_only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tierwise.config import Settings
from warehouses import snapshot

SELECTED = [
    "fct_customer_tier,test_type:generic",
    "int_deposit_transactions,test_type:generic",
    "stg_core__deposit_transactions,test_type:generic",
    "test_type:singular",
]
RUN_MONTH = "as_of_date >= cast('2025-06-30' as date)"
UP_TO_RUN = "as_of_date <= cast('2025-06-30' as date)"
RUN_BATCHES = "batch_id in (select batch_id from"


def _compiled(home: Path, target: Path, *extra: str) -> dict[str, str]:
    settings = Settings(home)
    # its own target folder (only the selected nodes compiled in it) with the home's parsed
    # project, and the months as a refresh passes them: dbt does not parse the project again
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(settings.dbt_target_dir / "partial_parse.msgpack", target)
    result = settings.run_dbt(
        "compile", "--select", *SELECTED, *extra,
        env={"DBT_TARGET_PATH": str(target), "TIERWISE_FROM_MONTH": "2025-06", "TIERWISE_AS_OF_MONTH": "2025-06"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return {path.stem: path.read_text() for path in (target / "compiled").rglob("*.sql")}


@pytest.fixture(scope="module")
def scope_home(schema_only, tmp_path_factory):
    return snapshot(schema_only, tmp_path_factory.mktemp("scope") / "home")  # dbt opens it to write


@pytest.fixture(scope="module")
def incremental_sql(scope_home, tmp_path_factory):
    return _compiled(scope_home, tmp_path_factory.mktemp("scope_incremental"))


def _one(sql: dict[str, str], name: str) -> str:
    assert name in sql, (name, sorted(sql))
    return sql[name]


def _key_test(sql: dict[str, str], table: str, columns: str) -> str:
    """The compiled key test of `table` grouping by `columns` (dbt shortens long test names)."""
    matches = [
        text
        for text in sql.values()
        if f'."{table}"' in text and f"group by {columns}" in text and "as occurrences" in text
    ]
    assert len(matches) == 1, (table, columns)
    return matches[0]


def test_row_tests_and_month_keys_read_the_run_months(incremental_sql):
    not_null = _one(incremental_sql, "not_null_fct_customer_tier")
    assert RUN_MONTH in not_null and UP_TO_RUN in not_null
    month_key = _key_test(incremental_sql, "fct_customer_tier", "customer_id, as_of_date")
    assert RUN_MONTH in month_key
    for singular in ("assert_aum_parts_reconcile_to_source", "assert_one_tier_row_per_customer_on_book"):
        assert RUN_MONTH in _one(incremental_sql, singular)


def test_keys_across_months_read_the_whole_table(incremental_sql):
    txn_id = _one(incremental_sql, "unique_int_deposit_transactions_txn_id")
    assert "as_of_date" not in txn_id and "batch_id in" not in txn_id


def test_staging_tests_read_the_run_batches(incremental_sql):
    assert RUN_BATCHES in _key_test(incremental_sql, "stg_core__deposit_transactions", "txn_id, batch_id")
    assert RUN_BATCHES in _one(incremental_sql, "not_null_stg_core__deposit_transactions")


def test_a_full_refresh_tests_every_month(scope_home, tmp_path):
    full = _compiled(scope_home, tmp_path / "target", "--full-refresh")
    not_null = _one(full, "not_null_fct_customer_tier")
    assert UP_TO_RUN in not_null and RUN_MONTH not in not_null
    staging = _one(full, "not_null_stg_core__deposit_transactions")
    assert RUN_BATCHES in staging and UP_TO_RUN in staging and RUN_MONTH not in staging
