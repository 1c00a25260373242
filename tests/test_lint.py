"""Style is part of the suite: ruff for Python, sqlfluff (dbt templater) for the dbt SQL. The
SQL lint is `slow` (it compiles the dbt project: ~45 s); `make lint` runs both on their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )


def test_ruff_finds_nothing():
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format_changes_nothing():
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_sqlfluff_finds_nothing_in_the_dbt_project(tmp_path):
    # the dbt templater connects to a warehouse while compiling: a scratch one
    result = _run("sqlfluff", "lint", "dbt_project", env={"TIERWISE_DUCKDB_PATH": str(tmp_path / "lint.duckdb")})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "All Finished" in result.stdout + result.stderr
