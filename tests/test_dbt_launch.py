"""`tierwise-dbt` (orchestration/tierwise/dbt_launch.py): dbt started with an explicit
environment given on its command line, so no refresh sets anything in the Dagster process's
environment (issue #20). The refresh itself is checked in tests/test_rules_override.py (two homes
in one process, os.environ unchanged)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tierwise.config import REPO_ROOT, Settings, dbt_launcher
from tierwise.dbt_launch import env_flags, split_args
from tierwise.defs.dbt_assets import invocation_env
from tierwise.defs.resources import TierwiseDbtCli


def test_env_flags_round_trip_and_stop_at_the_first_dbt_argument():
    env = {"TIERWISE_AS_OF_MONTH": "2025-03", "TIERWISE_DUCKDB_PATH": "/a b/build=1.duckdb", "EMPTY": ""}
    parsed, rest = split_args([*env_flags(env), "build", "--env", "X=1"])
    assert parsed == env  # values may hold spaces and '=', and may be empty
    assert rest == ["build", "--env", "X=1"]  # only leading pairs are the launcher's
    for bad in ({"A=B": "1"}, {"": "1"}, {"A": "x\0y"}):
        with pytest.raises(ValueError, match="not an environment variable"):
            env_flags(bad)
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        split_args(["--env", "NO_VALUE", "build"])


def test_the_launcher_runs_dbt_with_the_given_environment(tmp_path):
    # the launcher execs this environment's dbt ...
    out = subprocess.run(
        [dbt_launcher(), "--env", "TIERWISE_PROBE=42", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "installed: 1.12.0" in out
    # ... with the given variables over its own environment (here the exec'd program is Python,
    # which prints the variable back)
    probe = subprocess.run(
        [str(Path(dbt_launcher()).with_name("python")), "-c",
         "import os, sys; from tierwise import dbt_launch, config; config.dbt_executable = lambda: sys.executable; "
         "sys.argv = ['x', '--env', 'TIERWISE_PROBE=42', '-c', 'import os; print(os.environ[\"TIERWISE_PROBE\"])']; "
         "dbt_launch.main()"],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"},
    ).stdout  # fmt: skip
    assert probe.strip() == "42"


def test_a_build_gets_its_home_settings_and_months_but_not_dagster_dbts_paths(tmp_path):
    settings = Settings(tmp_path / "home")
    env = invocation_env(settings, {"TIERWISE_FROM_MONTH": "2025-02", "TIERWISE_AS_OF_MONTH": "2025-03"})
    assert env["TIERWISE_DUCKDB_PATH"] == str(settings.warehouse_path)
    assert (env["TIERWISE_FROM_MONTH"], env["TIERWISE_AS_OF_MONTH"]) == ("2025-02", "2025-03")
    assert "DBT_TARGET_PATH" not in env and "DBT_LOG_PATH" not in env  # dagster-dbt sets its own
    dbt = TierwiseDbtCli(project_dir=str(REPO_ROOT / "dbt_project"), dbt_executable=dbt_launcher())
    flags = dbt.with_env(env).global_config_flags
    assert split_args([*flags, "build"]) == (env, ["build"])
    assert dbt.global_config_flags == []  # the code location's resource is not changed


def test_no_code_sets_the_process_environment():
    """Settings are passed, not put into os.environ (the launcher sets its own process's)."""
    assignment = re.compile(r"os\.environ(\.update|\.setdefault|\[[^]]*\]\s*=[^=])|os\.putenv")
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in sorted((REPO_ROOT / "orchestration").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if assignment.search(line)
    ]
    assert found == []
