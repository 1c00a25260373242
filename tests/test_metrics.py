"""The governed metrics (docs/metrics.md): each metric, asked through MetricFlow from the golden
bank's publication, equals the value worked out by hand in fixtures/golden_expected.py (the
figure of the mart it replaces). Reads the session's built golden warehouse (its published
serving file, read-only); nothing is rebuilt."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal

import golden_expected as exp
import pytest
from tierwise.cli import main
from tierwise.config import REPO_ROOT, Settings
from tierwise.metrics import Metrics, semantic_manifest_path
from tierwise.safe_text import csv_text


def _month_start(month_end: str) -> datetime.date:
    return datetime.date.fromisoformat(month_end).replace(day=1)


def _num(value):
    return float(value) if isinstance(value, Decimal) else value


@pytest.fixture(scope="module")
def golden_settings(golden_sequential):
    return Settings(golden_sequential)


@pytest.fixture(scope="module")
def metrics(golden_settings):
    with Metrics(golden_settings) as m:
        yield m


def _by_month(metrics, names, **kwargs):
    answer = metrics.query(names, ["metric_time__month"], **kwargs)
    assert answer.columns == ["metric_time__month", *names]
    return {_month(row[0]): dict(zip(names, map(_num, row[1:]), strict=True)) for row in answer.rows}


def _month(value) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def test_bank_metrics_equal_the_hand_worked_bank_kpis(metrics):
    names = [
        "customers_on_book", "aum_cny", "aum_retention_rate", "customer_retention_rate",
        "upgrade_rate", "downgrade_rate", "attrition_rate", "rm_coverage_rate",
    ]  # fmt: skip
    got = _by_month(metrics, names)
    assert sorted(got) == [_month_start(m) for m in exp.M]  # every published month, nothing else
    for month, want in exp.BANK_KPIS.items():
        # BANK_KPIS: customers, aum, customers_last_month, aum_retention, customer_retention,
        # upgrade, downgrade, attrition, rm_coverage, ...
        expected = dict(zip(names, (want[0], want[1], *want[3:9]), strict=True))
        row = got[_month_start(month)]
        for name, value in expected.items():
            assert (row[name] is None) == (value is None), (month, name, row[name], value)
            if value is not None:
                assert row[name] == pytest.approx(value, abs=1e-9), (month, name, row[name], value)


def test_tier_metrics_equal_the_hand_worked_tier_kpis(metrics):
    names = ["tier_customers", "aum_share", "aum_retention_rate", "customer_retention_rate",
             "product_categories_per_customer", "rm_coverage_rate"]  # fmt: skip
    answer = metrics.query(names, ["metric_time__month", "tier_month__tier"])
    got = {(_month(r[0]), r[1]): dict(zip(names, map(_num, r[2:]), strict=True)) for r in answer.rows}
    for month, tiers in exp.KPIS.items():
        for tier, want in tiers.items():
            # KPIS: customers, aum, aum_share, aum_retention, customer_retention, avg categories, rm coverage
            expected = dict(zip(names, (want[0], *want[2:]), strict=True))
            row = got[(_month_start(month), tier)]
            for name, value in expected.items():
                assert (row[name] is None) == (value is None), (month, tier, name, row[name], value)
                if value is not None:
                    assert row[name] == pytest.approx(value, abs=1e-9), (month, tier, name, row[name], value)
    # customer-grain AUM by held tier equals the tier mart's (two semantic models, one number)
    aum = metrics.query(["aum_cny"], ["metric_time__month", "customer_month__tier"])
    april = {r[1]: float(r[2]) for r in aum.rows if _month(r[0]) == _month_start(exp.M[3])}
    assert april == {tier: float(v[1]) for tier, v in exp.KPIS[exp.M[3]].items()}


def test_a_period_adds_flows_and_keeps_the_last_stock(metrics):
    april, may = _month_start(exp.M[3]), _month_start(exp.M[4])
    answer = metrics.query(["aum_retention_rate", "customers_on_book", "aum_cny"], [], start=april, end=may)
    (retention, customers, aum), = [tuple(map(_num, row)) for row in answer.rows]  # fmt: skip
    # retained AUM over AUM at risk, both summed over April and May: (13,607,500 + 12,997,500) /
    # (16,070,500 + 13,607,500) -- not the mean of the two monthly rates
    assert retention == pytest.approx((13607500 + 12997500) / (16070500 + 13607500), abs=1e-12)
    assert (customers, aum) == (12, 12997500)  # stocks: May's position, not April + May


def test_watchlist_and_private_banker_metrics(metrics):
    names = ["watchlist_customers", "watchlist_aum_cny", "private_banker_clients", "private_banker_capacity",
             "private_banker_load"]  # fmt: skip
    got = _by_month(metrics, names)
    watch = {month: sum(1 for _, m in exp.WATCHLIST if m == month) for month in exp.M}
    assert {m: got[_month_start(m)]["watchlist_customers"] for m in exp.M} == watch
    # G13 is the watchlist from April: 740,000 in April, 200,000 in May (KPIS, platinum)
    assert got[_month_start(exp.M[3])]["watchlist_aum_cny"] == 740000
    assert got[_month_start(exp.M[4])]["watchlist_aum_cny"] == 200000
    # RM1 is the private banker (cap 30 from the seed); RM2, a wealth advisor, is not counted
    clients, capacity = exp.RM_BOOK[("RM1", exp.M[3])][0], exp.RM_BOOK[("RM1", exp.M[3])][3]
    april = got[_month_start(exp.M[3])]
    assert (april["private_banker_clients"], april["private_banker_capacity"]) == (clients, capacity)
    assert april["private_banker_load"] == pytest.approx(clients / capacity)


def test_every_metric_is_described_and_documented(metrics):
    catalogue = metrics.catalogue()
    assert len(catalogue) >= 20 and all(m["description"] and m["label"] for m in catalogue)
    documented = (REPO_ROOT / "docs" / "metrics.md").read_text()
    missing = [m["name"] for m in catalogue if f"`{m['name']}`" not in documented]
    assert missing == []
    # and the manifest they come from is the one dbt compiled for this warehouse
    names = {m["name"] for m in json.loads(semantic_manifest_path(metrics.settings).read_text())["metrics"]}
    assert names == {m["name"] for m in catalogue}


def test_the_command_answers_from_the_publication_and_refuses_unknown_names(golden_settings, tmp_path,
                                                                            monkeypatch, capsys):  # fmt: skip
    monkeypatch.setenv("TIERWISE_HOME", str(golden_settings.home))
    out = tmp_path / "retention.csv"
    args = ["metrics", "query", "--metrics", "aum_retention_rate", "--group-by",
            "metric_time__month,tier_month__tier", "--last-months", "2", "--csv", str(out)]  # fmt: skip
    assert main(args) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "metric_time__month,tier_month__tier,aum_retention_rate"
    assert len(lines) == 1 + 2 * 5 and {line[:10] for line in lines[1:]} == {"2025-05-01", "2025-06-01"}
    assert main(["metrics", "query", "--metrics", "aum_retension_rate"]) == 2
    assert "unknown metric(s) aum_retension_rate" in capsys.readouterr().err
    assert main(["metrics", "list"]) == 0
    assert re.search(r"^aum_retention_rate\s+ratio\s", capsys.readouterr().out, re.MULTILINE)


def test_csv_cells_cannot_become_formulas():
    assert csv_text('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_text("-1+1") == "'-1+1" and csv_text("@SUM(A1)") == "'@SUM(A1)"
    assert csv_text("gold\x07") == "gold" and csv_text("张**") == "张**"
