"""A rules folder is validated completely before it is installed (tierwise/rules_check.py):
each broken folder is refused naming file, row and column, with exit 2, and the rules in force
stay. The cases are the ones that failed inside dbt a minute later or published wrong tiers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tierwise.cli import main
from tierwise.rules import DEFAULT_RULES_DIR
from tierwise.rules_check import RulesInvalid, validate_rules


def _folder(tmp_path: Path, name: str, edit) -> Path:
    """The shipped rules with one file rewritten by edit(lines) -> lines."""
    folder = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    path = folder / f"{name}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return folder


def _replace(old: str, new: str):
    def edit(lines):
        text = "\n".join(lines)
        assert old in text, old
        return text.replace(old, new, 1).splitlines()

    return edit


CASES = [
    # (file, edit, expected message)
    (
        "tier_policy",
        lambda lines: [lines[0].replace("policy_value,", "")] + lines[1:],
        r"tier_policy\.csv: row 1 column policy_value: is missing",
    ),
    ("tier_policy", lambda lines: lines[:1], r"tier_policy\.csv: row 2 column -: no rows \(header only\)"),
    (
        "tier_policy",
        _replace("downgrade_grace_months,3", "downgrade_grace_months,-1"),
        r"tier_policy\.csv: row 2 column policy_value: downgrade_grace_months = -1 must be a whole number >= 0",
    ),
    (
        "tier_policy",
        _replace("downgrade_grace_months,3", "downgrade_grace_months,three"),
        r"tier_policy\.csv: row 2 column policy_value: 'three' for downgrade_grace_months is not a number",
    ),
    (
        "tier_policy",
        lambda lines: [x for x in lines if not x.startswith("hnw_min_aum_cny")],
        r"tier_policy\.csv: row - column policy_key: 'hnw_min_aum_cny' is missing",
    ),
    (
        "tier_policy",
        lambda lines: [*lines, "downgrade_grace_months,5,again"],
        r"tier_policy\.csv: row 11 column policy_key: downgrade_grace_months repeats row 2",
    ),
    (
        "tier_thresholds",
        _replace("diamond,4,钻石客户,Diamond,2000000", "diamond,4,钻石客户,Diamond,20000"),
        r"tier_thresholds\.csv: row 5 column min_aum_cny: version v1: diamond \(rank 4\) starts at 20000.*must rise",
    ),
    (
        "tier_thresholds",
        _replace("gold,2,金卡客户,Gold,50000", "gold,2,金卡客户,Gold,5万"),
        r"tier_thresholds\.csv: row 3 column min_aum_cny: '5万' is not a plain decimal number",
    ),
    (
        "tier_thresholds",
        _replace("v1,2000-01-01,gold", "v1,2000-02-30,gold"),
        r"tier_thresholds\.csv: row 3 column effective_from: '2000-02-30' is not a date",
    ),
    (
        "tier_thresholds",
        _replace("diamond,4", "black,4"),
        r"tier_thresholds\.csv: row 5 column tier: unknown tier code 'black'",
    ),
    (
        "tier_thresholds",
        _replace("mass,1,大众客户,Mass,0", "mass,1,大众客户,Mass,100"),
        r"tier_thresholds\.csv: row 2 column min_aum_cny: version v1: the lowest tier must start at 0",
    ),
    (
        "cross_sell_affinity",
        _replace("private,insurance,0.90", "private,insurance,1.90"),
        r"cross_sell_affinity\.csv: row \d+ column weight: 1\.90 is not a weight between 0 and 1",
    ),
    ("churn_bands", _replace("low,0,1", "low,5,1"), r"churn_bands\.csv: row - column min_score: no band starts at 0"),
    (
        "churn_signals",
        _replace("sig_aum_drop,30", "sig_aum_drop,"),
        r"churn_signals\.csv: row 2 column weight: empty; a value is required",
    ),
]


@pytest.mark.reliability("rules")
@pytest.mark.parametrize(("name", "edit", "message"), CASES, ids=[c[2].split(":")[0][:40] + f"-{i}" for i, c in
                                                                 enumerate(CASES)])  # fmt: skip
def test_a_broken_rules_folder_is_refused_naming_file_row_and_column(tmp_path, name, edit, message):
    folder = _folder(tmp_path, name, edit)
    with pytest.raises(RulesInvalid, match=message):
        validate_rules(folder, DEFAULT_RULES_DIR)


def test_the_shipped_rules_and_a_valid_override_pass(tmp_path):
    validate_rules(DEFAULT_RULES_DIR, DEFAULT_RULES_DIR)
    folder = _folder(tmp_path, "tier_policy", _replace("downgrade_grace_months,3", "downgrade_grace_months,0"))
    validate_rules(folder, DEFAULT_RULES_DIR)


@pytest.mark.reliability("rules")
def test_refused_rules_exit_2_and_the_rules_in_force_stay(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path / "home"))
    good = tmp_path / "good"
    good.mkdir()
    (good / "tier_policy.csv").write_text(
        (DEFAULT_RULES_DIR / "tier_policy.csv")
        .read_text()
        .replace("downgrade_grace_months,3", "downgrade_grace_months,2")
    )
    from tierwise.config import Settings
    from tierwise.rules import install_rules

    settings = Settings.from_env()
    install_rules(settings, good)
    installed = (settings.rules_dir / "tier_policy.csv").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tier_policy.csv").write_text("policy_key,policy_value,description\n")
    assert main(["run", "--month", "2025-01", "--rules", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "tier_policy.csv: row 2 column -: no rows" in err and "rules in force are unchanged" in err
    assert (settings.rules_dir / "tier_policy.csv").read_bytes() == installed
    assert not settings.rules_dir.with_name(settings.rules_dir.name + ".new").exists()
