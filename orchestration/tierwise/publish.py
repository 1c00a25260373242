"""Publish the marts for BI: a read-only serving DuckDB file and Parquet, swapped atomically.

DuckDB allows one read-write process or many readers. BI reads `serving/serving.duckdb`;
dbt writes the build database. A publication copies only the `marts` schema and the run's
`audit` record (test results, rule seeds in force) — never raw, staging or PII — into a new
file, checkpoints and closes it, then renames it over the serving file (`os.replace`, atomic
on POSIX): a reader that already opened the old file keeps reading it whole, a new reader
sees the new one, nobody sees half a month and nobody blocks the refresh. Parquet (one folder
per dated mart, partitioned by as_of_date; reference tables and `_audit/` one file each) is
written to a new release folder and the `current` symlink is swapped the same way.

A month's refresh publishes only what it changed: the new serving file starts as a copy of the
release BI reads now (never that file itself: releases are immutable), in which the months the
unpublished runs rebuilt are replaced in the month-incremental marts and in the revision history,
and every other table is copied whole; the new Parquet release hard-links the unchanged month
folders of the current one and writes the changed months. Anything it cannot vouch for (no
release to start from, a full refresh or rules change since, a changed table or column, a month
outside the run whose row counts differ from the build's) makes it a full publish, and a month's
publish whose tables do not count what the build holds is discarded and done in full.

The copy of the release file (the largest part of a month's publish at bank scale) is made
beside the build: the build step starts it (prepare_month_base) and the publish takes it if it
is a finished copy of the release it starts from, unchanged since; otherwise it copies then.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from tierwise.config import Settings
from tierwise.months import as_of_date, month_range
from tierwise.revisions import (
    MonthRevision,
    discard_revisions,
    mart_keys,
    reconcile_publications,
    record_publication,
    record_revisions,
)

KEEP_RELEASES = 2  # DuckDB files and Parquet folders
# The serving file's on-disk format: DuckDB 2.x writes storage version 69 by default, which the
# DuckDB 1.x inside most BI drivers and desktop tools cannot open. v1.4.0 is read by DuckDB 1.4
# (the long-term-support line), 1.5 and 2.x (tests/test_bi_clients.py opens it with 1.4 and 1.5).
SERVING_STORAGE_VERSION = "v1.4.0"
COMPLETE_MARKER = "_SUCCESS"  # written last into a Parquet release folder (the Hadoop/Spark convention)


@dataclass
class Publication:
    release: str
    serving_path: Path
    parquet_dir: Path
    row_counts: dict[str, int]
    revisions: list[MonthRevision] = field(default_factory=list)
    # "month" (only the months in `months_rewritten` were written; the rest comes from the
    # previous release) or "full"; `why_full` says why a publish with a run's months was full
    mode: str = "full"
    months_rewritten: list[str] = field(default_factory=list)
    why_full: str | None = None


@dataclass
class MonthBase:
    """What a month's publish starts from: the release BI reads now and what changed since it."""

    release: str
    db: Path
    parquet: Path
    # the months ('YYYY-MM') each table replaced month by month gets rewritten; every other
    # table is copied whole
    months_of: dict[tuple[str, str], list[str]]

    @property
    def months(self) -> list[str]:
        return sorted({m for months in self.months_of.values() for m in months})

    def dates(self, table: tuple[str, str]) -> list[date]:
        return [as_of_date(m) for m in self.months_of[table]]

    def unchanged(self) -> dict[date, set[str]]:
        """Per month the publish records revisions for, the marts its runs did not rewrite then
        (their revision stays as it is unless their row count moved: record_revisions)."""
        return {
            as_of_date(month): {t for (s, t), months in self.months_of.items() if s == "marts" and month not in months}
            for month in self.months
        }

    def add_revisions(self, revisions: list[MonthRevision]) -> None:
        """A revision history table (audit.<mart>__revisions) gains rows in the months where this
        publish recorded a new revision of that mart."""
        for table in [t for t in self.months_of if t[0] == "audit"]:
            mart = table[1].removesuffix("__revisions")
            months = {r.as_of_date.isoformat()[:7] for r in revisions if mart in r.changed}
            self.months_of[table] = sorted(months)


class _MonthMismatch(RuntimeError):
    """A month's publish whose tables do not count what the build holds (it is redone in full)."""


