"""Baseline (b) of issue #8: fct_customer_month and fct_customer_tier in plain pandas.

What an analyst would write instead of the warehouse: read the loader's raw tables and the
rules into DataFrames, compute every month, carry the downgrade grace month by month in a
loop. The docs/business-rules.md rules are restated here independently of the dbt models. Money is
carried in integer cents (and FX products in integer micro-CNY) so the result can be
compared with the marts to the cent; floats would differ at half-cent ties.

    python benchmarks/baseline_pandas.py WAREHOUSE.duckdb   # writes schema baseline_pandas

Run by benchmarks/bench.py as its own process, so its wall time and peak memory are measured
like every other stage.
"""

from __future__ import annotations

import sys

import duckdb
import numpy as np
import pandas as pd

MONTH_COLUMNS = [
    "customer_id", "as_of_date", "aum_cny", "deposit_adb_cny", "deposit_eom_cny", "investment_eom_cny",
    "credit_outstanding_cny", "product_categories_held", "customer_txn_count", "inflow_cny", "outflow_cny",
    "interbank_outflow_cny", "complaints_90d", "maturing_30d_cny",
]  # fmt: skip
TIER_COLUMNS = [
    "customer_id", "as_of_date", "tier", "tier_rank", "raw_tier", "prior_tier", "tier_change", "aum_basis_cny",
    "is_hnw", "months_below_tier", "threshold_version", "activity_segment", "risk_segment", "life_stage",
    "depth_segment", "raw_tier_rank", "grace_branch", "segment_code",
]  # fmt: skip
MONEY = ["aum_cny", "deposit_adb_cny", "deposit_eom_cny", "investment_eom_cny", "credit_outstanding_cny",
         "inflow_cny", "outflow_cny", "interbank_outflow_cny", "maturing_30d_cny", "aum_basis_cny"]  # fmt: skip


def cents(values: pd.Series) -> np.ndarray:
    return np.rint(values.astype("float64").to_numpy() * 100).astype("int64")


def micro(values: pd.Series) -> np.ndarray:
    return np.rint(values.astype("float64").to_numpy() * 1_000_000).astype("int64")


