"""BI tools can open the serving file: DuckDB 1.x clients (what most BI drivers and desktop tools
embed) read the published serving.duckdb, written by DuckDB 2.x in storage version v1.4.0
(tierwise/publish.py). Each client gets a virtual environment of its own, built here once per
session with only that DuckDB from the package index; the test reads every mart through it and
compares the row counts and the money total with what the project's own DuckDB reads."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

CLIENTS = ("1.4.4", "1.5.6")  # the 1.4 long-term-support line and the last 1.x release

READ = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [r[0] for r in con.execute(
    "select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()]
counts = {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}
aum = str(con.execute("select sum(aum_cny) from marts.fct_customer_month").fetchone()[0])
print(json.dumps({"version": duckdb.__version__, "counts": counts, "aum": aum}))
"""


@pytest.fixture(scope="session")
def duckdb_clients(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("duckdb_clients")
    pythons = {}
    for version in CLIENTS:
        home = root / f"duckdb-{version}"
        venv.EnvBuilder(with_pip=True).create(home)
        python = home / "bin" / "python"
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"duckdb=={version}"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        pythons[version] = python
    return pythons


def _read(python: Path | str, serving: Path) -> dict:
    done = subprocess.run([str(python), "-c", READ, str(serving)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("version", CLIENTS)
def test_duckdb_1x_clients_open_the_serving_file(golden_sequential, duckdb_clients, version):
    serving = golden_sequential / "serving" / "serving.duckdb"
    ours = _read(sys.executable, serving)
    theirs = _read(duckdb_clients[version], serving)
    assert theirs["version"] == version
    assert theirs["counts"] == ours["counts"] and len(ours["counts"]) >= 8
    assert theirs["aum"] == ours["aum"]