def serving_dir(settings: Settings) -> Path:
    return settings.home / "serving"


def current_release_db(settings: Settings) -> Path:
    """The immutable release file serving.duckdb currently is (same inode), for readers in a
    process that may still hold an earlier serving.duckdb open (DuckDB caches by path)."""
    serving = serving_dir(settings) / "serving.duckdb"
    for candidate in sorted((serving_dir(settings) / "releases").glob("*.duckdb"), reverse=True):
        if os.path.samefile(candidate, serving):
            return candidate
    raise FileNotFoundError(f"no release file behind {serving}: publish first")


MONTHS_OF = "select distinct strftime(as_of_date, '%Y-%m') as m from {db}marts.fct_customer_tier order by m"


class PublishRefused(RuntimeError):
    """A publication that would take something away from BI without anyone asking."""


def months_in(con, database: str | None = None) -> list[str]:
    """The months ('YYYY-MM') the marts of a database hold (fct_customer_tier: every customer on
    book has a row each month); [] before the first build."""
    if not has_table(con, "marts", "fct_customer_tier", database):
        return []
    db = f"{database}." if database else ""
    return [m for (m,) in con.execute(MONTHS_OF.format(db=db)).fetchall()]


def has_table(con, schema: str, table: str, database: str | None = None) -> bool:
    """Whether `schema.table` exists in `database` (default: the connection's own)."""
    catalog = database or con.execute("select current_database()").fetchone()[0]
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
            [catalog, schema, table],
        ).fetchone()[0]
    )


def built_months(settings: Settings) -> list[str]:
    """The months the build database's marts hold."""
    if not settings.warehouse_path.exists():
        return []
    con = settings.connect()
    try:
        return months_in(con)
    finally:
        con.close()


