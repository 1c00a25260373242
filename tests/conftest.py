"""Shared test setup: telemetry off (dbt and Dagster), tests import helpers from this folder."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
if "DAGSTER_HOME" not in os.environ:
    _dagster_home = Path(tempfile.mkdtemp(prefix="tierwise-dagster-"))
    (_dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(_dagster_home)
sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent / "fixtures")]


@pytest.fixture(scope="session")
def golden_landing(tmp_path_factory):
    """The hand-made golden bank (fixtures/golden_bank.py) as landing batches."""
    from golden_bank import write_golden_bank

    landing = tmp_path_factory.mktemp("golden_landing")
    write_golden_bank(landing)
    return landing


@pytest.fixture(scope="session")
def golden_sequential(tmp_path_factory, golden_landing):
    """A warehouse home where the golden bank was loaded and refreshed month by month through the
    Dagster job (as operators do each month); shared by the golden and equivalence tests."""
    from golden_bank import MONTHS
    from tierwise.cli import main

    home = tmp_path_factory.mktemp("golden_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIERWISE_HOME", str(home))
        mp.setenv("TIERWISE_LANDING_DIR", str(golden_landing))
        assert main(["load", *[str(golden_landing / m) for m in MONTHS]]) == 0
        assert main(["backfill", "--from", MONTHS[0], "--to", MONTHS[-1], "--month-by-month"]) == 0
    return home


# ---------------------------------------------------------------- reliability suite summary
_RELIABILITY: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report):
    """Count each reliability case once: held if it passed, failed if setup, call or teardown failed."""
    area = getattr(report, "reliability_area", None)
    if area is None or (report.when != "call" and report.passed):
        return
    counts = _RELIABILITY.setdefault(area, {"tried": 0, "held": 0, "failed": 0})
    if report.when == "call" or report.failed:
        counts["tried"] += 1
        counts["held" if report.passed else "failed"] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    marker = item.get_closest_marker("reliability")
    if marker is not None:
        outcome.get_result().reliability_area = marker.args[0]


def pytest_terminal_summary(terminalreporter):
    if not _RELIABILITY:
        return
    terminalreporter.section("reliability suite")
    for area in sorted(_RELIABILITY):
        c = _RELIABILITY[area]
        terminalreporter.write_line(
            f"{area:<12} cases tried {c['tried']:>3}, held {c['held']:>3}, failed {c['failed']:>3}"
        )
