"""Reliability and security suite: faults, determinism, bad input, PII, load.

The story an operator could live, on the golden bank: with January published, the February
refresh is killed during the dbt build, then during publish, then starved of memory, then
March is tried before February — and after each the serving database and Parquet still hold
January whole. Then February runs normally after the killed publish, a published February is
re-run (identical marts), and March is refreshed while BI readers query continuously. Finally
everything published is scanned for PII.

Each case starts from its own copy of a built state (tests/warehouses.py: January published,
February published, or the refresh killed mid-publish), so any case runs alone. Each case is
marked with its area; the terminal summary prints `cases tried, held, failed` per area (see
conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import openpyxl
import pytest
import warehouses
from golden_bank import MONTHS
from landing_builder import write_batch
from pii import leaks
from tierwise.cli import main
from tierwise.config import Settings
from warehouses import TIERWISE, cli, cli_env, derived, snapshot

JAN, FEB, MAR = MONTHS[0], MONTHS[1], MONTHS[2]


def publication(home: Path) -> dict:
    """What BI sees now: the release, the months per mart, the Parquet release behind `current`."""
    serving = home / "serving" / "serving.duckdb"
    con = duckdb.connect(str(serving), read_only=True)
    try:
        release = con.execute("select release from marts._publication").fetchone()[0]
        tiers = con.execute(
            "select cast(as_of_date as varchar), count(*) from marts.fct_customer_tier group by 1 order by 1"
        ).fetchall()
        kpis = con.execute("select distinct cast(as_of_date as varchar) from marts.rpt_tier_kpis order by 1").fetchall()
    finally:
        con.close()
    return {
        "release": release,
        "tiers": tiers,
        "kpi_months": [k[0] for k in kpis],
        "parquet": os.readlink(home / "serving" / "parquet" / "current"),
    }


def marts_hashes(db: Path) -> dict[str, str]:
    """md5 of every mart's sorted rows (the publication stamp excluded)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' and table_name != '_publication'"
            ).fetchall()
        ]
        return {
            name: con.execute(
                f"select md5(coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), '')) "
                f"from marts.{name} as t"
            ).fetchone()[0]
            for name in names
        }
    finally:
        con.close()


