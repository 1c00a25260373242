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
    for month, day in (("2025-01", "31"), ("2025-02", "28"), ("2025-03", "31"), ("2025-04", "30")):
        assert f"batch {month} ({month}-{day}): loaded" in out
    assert "[refresh] 2025-01..2025-04 built, checked and published" in out

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
    # Staging never exposes PII columns, only the masked name.
    cols = {r[0] for r in con.execute("describe staging.stg_core__customers").fetchall()}
    assert {"full_name", "id_number", "phone"}.isdisjoint(cols)
    assert "masked_name" in cols
    masked = con.execute("select masked_name from staging.stg_core__customers limit 5").fetchall()
    assert all(len(m) >= 2 and set(m[1:]) == {"*"} for (m,) in masked)
    con.close()
