"""The golden bank end to end: load six hand-made months, refresh them month by month through
the Dagster job (the tier snapshot records one version per run), and compare every expected
value worked out by hand in fixtures/golden_expected.py — in the marts and in the report."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import golden_expected as exp
import pytest


@pytest.fixture(scope="module")
def golden_home(golden_sequential):
    return golden_sequential


@pytest.fixture(scope="module")
def warehouse(golden_home):
    con = duckdb.connect(str(golden_home / "warehouse" / "build.duckdb"), read_only=True)
    yield con
    con.close()


def _num(value):
    return float(value) if isinstance(value, Decimal) else value


def test_landing_is_clean(warehouse):
    assert warehouse.execute("select count(*) from raw._quarantine").fetchone()[0] == 0
    # the golden bank's balances roll forward exactly: the build finds no break in any month
    assert warehouse.execute("select count(*) from intermediate.int_deposit_rollforward_breaks").fetchone()[0] == 0
    assert warehouse.execute("select count(*) from marts.rpt_rollforward_breaks").fetchone()[0] == 0


def test_customer_month_every_value(warehouse):
    cols = ", ".join(exp.MONTH_COLS)
    rows = warehouse.execute(f"select customer_id, cast(as_of_date as varchar), {cols} from marts.fct_customer_month")
    actual = {(r[0], r[1]): tuple(_num(v) for v in r[2:]) for r in rows.fetchall()}
    expected = {}
    for customer, spec in exp.CUSTOMER_MONTH.items():
        for month in spec["on_book"]:
            values = spec.get("months", {}).get(month, spec["default"])
            expected[(customer, month)] = tuple(values[c] for c in exp.MONTH_COLS)
    assert set(actual) == set(expected)  # exactly the customers on book, month by month
    for key, values in expected.items():
        assert actual[key] == pytest.approx(values, abs=0.005), key


def test_customer_tier_every_value(warehouse):
    cols = ", ".join(exp.TIER_COLS)
    rows = warehouse.execute(f"select customer_id, cast(as_of_date as varchar), {cols} from marts.fct_customer_tier")
    actual = {(r[0], r[1]): tuple(r[2:]) for r in rows.fetchall()}
    expected = {}
    for customer, spec in exp.TIERS.items():
        on_book = exp.CUSTOMER_MONTH[customer]["on_book"]
        assert len(on_book) == len(spec["path"]), customer
        for i, (tier, raw, prior, change, below) in enumerate(spec["path"]):
            month = on_book[i]
            expected[(customer, month)] = (
                tier,
                raw,
                prior,
                change,
                below,
                spec["hnw"],
                spec["activity"][i],
                spec["risk"],
                spec["life"],
                spec["depth"],
            )
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert actual[key] == values, key
    codes = warehouse.execute(
        "select segment_code from marts.fct_customer_tier where customer_id = 'G11' and as_of_date = '2025-06-30'"
    ).fetchone()
    assert codes == ("gold.balanced.ecosystem",)


def test_migration_every_row(warehouse):
    rows = warehouse.execute(
        "select cast(as_of_date as varchar), from_tier, to_tier, customers, aum_cny from marts.fct_tier_migration"
    ).fetchall()
    actual = {(r[0], r[1], r[2]): (r[3], float(r[4])) for r in rows}
    assert actual == {k: (v[0], float(v[1])) for k, v in exp.MIGRATION.items()}


def test_tier_kpis_april_and_may(warehouse):
    for month, tiers in exp.KPIS.items():
        rows = warehouse.execute(
            "select tier, customers, aum_cny, aum_share, aum_retention_rate, customer_retention_rate, "
            "avg_product_categories, rm_coverage_rate from marts.rpt_tier_kpis where as_of_date = ?",
            [month],
        ).fetchall()
        actual = {r[0]: tuple(_num(v) for v in r[1:]) for r in rows}
        assert set(actual) == set(tiers), month
        for tier, values in tiers.items():
            for got, want in zip(actual[tier], values, strict=True):
                assert (got is None) == (want is None), (month, tier, actual[tier], values)
                if want is not None:
                    assert got == pytest.approx(want, abs=1e-9), (month, tier, actual[tier], values)


def test_kpis_first_month_have_no_retention(warehouse):
    rows = warehouse.execute(
        "select aum_retention_rate, customer_retention_rate from marts.rpt_tier_kpis where as_of_date = '2025-01-31'"
    ).fetchall()
    assert rows and all(r == (None, None) for r in rows)


def test_bank_kpis_every_month_worked_by_hand(warehouse):
    columns = (
        "customers, aum_cny, customers_last_month, aum_retention_rate, customer_retention_rate, upgrade_rate, "
        "downgrade_rate, attrition_rate, rm_coverage_rate, top1_aum_share, top10_aum_share, aum_gini"
    )
    for month, want in exp.BANK_KPIS.items():
        row = warehouse.execute(f"select {columns} from marts.rpt_bank_kpis where as_of_date = ?", [month]).fetchone()
        assert row is not None, month
        got = tuple(_num(v) for v in row)
        for name, g, w in zip(columns.split(", "), got, want, strict=True):
            assert (g is None) == (w is None), (month, name, g, w)
            if w is not None:
                assert g == pytest.approx(w, abs=1e-12), (month, name, g, w)
    months = warehouse.execute("select count(*), count(distinct as_of_date) from marts.rpt_bank_kpis").fetchone()
    assert months == (6, 6)


def test_dim_customers_as_of_june(warehouse):
    rows = warehouse.execute(
        "select customer_id, masked_name, age_band, life_stage, risk_assessment_valid, current_tier, current_rm_id, "
        "cast(as_of_date as varchar) from marts.dim_customers"
    ).fetchall()
    actual = {r[0]: r[1:7] for r in rows}
    assert len(actual) == 13 and {r[7] for r in rows} == {"2025-06-30"}
    for customer, values in exp.DIM.items():
        assert actual[customer] == values, customer


def test_no_pii_in_marts(warehouse):
    names = {"张伟", "李强", "赵敏", "徐子涵"}
    for (table,) in warehouse.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    ).fetchall():
        text = str(warehouse.execute(f"select * from marts.{table}").fetchall())
        assert not any(n in text for n in names), table
        assert "110101198005051234" not in text and "13800000001" not in text, table


def test_snapshot_answers_tier_on_a_date(warehouse):
    def tier_on(day):
        return warehouse.execute(
            "select tier, threshold_version from history.snap_customer_tier where customer_id = 'G03' "
            "and dbt_valid_from <= cast(? as timestamp) "
            "and (dbt_valid_to is null or dbt_valid_to > cast(? as timestamp))",
            [day, day],
        ).fetchall()

    assert tier_on("2025-04-15") == [("private", "v1")]  # state as of 03-31: held private on watch
    assert tier_on("2025-05-15") == [("diamond", "v1")]  # downgraded at 04-30
    assert tier_on("2025-07-01") == [("private", "v1")]  # back up at 06-30


def test_churn_signals_every_row(warehouse):
    rows = warehouse.execute(
        "select customer_id, cast(as_of_date as varchar), churn_score, risk_band, reason_codes, is_watchlist "
        "from marts.fct_churn_signals"
    ).fetchall()
    assert len(rows) == sum(len(v["on_book"]) for v in exp.CUSTOMER_MONTH.values())
    fired = set()
    for customer, month, score, band, reasons, watch in rows:
        expected = exp.CHURN.get((customer, month), (0, "low", None))
        assert (score, band, reasons) == expected, (customer, month)
        assert watch == ((customer, month) in exp.WATCHLIST), (customer, month)
        fired.update((reasons or "").split(","))
    # The golden bank exercises every signal of the seed.
    signals = {r[0] for r in warehouse.execute("select signal from rules.churn_signals").fetchall()}
    assert signals <= fired


def test_cross_sell_june(warehouse):
    for customer, categories in exp.CROSS_SELL_JUNE.items():
        rows = warehouse.execute(
            "select product_category, recommended_product_code, score, priority_rank, suitable, reason "
            "from marts.fct_cross_sell where customer_id = ? and as_of_date = '2025-06-30'",
            [customer],
        ).fetchall()
        actual = {r[0]: (r[1], float(r[2]), r[3], r[4], r[5]) for r in rows}
        assert actual == categories, customer


def test_rm_books(warehouse):
    for (rm, month), expected in exp.RM_BOOK.items():
        row = warehouse.execute(
            "select clients, aum_cny, watchlist_clients, max_clients, over_capacity from marts.fct_rm_book "
            "where rm_id = ? and as_of_date = ?",
            [rm, month],
        ).fetchone()
        assert (row[0], float(row[1]), row[2], row[3], row[4]) == expected, (rm, month)


def test_backtest_april(warehouse):
    rows = warehouse.execute(
        "select segment, customers, hits, horizon_months, base_rate, precision_high, recall_high, lift_high "
        "from marts.rpt_signal_backtest where signal_type = 'churn' and as_of_date = '2025-04-30'"
    ).fetchall()
    assert {r[0]: (r[1], r[2]) for r in rows} == exp.BACKTEST_APRIL
    for row in rows:
        assert row[3] == 2
        assert row[4:] == pytest.approx(exp.BACKTEST_APRIL_RATES)
    # June is the last month: nothing after it to evaluate yet.
    count = warehouse.execute("select count(*) from marts.rpt_signal_backtest where as_of_date = '2025-06-30'")
    assert count.fetchone()[0] == 0
