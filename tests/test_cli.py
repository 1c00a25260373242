"""The `tierwise` command line: help texts and argument validation (no warehouse needed)."""

from __future__ import annotations

import pytest
from tierwise.cli import build_parser, main
from tierwise.months import as_of_date, last_closed_month, month_range, parse_month


@pytest.mark.parametrize("command", ["generate", "load", "run", "backfill", "publish", "demo"])
def test_every_subcommand_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: tierwise {command}" in out
    assert len(out.splitlines()) > 4


@pytest.mark.parametrize("bad", ["2025-13", "2025-1", "2025-01'; drop table x; --", "", "25-01"])
def test_bad_month_is_rejected_before_anything_runs(bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--month", bad])
    assert exit_info.value.code == 2
    assert "month must look like YYYY-MM" in capsys.readouterr().err


def test_range_needs_both_ends_in_order(capsys):
    with pytest.raises(SystemExit):
        main(["backfill", "--from", "2025-01"])
    assert "the following arguments are required: --to" in capsys.readouterr().err
    assert main(["backfill", "--from", "2025-03", "--to", "2025-01"]) == 2
    assert "--from 2025-03 is after --to 2025-01" in capsys.readouterr().err


def test_month_helpers():
    assert parse_month("2024-02") == "2024-02"
    assert str(as_of_date("2024-02")) == "2024-02-29"
    assert str(as_of_date("2025-12")) == "2025-12-31"
    assert month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    with pytest.raises(ValueError, match="is after"):
        month_range("2025-03", "2025-02")
    from datetime import date

    assert last_closed_month(date(2026, 1, 5)) == "2025-12"
    assert last_closed_month(date(2026, 11, 24)) == "2026-10"


def test_load_reports_a_refused_batch_and_exits_nonzero(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path / "home"))
    batch = tmp_path / "home" / "landing" / "2025-10"
    batch.mkdir(parents=True)
    (batch / "_manifest.json").write_text("{not json")
    assert main(["load", str(batch)]) == 2
    assert "REFUSED batch" in capsys.readouterr().err
