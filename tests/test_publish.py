"""Publishing for BI: only the marts reach the serving database and Parquet, and a reader
holding the serving database open during a refresh is not blocked and keeps one whole
publication."""

import filecmp
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from golden_bank import MONTHS
from tierwise.cli import main
from tierwise.config import REPO_ROOT, Settings
from tierwise.publish import (
    COMPLETE_MARKER,
    PREPARED_DIR,
    current_release_db,
    prepare_month_base,
    publish,
    serving_dir,
)
from warehouses import snapshot


@pytest.fixture
def home(golden_mar, tmp_path, monkeypatch):
    """A copy of the golden bank: six months loaded, January to March built."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_mar, tmp_path / "home")))
    return Settings.from_env()


def _build(first, last):
    assert main(["backfill", "--from", first, "--to", last]) == 0


def test_only_marts_and_the_audit_record_are_published(home):
    result = publish(home, run_id="t1")
    reader = duckdb.connect(str(result.serving_path), read_only=True)
    schemas = {r[0] for r in reader.execute("select distinct schema_name from duckdb_tables()").fetchall()}
    assert schemas == {"marts", "audit"}
    # The build run's test results and rule seeds travel with the marts: every test passed or
    # warned (the golden bank is clean), and every seed in seeds/ is listed with its hash.
    statuses = dict(reader.execute("select status, count(*) from audit.test_results group by all").fetchall())
    assert set(statuses) == {"pass"} and statuses["pass"] > 100
    seeds = {r[0] for r in reader.execute("select seed from audit.rule_versions").fetchall()}
    assert seeds == {p.stem for p in (REPO_ROOT / "seeds").glob("*.csv")}
    tables = {r[0] for r in reader.execute("select table_name from duckdb_tables()").fetchall()}
    assert {"fct_customer_tier", "fct_churn_signals", "dim_customers", "_publication"} <= tables
    columns = {r[0] for r in reader.execute("select column_name from duckdb_columns()").fetchall()}
    assert {"full_name", "id_number", "phone"}.isdisjoint(columns)
    text = str(reader.execute("select * from marts.dim_customers").fetchall())
    assert "张伟" not in text and "张*" in text
    assert (
        reader.execute("select count(*) from marts.fct_customer_tier").fetchone()[0]
        == result.row_counts["fct_customer_tier"]
    )
    reader.close()
    parquet = sorted(p.name for p in (result.parquet_dir / "fct_customer_tier").iterdir())
    assert parquet == ["as_of_date=2025-01-31", "as_of_date=2025-02-28", "as_of_date=2025-03-31"]
    assert (result.parquet_dir / "dim_tier_thresholds.parquet").is_file()  # not dated: one file
    assert (result.parquet_dir / "_audit" / "test_results.parquet").is_file()


def test_reader_keeps_its_publication_while_a_refresh_publishes(home):
    first = publish(home, run_id="t1")
    reader = duckdb.connect(str(first.serving_path), read_only=True)
    query = "select count(distinct as_of_date) from marts.fct_customer_tier"
    assert reader.execute(query).fetchone()[0] == 3
    # The refresh runs while the reader is connected: neither blocks the other.
    _build(MONTHS[3], MONTHS[5])
    second = publish(home, run_id="t2")
    assert reader.execute(query).fetchone()[0] == 3  # still the whole earlier publication
    assert reader.execute("select run_id from marts._publication").fetchone()[0] == "t1"
    reader.close()
    fresh = duckdb.connect(str(second.serving_path), read_only=True)
    assert fresh.execute(query).fetchone()[0] == 6
    assert fresh.execute("select run_id from marts._publication").fetchone()[0] == "t2"
    fresh.close()
    assert (second.parquet_dir / "fct_customer_tier" / "as_of_date=2025-06-30").is_dir()


# ---------------------------------------------------------------- a month's publish
def _differences(con, left: str, right: str) -> dict[str, int]:
    """Rows of each marts/audit table in one attached database and not the other (both ways, as
    multisets); the publication's own record (release, run, time) is left out."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? "
        "and schema_name in ('marts', 'audit') and table_name not in ('_publication', 'publications')",
        [left],
    ).fetchall()
    assert len(tables) > 15
    diffs = {}
    for schema, name in tables:
        a, b = f'{left}.{schema}."{name}"', f'{right}.{schema}."{name}"'
        count = con.execute(
            f"select (select count(*) from (from {a} except all from {b})) "
            f"+ (select count(*) from (from {b} except all from {a}))"
        ).fetchone()[0]
        if count:
            diffs[f"{schema}.{name}"] = count
    return diffs


