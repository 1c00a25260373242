"""Everything the monthly review shows, read from the published marts (and the audit record
published beside them) — never from raw or staging. Numbers only; words are added per language
by the renderers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tierwise.months import as_of_date, parse_month

# The suitability refusal codes of fct_cross_sell.refusal_codes, in the order the report lists
# them (labels: reports/labels.yml, blocked_rules). The rules themselves live in the mart.
REFUSAL_CODES = ("missing_assessment", "expired_assessment", "risk_mismatch", "under_age", "insufficient_funds")


@dataclass
class Concentration:
    customers: int
    top1_share: float | None
    top10_share: float | None
    gini: float | None
    lorenz: pd.DataFrame  # population_share, aum_share (ascending, starts at 0,0)


@dataclass
class ReviewData:
    month: str
    as_of_date: date
    prev_as_of_date: date | None
    release: str
    run_id: str
    threshold_versions: list[str]
    tier_names: pd.DataFrame  # tier, tier_rank, name_zh, name_en
    headline: pd.DataFrame  # metric, this_month, last_month, change
    tiers: pd.DataFrame
    concentration: Concentration
    migration: pd.DataFrame  # from_tier, to_tier, customers, aum_cny
    migration_rates: dict[str, float | None]
    downgrade_watch: pd.DataFrame
    watchlist: pd.DataFrame
    cross_sell_matrix: pd.DataFrame  # tier x category -> suitable recommendations
    top_categories: pd.DataFrame
    blocked: pd.DataFrame  # rule, recommendations
    blocked_total: int
    rm_books: pd.DataFrame
    over_capacity_private_bankers: pd.DataFrame
    reconciliation: pd.DataFrame
    rollforward: pd.DataFrame
    test_summary: pd.DataFrame
    failed_tests: pd.DataFrame
    test_run: dict | None
    rule_versions: pd.DataFrame
    extra: dict = field(default_factory=dict)


def lorenz_curve(aum: np.ndarray, points: int = 200) -> pd.DataFrame:
    """The Lorenz curve of customer AUM, to draw beside rpt_bank_kpis' concentration figures
    (which are the numbers the review prints): population share -> AUM share, ascending, from
    (0, 0) to (1, 1), negative AUM as 0 as in the mart. Thinned to about `points` points."""
    values = np.sort(np.clip(np.asarray(aum, dtype=float), 0, None))
    n, total = len(values), float(values.sum())
    if n == 0 or total <= 0:
        return pd.DataFrame({"population_share": [0.0, 1.0], "aum_share": [0.0, 1.0]})
    cumulative = np.concatenate([[0.0], np.cumsum(values) / total])
    population = np.arange(n + 1) / n
    if n + 1 > points:  # enough points to draw, always keeping both ends
        keep = np.unique(np.linspace(0, n, points).round().astype(int))
        cumulative, population = cumulative[keep], population[keep]
    return pd.DataFrame({"population_share": population, "aum_share": cumulative})


def blocked_rule(codes: str) -> list[str]:
    """The refusal codes of one unsuitable row (fct_cross_sell.refusal_codes, ','-joined); a code
    the report has no label for counts as 'other'."""
    return [code if code in REFUSAL_CODES else "other" for code in (c.strip() for c in codes.split(",")) if code]


class _Marts:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def one(self, sql: str, params: list | None = None):
        return self.con.execute(sql, params or []).fetchone()

    def has(self, schema: str, table: str) -> bool:
        return bool(
            self.one("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table])[
                0
            ]
        )


def _bank_kpis(m: _Marts, day: date | None) -> dict:
    """The month's row of rpt_bank_kpis (the bank-wide figures are defined there), or {}."""
    if day is None:
        return {}
    frame = m.df("select * from marts.rpt_bank_kpis where as_of_date = ?", [day])
    if frame.empty:
        return {}
    row = frame.iloc[0].to_dict()
    return {key: (None if value is None or (isinstance(value, float) and math.isnan(value)) else value)
            for key, value in row.items()}  # fmt: skip


# The headline's metrics: (label key, rpt_bank_kpis column).
HEADLINE = (
    ("customers", "customers"),
    ("aum", "aum_cny"),
    ("aum_retention", "aum_retention_rate"),
    ("customer_retention", "customer_retention_rate"),
    ("rm_coverage", "rm_coverage_rate"),
)


def _figure(kpis: dict, column: str) -> float | None:
    value = kpis.get(column)
    return None if value is None else float(value)