def _session_processes(session: int) -> list[tuple[int, bytes]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if int(text[text.rindex(")") + 2 :].split()[3]) == session:
                found.append((int(stat.parent.name), (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.fixture
def bank(golden_jan, tmp_path):
    """A private copy of the golden bank with all six months loaded and January published."""
    home = snapshot(golden_jan, tmp_path / "home")
    return {"home": home, "january": publication(home)}


def _assert_still_january(bank) -> None:
    now = publication(bank["home"])
    assert now == bank["january"], "the serving database or Parquet changed after a failed refresh"


def _kill_during_the_dbt_build(home: Path) -> None:
    """Derived state: January published, then the February refresh SIGKILLed with its whole
    process group once dbt is building (as a power cut would); nothing of it may survive."""
    snapshot(warehouses.state("golden_jan"), home)
    proc = subprocess.Popen(
        [TIERWISE, "run", "--month", FEB],
        env=cli_env(home),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if any(b"dbt" in cmd and b" build " in cmd for _, cmd in _session_processes(proc.pid)):
            break
        assert proc.poll() is None, "the refresh ended before dbt started"
        time.sleep(0.2)
    else:
        pytest.fail("dbt build never started")
    time.sleep(3)  # dbt is writing models now
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for _ in range(50):  # the whole process group is gone, dbt included
        if not _session_processes(proc.pid):
            break
        time.sleep(0.1)
    (home / "killed_run.json").write_text(json.dumps({"pid": proc.pid, "survivors": len(_session_processes(proc.pid))}))


@pytest.fixture
def build_killed(golden_jan) -> Path:
    return derived("reliability_build_killed", _kill_during_the_dbt_build)


def _publish_killed(home: Path) -> None:
    """Derived state: January published, then the February refresh killed just before its swap."""
    snapshot(warehouses.state("golden_jan"), home)
    result = cli(home, "run", "--month", FEB, TIERWISE_FAULT="publish-before-swap")
    (home / "killed_run.json").write_text(json.dumps({"returncode": result.returncode, "stderr": result.stderr}))


@pytest.fixture
def publish_killed(golden_jan) -> Path:
    return derived("reliability_publish_killed", _publish_killed)


# ------------------------------------------------------------------------------------ faults
@pytest.mark.reliability("faults")
def test_sigkill_during_the_dbt_build_keeps_the_publication(golden_jan, build_killed):
    killed = json.loads((build_killed / "killed_run.json").read_text())
    assert killed["survivors"] == 0  # the whole process group is gone, dbt included
    assert publication(build_killed) == publication(golden_jan)  # January, whole


@pytest.mark.reliability("bad_input")
def test_a_month_after_a_gap_is_refused_not_tiered(golden_jan, build_killed, tmp_path):
    bank = {"home": snapshot(build_killed, tmp_path / "home"), "january": publication(golden_jan)}
    result = cli(bank["home"], "run", "--month", MAR)  # February's run died: its build-pool slot is claimed
    assert result.returncode == 1
    assert "tier state for 2025-02-28 has not been built" in result.stderr
    assert "had died: marked failed, build-pool slot freed" in result.stdout  # the killed run's slot
    _assert_still_january(bank)


@pytest.mark.reliability("faults")
def test_sigkill_during_publish_keeps_the_publication(golden_jan, publish_killed):
    killed = json.loads((publish_killed / "killed_run.json").read_text())
    assert killed["returncode"] == -signal.SIGKILL, killed["stderr"][-2000:]
    assert publication(publish_killed) == publication(golden_jan)  # January, whole
    assert list((publish_killed / "serving").glob(".serving-*"))  # its staging file was left behind


@pytest.mark.reliability("faults")
def test_out_of_memory_fails_clearly_and_keeps_the_publication(bank):
    """The limit holds every DuckDB connection of the run (the landing load's first, then dbt's):
    at 1 MB the first step that reads the warehouse fails, named, with DuckDB's own message."""
    result = cli(bank["home"], "run", "--month", FEB, TIERWISE_DUCKDB_MEMORY_LIMIT="1MB")
    assert result.returncode == 1
    assert "[refresh] FAILED 2025-02: step landing_batch failed" in result.stderr, result.stderr[-2000:]
    assert "Out of Memory" in result.stderr, result.stderr[-2000:]
    _assert_still_january(bank)


@pytest.mark.reliability("faults")
def test_the_next_refresh_completes_normally(golden_jan, publish_killed, tmp_path):
    home = snapshot(publish_killed, tmp_path / "home")
    assert list((home / "serving").glob(".serving-*"))  # the killed publish's staging file
    result = cli(home, "run", "--month", FEB)
    assert result.returncode == 0, result.stderr[-3000:]
    now = publication(home)
    assert [m for m, _ in now["tiers"]] == now["kpi_months"] == ["2025-01-31", "2025-02-28"]
    assert now["release"] != publication(golden_jan)["release"]
    assert not list((home / "serving").glob(".serving-*"))  # the abandoned staging file is gone


# ------------------------------------------------------------------------------- determinism
@pytest.mark.reliability("determinism")
def test_rerunning_a_month_gives_identical_marts(golden_feb, tmp_path):
    home = snapshot(golden_feb, tmp_path / "home")  # January and February published
    serving = home / "serving" / "serving.duckdb"
    february = publication(home)
    before = marts_hashes(serving)
    assert cli(home, "run", "--month", FEB).returncode == 0
    after = marts_hashes(serving)
    assert publication(home)["release"] != february["release"]  # a new publication...
    assert after == before and len(after) >= 12  # ...with the same rows in every mart


@pytest.mark.reliability("determinism")
def test_same_generator_seed_gives_the_same_landing_and_raw_warehouse(tmp_path):
    hashes = []
    for name in ("a", "b"):
        home = tmp_path / name
        args = ["generate", "--customers", "300", "--months", "2", "--end-month", "2025-06", "--seed", "7"]
        assert cli(home, *args).returncode == 0
        assert cli(home, "load").returncode == 0
        con = duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'raw' "
                "and table_name not like '\\_%' escape '\\'"
            ).fetchall()
        ]
        hashes.append(
            {
                t: con.execute(
                    "select count(*), md5(string_agg(cast(x as varchar), chr(10) order by cast(x as varchar))) "
                    f"from raw.{t} x"
                ).fetchone()
                for t in tables
            }
        )
        con.close()
    assert len(hashes[0]) == 11 and all(n > 0 for n, _ in hashes[0].values())
    assert hashes[0] == hashes[1]


# ------------------------------------------------------------------------------------- load
READER = r"""
import duckdb, json, pathlib, sys, time
path, stop, out = sys.argv[1:4]
with open(out, "w") as f:
    while not pathlib.Path(stop).exists():
        try:
            con = duckdb.connect(path, read_only=True)
            release = con.execute("select release from marts._publication").fetchone()[0]
            tiers = con.execute("select cast(as_of_date as varchar), count(*) from marts.fct_customer_tier "
                                "group by 1 order by 1").fetchall()
            kpis = con.execute("select cast(as_of_date as varchar), sum(customers) from marts.rpt_tier_kpis "
                               "group by 1 order by 1").fetchall()
            con.close()
            f.write(json.dumps({"release": release, "tiers": tiers, "kpis": kpis}) + "\n")
        except Exception as exc:
            f.write(json.dumps({"error": repr(exc)}) + "\n")
        f.flush()
        time.sleep(0.2)  # hundreds of answers across a refresh; a hot loop would starve the refresh itself
"""


@pytest.mark.reliability("load")
def test_bi_readers_during_a_refresh_see_one_whole_publication(golden_feb, tmp_path):
    home = snapshot(golden_feb, tmp_path / "home")  # January and February published
    before = publication(home)["release"]
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                READER,
                str(home / "serving" / "serving.duckdb"),
                str(stop),
                str(tmp_path / f"reader{i}.jsonl"),
            ]
        )
        for i in range(3)
    ]
    started = time.perf_counter()
    result = cli(home, "run", "--month", MAR)
    took = time.perf_counter() - started
    after = publication(home)["release"]
    deadline = time.monotonic() + 60  # each reader answers once more after the refresh, however busy the machine
    while time.monotonic() < deadline and not all(
        path.exists() and after in path.read_text() for path in (tmp_path / f"reader{i}.jsonl" for i in range(3))
    ):
        time.sleep(0.2)
    stop.touch()
    for reader in readers:
        assert reader.wait(timeout=30) == 0
    assert result.returncode == 0, result.stderr[-3000:]  # never blocked by the readers
    seen: dict[str, set] = {}
    answers = 0
    for i in range(3):
        for line in (tmp_path / f"reader{i}.jsonl").read_text().splitlines():
            answer = json.loads(line)
            assert "error" not in answer, answer
            answers += 1
            tiers = {m: n for m, n in answer["tiers"]}
            kpis = {m: n for m, n in answer["kpis"]}
            assert tiers == kpis, answer  # one publication: tiers and KPIs agree month by month
            seen.setdefault(answer["release"], set()).add(json.dumps(answer["tiers"]))
    assert set(seen) <= {before, after} and after in seen and before in seen
    assert all(len(v) == 1 for v in seen.values())  # each release always gives the same answer
    assert len(json.loads(next(iter(seen[after])))) == 3 and len(json.loads(next(iter(seen[before])))) == 2
    print(f"\n[load] 3 readers, {answers} answers during a {took:.0f}s refresh, releases seen: {len(seen)}")


