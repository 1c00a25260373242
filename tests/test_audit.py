"""Lineage and audit (BCBS 239): explain a figure back to its source rows and rules, the docs
site with column lineage, the run manifest, and immutable revisions of published months."""

from __future__ import annotations

import json

import duckdb
import golden_expected as exp
import pytest
from golden_bank import MONTHS, batch_rows, month_end
from landing_builder import write_batch
from tierwise.cli import main
from tierwise.config import Settings
from tierwise.explain import explain, to_text
from warehouses import snapshot

M = exp.M


@pytest.fixture(scope="module")
def golden(golden_sequential):
    return Settings(home=golden_sequential)


def _path(customer: str, month_index: int):
    return exp.TIERS[customer]["path"][month_index]  # (tier, raw_tier, prior_tier, tier_change, months_below)


# ------------------------------------------------------------------------------- explain
def test_explain_traces_fx_aum_to_the_source_rows(golden):
    # G05 in March: USD 10,000 on A05 at the 2025-03-31 rate 7.2 = 72,000 CNY (hand-worked).
    result = explain(golden.warehouse_path, "G05", "2025-03")
    assert result["masked_name"] == "陈*" and result["batch_id"] == "2025-03"
    aum = result["aum"]
    assert aum["aum_cny"] == 72000.0 == exp.CUSTOMER_MONTH["G05"]["months"][M[2]]["aum_cny"]
    [account] = aum["accounts"]
    assert (account["account_id"], account["currency"], account["adb"], account["cny_per_unit"]) == (
        "A05",
        "USD",
        10000.0,
        7.2,
    )
    # A05 is the fifth account of the batch (fixture order), its balance the fifth balance row.
    assert (account["batch_id"], account["source_file"], account["source_row_number"]) == (
        "2025-03",
        "accounts.csv",
        5,
    )
    assert (account["balance_file"], account["balance_row"]) == ("deposit_balances.csv", 5)
    assert aum["fx"] == [
        {"currency": "USD", "rate_date": "2025-03-31", "cny_per_unit": 7.2,
         "source": {"batch_id": "2025-03", "source_file": "fx_rates.csv", "source_row_number": 1}},
    ]  # fmt: skip
    tier = result["tier"]
    held, raw, prior, change, below = _path("G05", 2)
    assert (tier["tier"], tier["raw_tier"], tier["prior_tier"], tier["tier_change"], tier["months_below_tier"]) == (
        held,
        raw,
        prior,
        change,
        below,
    )
    assert tier["threshold_version"] == "v1" and tier["grace_branch"] == "at_tier"


def test_explain_names_the_downgrade_branch_and_the_holding(golden):
    # G03 in April: deposits 100,000 + wealth product 300,000; below private for the whole grace
    # (3 months) -> down to diamond, the best tier reached during the watch.
    result = explain(golden.warehouse_path, "G03", "2025-04")
    aum, tier = result["aum"], result["tier"]
    assert (aum["deposit_adb_cny"], aum["investment_eom_cny"], aum["aum_cny"]) == (100000.0, 300000.0, 400000.0)
    [holding] = aum["holdings"]
    assert (holding["product_code"], holding["holding_value_cny"], holding["source_file"]) == (
        "WM01",
        300000.0,
        "product_holdings.csv",
    )
    assert (tier["tier"], tier["raw_tier"], tier["prior_tier"], tier["tier_change"]) == _path("G03", 3)[:4]
    assert tier["grace_branch"] == "downgrade_after_grace" and tier["downgrade_grace_months"] == 3
    text = to_text(result, "en")
    assert "Rule applied: downgrade: below the held tier for the whole grace period" in text
    assert "WM01" in text and "product_holdings.csv row" in text and "李*" in text and "李强" not in text
    assert "降级" in to_text(result, "zh")


def test_explain_shows_each_churn_signal_with_its_values(golden):
    # G13 in May (hand-worked in golden_expected.CHURN): score 80, high, four signals fired.
    result = explain(golden.warehouse_path, "G13", "2025-05")
    score, band, reasons = exp.CHURN[("G13", M[4])]
    churn = result["churn"]
    assert (churn["churn_score"], churn["risk_band"], churn["is_watchlist"]) == (score, band, True)
    fired = {s["signal"] for s in churn["signals"] if s["fired"]}
    assert fired == set(reasons.split(","))
    signals = {s["signal"]: s["values"] for s in churn["signals"]}
    # 200,000 < 70% x mean(1,000,000, 1,000,000, 740,000) = 639,333.33
    assert signals["sig_aum_drop"]["aum_cny"] == 200000.0
    assert signals["sig_aum_drop"]["prev_mean_aum_cny"] == pytest.approx(913333.33, abs=0.01)
    assert signals["sig_aum_drop"]["fires_below"] == pytest.approx(639333.33, abs=0.01)
    # interbank 500,000 >= 20% x 740,000 = 148,000 and >= 50,000
    assert signals["sig_interbank_outflow"]["interbank_outflow_cny"] == 500000.0
    assert signals["sig_interbank_outflow"]["fires_from"] == pytest.approx(148000.0)
    # activity: previous mean 3 transactions < 4 -> cannot fire
    assert signals["sig_activity_drop"]["prev_mean_txn_count"] == pytest.approx(3.0)
    assert result["cross_sell"] and all(
        r["reason"] or r["suitable"] for r in result["cross_sell"]
    )  # every row says why
    # ... and as codes with their values: a refused row has codes, a suitable one none
    assert all((r["refusal_codes"] is None) == r["suitable"] for r in result["cross_sell"])
    for r in result["cross_sell"]:
        if r["refusal_codes"] and "insufficient_funds" in r["refusal_codes"]:
            assert r["refused_min_purchase_cny"] > r["refused_funds_cny"]
        if r["refusal_codes"] and "under_age" in r["refusal_codes"]:
            assert r["refused_customer_age"] < r["refused_min_age"]


