"""A bank replaces the shipped rules without editing the repo: `tierwise run --rules DIR`.

Here the bank adds threshold version v2 (gold from 60,000) effective 2025-04-01. Months before
April keep v1; April onwards are re-tiered under v2 only. G11 holds exactly 50,000: gold under
v1, raw mass under v2 -> on watch in April (1) and May (2), downgraded to mass in June.
"""

from __future__ import annotations

import os

import duckdb
from golden_bank import MONTHS
from tierwise.cli import main
from tierwise.config import DBT_PROJECT_DIR, Settings
from tierwise.rules import DEFAULT_RULES_DIR
from warehouses import snapshot


def _tiers(home, customer):
    con = duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)
    rows = con.execute(
        "select cast(as_of_date as varchar), threshold_version, raw_tier, tier, months_below_tier "
        "from marts.fct_customer_tier where customer_id = ? order by as_of_date",
        [customer],
    ).fetchall()
    con.close()
    return rows


def test_bank_rules_retier_later_months_only(golden_sequential, golden_jan, tmp_path, monkeypatch, capsys):
    home = snapshot(golden_sequential, tmp_path / "home")  # six months built with the shipped rules
    monkeypatch.setenv("TIERWISE_HOME", str(home))
    assert {r[3] for r in _tiers(home, "G11")} == {"gold"}

    rules = tmp_path / "bank_rules"
    rules.mkdir()
    v1 = (DEFAULT_RULES_DIR / "tier_thresholds.csv").read_text().splitlines()
    v2 = [line.replace("v1,2000-01-01", "v2,2025-04-01") for line in v1[1:]]
    v2 = [line.replace(",50000", ",60000") for line in v2]
    (rules / "tier_thresholds.csv").write_text("\n".join(v1 + v2) + "\n")
    assert main(["run", "--month", MONTHS[-1], "--rules", str(rules)]) == 0
    assert "replaced tier_thresholds.csv" in capsys.readouterr().out

    assert _tiers(home, "G11") == [
        ("2025-01-31", "v1", "gold", "gold", 0),
        ("2025-02-28", "v1", "gold", "gold", 0),
        ("2025-03-31", "v1", "gold", "gold", 0),
        ("2025-04-30", "v2", "mass", "gold", 1),
        ("2025-05-31", "v2", "mass", "gold", 2),
        ("2025-06-30", "v2", "mass", "mass", 0),
    ]
    # G02 holds 60,000 from February: still gold under v2.
    assert [r[3] for r in _tiers(home, "G02")] == ["mass", "gold", "gold", "gold", "gold", "gold"]
    # The folder now serves this warehouse: a plain rerun keeps v2.
    assert main(["run", "--month", MONTHS[-1]]) == 0
    assert _tiers(home, "G11")[-1][1:] == ("v2", "mass", "mass", 0)
    # The bank's folder serves this warehouse only: another home refreshed in the same process
    # (after the in-process Dagster runs above) builds with the shipped rules. Its own run, on a
    # copy of the golden bank after January: what could leak is process state, so it must run here.
    other = snapshot(golden_jan, tmp_path / "other_home")
    assert Settings(other).dbt_env()["TIERWISE_RULES_PATH"] == os.path.relpath(DEFAULT_RULES_DIR, DBT_PROJECT_DIR)
    assert Settings(home).dbt_env()["TIERWISE_RULES_PATH"] == os.path.relpath(home / "rules", DBT_PROJECT_DIR)
    monkeypatch.setenv("TIERWISE_HOME", str(other))
    environ = dict(os.environ)
    assert main(["run", "--month", MONTHS[1]]) == 0
    # the settings and months reached dbt on its command line (tierwise-dbt), not through this
    # process's environment: a refresh leaves os.environ exactly as it found it
    assert dict(os.environ) == environ
    con = duckdb.connect(str(other / "warehouse" / "build.duckdb"), read_only=True)
    versions = con.execute("select distinct version from rules.tier_thresholds order by 1").fetchall()
    february = con.execute("select distinct threshold_version from marts.fct_customer_tier").fetchall()
    con.close()
    assert versions == [("v1",)] and february == [("v1",)]
    assert _tiers(home, "G11")[-1][1:] == ("v2", "mass", "mass", 0)  # and the bank's home is untouched


def test_unknown_rule_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path / "home"))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tier_treshold.csv").write_text("x\n1\n")
    assert main(["run", "--month", "2025-01", "--rules", str(rules)]) == 2
    assert "unknown rule file(s) tier_treshold.csv" in capsys.readouterr().err