def fault_point(name: str) -> None:
    """Test hook of the reliability suite: TIERWISE_FAULT=<name> kills this process here, as
    a power cut would. Never set in operation."""
    if os.environ.get("TIERWISE_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def _attached(con, path: Path, alias: str):
    """A database file attached read-only to the build connection for the duration."""
    con.execute(f"attach ? as {alias} (read_only)", [str(path)])
    try:
        yield
    finally:
        con.execute(f"detach {alias}")


def _clear_abandoned(root: Path) -> None:
    """Staging files of a publish that died before its swap (never read by anyone)."""
    for leftover in root.glob(".serving-*"):
        leftover.unlink(missing_ok=True)


# ------------------------------------------------------------ the month base, copied beside the build
PREPARED_DIR = ".prepared"  # under serving/: <release>.duckdb, a finished copy; .<release>.<pid>.partial
_preparing: dict[str, threading.Thread] = {}  # release file name -> its copy running in this process


def prepare_month_base(settings: Settings) -> threading.Thread | None:
    """Start copying the release file BI reads now to serving/.prepared/ in a thread, while the
    build runs (the build is CPU, the copy disk): a month's publish that starts from that release
    takes the copy instead of making it. Releases are immutable, so the copy is the bytes the
    publish would copy; it is used only when finished and when the release's size and mtime are
    those it was copied at (_take_prepared). Not a daemon thread: a step process ends only once
    its copy is finished or failed. Returns the thread, or None (no release, a copy exists, or
    less free disk than twice the release: the build keeps the room)."""
    try:
        served = current_release_db(settings)
    except FileNotFoundError:
        return None
    folder = serving_dir(settings) / PREPARED_DIR
    target = folder / served.name
    if target.exists() or (served.name in _preparing and _preparing[served.name].is_alive()):
        return None
    try:
        folder.mkdir(exist_ok=True)
        before = served.stat()
        if shutil.disk_usage(folder).free < 2 * before.st_size:
            return None  # the build may need the room (spill, its own tables); the publish copies after it
    except OSError:  # a speed-up only: whatever stops it, the build goes on and the publish copies
        return None

    def copy() -> None:
        partial = folder / f".{served.name}.{os.getpid()}.partial"
        try:
            shutil.copyfile(served, partial)
            os.utime(partial, ns=(before.st_atime_ns, before.st_mtime_ns))  # the release's mtime, checked on use
            os.replace(partial, target)
        except OSError:  # disk full, or a publish cleared it: the publish copies itself
            partial.unlink(missing_ok=True)

    thread = threading.Thread(target=copy, name=f"tierwise-prepare-{served.stem}")
    _preparing[served.name] = thread
    thread.start()
    return thread


def discard_prepared(settings: Settings) -> None:
    """Remove the finished copies of releases (a build that failed will not publish; the next
    build copies again) once this process's copies have ended."""
    folder = serving_dir(settings) / PREPARED_DIR
    for name, thread in list(_preparing.items()):
        thread.join()
        _preparing.pop(name, None)
    for leftover in folder.glob("*.duckdb") if folder.is_dir() else []:
        leftover.unlink(missing_ok=True)


def _take_prepared(root: Path, release_db: Path, staging_db: Path) -> bool:
    """Move a finished copy of release_db to staging_db if there is one and the release has not
    changed since it was copied (same size and mtime); whether it did."""
    thread = _preparing.pop(release_db.name, None)
    if thread is not None:
        thread.join()
    prepared = root / PREPARED_DIR / release_db.name
    try:
        copy, release = prepared.stat(), release_db.stat()
    except OSError:  # none, or no folder (a file where it goes): the publish copies
        return False
    if (copy.st_size, copy.st_mtime_ns) != (release.st_size, release.st_mtime_ns):
        prepared.unlink(missing_ok=True)
        return False
    os.replace(prepared, staging_db)
    return True


def _clear_prepared(root: Path, keep: str | None) -> None:
    """Copies of releases other than `keep` (never to be used), and unfinished copies of other
    processes (a process that died copying; a live one finds its copy gone and is not used)."""
    folder = root / PREPARED_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        mine = path.name.endswith(f".{os.getpid()}.partial")
        if path.name != keep and not mine:
            path.unlink(missing_ok=True)


def publish(
    settings: Settings,
    run_id: str = "manual",
    months: list[str] | None = None,
    wait_seconds: float = 0,
    log=None,
) -> Publication:
    """Copy the build database's marts into a new serving file and Parquet release, then swap.

    Nothing of a publication that fails (disk full, a crash) is credited: its staging file and
    Parquet folder are removed, its revisions are removed (here, or by the next publish when the
    process died: reconcile_publications), and release pruning counts complete releases only."""
    root = serving_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    _clear_abandoned(root)
    with contextlib.suppress(FileNotFoundError):
        _clear_prepared(root, keep=current_release_db(settings).name)
    release = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000:06d}"
    staging_db = root / f".serving-{release}.duckdb"
    parquet_root = root / "parquet"
    release_dir = parquet_root / "releases" / release
    releases_db = root / "releases"

    # Connect to the build database (in a process where dbt already opened it, this shares that
    # instance) and attach the new serving file as the target.
    con = settings.connect(wait_seconds, log=log)
    try:
        _refuse_dropping_published_months(con, root / "serving.duckdb")
        reconcile_publications(con, lambda name: (releases_db / f"{name}.duckdb").exists())
        base, why_full = (None, None) if not months else _month_base(con, settings, root)
        release_dir.mkdir(parents=True)
        try:
            # The months published get a new revision where their marts changed (audit.revisions):
            # a month's publish, the months its runs rewrote; any other publish, every month built
            # (it cannot tell which months changed since the last publication).
            keys = mart_keys(settings.dbt_target_dir / "manifest.json")
            written = base.months if base else months_in(con)
            unchanged = base.unchanged() if base else None
            revisions = record_revisions(con, [as_of_date(m) for m in written], run_id, keys, release, unchanged)
            if base:
                base.add_revisions(revisions)
            try:
                counts = _write_release(con, settings, staging_db, release_dir, release, run_id, months or [], base)
            except _MonthMismatch as exc:
                if log:
                    log(f"{exc}: publishing in full")
                _discard_files(con, staging_db, release_dir)
                release_dir.mkdir(parents=True)
                others = [as_of_date(m) for m in months_in(con) if m not in written]
                revisions += record_revisions(con, others, run_id, keys, release)
                base, why_full = None, str(exc)
                counts = _write_release(con, settings, staging_db, release_dir, release, run_id, months or [])
        except BaseException:
            _discard_release(con, staging_db, release_dir)
            raise
    finally:
        con.close()

    # Each release keeps its own immutable file (what the report reads); serving.duckdb is a
    # hard link to the newest, swapped in by an atomic rename.
    releases_db.mkdir(exist_ok=True)
    release_path = releases_db / f"{release}.duckdb"
    fault_point("publish-before-swap")
    os.replace(staging_db, release_path)
    serving_path = root / "serving.duckdb"
    link = root / f".serving-{release}.link"
    os.link(release_path, link)
    os.replace(link, serving_path)
    con = settings.connect()
    try:
        record_publication(con, release, run_id, months or [])
    finally:
        con.close()
    for old in sorted(releases_db.glob("*.duckdb"))[:-KEEP_RELEASES]:
        old.unlink()  # a reader still on it keeps its open file
    _swap_symlink(parquet_root / "current", Path("releases") / release)
    _prune_releases(parquet_root / "releases")
    discard_prepared(settings)  # a copy not taken (a full publish) is of a release no longer current
    mode, rewritten = ("month", base.months) if base else ("full", [])
    return Publication(release, serving_path, parquet_root / "current", counts, revisions, mode, rewritten, why_full)