def round_div(numerator, denominator: int) -> np.ndarray:
    """Integer division rounding half away from zero (DuckDB's DECIMAL rounding)."""
    numerator = np.asarray(numerator)
    sign = np.where(numerator < 0, -1, 1)
    return sign * ((np.abs(numerator) + denominator // 2) // denominator)


def cents_times_fx_micro(amount_cents: np.ndarray, fx_micro: np.ndarray) -> np.ndarray:
    """amount x rate as DECIMAL(18,6) (micro-CNY), exact: the product is in 1e-8 CNY."""
    if len(amount_cents) and np.abs(amount_cents).max() * np.abs(fx_micro).max() >= 2**62:
        product = np.array([int(a) * int(f) for a, f in zip(amount_cents, fx_micro, strict=True)], dtype=object)
        return np.array([int(v) for v in round_div(product, 100)], dtype="int64")
    return round_div(amount_cents * fx_micro, 100)


def latest(frame: pd.DataFrame, batches: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The version of each key from the latest delivering batch."""
    merged = frame.merge(batches.rename(columns={"as_of_date": "_delivered"}), left_on="_batch_id", right_on="batch_id")
    merged = merged.sort_values("_delivered", kind="stable")
    return merged.drop_duplicates(keys, keep="last").drop(columns=["batch_id", "_delivered"])


def month_end(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("M").dt.to_timestamp(how="start") + pd.offsets.MonthEnd(0)


def compute(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    def table(name: str) -> pd.DataFrame:
        return con.execute(f"select * from {name}").df()  # noqa: S608 - fixed names below

    batches = table("raw._load_batches")[["batch_id", "as_of_date"]]
    policy = table("rules.tier_policy").set_index("policy_key")["policy_value"].astype("float64")
    thresholds = table("rules.tier_thresholds")
    families = table("rules.product_families")
    bands = table("rules.segment_bands")
    risk_segments = table("rules.risk_segments")
    depth_rules = table("rules.depth_segments").sort_values(["requires_payroll", "min_families"], ascending=False)

    months = pd.DataFrame({"as_of_date": sorted(batches["as_of_date"].unique())})
    months["month_start"] = months["as_of_date"] - pd.offsets.MonthBegin(1)
    months["prev_as_of_date"] = months["month_start"] - pd.Timedelta(days=1)
    months["days_in_month"] = months["as_of_date"].dt.day
    months["is_first"] = months["as_of_date"] == months["as_of_date"].min()

    # FX: latest rate on or before the month end; CNY is 1
    rates = latest(table("raw.fx_rates"), batches, ["currency", "rate_date"])
    fx = months[["as_of_date"]].merge(rates, how="cross")
    fx = fx[fx["rate_date"] <= fx["as_of_date"]].sort_values("rate_date")
    fx = fx.drop_duplicates(["as_of_date", "currency"], keep="last")[["as_of_date", "currency", "cny_per_unit"]]
    fx = pd.concat([fx, months[["as_of_date"]].assign(currency="CNY", cny_per_unit=1.0)], ignore_index=True)
    fx["fx_micro"] = micro(fx["cny_per_unit"])
    fx = fx.rename(columns={"cny_per_unit": "fx_double"})

    txn = latest(table("raw.deposit_transactions"), batches, ["txn_id"])
    txn["txn_date"] = txn["txn_ts"].dt.normalize()
    txn["as_of_date"] = month_end(txn["txn_date"])
    txn["amount_cents"] = cents(txn["amount"])
    txn["balance_cents"] = cents(txn["balance_after"])
    balances = latest(table("raw.deposit_balances"), batches, ["account_id", "as_of_date"])
    balances["ledger_cents"] = cents(balances["ledger_balance"])
    balances = balances[["account_id", "as_of_date", "ledger_cents"]]

    # accounts in force during each month, from that month's batch
    products = table("raw.products")[["product_code", "_batch_id", "category", "currency"]]
    accounts = table("raw.accounts").merge(batches, left_on="_batch_id", right_on="batch_id").merge(months)
    accounts = accounts.merge(products.drop(columns="currency"), on=["product_code", "_batch_id"], how="left")
    accounts = accounts[
        (accounts["opened_on"] <= accounts["as_of_date"])
        & (accounts["closed_on"].isna() | (accounts["closed_on"] >= accounts["month_start"]))
    ]
    txn["signed_cents"] = np.where(txn["direction"] == "C", txn["amount_cents"], -txn["amount_cents"])
    net = txn.groupby(["account_id", "as_of_date"], as_index=False)["signed_cents"].sum()
    accounts = accounts.merge(balances, on=["account_id", "as_of_date"], how="left")
    accounts = accounts.merge(
        balances.rename(columns={"as_of_date": "prev_as_of_date", "ledger_cents": "prev_cents"}),
        on=["account_id", "prev_as_of_date"], how="left",
    )  # fmt: skip
    accounts = accounts.merge(net, on=["account_id", "as_of_date"], how="left")
    accounts["eom_cents"] = accounts["ledger_cents"].fillna(0).astype("int64")
    accounts["opening_cents"] = np.where(
        accounts["prev_cents"].notna(),
        accounts["prev_cents"].fillna(0),
        np.where(accounts["is_first"], accounts["eom_cents"] - accounts["signed_cents"].fillna(0), 0),
    ).astype("int64")
    accounts["is_open"] = accounts["closed_on"].isna() | (accounts["closed_on"] > accounts["as_of_date"])
    accounts["first_day"] = accounts[["opened_on", "month_start"]].max(axis=1)
    accounts["end_day"] = np.where(
        accounts["closed_on"].notna() & (accounts["closed_on"] <= accounts["as_of_date"]),
        accounts["closed_on"], accounts["as_of_date"] + pd.Timedelta(days=1),
    )  # fmt: skip
    accounts["end_day"] = pd.to_datetime(accounts["end_day"])
    window = accounts[["account_id", "as_of_date", "first_day", "end_day", "opening_cents"]]

    # daily balances as runs: the opening balance until the first transaction day, then each
    # day's last balance_after until the next transaction day; clipped to [first_day, end_day)
    day_end = txn.sort_values(["account_id", "txn_date", "txn_ts", "txn_id"])
    day_end = day_end.drop_duplicates(["account_id", "txn_date"], keep="last")
    day_end = day_end[["account_id", "as_of_date", "txn_date", "balance_cents"]].merge(window)
    day_end["run_end"] = day_end.groupby(["account_id", "as_of_date"])["txn_date"].shift(-1)
    day_end["run_end"] = day_end["run_end"].fillna(day_end["end_day"])
    first_txn = day_end.groupby(["account_id", "as_of_date"], as_index=False)["txn_date"].min()
    opening = window.merge(first_txn, how="left")
    opening_runs = pd.DataFrame({
        "account_id": opening["account_id"], "as_of_date": opening["as_of_date"],
        "start": opening["first_day"], "end": opening["txn_date"].fillna(opening["end_day"]),
        "balance_cents": opening["opening_cents"], "first_day": opening["first_day"], "end_day": opening["end_day"],
    })  # fmt: skip
    txn_runs = day_end.rename(columns={"txn_date": "start", "run_end": "end"})[opening_runs.columns]
    runs = pd.concat([opening_runs, txn_runs], ignore_index=True)
    start = runs[["start", "first_day"]].max(axis=1)
    end = runs[["end", "end_day"]].min(axis=1)
    runs["balance_days"] = runs["balance_cents"] * (end - start).dt.days.clip(lower=0)
    balance_days = runs.groupby(["account_id", "as_of_date"], as_index=False)["balance_days"].sum()

    accounts = accounts.merge(balance_days, how="left").merge(fx, how="left")
    adb = accounts["balance_days"].fillna(0).to_numpy() / 100 / accounts["days_in_month"].to_numpy()
    accounts["adb_micro"] = _double_to_micro(adb * accounts["fx_double"].to_numpy())
    accounts["eom_micro"] = cents_times_fx_micro(accounts["eom_cents"].to_numpy(), accounts["fx_micro"].to_numpy())
    accounts["open_eom_micro"] = np.where(accounts["is_open"], accounts["eom_micro"], 0)
    maturing = (
        accounts["category"].isin(["time_deposit", "large_cd"])
        & accounts["is_open"]
        & ~accounts["auto_renew"].fillna(False).astype(bool)
        & (accounts["maturity_date"] > accounts["as_of_date"])
        & (accounts["maturity_date"] <= accounts["as_of_date"] + pd.Timedelta(days=30))
    )
    accounts["maturing_micro"] = np.where(maturing, accounts["eom_micro"], 0)
    deposits = accounts.groupby(["customer_id", "as_of_date"], as_index=False).agg(
        adb_micro=("adb_micro", "sum"), eom_micro=("open_eom_micro", "sum"),
        maturing_micro=("maturing_micro", "sum"), open_accounts=("is_open", "sum"),
    )  # fmt: skip
    # cents before the merges below (a left join turns int64 into float64)
    for column, micros in (("deposit_adb_cny", "adb_micro"), ("deposit_eom_cny", "eom_micro"),
                           ("maturing_30d_cny", "maturing_micro")):  # fmt: skip
        deposits[column] = round_div(deposits.pop(micros).to_numpy(), 10_000)

    holdings = table("raw.product_holdings").merge(months[["as_of_date"]])
    holdings = holdings.merge(products, on=["product_code", "_batch_id"], how="left").merge(families, how="left")
    holdings = holdings.merge(fx, on=["as_of_date", "currency"], how="left")
    holdings["value_micro"] = cents_times_fx_micro(cents(holdings["holding_value"]), holdings["fx_micro"].to_numpy())
    holdings["inv_micro"] = np.where(holdings["aum_component"] == "investment", holdings["value_micro"], 0)
    holdings["credit_micro"] = np.where(holdings["aum_component"] == "credit", holdings["value_micro"], 0)
    holdings["positive"] = holdings["holding_value"] > 0
    holding_sums = holdings.groupby(["customer_id", "as_of_date"], as_index=False).agg(
        inv_micro=("inv_micro", "sum"), credit_micro=("credit_micro", "sum"), positive=("positive", "sum")
    )
    holding_sums["investment_eom_cny"] = round_div(holding_sums.pop("inv_micro").to_numpy(), 10_000)
    holding_sums["credit_outstanding_cny"] = round_div(holding_sums.pop("credit_micro").to_numpy(), 10_000)

    moves = txn.merge(accounts[["account_id", "as_of_date", "customer_id", "fx_micro"]])
    # amount x rate is exact in 1e-8 CNY; summed as whole cents plus the remainder so the sum
    # cannot overflow int64, then rounded half up once (flows are never negative)
    amount_e8 = moves["amount_cents"].to_numpy() * moves["fx_micro"].to_numpy()
    interbank = (moves["direction"] == "D") & (moves["txn_type"] == "transfer_out") & moves["counterparty_bank"].notna()
    flows = {
        "inflow_cny": (moves["direction"] == "C") & (moves["txn_type"] != "interest"),
        "outflow_cny": (moves["direction"] == "D") & (moves["txn_type"] != "fee"),
        "interbank_outflow_cny": interbank,
    }
    for column, counted in flows.items():
        moves[column + "_hi"] = np.where(counted, amount_e8 // 1_000_000, 0)
        moves[column + "_lo"] = np.where(counted, amount_e8 % 1_000_000, 0)
    moves["counted"] = (moves["channel"] != "auto") & ~moves["txn_type"].isin(["interest", "fee", "maturity_payout"])
    parts = [c for c in moves.columns if c.endswith(("_hi", "_lo"))]
    activity = moves.groupby(["customer_id", "as_of_date"], as_index=False)[[*parts, "counted"]].sum()
    for column in flows:
        lo = activity.pop(column + "_lo").to_numpy()
        activity[column] = activity.pop(column + "_hi").to_numpy() + lo // 1_000_000 + (lo % 1_000_000 >= 500_000)

    complaints = latest(table("raw.complaints"), batches, ["complaint_id"])
    complaints["opened"] = complaints["opened_at"].dt.normalize()
    complaints = complaints[["customer_id", "opened", "severity"]].merge(months[["as_of_date"]], how="cross")
    complaints = complaints[
        (complaints["opened"] > complaints["as_of_date"] - pd.Timedelta(days=90))
        & (complaints["opened"] <= complaints["as_of_date"])
    ]
    complaint_counts = complaints.groupby(["customer_id", "as_of_date"]).size().rename("complaints_90d").reset_index()

    categories = pd.concat([
        accounts.loc[accounts["is_open"], ["customer_id", "as_of_date", "category"]],
        holdings[["customer_id", "as_of_date", "category"]],
    ]).drop_duplicates()  # fmt: skip
    category_counts = categories.groupby(["customer_id", "as_of_date"])["category"].nunique().rename("n_categories")

    customers = table("raw.customers").merge(batches, left_on="_batch_id", right_on="batch_id").merge(months)
    on = customers["as_of_date"]
    born = customers["birth_date"]
    before_birthday = (on.dt.month * 100 + on.dt.day) < (born.dt.month * 100 + born.dt.day)
    customers["age"] = on.dt.year - born.dt.year - before_birthday.astype(int)

    month = customers[["customer_id", "as_of_date", "onboarded_on"]]
    month = month.merge(deposits, how="left").merge(holding_sums, how="left").merge(activity, how="left")
    month = month.merge(complaint_counts, how="left").merge(category_counts.reset_index(), how="left")
    month = month[
        (month["onboarded_on"] <= month["as_of_date"])
        & ((month["open_accounts"].fillna(0) > 0) | (month["positive"].fillna(0) > 0))
    ].copy()

    out = pd.DataFrame({"customer_id": month["customer_id"], "as_of_date": month["as_of_date"]})
    for column in MONTH_COLUMNS[3:]:
        source = {"product_categories_held": "n_categories", "customer_txn_count": "counted"}.get(column, column)
        out[column] = month[source].fillna(0).astype("int64")
    out["aum_cny"] = out["deposit_adb_cny"] + out["investment_eom_cny"]
    customer_month = out[MONTH_COLUMNS].reset_index(drop=True)

    return customer_month, _tiers(customer_month, customers, categories, months, thresholds, policy, families,
                                  bands, risk_segments, depth_rules)  # fmt: skip


def _double_to_micro(values: np.ndarray) -> np.ndarray:
    """A DOUBLE cast to DECIMAL(18,6), as DuckDB does it (round half away from zero)."""
    scaled = values * 1_000_000
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype("int64")


def _tiers(customer_month, customers, categories, months, thresholds, policy, families, bands, risk_segments,
           depth_rules) -> pd.DataFrame:  # fmt: skip
    rows = customer_month[["customer_id", "as_of_date", "aum_cny", "customer_txn_count"]].copy()
    versions = thresholds[["version", "effective_from"]].drop_duplicates().merge(months[["as_of_date"]], how="cross")
    versions = versions[versions["effective_from"] <= versions["as_of_date"]]
    versions = versions.sort_values(["effective_from", "version"]).drop_duplicates("as_of_date", keep="last")
    rows = rows.merge(versions[["as_of_date", "version"]])
    raw_rank = pd.Series(np.nan, index=rows.index)
    for tier in thresholds.itertuples():
        qualifies = (rows["version"] == tier.version) & (rows["aum_cny"] >= round(float(tier.min_aum_cny) * 100))
        raw_rank = raw_rank.where(~qualifies | (raw_rank >= tier.tier_rank), tier.tier_rank)
    lowest = thresholds.groupby("version")["tier_rank"].min()
    rows["raw_rank"] = raw_rank.fillna(rows["version"].map(lowest)).astype("int64")
    rows["is_hnw"] = rows["aum_cny"] >= round(policy["hnw_min_aum_cny"] * 100)

    # the downgrade grace, carried month by month
    grace = int(policy["downgrade_grace_months"])
    states = []
    previous = pd.DataFrame(columns=["customer_id", "p_tier", "p_below", "p_best"])
    previous_month = None
    # a customer new this month compares its rank with a missing (NaN) previous tier; the masks
    # below decide those rows, so numpy's "invalid value" warning for them says nothing
    with np.errstate(invalid="ignore"):
        for as_of in months["as_of_date"]:
            cur = rows.loc[rows["as_of_date"] == as_of, ["customer_id", "as_of_date", "raw_rank"]]
            expected_previous = as_of - pd.offsets.MonthBegin(1) - pd.Timedelta(days=1)
            prev = previous if previous_month == expected_previous else previous.iloc[0:0]
            cur = cur.merge(prev, on="customer_id", how="left")
            r, t, b, best = cur["raw_rank"], cur["p_tier"], cur["p_below"], cur["p_best"]
            new, at_or_up = t.isna(), r >= t
            reached = ~new & ~at_or_up & (b + 1 >= grace)
            best_below = np.maximum(best.fillna(r), r)
            cur["tier_rank"] = np.select([new | at_or_up, reached], [r, best_below], t).astype("int64")
            cur["months_below_tier"] = np.where(new | at_or_up | reached, 0, b + 1).astype("int64")
            cur["best"] = np.where(new | at_or_up | reached, np.nan, best_below)
            cur["tier_change"] = np.select(
                [new, r > t, r >= t, reached & (best_below < t)], ["new", "up", "same", "down"], "same"
            )
            cur["grace_branch"] = np.select(
                [new, r > t, r == t, reached],
                ["new", "upgrade", "at_tier", "downgrade_after_grace"],
                "below_tier_on_watch",
            )
            cur["prior_rank"] = t
            states.append(cur)
            previous = cur[["customer_id", "tier_rank", "months_below_tier", "best"]].set_axis(
                ["customer_id", "p_tier", "p_below", "p_best"], axis=1
            )
            previous_month = as_of
    state = pd.concat(states, ignore_index=True)

    tiers = rows.merge(state.drop(columns="raw_rank"), on=["customer_id", "as_of_date"])
    names = thresholds[["version", "tier_rank", "tier"]].astype({"tier_rank": "float64"})

    def tier_name(rank_column: str) -> np.ndarray:
        keys = tiers[["version", rank_column]].set_axis(["version", "tier_rank"], axis=1)
        return keys.astype({"tier_rank": "float64"}).merge(names, how="left")["tier"].to_numpy()

    # activity over the trailing window of on-book months (this one and the ones before)
    window = int(policy["activity_window_months"])
    counts = customer_month.set_index(["customer_id", "as_of_date"])["customer_txn_count"]
    trailing = pd.Series(0, index=tiers.index, dtype="int64")
    for back in range(window):
        then = (tiers["as_of_date"] - pd.offsets.MonthBegin(1) - pd.DateOffset(months=back)) + pd.offsets.MonthEnd(0)
        keys = pd.MultiIndex.from_arrays([tiers["customer_id"], then])
        trailing += counts.reindex(keys).fillna(0).astype("int64").to_numpy()

    def band(segment_type: str, values: pd.Series) -> pd.Series:
        result = pd.Series(None, index=values.index, dtype="object")
        for b in bands[bands["segment_type"] == segment_type].itertuples():
            inside = (values >= b.min_value) & (pd.isna(b.max_value) | (values <= b.max_value))
            result = result.where(~inside | result.notna(), b.segment)
        return result

    people = customers.set_index(["customer_id", "as_of_date"])
    keys = pd.MultiIndex.from_arrays([tiers["customer_id"], tiers["as_of_date"]])
    age = pd.Series(people["age"].reindex(keys).to_numpy(), index=tiers.index)
    risk_level = pd.Series(people["risk_level"].reindex(keys).to_numpy(), index=tiers.index).fillna("none")
    payroll = pd.Series(people["is_payroll"].reindex(keys).to_numpy(), index=tiers.index).astype(bool)
    family_counts = (
        categories.merge(families[["category", "family"]], how="left")
        .groupby(["customer_id", "as_of_date"])["family"].nunique()
    )  # fmt: skip
    n_families = pd.Series(family_counts.reindex(keys).to_numpy(), index=tiers.index)
    depth = pd.Series(None, index=tiers.index, dtype="object")
    for rule in depth_rules.itertuples():
        fits = (n_families >= rule.min_families) & (payroll | (not rule.requires_payroll))
        depth = depth.where(~fits | depth.notna(), rule.depth_segment)

    out = pd.DataFrame({"customer_id": tiers["customer_id"], "as_of_date": tiers["as_of_date"]})
    out["tier"] = tier_name("tier_rank")
    out["tier_rank"] = tiers["tier_rank"]
    out["raw_tier"] = tier_name("raw_rank")
    out["prior_tier"] = tier_name("prior_rank")
    out["tier_change"] = tiers["tier_change"]
    out["aum_basis_cny"] = tiers["aum_cny"]
    out["is_hnw"] = tiers["is_hnw"]
    out["months_below_tier"] = tiers["months_below_tier"]
    out["threshold_version"] = tiers["version"]
    out["activity_segment"] = band("activity", trailing)
    out["risk_segment"] = risk_level.map(risk_segments.set_index("risk_level")["risk_segment"])
    out["life_stage"] = band("life_stage", age)
    out["depth_segment"] = depth
    out["raw_tier_rank"] = tiers["raw_rank"]
    out["grace_branch"] = tiers["grace_branch"]
    out["segment_code"] = out["tier"] + "." + out["risk_segment"].fillna("") + "." + out["depth_segment"].fillna("")
    return out[TIER_COLUMNS]


def main(path: str) -> int:
    con = duckdb.connect(path)
    customer_month, customer_tier = compute(con)
    con.execute("create schema if not exists baseline_pandas")
    for name, frame in (("fct_customer_month", customer_month), ("fct_customer_tier", customer_tier)):
        # money back from integer cents to DECIMAL(18,2), exactly
        money = ", ".join(
            f"({c}::decimal(18, 2) * 0.01::decimal(3, 2))::decimal(18, 2) as {c}" for c in MONEY if c in frame
        )
        con.register("frame", frame)
        con.execute(
            f"create or replace table baseline_pandas.{name} as "  # noqa: S608 - fixed names
            f"select * replace ({money}, as_of_date::date as as_of_date) from frame"
        )
        con.unregister("frame")
    print(f"baseline_pandas: {len(customer_month)} customer-months, {len(customer_tier)} tier rows")
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
