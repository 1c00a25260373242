"""The segment explorer: `tierwise explore` (or `make explore`) starts it with Streamlit.

Four pages over the current publication (read-only; a new release is picked up on the next
interaction): Overview (KPIs by month and tier, concentration, the migration matrix with the
customers of a cell), Watchlist (by branch and RM, reasons in words, CSV / Excel download),
Customer 360 (a customer's months: tier, grace, AUM parts, segments, signals, offers) and
What-if (tierwise/whatif.py: the dbt tier models on a scratch copy). Masked names only; every
word from reports/labels.yml, every number from a mart. Tables are plain HTML tables (st.table),
readable by a person, a screen reader and the browser test."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from tierwise.config import Settings
from tierwise.explorer.data import WATCHLIST_LIMIT, Publication
from tierwise.reporting.words import Words
from tierwise.rules import active_rules_dir
from tierwise.safe_text import csv_bytes, excel_text, markdown_text, xlsx_bytes

SETTINGS = Settings.from_env()


@st.cache_resource(max_entries=2)
def _open(release_file: str) -> Publication:
    return Publication.open(Path(release_file))


def publication() -> Publication:
    """The current release (an immutable file): a new publication is a new file, opened anew."""
    try:
        return _open(str(Publication.current_file(SETTINGS)))
    except FileNotFoundError:
        st.warning(Words(st.session_state.get("lang", "en")).labels["explorer"]["no_publication"])
        st.stop()


def words() -> Words:
    return Words(st.session_state.get("lang", "en"), publication().tier_names())


def say(key: str, **values) -> str:
    text = words().labels["explorer"][key]
    return text.format(**values) if values else text


def table(frame: pd.DataFrame) -> None:
    """A plain HTML table (values in the page, not on a canvas); the index is not shown. Text
    cells lose the control characters HTML refuses (excel_text) and are HTML-escaped."""
    cleaned = frame.reset_index(drop=True).map(lambda v: excel_text(v) if isinstance(v, str) else v)
    st.table(cleaned.style.hide(axis="index").format(escape="html"))


def month_picker(months: list[datetime.date], key: str) -> datetime.date:
    return st.selectbox(say("month"), months, index=len(months) - 1, key=key, format_func=lambda d: d.isoformat())


# ------------------------------------------------------------------------------- overview
def overview() -> None:
    pub, w = publication(), words()
    st.header(say("overview"))
    st.caption(say("release", **pub.release()))
    months = pub.months()
    month = month_picker(months, "overview_month")

    bank = pub.bank_kpis()
    st.subheader(say("bank_kpis"))
    table(
        pd.DataFrame(
            {
                w("metric"): [d.isoformat() for d in bank["as_of_date"]],
                w("customers"): [w.count(v) for v in bank["customers"]],
                w("aum"): [w.money(v) for v in bank["aum_cny"]],
                w("aum_retention"): [w.pct(v) for v in bank["aum_retention_rate"]],
                w("customer_retention"): [w.pct(v) for v in bank["customer_retention_rate"]],
                w("top1"): [w.pct(v) for v in bank["top1_aum_share"]],
                w("top10"): [w.pct(v) for v in bank["top10_aum_share"]],
                w("gini"): [w.ratio(v) for v in bank["aum_gini"]],
            }
        )
    )

    tiers = pub.tier_kpis()
    this = tiers[tiers["as_of_date"] == month]
    st.subheader(say("tier_kpis"))
    table(
        pd.DataFrame(
            {
                w("tier"): [w.tier(t) for t in this["tier"]],
                w("customers"): [w.count(v) for v in this["customers"]],
                w("aum"): [w.money(v) for v in this["aum_cny"]],
                w("aum_share"): [w.pct(v) for v in this["aum_share"]],
                w("aum_retention"): [w.pct(v) for v in this["aum_retention_rate"]],
                w("customer_retention"): [w.pct(v) for v in this["customer_retention_rate"]],
                w("rm_coverage"): [w.pct(v) for v in this["rm_coverage_rate"]],
            }
        )
    )
    series = tiers.assign(
        tier=[w.tier(t) for t in tiers["tier"]],
        aum=tiers["aum_cny"].astype(float),
        as_of_date=[d.strftime("%Y-%m") for d in tiers["as_of_date"]],  # months on the axis, not days
    )
    st.line_chart(series.pivot_table(index="as_of_date", columns="tier", values="aum", sort=False))

    st.subheader(say("migration"))
    moves = pub.migration(month)
    order = ["none", *pub.tier_names()["tier"], "left"]
    matrix = moves.pivot_table(index="from_tier", columns="to_tier", values="customers", aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=[t for t in order if t in matrix.index], columns=[t for t in order if t in matrix])
    shown = matrix.rename(index=w.tier, columns=w.tier)
    shown.index.name = w("from_to")
    st.table(shown.style.background_gradient(cmap="Blues").format(escape="html"))
    st.subheader(say("drill"))
    left, right = st.columns(2)
    cells = moves[moves["customers"] > 0]
    from_tier = left.selectbox(say("from_tier"), sorted(set(cells["from_tier"]), key=order.index), format_func=w.tier)
    targets = sorted(set(cells[cells["from_tier"] == from_tier]["to_tier"]), key=order.index)
    to_tier = right.selectbox(say("to_tier"), targets, format_func=w.tier)
    if from_tier and to_tier:
        people = pub.migration_customers(month, from_tier, to_tier)
        table(
            pd.DataFrame(
                {
                    say("customer_id"): people["customer_id"],
                    w("masked_name"): people["masked_name"],
                    say("from_tier"): [w.tier(t) for t in people["from_tier"]],
                    say("to_tier"): [w.tier(t) for t in people["to_tier"]],
                    w("aum"): [w.money(v) for v in people["aum_cny"]],
                }
            )
        )


# ------------------------------------------------------------------------------ watchlist
def watchlist() -> None:
    pub, w = publication(), words()
    st.header(say("watchlist"))
    month = month_picker(pub.months(), "watchlist_month")
    rows = pub.watchlist(month)
    left, right = st.columns(2)
    branch = left.selectbox(say("branch"), [say("all"), *sorted(rows["branch_id"].dropna().unique())])
    rm = right.selectbox(say("rm"), [say("all"), *sorted(rows["rm_id"].dropna().unique())])
    if branch != say("all"):
        rows = rows[rows["branch_id"] == branch]
    if rm != say("all"):
        rows = rows[rows["rm_id"] == rm]
    shown = pd.DataFrame(
        {
            say("customer_id"): rows["customer_id"],
            w("masked_name"): rows["masked_name"],
            w("branch"): rows["branch_id"].fillna(""),
            w("rm"): rows["rm_id"].fillna(""),
            w("tier"): [w.tier(t) for t in rows["tier"]],
            w("churn_score"): rows["churn_score"],
            w("reasons"): [w.reasons(c) for c in rows["reason_codes"]],
            w("aum"): [w.money(v) for v in rows["aum_cny"]],
        }
    )
    st.caption(say("rows_shown", shown=min(len(shown), WATCHLIST_LIMIT), total=len(shown)))
    table(shown.head(WATCHLIST_LIMIT))
    columns = list(shown.columns)
    values = [[v if isinstance(v, str) else (None if pd.isna(v) else v) for v in r] for r in shown.itertuples(False)]
    a, b = st.columns(2)
    a.download_button(say("download_csv"), csv_bytes(columns, values, bom=True), f"watchlist_{month}.csv",
                      "text/csv")  # fmt: skip
    b.download_button(say("download_xlsx"), xlsx_bytes(columns, values), f"watchlist_{month}.xlsx",
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip


# --------------------------------------------------------------------------- customer 360
def customer() -> None:
    pub, w = publication(), words()
    st.header(say("customer"))
    ids = pub.customer_ids()
    chosen = st.selectbox(say("customer_id"), ids, index=0 if ids else None)
    if not chosen:
        return
    who = pub.customer(chosen).iloc[0]
    st.subheader(markdown_text(f"{who['customer_id']} · {who['masked_name']}"))
    table(
        pd.DataFrame(
            {
                w("tier"): [w.tier(who["current_tier"])],
                w("branch"): [who["home_branch_id"]],
                w("rm"): [who["current_rm_id"] or ""],
                say("age_band"): [who["age_band"]],
                say("life_stage"): [who["life_stage"]],
                say("risk_level"): [who["risk_level"] or ""],
            }
        )
    )
    months = pub.customer_months(chosen)
    st.subheader(say("customer_months"))
    branches = w.labels["grace_branches"]
    table(
        pd.DataFrame(
            {
                say("month"): [d.isoformat() for d in months["as_of_date"]],
                w("tier"): [w.tier(t) for t in months["tier"]],
                w("raw_tier"): [w.tier(t) for t in months["raw_tier"]],
                w("months_below"): months["months_below_tier"],
                say("grace_branch"): [branches.get(b, b) for b in months["grace_branch"]],
                w("aum"): [w.money(v) for v in months["aum_cny"]],
                say("deposit"): [w.money(v) for v in months["deposit_eom_cny"]],
                say("investment"): [w.money(v) for v in months["investment_eom_cny"]],
                say("credit"): [w.money(v) for v in months["credit_outstanding_cny"]],
                say("segments"): [
                    f"{a} / {r} / {life} / {d}"
                    for a, r, life, d in zip(
                        months["activity_segment"],
                        months["risk_segment"],
                        months["life_stage"],
                        months["depth_segment"],
                        strict=True,
                    )
                ],  # fmt: skip
                w("churn_score"): months["churn_score"],
                say("signals"): [w.reasons(c) for c in months["reason_codes"]],
            }
        )
    )
    if len(months):
        month = month_picker(list(months["as_of_date"]), "customer_month")
        offers = pub.offers(chosen, month)
        st.subheader(say("offers"))
        table(
            pd.DataFrame(
                {
                    w("category"): [w.category(c) for c in offers["product_category"]],
                    say("product"): offers["recommended_product_code"].fillna(""),
                    say("score"): [w.ratio(v, 2) for v in offers["score"]],
                    say("rank"): offers["priority_rank"].astype("Int64").astype(str).replace("<NA>", ""),
                    say("suitable"): [w.flag(v) for v in offers["suitable"]],
                    say("reason"): offers["reason"].fillna(""),
                }
            )
        )


# ------------------------------------------------------------------------------- what-if
def what_if_page() -> None:
    from tierwise.whatif import WhatIfError, what_if

    pub, w = publication(), words()
    st.header(say("what_if"))
    st.caption(say("what_if_intro"))
    month = month_picker(pub.months(), "what_if_month")
    current = pub.thresholds(month)
    policy = pd.read_csv(active_rules_dir(SETTINGS) / "tier_policy.csv", dtype=str)
    grace_now = int(policy.loc[policy["policy_key"] == "downgrade_grace_months", "policy_value"].iloc[0])
    with st.form("what_if"):
        st.subheader(say("thresholds"))
        edited = {}
        for row in current.itertuples():
            edited[row.tier] = st.number_input(w.tier(row.tier), min_value=0.0, value=float(row.min_aum_cny),
                                               step=1000.0, key=f"min_{row.tier}")  # fmt: skip
        grace = st.number_input(say("grace"), min_value=1, max_value=24, value=grace_now, step=1)
        submitted = st.form_submit_button(say("run_what_if"))
    if not submitted:
        return
    changed = {t: f"{v:.2f}" for t, v in edited.items()}
    try:
        with st.spinner(say("run_what_if")):
            result = what_if(SETTINGS, month.strftime("%Y-%m"), changed, int(grace))
    except WhatIfError as exc:
        st.error(markdown_text(str(exc)))
        return
    st.success(say("moving", customers=w.count(result.customers_moving), aum=w.money(result.aum_moving_cny)))
    for key, moves in (("held_moves", result.held_moves), ("raw_moves", result.raw_moves)):
        st.subheader(say(key))
        if moves.empty:
            st.write(say("no_moves"))
        else:
            table(
                pd.DataFrame(
                    {
                        say("tier_now"): [w.tier(t) for t in moves["from_tier"]],
                        say("tier_what_if"): [w.tier(t) for t in moves["to_tier"]],
                        w("customers"): [w.count(v) for v in moves["customers"]],
                        w("aum"): [w.money(v) for v in moves["aum_cny"]],
                    }
                )
            )
    st.subheader(say("distribution"))
    d = result.distribution
    table(
        pd.DataFrame(
            {
                w("tier"): [w.tier(t) for t in d["tier"]],
                w("this_month"): [w.count(v) for v in d["customers_now"]],
                say("what_if"): [w.count(v) for v in d["customers_what_if"]],
                w("aum") + " · " + w("this_month"): [w.money(v) for v in d["aum_now_cny"]],
                w("aum") + " · " + say("what_if"): [w.money(v) for v in d["aum_what_if_cny"]],
            }
        )
    )
    st.write(say("bankers", tier=w.tier(result.top_tier), customers=result.top_tier_customers,
                 capacity=result.banker_capacity or "-", needed=result.bankers_needed or "-",
                 now=result.bankers_now))  # fmt: skip
    st.caption(say("took", seconds=f"{result.seconds:.1f}"))


def main() -> None:
    st.set_page_config(page_title="tierwise", layout="wide")
    lang = st.sidebar.radio("语言 / Language", ["zh", "en"], index=1, horizontal=True,
                            format_func={"zh": "中文", "en": "English"}.get)  # fmt: skip
    st.session_state["lang"] = lang
    st.sidebar.title(say("title"))
    pages = [
        st.Page(overview, title=say("overview"), default=True),  # the app's root: /
        st.Page(watchlist, title=say("watchlist"), url_path="watchlist"),
        st.Page(customer, title=say("customer"), url_path="customer"),
        st.Page(what_if_page, title=say("what_if"), url_path="what_if"),
    ]
    st.navigation(pages).run()


main()