def _change(now, before):
    return None if now is None or before is None else now - before


def load_review(serving_path: Path, month: str) -> ReviewData:
    month = parse_month(month)
    day = as_of_date(month)
    con = duckdb.connect(str(serving_path), read_only=True)
    try:
        return _load(_Marts(con), month, day)
    finally:
        con.close()


def _load(m: _Marts, month: str, day: date) -> ReviewData:
    release, run_id = m.one("select release, run_id from marts._publication")
    on_book = m.one("select count(*) from marts.fct_customer_tier where as_of_date = ?", [day])[0]
    if not on_book:
        raise ValueError(f"no tiers published for {month}: build and publish the month first")
    prev = m.one("select max(as_of_date) from marts.fct_customer_tier where as_of_date < ?", [day])[0]
    prev = prev if prev is not None and (day - prev).days <= 31 else None
    versions = [
        r[0]
        for r in m.con.execute(
            "select distinct threshold_version from marts.fct_customer_tier where as_of_date = ? order by 1", [day]
        ).fetchall()
    ]
    names = m.df(
        "select tier, tier_rank, name_zh, name_en from marts.dim_tier_thresholds "
        "where threshold_version = ? order by tier_rank",
        [versions[-1]],
    )

    now, before = _bank_kpis(m, day), _bank_kpis(m, prev)
    if not now:
        raise ValueError(f"marts.rpt_bank_kpis has no row for {month}: rebuild and publish the month")
    headline = pd.DataFrame(
        {
            "metric": [key for key, _ in HEADLINE],
            "this_month": [_figure(now, column) for _, column in HEADLINE],
            "last_month": [_figure(before, column) for _, column in HEADLINE],
        }
    )
    headline["change"] = [_change(a, b) for a, b in zip(headline["this_month"], headline["last_month"], strict=True)]

    kpis = m.df("select * from marts.rpt_tier_kpis where as_of_date = ? order by tier_rank", [day])
    last = m.df("select tier, customers, aum_cny, aum_share from marts.rpt_tier_kpis where as_of_date = ?", [prev])
    tiers = kpis.merge(last, on="tier", how="left", suffixes=("", "_last"))
    for column in ("aum_cny", "aum_cny_last"):
        tiers[column] = tiers[column].astype(float)
    tiers["avg_aum_cny"] = np.where(tiers["customers"] > 0, tiers["aum_cny"] / tiers["customers"].clip(lower=1), np.nan)
    tiers["customers_change"] = tiers["customers"] - tiers["customers_last"]
    tiers["aum_change"] = tiers["aum_cny"] - tiers["aum_cny_last"]
    tiers["share_change"] = tiers["aum_share"] - tiers["aum_share_last"]

    aum = (
        m.df(
            "select cm.aum_cny from marts.fct_customer_tier t join marts.fct_customer_month cm "
            "using (customer_id, as_of_date) where t.as_of_date = ?",
            [day],
        )["aum_cny"]
        .astype(float)
        .to_numpy()
    )

    migration = m.df(
        "select from_tier, to_tier, customers, aum_cny from marts.fct_tier_migration where as_of_date = ?", [day]
    )
    rates = {key: _figure(now, key) for key in ("upgrade_rate", "downgrade_rate", "attrition_rate")}

    downgrade_watch = m.df(
        """select t.customer_id, d.masked_name, t.tier, t.raw_tier, t.months_below_tier, t.aum_basis_cny,
                  s.rm_id, d.home_branch_id as branch_id
           from marts.fct_customer_tier t
           left join marts.dim_customers d on d.customer_id = t.customer_id
           left join marts.fct_churn_signals s on s.customer_id = t.customer_id and s.as_of_date = t.as_of_date
           where t.as_of_date = ? and t.months_below_tier >= 1
           order by t.months_below_tier desc, t.aum_basis_cny desc, t.customer_id""",
        [day],
    )
    watchlist = m.df(
        """select s.customer_id, d.masked_name, s.tier, s.tier_rank, cm.aum_cny, s.churn_score, s.reason_codes,
                  s.rm_id, d.home_branch_id as branch_id
           from marts.fct_churn_signals s
           join marts.fct_customer_month cm on cm.customer_id = s.customer_id and cm.as_of_date = s.as_of_date
           left join marts.dim_customers d on d.customer_id = s.customer_id
           where s.as_of_date = ? and s.is_watchlist  -- the mart's flag: the rule lives in fct_churn_signals
           order by cm.aum_cny desc, s.customer_id""",
        [day],
    )

    suitable = m.df(
        """select t.tier, x.product_category, count(*) as recommendations
           from marts.fct_cross_sell x join marts.fct_customer_tier t using (customer_id, as_of_date)
           where x.as_of_date = ? and x.suitable group by all""",
        [day],
    )
    matrix = suitable.pivot_table(
        index="tier", columns="product_category", values="recommendations", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(index=[t for t in names["tier"] if t in matrix.index]).astype(int)
    matrix.columns.name = None
    top_categories = m.df(
        """select product_category, count(*) as suitable_recommendations,
                  sum(case when priority_rank = 1 then 1 else 0 end) as first_priority,
                  avg(score) as avg_score
           from marts.fct_cross_sell where as_of_date = ? and suitable
           group by all order by suitable_recommendations desc, product_category""",
        [day],
    )
    refusals = m.df(
        "select refusal_codes, count(*) as n from marts.fct_cross_sell where as_of_date = ? and not suitable "
        "group by all",
        [day],
    )
    counts = {key: 0 for key in REFUSAL_CODES} | {"other": 0}
    for codes, n in zip(refusals["refusal_codes"], refusals["n"], strict=True):
        for key in set(blocked_rule(codes or "")):
            counts[key] += int(n)
    blocked = pd.DataFrame({"rule": list(counts), "recommendations": list(counts.values())})
    blocked = blocked[(blocked["recommendations"] > 0) | (blocked["rule"] != "other")]

    rm_books = m.df(
        """select rm_id, branch_id, rm_role, clients, max_clients, watchlist_clients, aum_cny, over_capacity
           from marts.fct_rm_book where as_of_date = ?
           order by over_capacity desc, clients desc, rm_id""",
        [day],
    )
    rm_books["load"] = rm_books["clients"] / rm_books["max_clients"].astype(float)
    over_pb = rm_books[rm_books["over_capacity"] & (rm_books["rm_role"] == "private_banker")]

    reconciliation = m.df(
        """select table_name, source_file, rows_delivered, rows_loaded, rows_quarantined
           from marts.rpt_load_reconciliation where as_of_date = ? order by table_name, source_file""",
        [day],
    )
    rollforward = m.df(
        "select check_name, break_count, account_count from marts.rpt_rollforward_breaks "
        "where as_of_date = ? order by check_name",
        [day],
    )
    test_run, test_summary, failed, rules = None, pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    if m.has("audit", "test_results"):
        row = m.one(
            """select run_id, from_month, to_month from audit.test_results
               where ? between from_month and to_month order by recorded_at desc limit 1""",
            [month],
        )
        if row:
            test_run = {"run_id": row[0], "from_month": row[1], "to_month": row[2]}
            test_summary = m.df(
                """select severity, status, count(*) as tests from audit.test_results where run_id = ?
                   group by all order by severity, status""",
                [row[0]],
            )
            failed = m.df(
                """select test_name, tested_node, severity, status, failures from audit.test_results
                   where run_id = ? and status not in ('pass', 'success') order by severity, test_name""",
                [row[0]],
            )
            if m.has("audit", "rule_versions"):
                rules = m.df(
                    "select seed, rows, versions, sha256 from audit.rule_versions where run_id = ? order by seed",
                    [row[0]],
                )

    return ReviewData(
        month=month,
        as_of_date=day,
        prev_as_of_date=prev,
        release=release,
        run_id=run_id,
        threshold_versions=versions,
        tier_names=names,
        headline=headline,
        tiers=tiers,
        concentration=Concentration(
            int(now["customers"]),
            _figure(now, "top1_aum_share"),
            _figure(now, "top10_aum_share"),
            _figure(now, "aum_gini"),
            lorenz_curve(aum),
        ),
        migration=migration,
        migration_rates=rates,
        downgrade_watch=downgrade_watch,
        watchlist=watchlist,
        cross_sell_matrix=matrix,
        top_categories=top_categories,
        blocked=blocked.reset_index(drop=True),
        blocked_total=int(refusals["n"].sum()) if not refusals.empty else 0,
        rm_books=rm_books,
        over_capacity_private_bankers=over_pb.reset_index(drop=True),
        reconciliation=reconciliation,
        rollforward=rollforward,
        test_summary=test_summary,
        failed_tests=failed,
        test_run=test_run,
        rule_versions=rules,
    )
