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

BRANCHES = {
    "zh": {
        "new": "新客户：按本月 AUM 直接定级",
        "upgrade": "升级：本月 AUM 达到更高等级，立即升级（快升）",
        "at_tier": "保持：本月 AUM 达到所持等级",
        "below_tier_on_watch": "观察：本月 AUM 低于所持等级，宽限期内保持原等级（缓降）",
        "downgrade_after_grace": "降级：连续低于所持等级已满宽限期，降至观察期内的最高应属等级",
    },
    "en": {
        "new": "new customer: tiered by this month's AUM",
        "upgrade": "upgrade: this month's AUM qualifies for a higher tier, upgraded at once",
        "at_tier": "kept: this month's AUM qualifies for the held tier",
        "below_tier_on_watch": "on watch: AUM below the held tier, the tier is kept within the grace period",
        "downgrade_after_grace": "downgrade: below the held tier for the whole grace period, moved to the best "
        "tier reached during the watch",
    },
}


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


def _num(value):
    return None if value is None else float(value)


def _drop_values(measure: str, inputs: dict, mean_key: str, ratio, minimum) -> dict:
    """A 'fell below ratio x its recent mean' signal: the value, the mean and where it fires."""
    mean = _num(inputs.get(mean_key))
    return {
        measure: inputs.get(measure),
        mean_key: mean,
        "ratio": ratio,
        "min_mean": minimum,
        "fires_below": None if mean is None else ratio * mean,
    }


def _signal(rule: dict, signals: dict | None, inputs: dict | None) -> dict:
    """The mart's fired flag with the values and thresholds it was decided on (`fires_below` /
    `fires_from` are the rule applied to those values, shown for reading, never re-decided)."""
    name = rule["signal"]
    fired = bool(signals and signals.get(name))
    i = inputs or {}
    ratio, minimum = _num(rule["ratio_threshold"]), _num(rule["min_value"])
    values: dict = {}
    if name == "sig_aum_drop":
        values = _drop_values("aum_cny", i, "prev_mean_aum_cny", ratio, minimum)
    elif name == "sig_interbank_outflow":
        last = _num(i.get("last_month_aum_cny"))
        values = {
            "interbank_outflow_cny": i.get("interbank_outflow_cny"),
            "last_month_aum_cny": last,
            "ratio": ratio,
            "min_value": minimum,
            "fires_from": None if last is None else max(ratio * last, minimum),
        }
    elif name == "sig_large_maturity":
        values = {"maturing_30d_cny": i.get("maturing_30d_cny"), "fires_from": minimum}
    elif name == "sig_activity_drop":
        values = _drop_values("customer_txn_count", i, "prev_mean_txn_count", ratio, minimum)
    elif name == "sig_complaints":
        values = {
            "complaints_90d": i.get("complaints_90d"),
            "high_complaints_90d": i.get("high_complaints_90d"),
            "fires_from": minimum,
        }
    elif name == "sig_tier_pressure":
        values = {
            "tier_change": i.get("tier_change"),
            "months_below_tier": i.get("months_below_tier"),
            "fires_from_months": minimum,
        }
    elif name == "sig_dormant_shift":
        values = {
            "activity_segment": i.get("activity_segment"),
            "last_month_activity_segment": i.get("last_month_activity_segment"),
        }
    return {"signal": name, "weight": rule["weight"], "fired": fired, "values": values, "rule": rule.get("description")}


# ------------------------------------------------------------------------------- plain words
def _m(value) -> str:
    return "-" if value is None else f"{float(value):,.2f}"


WORDS = {
    "en": {
        "title": "Customer {customer_id} ({masked_name}) — {month} (as of {as_of_date}, batch {batch_id})",
        "aum": "AUM {aum} CNY = deposits, average daily balance {dep} + investments, month-end value {inv}",
        "account": "  account {account_id} {category} {currency}: ADB {adb} {currency} x FX {rate} = {adb_cny} CNY; "
        "month-end balance {eom} {currency}. Source: batch {batch_id}, {source_file} row {source_row_number}; "
        "balance {balance_file} row {balance_row}",
        "holding": "  holding {product_code} {category} ({aum_component}): {value} {currency} x FX {rate} = "
        "{value_cny} CNY. Source: batch {batch_id}, {source_file} row {source_row_number}",
        "fx": "  FX {currency}: {rate} CNY per unit, rate of {rate_date} (latest on or before month end){src}",
        "thresholds": "Thresholds {version}: {list}",
        "decision": "Raw tier by this month's AUM: {raw}; prior tier: {prior}; months below the held tier: "
        "{below} (grace {grace} months); held tier: {tier} ({change})",
        "branch": "Rule applied: {branch}",
        "churn": "Churn score {score}, band {band}{watch}",
        "fired": "fired",
        "not_fired": "not fired",
        "cross_sell": "Cross-sell",
        "suitable": "suitable, priority {rank}, score {score}",
        "blocked": "not suitable: {reason}",
        "none": "none",
    },
    "zh": {
        "title": "客户 {customer_id}（{masked_name}）— {month}（数据日期 {as_of_date}，批次 {batch_id}）",
        "aum": "AUM {aum} 元 = 存款月日均 {dep} + 投资类月末市值 {inv}",
        "account": "  账户 {account_id} {category} {currency}：日均 {adb} {currency} × 汇率 {rate} = {adb_cny} 元；"
        "月末余额 {eom} {currency}。来源：批次 {batch_id}，{source_file} 第 {source_row_number} 行；"
        "余额 {balance_file} 第 {balance_row} 行",
        "holding": "  持仓 {product_code} {category}（{aum_component}）：{value} {currency} × 汇率 {rate} = "
        "{value_cny} 元。来源：批次 {batch_id}，{source_file} 第 {source_row_number} 行",
        "fx": "  汇率 {currency}：1 单位 = {rate} 元，取 {rate_date} 的牌价（月末当日或之前最近一笔）{src}",
        "thresholds": "分层标准 {version}：{list}",
        "decision": "按本月 AUM 应属等级：{raw}；上月等级：{prior}；低于所持等级月数：{below}（宽限 {grace} 个月）；"
        "本月等级：{tier}（{change}）",
        "branch": "适用规则：{branch}",
        "churn": "流失评分 {score}，风险等级 {band}{watch}",
        "fired": "触发",
        "not_fired": "未触发",
        "cross_sell": "交叉销售",
        "suitable": "适配，优先级 {rank}，得分 {score}",
        "blocked": "不适配：{reason}",
        "none": "无",
    },
}


def to_text(result: dict, lang: str = "en") -> str:
    w = WORDS[lang]
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
    lines.append(w["branch"].format(branch=BRANCHES[lang].get(t["grace_branch"], t["grace_branch"])))
    watch = " (watchlist)" if c["is_watchlist"] else ""
    lines += ["", w["churn"].format(score=c["churn_score"], band=c["risk_band"], watch=watch)]
    for s in c["signals"]:
        values = ", ".join(f"{k}={_m(v) if isinstance(v, float) else v}" for k, v in s["values"].items())
        lines.append(
            f"  {s['signal']} (weight {s['weight']}): {w['fired'] if s['fired'] else w['not_fired']} — {values}"
        )
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
