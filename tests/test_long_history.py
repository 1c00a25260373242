"""Issue #19: a bank adopting tierwise backfills years of history. A generated bank with three
years of batches (1993-01..1995-12) is tiered in one backfill over all 36 months and again month
by month, and both must be equal, row for row; the backfill's SQL must not grow with its months.

Month by month rebuilds the tier state (int_customer_tier_state: reads its own earlier months,
the downgrade grace), the marts that read it (fct_customer_tier, and fct_tier_migration, which
compares each month with the one before) and since when each customer's state has held
(int_customer_state_since: continues from its own month before the run), each month on top of
the previous one, as 36 monthly refreshes would. The models below them carry no state of their own
(a month's rows follow from the delivered rows of that month and of the months before it, for
trailing windows and opening balances, whichever run built them), and their month-by-month
equality through the Dagster job is checked on the golden bank
(tests/test_tier_state_equivalence.py).

Why this test builds its own bank: no session state has a long history (the golden bank has
six months, the generated state four). It is built with dbt only, in dbt's own process with
one parse for all 38 invocations (tests/dbt_months.py): 36 refreshes through the Dagster job
would cost ~20 CPU-minutes; this costs about one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from tierwise.config import DBT_PROJECT_DIR, Settings
from tierwise.generator.bank import BankSpec
from tierwise.generator.writer import OutputFormat, generate
from tierwise.landing.loader import load_batch
from warehouses import snapshot

# a minute of dbt: the full suite only (`make test-fast` leaves it out)
pytestmark = pytest.mark.slow

MONTHS = [f"{year}-{month:02d}" for year in (1993, 1994, 1995) for month in range(1, 13)]
STATEFUL = (
    "intermediate.int_customer_tier_state",
    "marts.fct_customer_tier",
    "marts.fct_tier_migration",
    "intermediate.int_customer_state_since",
)


def _dbt(settings: Settings, steps: list[dict]) -> None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("dbt_months.py")), str(DBT_PROJECT_DIR), json.dumps(steps)],
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _rows(settings: Settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {table: con.execute(f"select * from {table} order by all").fetchall() for table in STATEFUL}


def _compiled_tier_state(settings: Settings) -> str:
    return next(settings.dbt_target_dir.glob("compiled/**/int_customer_tier_state.sql")).read_text()


def test_a_36_month_backfill_equals_month_by_month(schema_only, tmp_path):
    # a copy of the schema-only state keeps its parsed dbt project; its golden rows go
    settings = Settings(snapshot(schema_only, tmp_path / "home"))
    for name in ("build.duckdb", "build.duckdb.wal"):
        settings.warehouse_path.with_name(name).unlink(missing_ok=True)
    folders = generate(BankSpec(40, 36, MONTHS[-1], 19), tmp_path / "landing", OutputFormat())
    with duckdb.connect(str(settings.warehouse_path)) as con:
        assert [load_batch(con, folder).status for folder in folders] == ["loaded"] * 36

    # one backfill over the 36 months, from empty tables (the rules seeds first)
    tiers = ["run", "--select", "+fct_customer_tier", "+fct_tier_migration", "int_customer_state_since"]
    _dbt(settings, [{"args": ["seed"]}, {"args": tiers, "from": MONTHS[0], "to": MONTHS[-1]}])
    backfill, backfill_sql = _rows(settings), _compiled_tier_state(settings)

    # then month by month from the first: a month's run deletes that month and every later one
    # (macros/month_hooks.sql) and builds on the month before it
    by_month = ["run", "--select", *(table.split(".")[1] for table in STATEFUL)]
    _dbt(settings, [{"args": by_month, "from": month, "to": month} for month in MONTHS])
    month_by_month, month_sql = _rows(settings), _compiled_tier_state(settings)

    # meaningful only if the history exercised the grace: every month tiered, customers on
    # watch for one and two months, downgrades after the grace and upgrades
    tiers_rows = backfill["marts.fct_customer_tier"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        columns = [r[0] for r in con.execute("describe marts.fct_customer_tier").fetchall()]
    row = dict(zip(columns, range(len(columns)), strict=True))
    assert len({r[row["as_of_date"]] for r in tiers_rows}) == 36
    assert {1, 2} <= {r[row["months_below_tier"]] for r in tiers_rows}
    assert {"down", "up"} <= {r[row["tier_change"]] for r in tiers_rows}
    # and states that held for months, began again after a change, and began in the last month
    since = backfill["intermediate.int_customer_state_since"]
    assert len(since) == len(tiers_rows)
    assert any(r[2] < r[1] for r in since) and any(r[2] == r[1] > min(x[1] for x in since) for r in since)

    for table in STATEFUL:
        assert month_by_month[table] == backfill[table], table
    # the SQL of a 36-month run is the size of a one-month run's (no per-month text)
    assert len(backfill_sql) < 1.5 * len(month_sql), (len(backfill_sql), len(month_sql))
