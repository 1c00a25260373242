"""The synthetic bank: determinism, ledger consistency, and the distribution it promises."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest
from tierwise.generator.bank import BankSpec
from tierwise.generator.writer import OutputFormat, generate
from tierwise.landing.contract import CATEGORIES, TABLES
from tierwise.landing.loader import load_batch


def _digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_output(tmp_path):
    spec = BankSpec(customers=400, months=3, end_month="2025-06", seed=11)
    generate(spec, tmp_path / "a", OutputFormat())
    generate(spec, tmp_path / "b", OutputFormat())
    generate(BankSpec(400, 3, "2025-06", seed=12), tmp_path / "c", OutputFormat())
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert len(a) == 3 * (len(TABLES) + 1)
    assert a == b
    assert a["2025-06/customers.csv"] != c["2025-06/customers.csv"]


def test_batch_layout_and_manifest(tmp_path):
    folders = generate(BankSpec(300, 2, "2025-02", 3), tmp_path, OutputFormat())
    assert [f.name for f in folders] == ["2025-01", "2025-02"]
    manifest = json.loads((folders[1] / "_manifest.json").read_text())
    assert manifest["batch_id"] == "2025-02"
    assert manifest["as_of_date"] == "2025-02-28"
    assert set(manifest["tables"]) == set(TABLES)
    for name, entry in manifest["tables"].items():
        path = folders[1] / entry["file"]
        lines = path.read_text().splitlines()
        assert lines[0].split(",") == TABLES[name].column_names
        assert len(lines) - 1 == entry["rows"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.parametrize(
    "fmt",
    [OutputFormat("csv", "gbk", "|"), OutputFormat("parquet")],
    ids=["gbk-pipe", "parquet"],
)
def test_other_formats_load_cleanly(tmp_path, fmt):
    folders = generate(BankSpec(300, 2, "2025-02", 5), tmp_path / "land", fmt)
    con = duckdb.connect()
    results = [load_batch(con, f) for f in folders]
    assert all(sum(t.quarantined for t in r.tables) == 0 for r in results)
    assert _rollforward_breaks(con) == 0
    if fmt.encoding == "gbk":
        assert "支行".encode("gbk") in (folders[0] / "branches.csv").read_bytes()
        assert con.execute("select count(*) from raw.branches where branch_name like '%支行'").fetchone()[0] > 0


# The generator's own ledgers must roll forward (docs/landing-contract.md, "Balance roll-forward"):
# checked here on raw, independently of the warehouse's check (int_deposit_rollforward_breaks),
# so a generator defect and a check defect cannot hide each other.
ROLLFORWARD_BREAKS_SQL = """
with txn as (
    select account_id, txn_id, txn_ts, balance_after, last_day(cast(txn_ts as date)) as month_end,
           case when direction = 'C' then amount else -amount end as signed
    from raw.deposit_transactions
),
chain as (
    select *, lag(balance_after) over (partition by account_id, month_end order by txn_ts, txn_id) as before,
           row_number() over (partition by account_id, month_end order by txn_ts desc, txn_id desc) as from_last
    from txn
),
net as (select account_id, month_end, sum(signed) as net from txn group by all),
bal as (select account_id, as_of_date as month_end, ledger_balance from raw.deposit_balances)
select
    (select count(*) from chain where before is not null and before + signed <> balance_after)
  + (select count(*) from chain join bal using (account_id, month_end)
     where from_last = 1 and balance_after <> ledger_balance)
  + (select count(*) from bal join bal as prev
         on bal.account_id = prev.account_id and prev.month_end = last_day(bal.month_end - interval 1 month)
     left join net on bal.account_id = net.account_id and bal.month_end = net.month_end
     where prev.ledger_balance + coalesce(net.net, 0) <> bal.ledger_balance)
