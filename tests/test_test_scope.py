"""Which months a data test reads (macros/test_scope.sql): on a month-incremental model a row
test or a key with as_of_date reads the run's months, `unique` on an id reads the rows whose id
the run's months hold (a collision with any earlier month included), a staging key with
batch_id reads the run's batches, and a full refresh reads every month. Checked on the SQL dbt
compiles against the golden January with every model built (empty: tests/warehouses.py, state
schema_only), and the id key's verdict on the golden warehouse."""

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


def test_keys_across_months_read_the_rows_whose_key_the_run_months_hold(incremental_sql):
    """`unique` on an id of a month-incremental model groups the whole table's rows whose id
    occurs in the run's months: a collision with any earlier month is still seen."""
    txn_id = _one(incremental_sql, "unique_int_deposit_transactions_txn_id")
    assert "txn_id in (select txn_id from" in txn_id and RUN_MONTH in txn_id and "batch_id in" not in txn_id
    assert txn_id.count("as_of_date") == 2  # the run's months bound the ids only, never the rows grouped


def test_staging_tests_read_the_run_batches(incremental_sql):
    assert RUN_BATCHES in _key_test(incremental_sql, "stg_core__deposit_transactions", "txn_id, batch_id")
    assert RUN_BATCHES in _one(incremental_sql, "not_null_stg_core__deposit_transactions")


def test_a_full_refresh_tests_every_month(scope_home, tmp_path):
    full = _compiled(scope_home, tmp_path / "target", "--full-refresh")
    not_null = _one(full, "not_null_fct_customer_tier")
    assert UP_TO_RUN in not_null and RUN_MONTH not in not_null
    assert "as_of_date" not in _one(full, "unique_int_deposit_transactions_txn_id")  # the whole table
    staging = _one(full, "not_null_stg_core__deposit_transactions")
    assert RUN_BATCHES in staging and UP_TO_RUN in staging and RUN_MONTH not in staging


def test_a_run_months_id_that_collides_with_an_earlier_month_fails_its_key_test(golden_sequential, tmp_path):
    """On the golden warehouse, one of June's transaction ids copied into March and one of
    January's copied into February: June's run finds the first (a collision with the run's
    month) and not the second (both sides earlier, each tested by the run that wrote it)."""
    import duckdb

    home = snapshot(golden_sequential, tmp_path / "home")
    settings = Settings(home)
    con = duckdb.connect(str(settings.warehouse_path))
    table = "intermediate.int_deposit_transactions"
    for source, target in (("2025-06-30", "2025-03-31"), ("2025-01-31", "2025-02-28")):
        con.execute(
            f"insert into {table} select * replace (date '{target}' as as_of_date) from {table} "
            f"where as_of_date = date '{source}' order by txn_id limit 1"
        )
    june_id = con.execute(f"select min(txn_id) from {table} where as_of_date = date '2025-06-30'").fetchone()[0]
    con.close()
    result = settings.run_dbt(
        "test", "--select", "unique_int_deposit_transactions_txn_id", "--store-failures",
        env={"TIERWISE_AS_OF_MONTH": "2025-06"},
    )  # fmt: skip
    assert result.returncode == 1 and "Got 1 result" in result.stdout, result.stdout[-3000:]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    failures = con.execute(
        "select table_schema, table_name from information_schema.tables where table_name = ?",
        ["unique_int_deposit_transactions_txn_id"],
    ).fetchall()
    assert len(failures) == 1, failures
    stored = con.execute(f'select unique_field, n_records from "{failures[0][0]}"."{failures[0][1]}"').fetchall()
    con.close()
    assert stored == [(june_id, 2)]
