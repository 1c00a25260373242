"""What the explorer shows, read from the current publication (the serving release file),
read-only. Every figure is a mart's column or a count of a mart's rows: no rule is restated
here. A new publication is picked up by `Publication.current(...)`: the release file
serving.duckdb points at is immutable, so a connection to it sees one whole release."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from tierwise.config import Settings
from tierwise.publish import current_release_db

WATCHLIST_LIMIT = 500  # rows a page shows; the download holds them all


@dataclass
class Publication:
    release_file: Path
    con: duckdb.DuckDBPyConnection

    @classmethod
    def open(cls, release_file: Path) -> Publication:
        return cls(release_file, duckdb.connect(str(release_file), read_only=True))

    @staticmethod
    def current_file(settings: Settings) -> Path:
        return current_release_db(settings)

    def close(self) -> None:
        self.con.close()

    def _df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        frame = self.con.execute(sql, params or []).df()
        for column in frame.columns:  # dates as dates (DuckDB's DATE arrives as a timestamp)
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.date
        return frame

    # ------------------------------------------------------------------ overview
    def release(self) -> dict[str, str]:
        row = self.con.execute(
            "select release, run_id, strftime(published_at, '%Y-%m-%d %H:%M') from marts._publication"
        ).fetchone()
        return {"release": row[0], "run_id": row[1], "published": row[2]}

    def thresholds(self, month: datetime.date) -> pd.DataFrame:
        """The tier thresholds in force in the month (the version with the latest effective_from)."""
        return self._df(
            "select tier, tier_rank, min_aum_cny from marts.dim_tier_thresholds where effective_from = "
            "(select max(effective_from) from marts.dim_tier_thresholds where effective_from <= ?) order by tier_rank",
            [month],
        )

    def months(self) -> list[datetime.date]:
        return [
            r[0] for r in self.con.execute("select distinct as_of_date from marts.rpt_bank_kpis order by 1").fetchall()
        ]

    def tier_names(self) -> pd.DataFrame:
        return self._df(
            "select distinct tier, tier_rank, name_zh, name_en from marts.dim_tier_thresholds order by tier_rank"
        )

    def tier_kpis(self) -> pd.DataFrame:
        return self._df(
            "select as_of_date, tier, tier_rank, customers, aum_cny, aum_share, aum_retention_rate, "
            "customer_retention_rate, rm_coverage_rate from marts.rpt_tier_kpis order by as_of_date, tier_rank"
        )

    def bank_kpis(self) -> pd.DataFrame:
        return self._df(
            "select as_of_date, customers, aum_cny, aum_retention_rate, customer_retention_rate, upgrade_rate, "
            "downgrade_rate, attrition_rate, top1_aum_share, top10_aum_share, aum_gini from marts.rpt_bank_kpis "
            "order by as_of_date"
        )

    def migration(self, month: datetime.date) -> pd.DataFrame:
        return self._df(
            "select from_tier, to_tier, customers, aum_cny from marts.fct_tier_migration where as_of_date = ?", [month]
        )

    def migration_customers(self, month: datetime.date, from_tier: str, to_tier: str) -> pd.DataFrame:
        """The customers in one cell of the migration matrix ('none' = new, 'left' = no longer on book)."""
        if to_tier == "left":
            return self._df(
                "select last.customer_id, d.masked_name, last.tier as from_tier, 'left' as to_tier, "
                "last.aum_basis_cny as aum_cny from marts.fct_customer_tier as last "
                "left join marts.dim_customers as d on last.customer_id = d.customer_id "
                "where last.as_of_date = (select max(as_of_date) from marts.fct_customer_tier where as_of_date < ?) "
                "and last.tier = ? and last.customer_id not in "
                "(select customer_id from marts.fct_customer_tier where as_of_date = ?) order by 1",
                [month, from_tier, month],
            )
        return self._df(
            "select t.customer_id, d.masked_name, coalesce(t.prior_tier, 'none') as from_tier, t.tier as to_tier, "
            "t.aum_basis_cny as aum_cny from marts.fct_customer_tier as t "
            "left join marts.dim_customers as d on t.customer_id = d.customer_id "
            "where t.as_of_date = ? and coalesce(t.prior_tier, 'none') = ? and t.tier = ? order by 1",
            [month, from_tier, to_tier],
        )

    # ----------------------------------------------------------------- watchlist
    def watchlist(self, month: datetime.date) -> pd.DataFrame:
        return self._df(
            "select s.customer_id, d.masked_name, d.home_branch_id as branch_id, s.rm_id, s.tier, s.churn_score, "
            "s.risk_band, s.reason_codes, s.aum_cny from marts.fct_churn_signals as s "
            "left join marts.dim_customers as d on s.customer_id = d.customer_id "
            "where s.as_of_date = ? and s.is_watchlist order by s.churn_score desc, s.aum_cny desc, s.customer_id",
            [month],
        )

    # ------------------------------------------------------------- customer 360
    def customer_ids(self) -> list[str]:
        return [r[0] for r in self.con.execute("select customer_id from marts.dim_customers order by 1").fetchall()]

    def customer(self, customer_id: str) -> pd.DataFrame:
        return self._df("select * from marts.dim_customers where customer_id = ?", [customer_id])

    def customer_months(self, customer_id: str) -> pd.DataFrame:
        return self._df(
            "select t.as_of_date, t.tier, t.raw_tier, t.tier_change, t.months_below_tier, t.grace_branch, "
            "t.threshold_version, m.aum_cny, m.deposit_eom_cny, m.investment_eom_cny, m.credit_outstanding_cny, "
            "t.activity_segment, t.risk_segment, t.life_stage, t.depth_segment, s.churn_score, s.risk_band, "
            "s.reason_codes, s.is_watchlist "
            "from marts.fct_customer_tier as t "
            "inner join marts.fct_customer_month as m on t.customer_id = m.customer_id and t.as_of_date = m.as_of_date "
            "left join marts.fct_churn_signals as s on t.customer_id = s.customer_id and t.as_of_date = s.as_of_date "
            "where t.customer_id = ? order by t.as_of_date",
            [customer_id],
        )

    def offers(self, customer_id: str, month: datetime.date) -> pd.DataFrame:
        return self._df(
            "select product_category, recommended_product_code, score, priority_rank, suitable, refusal_codes, reason "
            "from marts.fct_cross_sell where customer_id = ? and as_of_date = ? "
            "order by suitable desc, priority_rank, product_category",
            [customer_id, month],
        )