"""


def _rollforward_breaks(con) -> int:
    return con.execute(ROLLFORWARD_BREAKS_SQL).fetchone()[0]


def test_the_rollforward_oracle_finds_a_break(tmp_path):
    # the oracle above can fail: one balance_after changed by a cent breaks the chain and the month
    folders = generate(BankSpec(50, 2, "2025-02", 3), tmp_path / "land", OutputFormat())
    con = duckdb.connect()
    for folder in folders:
        load_batch(con, folder)
    assert _rollforward_breaks(con) == 0
    con.execute(
        "update raw.deposit_transactions set balance_after = balance_after + 0.01 "
        "where txn_id = (select max(txn_id) from raw.deposit_transactions)"
    )
    assert _rollforward_breaks(con) >= 1


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """10k customers over 4 months, loaded: the size at which every tier must be populated."""
    root = tmp_path_factory.mktemp("bank")
    folders = generate(BankSpec(10_000, 4, "2025-12", 2025), root, OutputFormat())
    con = duckdb.connect()
    results = [load_batch(con, f) for f in folders]
    yield con, results
    con.close()


def test_ledgers_consistent_and_nothing_quarantined(bank):
    con, results = bank
    assert [r.status for r in results] == ["loaded"] * 4
    assert sum(t.quarantined for r in results for t in r.tables) == 0
    # Roll-forward from month to month and balance_after chains hold for every account.
    assert _rollforward_breaks(con) == 0
    assert con.execute("select count(*) from raw.deposit_transactions").fetchone()[0] > 50_000


AUM_SQL = """
with fx as (
    select currency, arg_max(cny_per_unit, rate_date) as rate from raw.fx_rates group by currency
    union all select 'CNY', 1
),
dep as (
    select a.customer_id, sum(b.ledger_balance * fx.rate) as v
    from raw.deposit_balances as b
    join raw.accounts as a on a.account_id = b.account_id and a._batch_id = b._batch_id
    join fx on fx.currency = a.currency
    where b._batch_id = '2025-12' group by 1
),
inv as (
    select h.customer_id, sum(h.holding_value * fx.rate) as v
    from raw.product_holdings as h
    join raw.products as p on p.product_code = h.product_code and p._batch_id = h._batch_id
    join fx on fx.currency = p.currency
    where h._batch_id = '2025-12'
      and p.category in ('wealth_management', 'mutual_fund', 'bond', 'precious_metal', 'insurance')
    group by 1
)
select coalesce(dep.customer_id, inv.customer_id) as customer_id, coalesce(dep.v, 0) + coalesce(inv.v, 0) as aum
from dep full join inv on dep.customer_id = inv.customer_id
"""


def test_aum_heavy_tail_and_every_tier_populated(bank):
    con, _ = bank
    share, mass, gold, platinum, diamond, private = con.execute(
        f"""with a as ({AUM_SQL}), r as (select aum, percent_rank() over (order by aum desc) as pr from a)
        select sum(aum) filter (where pr < 0.025) / sum(aum),
               count(*) filter (where aum < 50000), count(*) filter (where aum >= 50000 and aum < 500000),
               count(*) filter (where aum >= 500000 and aum < 2000000),
               count(*) filter (where aum >= 2000000 and aum < 6000000), count(*) filter (where aum >= 6000000)
        from r"""
    ).fetchone()
    assert 0.65 <= share <= 0.90  # CMB: the top ~2-3% hold roughly 80%
    assert min(mass, gold, platinum, diamond, private) >= 30
    assert mass > gold > platinum > diamond


def test_customer_mix(bank):
    con, _ = bank
    stats = con.execute(
        """select avg(case when is_payroll then 1 else 0 end),
                  count(*) filter (where risk_level is null),
                  count(*) filter (where risk_assessed_on < date '2024-12-31'),
                  count(*) filter (where date_diff('year', birth_date, date '2025-12-31') < 18),
                  count(*) filter (where date_diff('year', birth_date, date '2025-12-31') between 18 and 34),
                  count(*) filter (where date_diff('year', birth_date, date '2025-12-31') between 35 and 54),
                  count(*) filter (where date_diff('year', birth_date, date '2025-12-31') >= 55)
           from raw.customers where _batch_id = '2025-12'"""
    ).fetchone()
    payroll, never, expired, *stages = stats
    assert 0.20 <= payroll <= 0.30
    assert never > 500 and expired > 500
    assert all(s > 100 for s in stages)


def test_products_accounts_and_rms(bank):
    con, _ = bank
    categories = {r[0] for r in con.execute("select distinct category from raw.products").fetchall()}
    assert categories == set(CATEGORIES)
    ratings = {r[0] for r in con.execute("select distinct risk_rating from raw.products").fetchall()}
    assert ratings == {"R1", "R2", "R3", "R4", "R5"}
    currencies = {r[0] for r in con.execute("select distinct currency from raw.accounts").fetchall()}
    assert currencies == {"CNY", "USD", "HKD"}
    renew = con.execute(
        "select count(*) filter (where auto_renew), count(*) filter (where not auto_renew) from raw.accounts "
        "where _batch_id = '2025-12' and maturity_date is not null"
    ).fetchone()
    assert min(renew) > 100
    payouts = con.execute("select count(*) from raw.deposit_transactions where txn_type = 'maturity_payout'")
    assert payouts.fetchone()[0] > 10
    loads = [
        r[0]
        for r in con.execute(
            """select count(*) from raw.rm_assignments as a join raw.relationship_managers as r
           on r.rm_id = a.rm_id and r._batch_id = a._batch_id
           where a._batch_id = '2025-12' and a.valid_to is null and r.rm_role = 'private_banker' group by r.rm_id"""
        ).fetchall()
    ]
    assert 25 <= sum(loads) / len(loads) <= 35
    assert max(loads) > 30  # some private bankers are over the 30-client capacity
    assert con.execute("select count(*) from raw.complaints").fetchone()[0] > 50


def test_churning_minority_drains_to_other_banks(bank):
    con, _ = bank
    churners = con.execute(
        """with outflow as (
               select a.customer_id, sum(t.amount) as out_cny
               from raw.deposit_transactions as t join raw.accounts as a
                 on a.account_id = t.account_id and a._batch_id = t._batch_id
               where t.txn_type = 'transfer_out' and t.counterparty_bank is not null and a.currency = 'CNY'
               group by 1)
           select count(*) filter (where out_cny >= 50000) from outflow"""
    ).fetchone()[0]
    assert 50 <= churners <= 2000  # a minority of 10k
    closed = con.execute("select count(*) from raw.accounts where _batch_id = '2025-12' and status = 'closed'")
    assert closed.fetchone()[0] > 10
