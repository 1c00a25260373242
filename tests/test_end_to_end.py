"""End to end through the CLI: generate a small bank, load it, build each month with dbt."""

from __future__ import annotations

import duckdb
from tierwise.cli import main


def test_generate_load_build(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("TIERWISE_HOME", str(home))
    assert main(["generate", "--customers", "300", "--months", "2", "--end-month", "2025-10", "--seed", "1"]) == 0
    assert main(["load"]) == 0
    out = capsys.readouterr().out
    assert "batch 2025-09 (2025-09-30): loaded" in out
    assert "batch 2025-10 (2025-10-31): loaded" in out
    assert main(["backfill", "--from", "2025-09", "--to", "2025-10"]) == 0

    # dbt-duckdb keeps its in-process database instance open; connect with the same configuration.
    con = duckdb.connect(str(home / "warehouse" / "build.duckdb"))
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