def _write_release(con, settings: Settings, staging_db: Path, release_dir: Path, release: str, run_id: str,
                   months: list[str], base: MonthBase | None = None) -> dict[str, int]:  # fmt: skip
    """The marts and the audit record into the staging serving file and the Parquet release folder;
    the folder gets its COMPLETE marker last. With a `base`, only its months of its month tables
    are written (the rest is the previous release's file copy and hard links)."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name in ('marts', 'audit') order by schema_name desc, table_name"
    ).fetchall()
    if not any(schema == "marts" for schema, _ in tables):
        raise RuntimeError(f"nothing to publish: no marts in {settings.warehouse_path}")
    if base and not _take_prepared(serving_dir(settings), base.db, staging_db):
        shutil.copyfile(base.db, staging_db)
    con.execute(f"attach ? as serving_target (storage_version '{SERVING_STORAGE_VERSION}')", [str(staging_db)])
    try:
        counts = {}
        if base:
            con.execute("drop table serving_target.marts._publication")
            for schema in sorted({schema for schema, _ in tables}, reverse=True):
                con.execute(f"create schema if not exists serving_target.{schema}")
        else:
            for schema in sorted({schema for schema, _ in tables}, reverse=True):
                con.execute(f"create schema serving_target.{schema}")
        for schema, name in tables:
            target_table, source = f'serving_target.{schema}."{name}"', f'{schema}."{name}"'
            by_month = base is not None and (schema, name) in base.months_of
            if by_month:
                dates = ", ".join(f"date '{d.isoformat()}'" for d in base.dates((schema, name))) or "null"
                con.execute(f"delete from {target_table} where as_of_date in ({dates})")
                con.execute(f"insert into {target_table} select * from {source} where as_of_date in ({dates})")
            else:
                con.execute(f"drop table if exists {target_table}")
                con.execute(f"create table {target_table} as select * from {source}")
            label = name if schema == "marts" else f"{schema}.{name}"
            counts[label] = con.execute(f"select count(*) from {target_table}").fetchone()[0]
            if base and counts[label] != con.execute(f"select count(*) from {source}").fetchone()[0]:
                raise _MonthMismatch(f"{schema}.{name} of the month's publish does not count what the build holds")
            folder = release_dir if schema == "marts" else release_dir / f"_{schema}"
            folder.mkdir(exist_ok=True)
            target, rows = (folder / name).as_posix(), f"select * from {source}"
            if _is_dated(con, schema, name):  # one folder per month end, as BI tools expect (hive partitioning)
                options = "format parquet, partition_by (as_of_date), overwrite_or_ignore"
                if by_month:
                    previous = base.parquet / folder.relative_to(release_dir) / name
                    _link_unchanged_months(previous, Path(target), base.dates((schema, name)))
                    rows += f" where as_of_date in ({dates})"
            else:  # reference tables and the audit record: one file
                target, options = f"{target}.parquet", "format parquet"
            con.execute(f"copy ({rows}) to '{target}' ({options})")
        # this publication, as it will be recorded in the build database once swapped in
        con.execute(
            "insert into serving_target.audit.publications values (?, ?, ?, current_timestamp)",
            [release, run_id, ",".join(months)],
        )
        con.execute(
            "create table serving_target.marts._publication as "
            "select ? as release, ? as run_id, current_timestamp as published_at",
            [release, run_id],
        )
        con.execute("checkpoint serving_target")
    finally:
        con.execute("detach database if exists serving_target")
    (release_dir / COMPLETE_MARKER).write_text(release + "\n")
    return counts


def _is_dated(con, schema: str, name: str) -> bool:
    """Whether a table of the build database has an as_of_date column (one row set per month)."""
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? and column_name = 'as_of_date'",
            [schema, name],
        ).fetchone()[0]
    )


def _link_unchanged_months(previous: Path, folder: Path, dates: list[date]) -> None:
    """The previous release's month folders (as_of_date=YYYY-MM-DD) the publish does not rewrite,
    hard-linked into the new release: the same immutable files, no copy."""
    rewritten = {d.isoformat() for d in dates}
    for month_folder in sorted(previous.glob("as_of_date=*")):
        if month_folder.name.split("=", 1)[1] in rewritten:
            continue
        (folder / month_folder.name).mkdir(parents=True)
        for part in month_folder.iterdir():
            os.link(part, folder / month_folder.name / part.name)


def _month_base(con, settings: Settings, root: Path) -> tuple[MonthBase | None, str | None]:
    """The release a month's publish starts from, or (None, why it must be a full publish)."""
    try:
        served = current_release_db(settings)
    except FileNotFoundError:
        return None, "no publication yet"
    release = served.stem
    parquet = (root / "parquet" / "current").resolve()
    if parquet.name != release or not (parquet / COMPLETE_MARKER).exists():
        return None, f"the Parquet release BI reads is not {release}"
    if (
        not has_table(con, "audit", "runs")
        or not con.execute("select count(*) from audit.publications where release = ?", [release]).fetchone()[0]
    ):
        return None, f"release {release} is not recorded in the build's audit"
    # The runs recorded since that release started (one second earlier, to be safe) are what BI
    # has not seen yet; the one now publishing is among them.
    since = datetime.strptime(release[:15], "%Y%m%dT%H%M%S") - timedelta(seconds=1)
    runs = con.execute(
        "select run_id, from_month, to_month, full_refresh from audit.runs where recorded_at >= ? order by recorded_at",
        [since],
    ).fetchall()
    if not runs:
        return None, f"no run recorded since release {release}"
    rebuilt = [run_id for run_id, _, _, full in runs if full is not False]
    if rebuilt:
        return None, f"run {rebuilt[0]} rebuilt every month (a full refresh)"
    with _attached(con, served, "month_base"):  # read by _schema_changes and _months_differ
        changed, new_tables = _schema_changes(con)
        if changed:
            return None, changed
        # Per month-incremental mart, the months the runs rewrote: their own, and for a mart that
        # rewrites earlier months (meta rewrites_earlier_months: the back-test) the horizon before them.
        built, horizon = months_in(con), _backtest_horizon(con)
        own = {m for _, first, last, _ in runs for m in month_range(first, last)}
        earlier = {
            m for _, first, _, _ in runs for m in ([x for x in built if x < first][-horizon:] if horizon else [])
        }
        months_of: dict[tuple[str, str], list[str]] = {}
        for mart, rewrites_earlier in _manifest_incremental(settings.dbt_target_dir / "manifest.json").items():
            if has_table(con, "marts", mart) and _is_dated(con, "marts", mart) and ("marts", mart) not in new_tables:
                months_of[("marts", mart)] = sorted(own | earlier if rewrites_earlier else own)
        for (history,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'audit' and table_name like '%\\_\\_revisions' escape '\\'"
        ).fetchall():
            if ("audit", history) not in new_tables:
                months_of[("audit", history)] = []  # until this publish records revisions (add_revisions)
        base = MonthBase(release, served, parquet, months_of)
        differs = _months_differ(con, base)
        if differs:
            return None, differs
        return base, None