def test_explain_cli_json_and_refusals(golden, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_HOME", str(golden.home))
    assert main(["explain", "--customer", "G05", "--month", "2025-03", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["aum"]["aum_cny"] == 72000.0
    assert main(["explain", "--customer", "G08", "--month", "2025-06"]) == 2  # left in May
    assert "not on book in 2025-06" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- docs
def test_docs_site_has_exposures_described_columns_and_column_lineage(golden_docs):
    # `tierwise docs` ran on a copy of the golden warehouse (tests/warehouses.py: golden_docs)
    docs = golden_docs / "docs"
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert "monthly_review" in index and "serving_database" in index
    manifest = json.loads((docs / "dbt" / "manifest.json").read_text())
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
    assert len(marts) >= 12
    for node in marts:
        assert node["description"].strip(), node["name"]
        assert all(c["description"].strip() for c in node["columns"].values()), node["name"]
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"serving_database", "monthly_review"} <= set(exposures)
    # the governed metrics and their semantic models are in the site, described (docs/metrics.md)
    metrics = {m["name"]: m for m in manifest["metrics"].values()}
    assert {"aum_retention_rate", "customers_on_book", "private_banker_load"} <= set(metrics)
    assert all(m["description"].strip() for m in metrics.values())
    assert {"tier_months", "customer_months"} <= {s["name"] for s in manifest["semantic_models"].values()}
    lineage = json.loads((docs / "column_lineage.json").read_text())["marts"]
    aum = lineage["fct_customer_month"]["aum_cny"]["sources"]
    assert {"raw.deposit_balances.ledger_balance", "raw.product_holdings.holding_value",
            "raw.fx_rates.cny_per_unit"} <= set(aum)  # fmt: skip
    assert "rules.tier_thresholds.tier" in lineage["fct_customer_tier"]["tier"]["sources"]
    columns = [c for m in lineage.values() for c in m.values()]
    assert sum(1 for c in columns if c["sources"]) >= 0.9 * len(columns)
    assert "column_lineage.html" in (golden_docs / "docs.log").read_text(encoding="utf-8")


# ---------------------------------------------------------------- manifest and revisions
def test_rerun_after_a_redelivered_batch_creates_revision_2_and_keeps_revision_1(golden_jan, tmp_path, monkeypatch):
    # The golden bank delivered and loaded, then `tierwise run --month 2025-01` (its first publication).
    home = snapshot(golden_jan, tmp_path / "home")
    monkeypatch.setenv("TIERWISE_HOME", str(home))
    landing = Settings.from_env().landing_dir
    january = MONTHS[0]

    serving = home / "serving" / "serving.duckdb"
    con = duckdb.connect(str(serving), read_only=True)
    run_id = con.execute("select run_id from marts._publication").fetchone()[0]
    # The run manifest lists exactly the batch it read, with each file's checksum from the manifest.
    inputs = con.execute(
        "select batch_id, source_file, file_sha256 from audit.run_inputs where run_id = ? order by 2", [run_id]
    ).fetchall()
    delivered = json.loads((landing / january / "_manifest.json").read_text())["tables"]
    assert {b for b, _, _ in inputs} == {january}
    assert {(f, s) for _, f, s in inputs} == {(t["file"], t["sha256"]) for t in delivered.values()}
    run = con.execute("select from_month, to_month, git_commit, package_versions from audit.runs").fetchone()
    assert run[:2] == (january, january) and "dbt-core" in json.loads(run[3])
    assert con.execute("select count(*) from audit.run_models where run_id = ? and status = 'success'",
                       [run_id]).fetchone()[0] >= 30  # fmt: skip
    assert con.execute("select distinct revision from audit.revisions").fetchall() == [(1,)]
    con.close()

    # The bank re-delivers January: G11's fund is worth 25,000, not 20,000.
    rows = batch_rows(january)
    for row in rows["product_holdings"]:
        if row[0] == "G11" and row[1] == "MF03":
            row[4] = "25000.00"
    write_batch(landing, rows, batch_id=january, as_of=month_end(january))
    assert main(["load", str(landing / january)]) == 0
    assert main(["run", "--month", january]) == 0

    con = duckdb.connect(str(serving), read_only=True)
    try:
        changes = dict(
            con.execute(
                "select mart, [rows_added, rows_removed, rows_changed] from audit.revisions where revision = 2"
            ).fetchall()
        )
        assert changes["fct_customer_month"] == [0, 0, 1]  # G11 only
        assert changes["fct_tier_migration"][2] >= 1  # gold AUM moved
        history = con.execute(
            "select revision, aum_cny from audit.fct_customer_month__revisions where customer_id = 'G11' order by 1"
        ).fetchall()
        hand = float(exp.CUSTOMER_MONTH["G11"]["default"]["aum_cny"])
        assert [(r, float(a)) for r, a in history] == [(1, hand), (2, hand + 5000)]  # revision 1 intact
        assert (
            float(con.execute("select aum_cny from marts.fct_customer_month where customer_id = 'G11'").fetchone()[0])
            == hand + 5000
        )
        assert con.execute("select batch_revision from audit.run_inputs where run_id = ("
                           "select run_id from marts._publication) limit 1").fetchone()[0] == 2  # fmt: skip
    finally:
        con.close()
    # A re-run that changes nothing adds no revision.
    assert main(["run", "--month", january]) == 0
    con = duckdb.connect(str(serving), read_only=True)
    assert con.execute("select max(revision) from audit.revisions").fetchone()[0] == 2
    con.close()
