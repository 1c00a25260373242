"""Shared test setup: telemetry off (dbt and Dagster), built warehouse states, lanes.

Warehouse states (tests/warehouses.py) are built once per session and shared by every pytest
process: a test reads a state's home through its fixture (golden_sequential, golden_jan, ...)
and copies it (`snapshot(home, tmp_path / "home")`) before it changes anything. At collection,
one process starts a background builder for the golden states the selected tests need, so the
golden bank's six monthly refreshes run while the first tests do (the short states are built by
the first test that asks: tests/warehouses.py).

Lanes: `slow` marks tests that run the pipeline or read a state built by it; `make test-fast`
runs `-m "not slow"`, `make test` runs everything (in two xdist workers).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
if "DAGSTER_HOME" not in os.environ:
    _dagster_home = Path(tempfile.mkdtemp(prefix="tierwise-dagster-"))
    (_dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(_dagster_home)
sys.path[:0] = [str(HERE), str(HERE / "fixtures")]

import warehouses  # noqa: E402  (needs the path above)

# Reports without PDFs unless a test asks for them (tests/warehouses.py).
os.environ["TIERWISE_REPORT_FORMATS"] = warehouses.TEST_FORMATS

# Fixture -> the state it returns; a test using one is `slow` unless the state is schema_only.
STATE_FIXTURES = {
    "golden_loaded": "golden_loaded",
    "golden_jan": "golden_jan",
    "golden_feb": "golden_feb",
    "golden_mar": "golden_mar",
    "golden_sequential": "golden_all",
    "schema_only": "schema_only",
    "generated_bank": "generated",
    "golden_docs": "golden_all",
}
FAST_STATES = {"schema_only"}


_CREATED_CACHE: Path | None = None


def pytest_configure(config):
    # The controller (or a plain pytest process) chooses the session's state folder; xdist
    # workers inherit it through the environment.
    global _CREATED_CACHE
    if not os.environ.get(warehouses.CACHE_VAR) and not hasattr(config, "workerinput"):
        _CREATED_CACHE = Path(tempfile.mkdtemp(prefix="tierwise-states-"))
        os.environ[warehouses.CACHE_VAR] = str(_CREATED_CACHE)


def pytest_unconfigure(config):
    if _CREATED_CACHE is not None:  # every worker is done with the states
        shutil.rmtree(_CREATED_CACHE, ignore_errors=True)


def _states_of(item) -> set[str]:
    return {STATE_FIXTURES[name] for name in item.fixturenames if name in STATE_FIXTURES}


def pytest_collection_modifyitems(config, items):
    for item in items:
        states = _states_of(item)
        if states - FAST_STATES:
            item.add_marker(pytest.mark.slow)
        marker = item.get_closest_marker("reliability")
        if marker is not None:  # travels with the report to the xdist controller
            item.user_properties.append(("reliability_area", marker.args[0]))
    # The Spark builds first (minutes each; the golden one starts from the loaded bank), then
    # tests that need no golden state, so they run while the golden bank is refreshed.
    items.sort(key=_order)


# Modules whose tests each run several refreshes (about a minute or more each): first among the
# golden tests, so the suite ends on short ones. Ending on these left one worker alone for the
# last ~90 s of a clean-clone run while the other had finished.
LONG_GOLDEN_MODULES = ("test_rules_override", "test_tier_state_equivalence", "test_audit")


def _order(item) -> tuple[int, int]:
    if item.get_closest_marker("spark") is not None:
        return 0, 0
    if not any(s.startswith("golden") for s in _states_of(item)):
        return 1, 0
    long_first = 0 if item.module.__name__.rsplit(".", 1)[-1] in LONG_GOLDEN_MODULES else 1
    return 2, long_first


def pytest_collection_finish(session):
    _start_background_builder(session.config, session.items)  # the items left after -m / -k
    # The golden states are on every later test's path: the background builder (started above
    # at normal priority) gets the CPU first, the test processes and what they start yield.
    if not session.config.option.collectonly:
        os.nice(5)


_BUILDER: subprocess.Popen | None = None


def _start_background_builder(config, items) -> None:
    """One process of the session builds the golden states the selected tests need."""
    global _BUILDER
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0" or config.option.collectonly:
        return
    root = warehouses.cache_root()
    order = warehouses.builders_for({state for item in items for state in _states_of(item)})
    if order:
        warehouses.claim(root, order, "pending")  # before any test of this process asks for one
        log = open(root / "background-builder.log", "w")  # noqa: SIM115
        _BUILDER = subprocess.Popen(
            [sys.executable, str(HERE / "warehouses.py"), *order],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=HERE,
        )
        warehouses.claim(root, order, str(_BUILDER.pid))
    (root / warehouses.STARTED).touch()  # the other workers may look for states now


def pytest_sessionfinish(session):
    if _BUILDER is not None and _BUILDER.poll() is None:  # the tests that needed it are done
        # SIGKILL: a Dagster run in progress defers SIGTERM; the states are thrown away anyway
        os.killpg(_BUILDER.pid, signal.SIGKILL)
        _BUILDER.wait(timeout=60)


# ------------------------------------------------------------------------- timeline
# TIERWISE_TEST_TIMELINE=FILE appends one JSON line per test phase (worker, start, seconds), to
# see where the two workers wait (the suite's wall time is its CPU time only when both are busy).
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.time()
    try:
        return (yield)
    finally:
        target = os.environ.get("TIERWISE_TEST_TIMELINE")
        if target:
            line = {"test": item.nodeid, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                    "start": round(started, 2), "seconds": round(time.time() - started, 2)}  # fmt: skip
            with open(target, "a") as out:
                out.write(json.dumps(line) + "\n")


# ------------------------------------------------------------------------- state fixtures
def _state_fixture(state: str):
    @pytest.fixture(scope="session")
    def fixture():
        return warehouses.state(state)

    fixture.__doc__ = f"The home of state {state!r} (tests/warehouses.py), read-only: copy it to change it."
    return fixture


golden_loaded = _state_fixture("golden_loaded")
golden_jan = _state_fixture("golden_jan")
golden_feb = _state_fixture("golden_feb")
golden_mar = _state_fixture("golden_mar")
golden_sequential = _state_fixture("golden_all")
schema_only = _state_fixture("schema_only")
generated_bank = _state_fixture("generated")


@pytest.fixture(scope="session")
def golden_docs(golden_sequential):
    """The golden warehouse with its docs site built (`tierwise docs`; what it printed in docs.log), read-only."""
    return warehouses.golden_docs()


@pytest.fixture(scope="session")
def golden_landing(tmp_path_factory):
    """The hand-made golden bank (fixtures/golden_bank.py) as landing batches."""
    from golden_bank import write_golden_bank

    landing = tmp_path_factory.mktemp("golden_landing")
    write_golden_bank(landing)
    return landing


# ---------------------------------------------------------------- reliability suite summary
_RELIABILITY: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report):
    """Count each reliability case once: held if it passed, failed if setup, call or teardown failed."""
    area = dict(report.user_properties).get("reliability_area")
    if area is None or (report.when != "call" and report.passed):
        return
    counts = _RELIABILITY.setdefault(area, {"tried": 0, "held": 0, "failed": 0})
    if report.when == "call" or report.failed:
        counts["tried"] += 1
        counts["held" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter):
    if not _RELIABILITY:
        return
    terminalreporter.section("reliability suite")
    for area in sorted(_RELIABILITY):
        c = _RELIABILITY[area]
        terminalreporter.write_line(
            f"{area:<12} cases tried {c['tried']:>3}, held {c['held']:>3}, failed {c['failed']:>3}"
        )