# -------------------------------------------------------------------------------------- PII
def _text_of(path: Path) -> str:
    if path.suffix == ".pdf":
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path)
        return "\n".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)
    if path.suffix == ".parquet":
        con = duckdb.connect()
        rows = con.execute("select * from read_parquet(?)", [str(path)]).fetchall()
        con.close()
        return str(rows)
    return path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.reliability("pii")
def test_nothing_published_carries_pii(golden_docs):
    home = golden_docs  # six months published and reported, and the docs site (`tierwise docs`)
    con = duckdb.connect(str(home / "serving" / "serving.duckdb"), read_only=True)
    tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
    for schema, table in tables:
        text = str(con.execute(f'select * from {schema}."{table}"').fetchall())
        assert not leaks(text), (schema, table, leaks(text)[:3])
    con.close()
    files = [p for p in (home / "serving" / "parquet" / "current").resolve().rglob("*.parquet")]
    files += [p for p in (home / "reports").rglob("monthly_review.*")]
    files += [p for p in (home / "docs").rglob("*") if p.suffix in (".html", ".json")]
    assert len(files) > 20 and (home / "docs" / "index.html") in files
    for path in files:
        assert not leaks(_text_of(path)), path
    # what the orchestration keeps: Dagster's run and event storage and compute logs, dbt's
    # artifacts and logs (read as bytes: SQLite files hold their text as UTF-8)
    kept = [p for root in ("dagster", "dbt", "logs") for p in (home / root).rglob("*") if p.is_file()]
    assert len(kept) > 20
    for path in kept:
        assert not leaks(path.read_bytes().decode("utf-8", errors="replace")), path


