"""`tierwise explain`: why a customer-month got its tier, churn signals and cross-sell rows, in
plain words, with every AUM part traced to its landing batch, file and row.

It reads the build database read-only (it needs the per-account detail and the raw lineage
columns the marts do not carry) and prints masked names only. The answers come from the same
tables the marts are built from; the fired flags and tiers are the marts' own, never recomputed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from tierwise.months import as_of_date, parse_month
from tierwise.reporting.words import catalogue


class ExplainError(ValueError):
    pass


@dataclass
class _Db:
    con: duckdb.DuckDBPyConnection

    def rows(self, sql: str, params: list) -> list[dict]:
        cursor = self.con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def row(self, sql: str, params: list) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return _plain(obj)


def explain(build_db: Path, customer_id: str, month: str) -> dict:
    month = parse_month(month)
    day = as_of_date(month)
    try:
        con = duckdb.connect(str(build_db), read_only=True)
    except duckdb.IOException as exc:
        raise ExplainError(f"the build database is busy (a refresh is running?): {exc}") from exc
    try:
        return _clean(_explain(_Db(con), customer_id, month, day))
    finally:
        con.close()


def _explain(db: _Db, customer_id: str, month: str, day: date) -> dict:
    tier = db.row("select * from marts.fct_customer_tier where customer_id = ? and as_of_date = ?", [customer_id, day])
    if tier is None:
        raise ExplainError(f"customer {customer_id} is not on book in {month} (no row in marts.fct_customer_tier)")
    measures = db.row(
        "select * from marts.fct_customer_month where customer_id = ? and as_of_date = ?", [customer_id, day]
    )
    batch = db.row("select batch_id from intermediate.int_month_batches where as_of_date = ?", [day])["batch_id"]
    customer = db.row(
        "select masked_name, batch_id, source_file, source_row_number from staging.stg_core__customers "
        "where customer_id = ? and batch_id = ?",
        [customer_id, batch],
    )
    accounts = db.rows(
        """select b.account_id, b.category, b.currency, b.adb, b.cny_per_unit, b.adb_cny, b.month_end_balance,
                  b.is_open_at_month_end,
                  a.batch_id, a.source_file, a.source_row_number,
                  bal.source_file as balance_file, bal.source_row_number as balance_row
           from intermediate.int_account_month_balances b
           left join staging.stg_core__accounts a on a.account_id = b.account_id and a.batch_id = ?
           left join staging.stg_core__deposit_balances bal
             on bal.account_id = b.account_id and bal.as_of_date = b.as_of_date and bal.batch_id = ?
           where b.customer_id = ? and b.as_of_date = ?
           order by b.account_id""",
        [batch, batch, customer_id, day],
    )
    holdings = db.rows(
        """select product_code, category, family, aum_component, units, holding_value, currency, cny_per_unit,
                  holding_value_cny, batch_id, source_file, source_row_number
           from intermediate.int_holdings__monthly where customer_id = ? and as_of_date = ?
           order by product_code""",
        [customer_id, day],
    )
    currencies = sorted({a["currency"] for a in accounts} | {h["currency"] for h in holdings if h["currency"]})
    fx = []
    for currency in currencies:
        rate = db.row(
            "select currency, rate_date, cny_per_unit from intermediate.int_fx_rates__monthly "
            "where as_of_date = ? and currency = ?",
            [day, currency],
        )
        if rate is None:
            continue
        source = db.row(
            "select batch_id, source_file, source_row_number from staging.stg_core__fx_rates "
            "where currency = ? and rate_date = ? order by batch_id desc limit 1",
            [currency, rate["rate_date"]],
        )
        fx.append({**rate, "source": source})  # CNY has no source row: 1 by definition
    thresholds = db.rows(
        "select tier, tier_rank, min_aum_cny, effective_from from marts.dim_tier_thresholds "
        "where threshold_version = ? order by tier_rank",
        [tier["threshold_version"]],
    )
    grace = db.row("select policy_value from rules.tier_policy where policy_key = 'downgrade_grace_months'", [])
    signals = db.row(
        "select * from marts.fct_churn_signals where customer_id = ? and as_of_date = ?", [customer_id, day]
    )
    inputs = None
    if signals is not None:  # the values the mart evaluated its signals on (all marts columns)
        inputs = {
            **measures,
            **{k: tier[k] for k in ("tier_change", "months_below_tier", "activity_segment")},
            **signals,
        }
    rules = db.rows("select * from rules.churn_signals order by weight desc, signal", [])
    cross_sell = db.rows(
        "select product_category, recommended_product_code, score, priority_rank, suitable, reason, refusal_codes, "
        "refused_customer_age, refused_min_age, refused_customer_risk_level, refused_product_risk_rating, "
        "refused_min_purchase_cny, refused_funds_cny "
        "from marts.fct_cross_sell where customer_id = ? and as_of_date = ? "
        "order by suitable desc, priority_rank, product_category",
        [customer_id, day],
    )
    deposit_part = sum((a["adb_cny"] or 0) for a in accounts)
    investment_part = sum((h["holding_value_cny"] or 0) for h in holdings if h["aum_component"] == "investment")
    return {
        "customer_id": customer_id,
        "masked_name": customer["masked_name"] if customer else None,
        "month": month,
        "as_of_date": day,
        "batch_id": batch,
        "customer_source": customer and {k: customer[k] for k in ("batch_id", "source_file", "source_row_number")},
        "aum": {
            "aum_cny": measures["aum_cny"],
            "deposit_adb_cny": measures["deposit_adb_cny"],
            "investment_eom_cny": measures["investment_eom_cny"],
            "deposit_adb_cny_unrounded": deposit_part,
            "investment_eom_cny_unrounded": investment_part,
            "accounts": accounts,
            "holdings": holdings,
            "fx": fx,
        },
        "tier": {
            "threshold_version": tier["threshold_version"],
            "thresholds": thresholds,
            "raw_tier": tier["raw_tier"],
            "prior_tier": tier["prior_tier"],
            "tier": tier["tier"],
            "tier_change": tier["tier_change"],
            "months_below_tier": tier["months_below_tier"],
            "downgrade_grace_months": int(grace["policy_value"]) if grace else None,
            "grace_branch": tier["grace_branch"],
            "aum_basis_cny": tier["aum_basis_cny"],
            "is_hnw": tier["is_hnw"],
        },
        "churn": {
            "churn_score": signals["churn_score"] if signals else None,
            "risk_band": signals["risk_band"] if signals else None,
            "is_watchlist": signals["is_watchlist"] if signals else None,
            "signals": [_signal(rule, signals, inputs) for rule in rules],
        },
        "cross_sell": cross_sell,
    }


# What each signal reads (columns of fct_churn_signals and the month's measures): shown beside
# the threshold the mart evaluated, never re-decided here.
SIGNAL_INPUTS = {
    "sig_aum_drop": ("aum_cny", "prev_mean_aum_cny"),
    "sig_interbank_outflow": ("interbank_outflow_cny", "last_month_aum_cny"),
    "sig_large_maturity": ("maturing_30d_cny",),
    "sig_activity_drop": ("customer_txn_count", "prev_mean_txn_count"),
    "sig_complaints": ("complaints_90d", "high_complaints_90d"),
    "sig_tier_pressure": ("tier_change", "months_below_tier"),
    "sig_dormant_shift": ("activity_segment", "last_month_activity_segment"),
}


def _value(value):
    return float(value) if isinstance(value, Decimal) else value


def _signal(rule: dict, signals: dict | None, inputs: dict | None) -> dict:
    """The mart's fired flag with the values it read and the thresholds it evaluated them against
    (its `<signal>_fires_below...` / `_fires_from...` columns, e.g. `fires_below`), and the seed's
    parameters: everything from the marts, nothing decided here."""
    name = rule["signal"]
    fired = bool(signals and signals.get(name))
    i = inputs or {}
    values: dict = {column: _value(i.get(column)) for column in SIGNAL_INPUTS.get(name, ())}
    for column, value in (signals or {}).items():
        if column.startswith(f"{name}_fires_"):
            values[column[len(name) + 1 :].removesuffix("_cny")] = _value(value)
    values |= {"ratio": _value(rule["ratio_threshold"]), "min_value": _value(rule["min_value"])}
    return {"signal": name, "weight": rule["weight"], "fired": fired, "values": values, "rule": rule.get("description")}


# ------------------------------------------------------------------------------- plain words
def _m(value) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


def to_text(result: dict, lang: str = "en") -> str:
    labels = catalogue(lang)  # reports/labels.yml: one catalogue of words for every output
    w = labels["explain"]
    a, t, c = result["aum"], result["tier"], result["churn"]
    lines = [w["title"].format(**{**result, "masked_name": result["masked_name"] or "-"}), ""]
    lines.append(w["aum"].format(aum=_m(a["aum_cny"]), dep=_m(a["deposit_adb_cny"]), inv=_m(a["investment_eom_cny"])))
    for acc in a["accounts"]:
        lines.append(
            w["account"].format(
                **{
                    **acc,
                    "adb": _m(acc["adb"]),
                    "rate": acc["cny_per_unit"],
                    "adb_cny": _m(acc["adb_cny"]),
                    "eom": _m(acc["month_end_balance"]),
                }
            )
        )
    for h in a["holdings"]:
        lines.append(
            w["holding"].format(
                **{
                    **h,
                    "value": _m(h["holding_value"]),
                    "rate": h["cny_per_unit"],
                    "value_cny": _m(h["holding_value_cny"]),
                }
            )
        )
    for f in a["fx"]:
        src = f["source"]
        text = f"; {src['source_file']} row {src['source_row_number']}, batch {src['batch_id']}" if src else ""
        lines.append(w["fx"].format(currency=f["currency"], rate=f["cny_per_unit"], rate_date=f["rate_date"], src=text))
    listing = ", ".join(f"{x['tier']} >= {_m(x['min_aum_cny'])}" for x in t["thresholds"])
    lines += ["", w["thresholds"].format(version=t["threshold_version"], list=listing)]
    lines.append(
        w["decision"].format(
            raw=t["raw_tier"],
            prior=t["prior_tier"] or w["none"],
            below=t["months_below_tier"],
            grace=t["downgrade_grace_months"],
            tier=t["tier"],
            change=t["tier_change"],
        )
    )
    lines.append(w["branch"].format(branch=labels["grace_branches"].get(t["grace_branch"], t["grace_branch"])))
    watch = w["on_watchlist"] if c["is_watchlist"] else ""
    lines += ["", w["churn"].format(score=c["churn_score"], band=c["risk_band"], watch=watch)]
    for s in c["signals"]:
        values = ", ".join(f"{k}={_m(v) if isinstance(v, float | None) else v}" for k, v in s["values"].items())
        verdict = w["fired"] if s["fired"] else w["not_fired"]
        lines.append(w["signal"].format(signal=s["signal"], weight=s["weight"], verdict=verdict, values=values))
    lines += ["", w["cross_sell"]]
    for x in result["cross_sell"]:
        verdict = (
            w["suitable"].format(rank=x["priority_rank"], score=x["score"])
            if x["suitable"]
            else w["blocked"].format(reason=x["reason"])
        )
        lines.append(f"  {x['product_category']} {x['recommended_product_code'] or '-'}: {verdict}")
    if not result["cross_sell"]:
        lines.append(f"  {w['none']}")
    return "\n".join(lines)


def to_json(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True)