def _parquet_rows(release: Path) -> dict[str, list]:
    """Every Parquet table of a release folder, read back whole (month folders as a hive column)."""
    con = duckdb.connect()
    tables = {}
    for path in sorted([*release.glob("*"), *release.glob("_audit/*")]):
        if path.name.startswith("_") and path.is_dir() or path.name == COMPLETE_MARKER:
            continue
        if path.name in ("_publication.parquet", "publications.parquet"):
            continue
        if path.is_dir():  # a dated table: one folder per month (none when it has no rows)
            files = sorted(path.glob("*/*.parquet"))
            source = f"read_parquet({[str(f) for f in files]}, hive_partitioning = true)" if files else None
        else:
            source = f"read_parquet('{path}')"
        rows = con.execute(f"from {source}").fetchall() if source else []
        tables[str(path.relative_to(release))] = sorted(rows, key=repr)
    con.close()
    return tables


def test_month_publish_equals_a_full_publish(golden_sequential, tmp_path, monkeypatch):
    """The golden warehouse was published month by month (each run wrote its months into a copy
    of the previous release and linked the other months' Parquet); a full publish of the same
    build gives the same rows in every table, in the serving file and in Parquet."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_sequential, tmp_path / "home")))
    settings = Settings.from_env()
    releases = sorted((settings.home / "serving" / "parquet" / "releases").iterdir())
    # June's release shares January's month files with May's: they are links, not copies
    may, june = (r / "fct_customer_tier" / "as_of_date=2025-01-31" for r in releases[-2:])
    assert [p.stat().st_ino for p in may.iterdir()] == [p.stat().st_ino for p in june.iterdir()]
    assert [p.stat().st_ino for p in (releases[-2] / "fct_customer_tier" / "as_of_date=2025-06-30").glob("*")] == []
    month_published = _parquet_rows(releases[-1])
    month_file = current_release_db(settings)

    full = publish(settings, run_id="full")
    assert full.mode == "full" and full.why_full is None  # no run's months: everything is written
    con = duckdb.connect()
    con.execute(f"attach '{month_file}' as by_month (read_only)")
    con.execute(f"attach '{current_release_db(settings)}' as in_full (read_only)")
    assert _differences(con, "by_month", "in_full") == {}
    con.close()
    assert _parquet_rows(full.parquet_dir.resolve()) == month_published
    new_jan = full.parquet_dir.resolve() / "fct_customer_tier" / "as_of_date=2025-01-31"
    assert {p.stat().st_ino for p in new_jan.iterdir()}.isdisjoint(p.stat().st_ino for p in june.iterdir())


def _record_run(settings: Settings, month: str, full_refresh: bool) -> None:
    """A run recorded as a dbt step records it (audit.runs), after the release BI reads."""
    con = settings.connect()
    try:
        con.execute(
            "insert into audit.runs (run_id, from_month, to_month, package_versions, rules_sha256, recorded_at, "
            "full_refresh) values ('later', ?, ?, '{}', 'x', now()::timestamp + interval 5 second, ?)",
            [month, month, full_refresh],
        )
    finally:
        con.close()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("month", None),
        ("full refresh", "rebuilt every month"),
        ("January changed by hand", "fct_customer_tier of 2025-01-31 differs"),
        ("a column added", "the columns of marts.dim_customers changed"),
        ("a table added", None),
    ],
)
def test_month_publish_writes_only_what_it_can_vouch_for(golden_sequential, tmp_path, monkeypatch, case, expected):
    """A publish with a run's months starts from the release BI reads only when nothing outside
    those months can have changed; otherwise it is a full publish and says why. Either way the
    serving file holds exactly what the build holds."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_sequential, tmp_path / "home")))
    settings = Settings.from_env()
    _record_run(settings, "2025-06", full_refresh=case == "full refresh")
    con = settings.connect()
    try:
        if case == "January changed by hand":
            con.execute(
                "delete from marts.fct_customer_tier where rowid = "
                "(select min(rowid) from marts.fct_customer_tier where as_of_date = '2025-01-31')"
            )
        if case == "a column added":
            con.execute("alter table marts.dim_customers add column note varchar")
        if case == "a table added":  # copied whole into the month's publish
            con.execute("create table audit.new_record as select 1 as n")
    finally:
        con.close()
    result = publish(settings, run_id="later", months=["2025-06"])
    if expected is None:
        # June and the back-test horizon before it (tier_policy: 3 months), nothing else
        assert (result.mode, result.months_rewritten) == ("month", ["2025-03", "2025-04", "2025-05", "2025-06"])
    else:
        assert result.mode == "full" and expected in result.why_full
    con = settings.connect()
    try:
        con.execute(f"attach '{current_release_db(settings)}' as served (read_only)")
        assert _differences(con, "served", con.execute("select current_database()").fetchone()[0]) == {}
        if case == "a table added":
            assert con.execute("select n from served.audit.new_record").fetchall() == [(1,)]
    finally:
        con.close()


