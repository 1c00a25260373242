"""The review's tables, formatted in one language: shared by the HTML/PDF and the Excel writer
(Excel keeps the numbers as numbers; HTML shows the formatted text)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tierwise.reporting.data import ReviewData
from tierwise.reporting.words import Words, is_missing

HTML_ROWS = 50  # longest customer list printed in the HTML/PDF; Excel has them all


@dataclass
class Column:
    label: str
    kind: str = "text"  # text | count | money | pct | ratio | signed_count | signed_money | points


@dataclass
class Table:
    id: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)  # raw values (numbers stay numbers)
    total: int | None = None  # rows before truncation, for customer lists

    def formatted(self, w: Words) -> list[list[tuple[str, bool]]]:
        """Each cell as (text, is_number)."""
        out = []
        for row in self.rows:
            cells = [cell(column.kind, value) for column, value in zip(self.columns, row, strict=True)]
            out.append([(_format(w, kind, value), kind != "text") for kind, value in cells])
        return out


def cell(kind: str, value) -> tuple[str, object]:
    """A cell's own kind wins over its column's (the headline mixes counts, money and rates)."""
    return value if isinstance(value, tuple) else (kind, value)


def _format(w: Words, kind: str, value) -> str:
    kind, value = cell(kind, value)
    if kind == "text":
        return w("na") if is_missing(value) else str(value)
    return getattr(w, kind)(value)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    return [list(r) for r in frame[columns].itertuples(index=False)] if not frame.empty else []


def headline(d: ReviewData, w: Words) -> Table:
    kinds = {"customers": ("count", "signed_count"), "aum": ("money", "signed_money")}
    rows = []
    for metric, now, last, change in d.headline.itertuples(index=False):
        kind, change_kind = kinds.get(metric, ("pct", "points"))
        rows.append([w(metric), (kind, now), (kind, last), (change_kind, change)])
    table = Table(
        "headline", [Column(w("metric")), Column(w("this_month")), Column(w("last_month")), Column(w("change"))]
    )
    table.rows = rows
    return table


def tiers(d: ReviewData, w: Words) -> Table:
    t = d.tiers
    frame = pd.DataFrame(
        {
            "tier": t["tier"].map(w.tier),
            "customers": t["customers"],
            "customers_change": t["customers_change"],
            "aum": t["aum_cny"],
            "aum_change": t["aum_change"],
            "share": t["aum_share"],
            "share_change": t["share_change"],
            "avg_aum": t["avg_aum_cny"],
            "aum_retention": t["aum_retention_rate"],
            "customer_retention": t["customer_retention_rate"],
            "avg_categories": t["avg_product_categories"],
            "rm_coverage": t["rm_coverage_rate"],
        }
    )
    columns = [
        Column(w("tier")),
        Column(w("customers"), "count"),
        Column(w("change"), "signed_count"),
        Column(w("aum"), "money"),
        Column(w("change"), "signed_money"),
        Column(w("aum_share"), "pct"),
        Column(w("share_change"), "points"),
        Column(w("avg_aum"), "money"),
        Column(w("aum_retention"), "pct"),
        Column(w("customer_retention"), "pct"),
        Column(w("avg_categories"), "ratio"),
        Column(w("rm_coverage"), "pct"),
    ]
    return Table("tiers", columns, _rows(frame, list(frame.columns)))


def concentration(d: ReviewData, w: Words) -> Table:
    c = d.concentration
    return Table(
        "concentration",
        [Column(w("metric")), Column(w("this_month"))],
        [
            [w("customers"), ("count", c.customers)],
            [w("top1"), ("pct", c.top1_share)],
            [w("top10"), ("pct", c.top10_share)],
            [w("gini"), ("ratio", c.gini)],
        ],
    )


def migration_matrix(d: ReviewData) -> pd.DataFrame:
    order = list(d.tier_names["tier"])
    if d.migration.empty:
        return pd.DataFrame()
    matrix = d.migration.pivot_table(
        index="from_tier", columns="to_tier", values="customers", aggfunc="sum", fill_value=0
    )
    rows = [t for t in ["none", *order] if t in matrix.index] + sorted(set(matrix.index) - {"none", *order})
    cols = [t for t in order if t in matrix.columns] + sorted(set(matrix.columns) - {"left", *order})
    cols += ["left"] if "left" in matrix.columns else []
    matrix = matrix.reindex(index=rows, columns=cols, fill_value=0).astype(int)
    matrix.index.name, matrix.columns.name = None, None
    return matrix


def migration(d: ReviewData, w: Words) -> Table:
    matrix = migration_matrix(d)
    columns = [Column(w("from_to"))] + [Column(w.tier(c), "count") for c in matrix.columns]
    return Table(
        "migration",
        columns,
        [[w.tier(i), *row] for i, row in zip(matrix.index, matrix.to_numpy().tolist(), strict=True)],
    )


def migration_rates(d: ReviewData, w: Words) -> Table:
    r = d.migration_rates
    return Table(
        "migration_rates",
        [Column(w("metric")), Column(w("this_month"), "pct")],
        [[w(k), r[k]] for k in ("upgrade_rate", "downgrade_rate", "attrition_rate")],
    )


def _customers(frame: pd.DataFrame, limit: int | None) -> tuple[pd.DataFrame, int]:
    return (frame if limit is None else frame.head(limit)), len(frame)


def downgrade_watch(d: ReviewData, w: Words, limit: int | None = HTML_ROWS) -> Table:
    frame, total = _customers(d.downgrade_watch, limit)
    frame = frame.assign(tier=frame["tier"].map(w.tier), raw_tier=frame["raw_tier"].map(w.tier))
    columns = [
        Column(w("customer_id")),
        Column(w("masked_name")),
        Column(w("tier")),
        Column(w("raw_tier")),
        Column(w("months_below"), "count"),
        Column(w("aum_basis"), "money"),
        Column(w("rm")),
        Column(w("branch")),
    ]
    keys = [
        "customer_id",
        "masked_name",
        "tier",
        "raw_tier",
        "months_below_tier",
        "aum_basis_cny",
        "rm_id",
        "branch_id",
    ]
    return Table("downgrade_watch", columns, _rows(frame, keys), total)


WATCHLIST_KEYS = ["customer_id", "masked_name", "tier", "aum_cny", "churn_score", "reasons", "rm_id", "branch_id"]


def watchlist_columns(w: Words) -> list[Column]:
    return [
        Column(w("customer_id")),
        Column(w("masked_name")),
        Column(w("tier")),
        Column(w("aum"), "money"),
        Column(w("churn_score"), "count"),
        Column(w("reasons")),
        Column(w("rm")),
        Column(w("branch")),
    ]


def watchlist_frame(d: ReviewData, w: Words) -> pd.DataFrame:
    frame = d.watchlist
    return frame.assign(tier=frame["tier"].map(w.tier), reasons=frame["reason_codes"].map(w.reasons))


def watchlist(d: ReviewData, w: Words, limit: int | None = HTML_ROWS) -> Table:
    frame, total = _customers(watchlist_frame(d, w), limit)
    return Table("watchlist", watchlist_columns(w), _rows(frame, WATCHLIST_KEYS), total)


def cross_sell_matrix(d: ReviewData, w: Words) -> Table:
    m = d.cross_sell_matrix
    columns = [Column(w("tier"))] + [Column(w.category(c), "count") for c in m.columns]
    return Table(
        "cross_sell_matrix", columns, [[w.tier(i), *r] for i, r in zip(m.index, m.to_numpy().tolist(), strict=True)]
    )


def top_categories(d: ReviewData, w: Words) -> Table:
    columns = [
        Column(w("category")),
        Column(w("suitable_recommendations"), "count"),
        Column(w("first_priority"), "count"),
        Column(w("avg_score"), "ratio"),
    ]
    keys = ["product_category", "suitable_recommendations", "first_priority", "avg_score"]
    frame = d.top_categories.assign(product_category=d.top_categories["product_category"].map(w.category))
    return Table("top_categories", columns, _rows(frame, keys))


def blocked(d: ReviewData, w: Words) -> Table:
    rows = [[w.blocked_rule(k), n] for k, n in d.blocked.itertuples(index=False)]
    rows.append([w("blocked_total"), d.blocked_total])
    return Table("blocked", [Column(w("blocked_rule")), Column(w("recommendations"), "count")], rows)


def rm_columns(w: Words) -> list[Column]:
    return [
        Column(w("rm")),
        Column(w("branch")),
        Column(w("rm_role")),
        Column(w("clients"), "count"),
        Column(w("capacity")),
        Column(w("load"), "pct"),
        Column(w("watchlist_clients"), "count"),
        Column(w("aum"), "money"),
        Column(w("over_capacity")),
    ]


def rm_frame(frame: pd.DataFrame, w: Words) -> pd.DataFrame:
    return frame.assign(
        rm_role=frame["rm_role"].map(w.role),
        capacity=frame["max_clients"].map(lambda v: w("no_cap") if is_missing(v) else f"{int(v):,}"),
        over=frame["over_capacity"].map(w.flag),
    )


RM_KEYS = ["rm_id", "branch_id", "rm_role", "clients", "capacity", "load", "watchlist_clients", "aum_cny", "over"]


def rm_books(d: ReviewData, w: Words, limit: int | None = 15) -> Table:
    frame, total = _customers(rm_frame(d.rm_books, w), limit)
    return Table("rm_books", rm_columns(w), _rows(frame, RM_KEYS), total)


def over_capacity_private_bankers(d: ReviewData, w: Words) -> Table:
    return Table("over_capacity_pb", rm_columns(w), _rows(rm_frame(d.over_capacity_private_bankers, w), RM_KEYS))


def reconciliation(d: ReviewData, w: Words) -> Table:
    r = d.reconciliation
    columns = [
        Column(w("table_name")),
        Column(w("source_file")),
        Column(w("delivered"), "count"),
        Column(w("loaded"), "count"),
        Column(w("quarantined"), "count"),
    ]
    keys = ["table_name", "source_file", "rows_delivered", "rows_loaded", "rows_quarantined"]
    rows = _rows(r, keys)
    if rows:
        rows.append([w("total"), "", *(int(r[k].sum()) for k in keys[2:])])
    return Table("reconciliation", columns, rows)


def rollforward(d: ReviewData, w: Words) -> Table:
    columns = [Column(w("check_name")), Column(w("breaks"), "count"), Column(w("accounts"), "count")]
    return Table("rollforward", columns, _rows(d.rollforward, ["check_name", "break_count", "account_count"]))


def test_summary(d: ReviewData, w: Words) -> Table:
    columns = [Column(w("severity")), Column(w("status")), Column(w("count"), "count")]
    return Table("test_summary", columns, _rows(d.test_summary, ["severity", "status", "tests"]))


def failed_tests(d: ReviewData, w: Words) -> Table:
    columns = [
        Column("test"),
        Column("model"),
        Column(w("severity")),
        Column(w("status")),
        Column(w("breaks"), "count"),
    ]
    return Table(
        "failed_tests", columns, _rows(d.failed_tests, ["test_name", "tested_node", "severity", "status", "failures"])
    )


def rule_versions(d: ReviewData, w: Words) -> Table:
    frame = (
        d.rule_versions.assign(sha=d.rule_versions["sha256"].str[:12]) if not d.rule_versions.empty else d.rule_versions
    )
    columns = [Column(w("seed")), Column(w("rows"), "count"), Column(w("versions")), Column("sha256")]
    return Table("rule_versions", columns, _rows(frame, ["seed", "rows", "versions", "sha"]) if not frame.empty else [])