def _backtest_horizon(con) -> int:
    if not has_table(con, "rules", "tier_policy"):
        return 0
    horizon = con.execute(
        "select max(try_cast(policy_value as integer)) from rules.tier_policy "
        "where policy_key = 'backtest_horizon_months'"
    ).fetchone()[0]
    return int(horizon or 0)


def _manifest_incremental(manifest: Path) -> dict[str, bool]:
    """The marts dbt builds month by month (materialized incremental), from the dbt manifest, and
    whether each also rewrites earlier months (meta rewrites_earlier_months)."""
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text()).get("nodes", {}).values()
    return {
        n.get("alias") or n["name"]: bool(n["config"].get("meta", {}).get("rewrites_earlier_months"))
        for n in nodes
        if n.get("resource_type") == "model"
        and n.get("config", {}).get("materialized") == "incremental"
        and n.get("schema") == "marts"
    }


COLUMNS_OF = (
    "select schema_name, table_name, column_index, column_name, data_type from duckdb_columns() "
    "where database_name = {db} and schema_name in ('marts', 'audit') and table_name != '_publication'"
)


def _schema_changes(con) -> tuple[str | None, set[tuple[str, str]]]:
    """Whether a table BI reads (attached as month_base) is gone from the build or changed its
    columns or types, and which tables the build has that the served release has not (a month's
    publish copies them whole)."""
    now = set(con.execute(COLUMNS_OF.format(db="current_database()")).fetchall())
    then = set(con.execute(COLUMNS_OF.format(db="'month_base'")).fetchall())
    tables_now, tables_then = {c[:2] for c in now}, {c[:2] for c in then}
    changed = sorted(c for c in now ^ then if c[:2] in tables_now & tables_then)
    if changed:
        return f"the columns of {changed[0][0]}.{changed[0][1]} changed since the release BI reads", set()
    if tables_then - tables_now:
        gone = sorted(tables_then - tables_now)[0]
        return f"{gone[0]}.{gone[1]} is no longer built", set()
    return None, tables_now - tables_then


