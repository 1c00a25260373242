"""The monthly review report (reports/monthly_review.md), rendered from the serving database.

It reads the published marts read-only (what BI sees, never the build database mid-refresh)
and prints aggregates only: no customer identifier, name or document number is printed.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

import duckdb
import numpy as np
import pandas as pd

from tierwise.config import REPO_ROOT
from tierwise.months import as_of_date, parse_month

TEMPLATE = REPO_ROOT / "reports" / "monthly_review.md"
TIER_ORDER = ["mass", "gold", "platinum", "diamond", "private"]


@dataclass
class Report:
    month: str
    markdown: Path
    tier_csv: Path


def render_monthly_review(serving_path: Path, month: str, out_root: Path) -> Report:
    month = parse_month(month)
    day = as_of_date(month)
    con = duckdb.connect(str(serving_path), read_only=True)
    try:
        q = lambda sql: con.execute(sql, [day]).df()  # noqa: E731 - every query takes the month end
        release, run_id = con.execute("select release, run_id from marts._publication").fetchone()
        kpis = q("select * from marts.rpt_tier_kpis where as_of_date = ? order by tier_rank")
        if kpis.empty:
            raise ValueError(f"no tiers published for {month} in {serving_path}")
        versions = q("select distinct threshold_version from marts.fct_customer_tier where as_of_date = ? order by 1")
        migration = q("select from_tier, to_tier, customers from marts.fct_tier_migration where as_of_date = ?")
        churn = q(
            "select tier, tier_rank, risk_band, count(*) as customers, "
            "sum(case when is_watchlist then 1 else 0 end) as watchlist "
            "from marts.fct_churn_signals where as_of_date = ? group by all"
        )
        reasons = q(
            "select reason, count(*) as customers from (select unnest(string_split(reason_codes, ',')) as reason "
            "from marts.fct_churn_signals where as_of_date = ? and risk_band = 'high') group by all "
            "order by customers desc, reason limit 5"
        )
        cross_sell = q(
            "select product_category, count(*) as customers, round(avg(score), 1) as avg_score "
            "from marts.fct_cross_sell where as_of_date = ? and suitable and priority_rank = 1 "
            "group by all order by customers desc, product_category"
        )
        rm = q(
            "select rm_id, branch_id, rm_role, clients, max_clients, over_capacity, watchlist_clients, aum_cny "
            "from marts.fct_rm_book where as_of_date = ? order by over_capacity desc, clients desc, rm_id"
        )
        uncovered = con.execute(
            "select count(*) from marts.fct_churn_signals where as_of_date = ? and is_watchlist and rm_id is null",
            [day],
        ).fetchone()[0]
    finally:
        con.close()

    folder = out_root / month
    folder.mkdir(parents=True, exist_ok=True)
    tier_csv = folder / "tier_kpis.csv"
    _write_atomically(tier_csv, kpis.drop(columns=["tier_rank"]).to_csv(index=False))
    watchlist = int(churn["watchlist"].sum())
    over = rm[rm["over_capacity"]]
    values = {
        "month": month,
        "as_of_date": day.isoformat(),
        "release": release,
        "run_id": run_id,
        "threshold_versions": ", ".join(versions["threshold_version"]) or "-",
        "tier_table": _tier_table(kpis),
        "migration_table": _migration_table(migration),
        "watchlist_summary": f"Watchlist: {watchlist:,} customer(s) at high risk in a tier served by a relationship "
        f"manager; {uncovered:,} of them have none assigned.",
        "churn_table": _churn_table(churn),
        "reason_table": markdown_table(reasons) if not reasons.empty else "_No high-risk customers this month._",
        "cross_sell_table": markdown_table(cross_sell) if not cross_sell.empty else "_No suitable recommendation._",
        "rm_summary": f"{len(rm):,} relationship managers hold clients; {len(over):,} over capacity.",
        "rm_table": markdown_table(
            rm.head(10).assign(
                aum_cny=rm["aum_cny"].map(_money),
                max_clients=rm["max_clients"].map(lambda v: "no cap" if pd.isna(v) else f"{int(v):,}"),
            )
        )
        if not rm.empty
        else "_No relationship-manager assignments._",
    }
    markdown = folder / "monthly_review.md"
    _write_atomically(markdown, Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values))
    return Report(month, markdown, tier_csv)


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(value) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            return "-"
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            return f"{int(value):,}"
        return str(value)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _money(value) -> str:
    return f"{float(value):,.2f}"


def _pct(value) -> str | None:
    return None if value is None or pd.isna(value) else f"{value:.1%}"


def _tier_table(kpis: pd.DataFrame) -> str:
    total = pd.DataFrame(
        [
            {
                "tier": "total",
                "customers": int(kpis["customers"].sum()),
                "aum_cny": kpis["aum_cny"].sum(),
                "aum_share": 1.0,
            }
        ]
    )
    frame = pd.concat([kpis, total], ignore_index=True)
    return markdown_table(
        pd.DataFrame(
            {
                "tier": frame["tier"],
                "customers": frame["customers"].map(lambda v: f"{int(v):,}"),
                "AUM (CNY)": frame["aum_cny"].map(_money),
                "AUM share": frame["aum_share"].map(_pct),
                "AUM kept": frame["aum_retention_rate"].map(_pct),
                "customers kept": frame["customer_retention_rate"].map(_pct),
                "avg categories": frame["avg_product_categories"].map(lambda v: None if pd.isna(v) else f"{v:.2f}"),
                "RM coverage": frame["rm_coverage_rate"].map(_pct),
            }
        )
    )


def _ordered(labels, first=(), last=()) -> list[str]:
    known = [t for t in TIER_ORDER if t in labels]
    other = sorted(set(labels) - set(TIER_ORDER) - set(first) - set(last))
    return [t for t in first if t in labels] + known + other + [t for t in last if t in labels]


def _migration_table(migration: pd.DataFrame) -> str:
    if migration.empty:
        return "_No customers._"
    matrix = migration.pivot_table(
        index="from_tier", columns="to_tier", values="customers", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(
        index=_ordered(matrix.index, first=("none",)), columns=_ordered(matrix.columns, last=("left",)), fill_value=0
    )
    matrix = matrix.astype(int).reset_index().rename(columns={"from_tier": "from \\ to"})
    matrix.columns.name = None
    return markdown_table(matrix)


def _churn_table(churn: pd.DataFrame) -> str:
    if churn.empty:
        return "_No customers._"
    matrix = churn.pivot_table(index="tier", columns="risk_band", values="customers", aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=_ordered(matrix.index), columns=[c for c in ("high", "medium", "low")], fill_value=0)
    watch = churn.groupby("tier")["watchlist"].sum()
    matrix["watchlist"] = watch.reindex(matrix.index).fillna(0)
    matrix = matrix.astype(int).reset_index()
    matrix.columns.name = None
    return markdown_table(matrix)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