@pytest.mark.reliability("pii")
def test_pii_lives_only_in_the_restricted_raw_schema(golden_sequential):
    con = duckdb.connect(str(home_db := golden_sequential / "warehouse" / "build.duckdb"), read_only=True)
    schemas = {
        r[0]
        for r in con.execute(
            "select distinct schema_name from duckdb_columns() where column_name in ('full_name', 'id_number', 'phone')"
        ).fetchall()
    }
    con.close()
    assert schemas == {"raw"}, home_db


# -------------------------------------------------------------------------------- bad input
@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERWISE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TIERWISE_LANDING_DIR", raising=False)
    landing = Settings.from_env().landing_dir
    landing.mkdir(parents=True)
    return tmp_path


BAD_ARGS = [
    (["run", "--month", "2025-13"], "2025-13"),
    (["run", "--month", "2025-01'; drop table marts.fct_customer_tier; --"], "YYYY-MM"),
    (["backfill", "--from", "2025-03", "--to", "2025-01"], "is after --to"),
    (["report", "--month", "25-1"], "YYYY-MM"),
    (["load", "/etc"], "outside the landing root"),
    (["load", "{landing}/../elsewhere"], "outside the landing root"),
    (["load", "{landing}/2025-04"], "does not exist"),
    (["run", "--month", "2025-01", "--rules", "{tmp}/no_such_rules"], "no_such_rules"),
]


@pytest.mark.reliability("bad_input")
@pytest.mark.parametrize(("argv", "message"), BAD_ARGS, ids=[" ".join(a[:3]) for a, _ in BAD_ARGS])
def test_bad_cli_arguments_are_refused_clearly(cli_home, capsys, argv, message):
    landing = str(Settings.from_env().landing_dir)
    argv = [a.format(landing=landing, tmp=cli_home) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses a malformed value itself
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.reliability("bad_input")
def test_a_batch_dated_in_the_future_is_refused(cli_home, capsys):
    batch = write_batch(Settings.from_env().landing_dir, batch_id="2099-12", as_of="2099-12-31")
    assert main(["load", str(batch)]) == 2
    assert "as_of_date 2099-12-31 is not a closed month yet" in capsys.readouterr().err
    assert not (Settings.from_env().warehouse_path).exists() or _no_batches(Settings.from_env().warehouse_path)


def _no_batches(db: Path) -> bool:
    con = duckdb.connect(str(db), read_only=True)
    try:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = '_load_batches'"
        ).fetchone()[0]
        return not exists or con.execute("select count(*) from raw._load_batches").fetchone()[0] == 0
    finally:
        con.close()
