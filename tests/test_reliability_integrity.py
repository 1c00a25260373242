"""Reliability II: integrity of what is published, hostile text in reports, batches, operations.

What an operator and a hostile extract broke before (each case a behaviour, not one value):
re-running an earlier month unpublished the later ones; a failed publish was credited in the
audit trail and pruning deleted the good release; a report failing after publish left a mixed
folder; a second batch for a month bricked it; text cells became formulas; `tierwise load`
during a refresh ended in a lock traceback.

Every case starts from its own copy of a session state (tests/warehouses.py), so any runs alone.
Only `test_rerunning_an_earlier_month_rebuilds_the_later_ones_too` runs a refresh of its own:
what it checks is that refresh.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import openpyxl
import pytest
from golden_bank import MONTHS
from markupsafe import escape
from tierwise import publish as publish_module
from tierwise.config import Settings
from tierwise.publish import PublishRefused, publish
from warehouses import TIERWISE, cli, cli_env, snapshot

JAN, FEB, MAR = MONTHS[0], MONTHS[1], MONTHS[2]


def _serving(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "serving" / "serving.duckdb"), read_only=True)


def _published_months(home: Path) -> list[str]:
    con = _serving(home)
    try:
        rows = con.execute("select distinct strftime(as_of_date, '%Y-%m') from marts.fct_customer_tier order by 1")
        return [r[0] for r in rows.fetchall()]
    finally:
        con.close()


def _settings(home: Path, monkeypatch) -> Settings:
    monkeypatch.setenv("TIERWISE_HOME", str(home))
    return Settings.from_env()


# ---------------------------------------------------------------- integrity
@pytest.mark.reliability("integrity")
def test_rerunning_an_earlier_month_rebuilds_the_later_ones_too(golden_mar, tmp_path):
    """January..March published; `tierwise run --month FEB` must not drop March: it rebuilds
    February and March in one run and publishes both (the same marts as before: same inputs)."""
    home = snapshot(golden_mar, tmp_path / "home")
    before = _published_months(home)
    assert before == [JAN, FEB, MAR]
    revisions_sql = "select strftime(as_of_date, '%Y-%m'), max(revision) from audit.revisions group by 1 order by 1"
    con = _serving(home)
    customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    revisions_before = con.execute(revisions_sql).fetchall()
    con.close()
    done = cli(home, "run", "--month", FEB)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"months {MAR}..{MAR} are built after {FEB}" in done.stdout
    assert _published_months(home) == before
    con = _serving(home)
    try:
        assert con.execute("select count(*) from marts.dim_customers").fetchone()[0] == customers
        revisions = con.execute(revisions_sql).fetchall()
    finally:
        con.close()
    # identical inputs: no month got a new revision, and March is still on record
    assert revisions == revisions_before and [m for m, _ in revisions] == [JAN, FEB, MAR]


@pytest.mark.reliability("integrity")
def test_a_run_that_would_drop_built_months_is_refused_before_dbt(golden_mar, tmp_path, monkeypatch):
    """The Dagster asset (schedule, UI, sensor) cannot extend a partition range: it refuses,
    naming the months and the command, before dbt touches anything."""
    import dagster as dg
    from tierwise.defs.dbt_assets import refuse_dropping_built_months

    home = snapshot(golden_mar, tmp_path / "home")
    settings = _settings(home, monkeypatch)
    with pytest.raises(
        dg.Failure, match=rf"months {FEB}\.\.{MAR} are built after {JAN}.*backfill --from {JAN} --to {MAR}"
    ):
        refuse_dropping_built_months(settings, JAN, JAN)
    refuse_dropping_built_months(settings, FEB, MAR)  # a run through the latest built month is fine


@pytest.mark.reliability("integrity")
def test_publishing_a_build_that_lost_a_published_month_is_refused(golden_mar, tmp_path, monkeypatch):
    home = snapshot(golden_mar, tmp_path / "home")
    settings = _settings(home, monkeypatch)
    release_before = sorted((home / "serving" / "releases").iterdir())
    con = settings.connect()
    con.execute("delete from marts.fct_customer_tier where as_of_date = last_day(cast(? as date))", [f"{MAR}-01"])
    con.close()
    with pytest.raises(PublishRefused, match=rf"no longer holds month\(s\) {MAR}"):
        publish(settings, run_id="lost-march", months=[FEB])
    assert _published_months(home) == [JAN, FEB, MAR]
    assert sorted((home / "serving" / "releases").iterdir()) == release_before


def _change_one_mart_row(settings: Settings, month: str) -> None:
    con = settings.connect()
    con.execute(
        "update marts.fct_customer_month set aum_cny = aum_cny + 1 where as_of_date = last_day(cast(? as date)) "
        "and customer_id = (select min(customer_id) from marts.fct_customer_month)",
        [f"{month}-01"],
    )
    con.close()


@pytest.mark.reliability("integrity")
def test_a_failed_publish_is_not_credited_and_pruning_keeps_complete_releases(golden_jan, tmp_path, monkeypatch):
    """Disk full at the end of a publish: nothing of it is recorded (audit.revisions), its folder and
    staging file are gone, BI still reads the previous release; the next publish records the
    revision under its own run, and pruning keeps complete releases only."""
    home = snapshot(golden_jan, tmp_path / "home")
    settings = _settings(home, monkeypatch)
    first = publish(settings, run_id="second-release", months=[JAN])  # two complete releases on disk
    _change_one_mart_row(settings, JAN)

    written = publish_module._write_release

    def disk_full(*args, **kwargs):
        written(*args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish_module, "_write_release", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish(settings, run_id="failed-run", months=[JAN])
    monkeypatch.setattr(publish_module, "_write_release", written)
    serving_root = home / "serving"
    con = _serving(home)
    assert con.execute("select release from marts._publication").fetchone()[0] == first.release
    con.close()
    assert not list(serving_root.glob(".serving-*"))
    folders = sorted(p.name for p in (serving_root / "parquet" / "releases").iterdir())
    assert first.release in folders and all(
        (serving_root / "parquet" / "releases" / f / "_SUCCESS").exists() for f in folders
    )
    con = settings.connect()
    assert con.execute("select count(*) from audit.revisions where run_id = 'failed-run'").fetchone()[0] == 0
    con.close()

    # a publish that died before its swap (SIGKILL: no cleanup ran) leaves an incomplete folder
    # and revisions of a release that never swapped: the next publish removes both
    orphan = serving_root / "parquet" / "releases" / "20000101T000000-000000"
    orphan.mkdir()
    (orphan / "fct_customer_tier").mkdir()
    con = settings.connect()
    con.execute(
        "insert into audit.revisions select as_of_date, 99, mart, 'killed-run', 99, 0, 0, 0, 0, recorded_at, "
        "'20000101T000000-000000' from audit.revisions limit 1"
    )
    con.close()
    third = publish(settings, run_id="next-run", months=[JAN])
    con = _serving(home)
    try:
        credited = con.execute("select distinct run_id from audit.revisions where revision = 2").fetchall()
        published = con.execute("select release, run_id from audit.publications order by release").fetchall()
        assert con.execute("select count(*) from audit.revisions where revision = 99").fetchone()[0] == 0
    finally:
        con.close()
    assert credited == [("next-run",)]
    assert published[-1] == (third.release, "next-run") and ("failed-run",) not in [(r,) for _, r in published]
    folders = sorted(p.name for p in (serving_root / "parquet" / "releases").iterdir())
    assert folders == [first.release, third.release]  # newest complete two; the orphan is gone
    assert os.readlink(serving_root / "parquet" / "current") == f"releases/{third.release}"


# ---------------------------------------------------------------- reports: staging, injection
HOSTILE = {
    "formula": '=HYPERLINK("http://x.invalid","x")',
    "plus": "+<b>1</b>-2",
    "at": "@SUM(A1)",
    "control": "\x0b张*",
}


def _hostile_release(home: Path) -> Path:
    """A copy of the served release whose customer names and branch ids are hostile text (as an
    extract could deliver them: the report reads them from the marts)."""
    from tierwise.publish import current_release_db

    source = current_release_db(Settings(home=home))
    target = home / "hostile.duckdb"
    shutil.copy(source, target)
    con = duckdb.connect(str(target))
    values = list(HOSTILE.values())
    ids = [r[0] for r in con.execute("select customer_id from marts.dim_customers order by 1").fetchall()]
    for i, customer in enumerate(ids):
        con.execute(
            "update marts.dim_customers set masked_name = ?, home_branch_id = ? where customer_id = ?",
            [values[i % len(values)], values[(i + 1) % len(values)], customer],
        )
    con.close()
    return target


@pytest.mark.reliability("injection")
def test_workbook_text_is_never_a_formula_and_sheet_names_are_valid(golden_sequential, tmp_path):
    """Customer names and branch ids starting with =, +, @ or a control character (April: the
    watchlist and the downgrade watch list customers by name and branch)."""
    from tierwise.reporting import render_review

    home = snapshot(golden_sequential, tmp_path / "home")
    serving = _hostile_release(home)
    files = render_review(serving, MONTHS[3], tmp_path / "reports", langs=["zh"], formats=["html", "xlsx"])
    workbook = openpyxl.load_workbook(files.files[("zh", "xlsx")])
    seen = set()
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    seen.add(cell.value)
                    if cell.value.startswith(("=", "+", "-", "@")):
                        assert cell.quotePrefix, f"{ws.title}!{cell.coordinate} {cell.value!r} is not marked text"
    hostile = [v for v in (HOSTILE["formula"], HOSTILE["plus"], HOSTILE["at"]) if v in seen]
    assert hostile, "no hostile text reached the workbook: the case would prove nothing"
    assert not any("\x0b" in v for v in seen)  # the control character is dropped (openpyxl refuses it)
    # the page: the same text escaped as markup, the control character dropped there too
    page = files.files[("zh", "html")].read_text(encoding="utf-8")
    assert "\x0b" not in page
    for value in hostile:
        assert str(escape(value)) in page
        assert "<b>" not in value or value not in page
    titles = [ws.title for ws in workbook.worksheets]
    assert len({t.casefold() for t in titles}) == len(titles)
    assert all(0 < len(t) <= 31 and not t.startswith("'") and not t.endswith("'") for t in titles)


def test_sheet_titles_are_unique_case_insensitively_and_valid():
    from tierwise.reporting.render import _sheet_title

    used: set[str] = set()
    titles = [_sheet_title(t, used) for t in ("Branch A", "branch a", "'quoted'", "x" * 40, "x" * 40, "a/b:c", "''")]
    assert len({t.casefold() for t in titles}) == len(titles)
    assert titles[2] == "quoted" and titles[5] == "a_b_c" and titles[6] == "Sheet"
    assert all(len(t) <= 31 for t in titles)


@pytest.mark.reliability("integrity")
def test_a_report_that_fails_half_way_leaves_the_previous_folder_whole(golden_jan, tmp_path, monkeypatch):
    from tierwise import reporting

    home = snapshot(golden_jan, tmp_path / "home")
    settings = Settings(home=home)
    month_dir = settings.reports_dir / JAN
    before = {p.name: p.read_bytes() for p in month_dir.iterdir()}
    assert "monthly_review.zh.xlsx" in before and "_render.json" in before

    def broken(*args, **kwargs):
        raise ValueError("the Excel writer failed")

    monkeypatch.setattr(reporting, "write_excel", broken)
    serving = _hostile_release(home)
    with pytest.raises(ValueError, match="Excel writer failed"):
        reporting.render_review(serving, JAN, settings.reports_dir, formats=["html", "xlsx"])
    assert {p.name: p.read_bytes() for p in month_dir.iterdir()} == before
    assert not list((settings.reports_dir / ".staging").iterdir())


# ---------------------------------------------------------------- batches
def _second_batch(landing: Path, month: str, batch_id: str) -> Path:
    folder = landing.parent / "deliveries" / f"{month}-r2"
    shutil.copytree(landing / month, folder)
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["batch_id"] = batch_id
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.reliability("integrity")
def test_a_second_batch_for_a_month_is_refused_naming_the_batch_in_place(golden_loaded, tmp_path):
    home = snapshot(golden_loaded, tmp_path / "home")
    landing = home / "landing"
    second = _second_batch(landing, FEB, f"{FEB}-r2")
    delivered_to = landing / f"{FEB}-r2"
    shutil.move(second, delivered_to)
    refused = cli(home, "load", str(delivered_to))
    assert refused.returncode == 2, refused.stderr
    assert f"month {FEB} already has batch '{FEB}'" in refused.stderr and "Traceback" not in refused.stderr

    listed = cli(home, "batches")
    assert listed.returncode == 0 and listed.stdout.count("\n") == 1 + len(MONTHS)
    assert f"\n{FEB}\t" in listed.stdout

    assert cli(home, "batches", "retract", FEB).returncode == 2  # no reason given
    retracted = cli(home, "batches", "retract", FEB, "--reason", "wrong extract, re-delivered as r2")
    assert retracted.returncode == 0, retracted.stderr
    loaded = cli(home, "load", str(delivered_to))
    assert loaded.returncode == 0, loaded.stderr
    con = duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True)
    try:
        batches = con.execute("select batch_id from raw._load_batches where strftime(as_of_date, '%Y-%m') = ?", [FEB])
        assert batches.fetchall() == [(f"{FEB}-r2",)]
        log = con.execute("select batch_id, reason, rows_removed from raw._batch_retractions").fetchall()
        left = con.execute("select count(*) from raw.deposit_balances where _batch_id = ?", [FEB]).fetchone()[0]
    finally:
        con.close()
    assert [(b, r) for b, r, _ in log] == [(FEB, "wrong extract, re-delivered as r2")]
    assert json.loads(log[0][2])["deposit_balances"] > 0 and left == 0


# ---------------------------------------------------------------- operations
@pytest.mark.reliability("operations")
def test_load_while_the_warehouse_is_held_waits_then_refuses_plainly(golden_loaded, tmp_path):
    home = snapshot(golden_loaded, tmp_path / "home")
    batch = str(home / "landing" / JAN)
    holder = subprocess.Popen(  # another process holds the build database, as a refresh does, until told
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.readline()", str(home / "warehouse" / "build.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = cli(home, "load", batch, TIERWISE_WAREHOUSE_WAIT_SECONDS="1")
        assert refused.returncode == 2
        assert "in use by another process" in refused.stderr and "Traceback" not in refused.stderr
        waiting = subprocess.Popen(
            [TIERWISE, "load", batch], env=cli_env(home, TIERWISE_WAREHOUSE_WAIT_SECONDS="120"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        said = []
        for line in waiting.stderr:  # released only once the load has said it waits: no race with a slow start
            said.append(line)
            if "waiting for the warehouse" in line:
                break
        assert any("waiting for the warehouse" in line for line in said), "".join(said)
        holder.stdin.write("release\n")
        holder.stdin.flush()
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, "".join(said) + err
        assert "unchanged" in out
    finally:
        holder.kill()
        holder.wait(timeout=30)


@pytest.mark.reliability("operations")
def test_load_and_publish_take_the_build_pool_a_run_holds(golden_jan, tmp_path):
    """`tierwise load` and `tierwise publish` share the Dagster pool of the refresh's steps (one
    writer): while a run's step holds it they wait, then refuse plainly; a command that died
    holding it does not block the next one."""
    from tierwise.pool import BUILD_POOL
    from tierwise.refresh import instance_for

    home = snapshot(golden_jan, tmp_path / "home")
    instance = instance_for(Settings(home))  # the home's own Dagster instance, as the CLI opens it
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(BUILD_POOL)
    assert storage.claim_concurrency_slot(BUILD_POOL, "run-in-progress", "tierwise_dbt").is_claimed
    refused = cli(home, "load", str(home / "landing" / FEB), TIERWISE_WAREHOUSE_WAIT_SECONDS="2")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "waiting for the build pool tierwise_build_db, held by run-in-progress" in refused.stderr
    assert "REFUSED the build pool tierwise_build_db is held by run-in-progress" in refused.stderr
    storage.free_concurrency_slot_for_step("run-in-progress", "tierwise_dbt")

    gone = subprocess.Popen(["true"])  # its pid: a process that is no longer running
    gone.wait()
    stale = f"cli-{socket.gethostname()}-{gone.pid}-0dead0"
    assert storage.claim_concurrency_slot(BUILD_POOL, stale, "load").is_claimed
    published = cli(home, "publish", TIERWISE_WAREHOUSE_WAIT_SECONDS="30")
    assert published.returncode == 0, published.stderr
    assert f"({stale}): slot freed" in published.stderr
    info = storage.get_concurrency_info(BUILD_POOL)
    assert info.active_run_ids == set() and info.pending_run_ids == set()  # released after use


# ---------------------------------------------------------------- PII in orchestration storage
@pytest.mark.reliability("pii")
def test_a_refusal_never_quotes_personal_data_into_logs_or_dagster(golden_jan, tmp_path):
    """An ID number delivered in birth_date: February's refresh is refused at the landing step,
    naming file, row and column; the value is in no message, log, or Dagster storage."""
    import hashlib

    home = snapshot(golden_jan, tmp_path / "home")
    folder = home / "landing" / FEB
    path = folder / "customers.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[2].split(",")
    id_number = fields[2]
    fields[4] = id_number  # birth_date holds the ID number
    lines[2] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["tables"]["customers"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "_manifest.json").write_text(json.dumps(manifest))

    refused = cli(home, "run", "--month", FEB)
    assert refused.returncode == 1
    assert "customers.csv: row 2 column birth_date: the value (not quoted: personal data)" in refused.stderr
    assert id_number not in refused.stdout + refused.stderr
    scanned = 0
    for root in ("dagster", "logs", "dbt"):
        for file in (home / root).rglob("*"):
            if file.is_file():
                scanned += 1
                assert id_number.encode() not in file.read_bytes(), file
    assert scanned > 5


@pytest.mark.reliability("operations")
def test_dbt_targets_and_dagster_runs_are_pruned_to_the_retention_setting(tmp_path, monkeypatch):
    import dagster as dg
    from tierwise.retention import prune_dagster_runs, prune_dbt_targets

    monkeypatch.setenv("TIERWISE_KEEP_RUNS", "3")
    settings = Settings(home=tmp_path / "home")
    for i in range(6):
        folder = settings.dbt_target_dir / f"tierwise_dbt-run{i}-abc"
        folder.mkdir(parents=True)
        os.utime(folder, (1_000_000 + i, 1_000_000 + i))
    (settings.dbt_target_dir / "manifest.json").write_text("{}")  # the parsed project is not a run's folder
    removed = prune_dbt_targets(settings)
    assert sorted(removed) == [f"tierwise_dbt-run{i}-abc" for i in range(3)]
    assert sorted(p.name for p in settings.dbt_target_dir.iterdir()) == [
        "manifest.json",
        *[f"tierwise_dbt-run{i}-abc" for i in range(3, 6)],
    ]

    @dg.op
    def noop():
        return 1

    @dg.job
    def tiny():
        noop()

    instance = dg.DagsterInstance.ephemeral()
    runs = [tiny.execute_in_process(instance=instance).run_id for _ in range(5)]
    removed = prune_dagster_runs(instance)
    assert removed == list(reversed(runs[:2]))
    assert [r.run_id for r in instance.get_runs()] == list(reversed(runs[2:]))
    with pytest.raises(ValueError, match="TIERWISE_KEEP_RUNS"):
        monkeypatch.setenv("TIERWISE_KEEP_RUNS", "0")
        prune_dbt_targets(settings)


@pytest.mark.reliability("operations")
def test_a_second_refresh_waits_for_the_first_and_says_so(tmp_path):
    """Two `tierwise run` of one warehouse: the second waits for the first (refresh_lock) and
    says which process it waits for, instead of failing on DuckDB's lock."""
    from tierwise.refresh import refresh_lock

    settings = Settings(home=tmp_path / "home")
    said: list[str] = []
    with refresh_lock(settings, said.append):
        holder_pid = os.getpid()
        waiter = subprocess.Popen(
            [sys.executable, "-c", "import sys, time; from tierwise.config import Settings; "
             "from tierwise.refresh import refresh_lock; from pathlib import Path\n"
             "with refresh_lock(Settings(home=Path(sys.argv[1])), lambda m: print(m, flush=True)):\n"
             "    print('ran', time.time(), flush=True)",
             str(settings.home)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        # held until the second process says it waits (however long a busy machine takes to start
        # it), so nothing here depends on timing
        first = waiter.stdout.readline()
        released = time.time()
    out, _ = waiter.communicate(timeout=60)
    assert said == []  # the first refresh did not wait
    assert f"waiting: another refresh of {settings.home} is running (pid {holder_pid}" in first
    ran_at = float(out.split("ran ")[1].split()[0])
    assert ran_at >= released


@pytest.mark.reliability("operations")
def test_an_unreachable_spark_endpoint_is_refused_plainly(golden_loaded, tmp_path):
    """An operator's TIERWISE_SPARK_HOST/PORT that reaches nothing: `tierwise spark` says where it
    looked and what to set, exit 1, no Python traceback (no cluster needed)."""
    home = snapshot(golden_loaded, tmp_path / "home")
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
        refused = cli(home, "spark", "--from", MONTHS[0], "--to", MONTHS[0], TIERWISE_SPARK_HOST="127.0.0.1",
                      TIERWISE_SPARK_PORT=port, timeout=300)  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"cannot reach the Spark Thrift server at 127.0.0.1:{port}" in refused.stderr
    assert "TIERWISE_SPARK_PORT" in refused.stderr and "Traceback" not in refused.stderr