def _months_differ(con, base: MonthBase) -> str | None:
    """A month outside the publish whose row count in a month table differs from the served one
    (attached as month_base): something changed the build outside the recorded runs (e.g. dbt run
    by hand)."""
    for schema, name in sorted(base.months_of):
        rewritten = set(base.dates((schema, name)))
        query = f'select as_of_date, count(*) from {{db}}{schema}."{name}" group by all'
        now = {d: n for d, n in con.execute(query.format(db="")).fetchall() if d not in rewritten}
        then = {d: n for d, n in con.execute(query.format(db="month_base.")).fetchall() if d not in rewritten}
        if now != then:
            month = sorted(set(now.items()) ^ set(then.items()))[0][0]
            return f"{schema}.{name} of {month} differs from the release BI reads outside the runs' months"
    return None


def _discard_release(con, staging_db: Path, release_dir: Path) -> None:
    """What a failed publication wrote: its revisions (not credited), staging file and folder."""
    try:
        con.execute("detach database if exists serving_target")
        if has_table(con, "audit", "revisions"):
            discard_revisions(con, release_dir.name)
    finally:
        _discard_files(con, staging_db, release_dir)


def _discard_files(con, staging_db: Path, release_dir: Path) -> None:
    con.execute("detach database if exists serving_target")
    staging_db.unlink(missing_ok=True)
    Path(f"{staging_db}.wal").unlink(missing_ok=True)
    shutil.rmtree(release_dir, ignore_errors=True)


def _refuse_dropping_published_months(con, serving: Path) -> None:
    """A month BI can read now must still be there after the swap: a build that lost months
    (e.g. an earlier month re-run alone, which ends the tier state there) is not published."""
    if not serving.exists():
        return
    with _attached(con, serving, "serving_now"):
        published = months_in(con, "serving_now")
    missing = sorted(set(published) - set(months_in(con)))
    if missing:
        raise PublishRefused(
            f"not published: the build no longer holds month(s) {', '.join(missing)} that BI can read now "
            f"(published {published[0]}..{published[-1]}); rebuild through {missing[-1]} in one run "
            f"(`tierwise backfill --from <first month to redo> --to {missing[-1]}`)"
        )


def _swap_symlink(link: Path, target: Path) -> None:
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


def _prune_releases(releases: Path) -> None:
    """Keep the newest complete releases (a reader may still be on the previous one); a folder
    without its COMPLETE marker is what a publish that died left, never read by anyone."""
    current = (releases.parent / "current").resolve()
    folders = sorted(p for p in releases.iterdir() if p.is_dir())
    complete = [p for p in folders if (p / COMPLETE_MARKER).exists()]
    keep = set(complete[-KEEP_RELEASES:]) | {current}
    for old in folders:
        if old.resolve() not in {k.resolve() for k in keep}:
            shutil.rmtree(old, ignore_errors=True)