@pytest.mark.parametrize("copy", ["of the release", "of a release touched since", "blocked by a file"])
def test_a_months_publish_takes_the_release_copied_beside_the_build(golden_sequential, tmp_path, monkeypatch, copy):
    """The build step copies the release BI reads (prepare_month_base) while it builds; the
    month's publish then moves that copy in instead of copying the release itself. A copy of a
    release whose size or mtime moved since is not used: the publish copies the release then.
    Either way the served file holds what the build holds and no copy is left behind."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_sequential, tmp_path / "home")))
    settings = Settings.from_env()
    _record_run(settings, "2025-06", full_refresh=False)
    served = current_release_db(settings)
    if copy == "blocked by a file":  # what stops the copy stops neither the build nor the publish
        shutil.rmtree(serving_dir(settings) / PREPARED_DIR, ignore_errors=True)  # the chain's runs made it
        (serving_dir(settings) / PREPARED_DIR).write_text("not a folder")
        assert prepare_month_base(settings) is None
        result = publish(settings, run_id="later", months=["2025-06"])
        assert result.mode == "month" and (serving_dir(settings) / PREPARED_DIR).is_file()
        _assert_served_equals_build(settings)
        return
    thread = prepare_month_base(settings)
    assert thread is not None
    thread.join()
    prepared = serving_dir(settings) / PREPARED_DIR / served.name
    assert filecmp.cmp(prepared, served, shallow=False)
    assert prepare_month_base(settings) is None  # one copy per release
    kept = tmp_path / "copy.duckdb"
    os.link(prepared, kept)  # holds the copy's inode, so no file made later can reuse its number
    copied = kept.stat().st_ino
    if copy == "of a release touched since":
        stat = served.stat()
        os.utime(served, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    result = publish(settings, run_id="later", months=["2025-06"])
    assert result.mode == "month"
    assert (current_release_db(settings).stat().st_ino == copied) == (copy == "of the release")
    assert not list((serving_dir(settings) / PREPARED_DIR).iterdir())
    _assert_served_equals_build(settings)


def _assert_served_equals_build(settings: Settings) -> None:
    con = settings.connect()
    try:
        con.execute(f"attach '{current_release_db(settings)}' as served (read_only)")
        assert _differences(con, "served", con.execute("select current_database()").fetchone()[0]) == {}
    finally:
        con.close()


def test_a_full_publish_records_a_revision_for_every_month_it_changes(golden_sequential, tmp_path, monkeypatch):
    """A publish that is not a month's (here `tierwise publish` after a change made by hand) cannot
    know which months changed since BI last read them: it compares every month with its latest
    revision, and only the changed month gets a new one, with the changed row counted."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_sequential, tmp_path / "home")))
    settings = Settings.from_env()
    revisions = "select strftime(as_of_date, '%Y-%m'), max(revision) from audit.revisions group by 1 order by 1"
    con = settings.connect()
    try:
        before = dict(con.execute(revisions).fetchall())
        con.execute(
            "update marts.fct_customer_month set aum_cny = aum_cny + 1 where rowid = "
            "(select min(rowid) from marts.fct_customer_month where as_of_date = '2025-02-28')"
        )
    finally:
        con.close()
    assert main(["publish", "--run-id", "by-hand"]) == 0
    con = settings.connect()
    try:
        after = dict(con.execute(revisions).fetchall())
        assert after == {**before, "2025-02": before["2025-02"] + 1}
        changed = con.execute(
            "select mart, rows_added, rows_removed, rows_changed from audit.revisions "
            "where run_id = 'by-hand' and (rows_added + rows_removed + rows_changed) > 0"
        ).fetchall()
        assert changed == [("fct_customer_month", 0, 0, 1)]
    finally:
        con.close()
