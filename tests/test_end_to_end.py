"""End to end through the CLI: generate a small bank, load it, build every month with dbt
(one backfill run through the Dagster job). The bank is the session's `generated` state
(tests/warehouses.py), which the Spark equivalence test reuses; this test reads what the
commands printed and built."""

from __future__ import annotations

import duckdb
from warehouses import GENERATED_COMMANDS


def test_generate_load_build(generated_bank):
    home = generated_bank
    out = (home / "commands.log").read_text(encoding="utf-8")
    # every command ran (the builder stops at the first that does not exit 0), in order
    ran = [line[len("$ tierwise ") :] for line in out.splitlines() if line.startswith("$ tierwise ")]
    assert ran == [" ".join(command) for command in GENERATED_COMMANDS]
    # a history from 1995 (issue #19: a bank's extract whose history starts decades back)
    for month, day in (("1995-01", "31"), ("1995-02", "28"), ("1995-03", "31"), ("1995-04", "30")):
        assert f"batch {month} ({month}-{day}): loaded" in out
    assert "[refresh] 1995-01..1995-04 built, checked and published" in out

    con = duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)
    relations = {
        (s, t) for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    assert ("raw", "customers") in relations
    assert ("staging", "stg_core__customers") in relations
    assert ("staging", "stg_core__load_reconciliation") in relations
    marts = (
        "dim_customers",
        "fct_customer_month",
        "fct_customer_tier",
        "fct_tier_migration",
        "rpt_tier_kpis",
        "fct_cross_sell",
        "fct_churn_signals",
        "fct_rm_book",
        "rpt_signal_backtest",
    )
    for mart in marts:
        assert ("marts", mart) in relations, mart
        assert con.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart
    assert ("history", "snap_customer_tier") in relations
    # every 1995 customer-month is tiered: before the shipped thresholds' effective_from
    # (2000-01-01) the earliest version applies (int_customer_month__raw_tier.yml)
    tiered = con.execute(
        "select cast(min(as_of_date) as varchar), cast(max(as_of_date) as varchar), count(*), "
        "count(tier), string_agg(distinct threshold_version) from marts.fct_customer_tier"
    ).fetchone()
    assert tiered[:2] == ("1995-01-31", "1995-04-30") and tiered[2] == tiered[3] > 0 and tiered[4] == "v1", tiered
    # Staging never exposes PII columns, only the masked name.
    cols = {r[0] for r in con.execute("describe staging.stg_core__customers").fetchall()}
    assert {"full_name", "id_number", "phone"}.isdisjoint(cols)
    assert "masked_name" in cols
    masked = con.execute("select masked_name from staging.stg_core__customers limit 5").fetchall()
    assert all(len(m) >= 2 and set(m[1:]) == {"*"} for (m,) in masked)
    con.close()
