"""Publish the marts for BI: a read-only serving DuckDB file and Parquet, swapped atomically.

DuckDB allows one read-write process or many readers. BI reads `serving/serving.duckdb`;
dbt writes the build database. A publication copies only the `marts` schema and the run's
`audit` record (test results, rule seeds in force) — never raw, staging or PII — into a new
file, checkpoints and closes it, then renames it over the serving file (`os.replace`, atomic
on POSIX): a reader that already opened the old file keeps reading it whole, a new reader
sees the new one, nobody sees half a month and nobody blocks the refresh. Parquet (one folder
per dated mart, partitioned by as_of_date; reference tables and `_audit/` one file each) is
written to a new release folder and the `current` symlink is swapped the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from tierwise.config import Settings
from tierwise.months import as_of_date
from tierwise.revisions import MonthRevision, mart_keys, record_revisions

KEEP_RELEASES = 2  # DuckDB files and Parquet folders


@dataclass
class Publication:
    release: str
    serving_path: Path
    parquet_dir: Path
    row_counts: dict[str, int]
    revisions: list[MonthRevision] = field(default_factory=list)


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


def fault_point(name: str) -> None:
    """Test hook of the reliability suite: TIERWISE_FAULT=<name> kills this process here, as
    a power cut would. Never set in operation."""
    if os.environ.get("TIERWISE_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _clear_abandoned(root: Path) -> None:
    """Staging files of a publish that died before its swap (never read by anyone)."""
    for leftover in root.glob(".serving-*"):
        leftover.unlink(missing_ok=True)


def publish(settings: Settings, run_id: str = "manual", months: list[str] | None = None) -> Publication:
    """Copy the build database's marts into a new serving file and Parquet release, then swap."""
    root = serving_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    _clear_abandoned(root)
    release = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000:06d}"
    staging_db = root / f".serving-{release}.duckdb"
    parquet_root = root / "parquet"
    release_dir = parquet_root / "releases" / release
    release_dir.mkdir(parents=True)

    # Connect to the build database (in a process where dbt already opened it, this shares that
    # instance) and attach the new serving file as the target.
    con = settings.connect()
    try:
        revisions = []
        if months:  # the run's months get a new revision if their marts changed (audit.revisions)
            keys = mart_keys(settings.dbt_target_dir / "manifest.json")
            revisions = record_revisions(con, [as_of_date(m) for m in months], run_id, keys)
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name in ('marts', 'audit') order by schema_name desc, table_name"
        ).fetchall()
        if not any(schema == "marts" for schema, _ in tables):
            raise RuntimeError(f"nothing to publish: no marts in {settings.warehouse_path}")
        con.execute("attach ? as serving_target", [str(staging_db)])
        counts = {}
        for schema in sorted({schema for schema, _ in tables}, reverse=True):
            con.execute(f"create schema serving_target.{schema}")
        for schema, name in tables:
            con.execute(f'create table serving_target.{schema}."{name}" as select * from {schema}."{name}"')
            label = name if schema == "marts" else f"{schema}.{name}"
            counts[label] = con.execute(f'select count(*) from serving_target.{schema}."{name}"').fetchone()[0]
            dated = con.execute(
                "select count(*) from duckdb_columns() where database_name = current_database() "
                "and schema_name = ? and table_name = ? and column_name = 'as_of_date'",
                [schema, name],
            ).fetchone()[0]
            folder = release_dir if schema == "marts" else release_dir / f"_{schema}"
            folder.mkdir(exist_ok=True)
            target = (folder / name).as_posix()
            if dated:  # one folder per month end, as BI tools expect (hive partitioning)
                options = "format parquet, partition_by (as_of_date), overwrite_or_ignore"
            else:  # reference tables and the audit record: one file
                target, options = f"{target}.parquet", "format parquet"
            con.execute(f"copy (select * from {schema}.\"{name}\") to '{target}' ({options})")
        con.execute(
            "create table serving_target.marts._publication as "
            "select ? as release, ? as run_id, current_timestamp as published_at",
            [release, run_id],
        )
        con.execute("checkpoint serving_target")
        con.execute("detach serving_target")
    finally:
        con.close()

    # Each release keeps its own immutable file (what the report reads); serving.duckdb is a
    # hard link to the newest, swapped in by an atomic rename.
    releases_db = root / "releases"
    releases_db.mkdir(exist_ok=True)
    release_path = releases_db / f"{release}.duckdb"
    fault_point("publish-before-swap")
    os.replace(staging_db, release_path)
    serving_path = root / "serving.duckdb"
    link = root / f".serving-{release}.link"
    os.link(release_path, link)
    os.replace(link, serving_path)
    for old in sorted(releases_db.glob("*.duckdb"))[:-KEEP_RELEASES]:
        old.unlink()  # a reader still on it keeps its open file
    _swap_symlink(parquet_root / "current", Path("releases") / release)
    _prune_releases(parquet_root / "releases")
    return Publication(release, serving_path, parquet_root / "current", counts, revisions)


def _swap_symlink(link: Path, target: Path) -> None:
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


def _prune_releases(releases: Path) -> None:
    """Keep the newest releases only (a reader may still be on the previous one)."""
    for old in sorted(p for p in releases.iterdir() if p.is_dir())[:-KEEP_RELEASES]:
        shutil.rmtree(old, ignore_errors=True)
