"""`tierwise status` and the landing freshness check: what operators read to see how far each
month got and which batch is late."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import dagster as dg
from golden_bank import MONTHS
from tierwise.cli import main
from tierwise.config import Settings
from tierwise.months import bank_today
from tierwise.status import due_date, month_status
from warehouses import snapshot


def test_a_batch_is_due_on_the_configured_day_of_the_next_month(monkeypatch):
    assert due_date("2025-12", 3) == date(2026, 1, 3)
    assert due_date("2025-06", 10) == date(2025, 7, 10)
    monkeypatch.setenv("TIERWISE_BATCH_DUE_DAY", "31")
    assert main(["status"]) == 2


def test_status_shows_each_month_delivered_built_published_reported(golden_mar, tmp_path, monkeypatch, capsys):
    """The golden bank: six months delivered, January to March built, published and reported;
    April to June delivered only; the months after June up to the last closed month are late
    (their due day has passed), so the command exits 1."""
    home = snapshot(golden_mar, tmp_path / "home")
    monkeypatch.setenv("TIERWISE_HOME", str(home))
    shutil.rmtree(home / "reports" / MONTHS[2])  # March's report was never rendered
    rows, notes = month_status(Settings.from_env())
    by_month = {r.month: r for r in rows}
    assert not notes
    assert [m for m in MONTHS if by_month[m].batch] == MONTHS
    assert [m for m in MONTHS if by_month[m].built] == MONTHS[:3]
    assert [m for m in MONTHS if by_month[m].published] == MONTHS[:3]
    assert [m for m in MONTHS if by_month[m].reported] == MONTHS[:2]
    later = [r for r in rows if r.month > MONTHS[-1]]
    assert later and all(r.late == (bank_today() > r.due) for r in later) and later[0].late
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert f"{MONTHS[0]}  {MONTHS[0]} rev 1" in out and "LATE (due" in out


def test_a_late_month_fails_the_landing_freshness_check():
    """The freshness check on the landing asset fails while the month due by the last deadline
    has no loaded batch, and passes once its partition is materialized (a batch loaded)."""
    from tierwise.defs.freshness import LANDING_KEY, build_freshness_checks
    from tierwise.defs.partitions import monthly_partitions
    from tierwise.months import last_closed_month

    today = bank_today()
    # the last deadline (day 3, 00:00 Asia/Shanghai) was this month's or, before the 3rd, last month's
    due_month = last_closed_month(today if today.day >= 3 else today.replace(day=1) - timedelta(days=1))
    checks = build_freshness_checks()
    defs = dg.Definitions(
        assets=[dg.AssetSpec(LANDING_KEY, partitions_def=monthly_partitions)],
        asset_checks=checks,
        jobs=[dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks))],
    )
    instance = dg.DagsterInstance.ephemeral()

    def evaluate() -> bool:
        result = defs.resolve_job_def("freshness").execute_in_process(instance=instance, raise_on_error=False)
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation.passed

    assert evaluate() is False
    instance.report_runless_asset_event(dg.AssetMaterialization(LANDING_KEY, partition=f"{due_month}-01"))
    assert evaluate() is True
