"""Immutable history of published months (revisions), kept in the build database's `audit`
schema and published with the marts.

When a refresh publishes month M, every dated mart's rows for M are compared with the latest
revision of M on record. If any mart differs (or M was never published), M gets a new revision
r: the rows of the marts that changed are stored in `audit.<mart>__revisions` under r, and
`audit.revisions` records, per mart, rows and rows added / removed / changed against the previous
revision (by the mart's unique key from its dbt test). A re-run that changes nothing adds no
revision. The marts always show the latest; earlier revisions stay queryable:

    select * from audit.fct_customer_tier__revisions
    where as_of_date = '2025-01-31' and revision = (
        select max(revision) from audit.fct_customer_tier__revisions
        where as_of_date = '2025-01-31' and revision <= 1)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

REVISIONS_DDL = """create table if not exists audit.revisions (
    as_of_date date not null, revision integer not null, mart varchar not null, run_id varchar not null,
    mart_revision integer not null, row_count bigint not null, rows_added bigint not null,
    rows_removed bigint not null, rows_changed bigint not null, recorded_at timestamp not null,
    release varchar)"""
# Publications that completed (their serving file was swapped in): a revision counts only once its
# release is here. Written after the swap; the publish after a crash between the swap and this
# record recognises the release by its file (reconcile_publications).
PUBLICATIONS_DDL = """create table if not exists audit.publications (
    release varchar not null, run_id varchar not null, months varchar, published_at timestamp not null)"""


@dataclass
class MonthRevision:
    as_of_date: date
    revision: int
    changed: dict[str, tuple[int, int, int]]  # mart -> (added, removed, changed)


def mart_keys(manifest_path: Path) -> dict[str, list[str]]:
    """Each mart's unique key, from its unique_combination_of_columns test in the dbt manifest."""
    if not manifest_path.exists():  # no dbt build recorded here: rows are keyed by every column
        return {}
    manifest = json.loads(manifest_path.read_text())
    keys: dict[str, list[str]] = {}
    for node in manifest.get("nodes", {}).values():
        meta = node.get("test_metadata") or {}
        if node.get("resource_type") != "test" or meta.get("name") != "unique_combination_of_columns":
            continue
        model = (node.get("attached_node") or "").split(".")[-1]
        columns = meta.get("kwargs", {}).get("combination_of_columns")
        if model and columns:
            keys.setdefault(model, list(columns))
    return keys


def _columns(con, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
    ]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists audit")
    con.execute(REVISIONS_DDL)
    # revisions recorded before publications were tracked have no release (all were published)
    con.execute("alter table audit.revisions add column if not exists release varchar")
    con.execute(PUBLICATIONS_DDL)


def record_publication(con: duckdb.DuckDBPyConnection, release: str, run_id: str, months: list[str]) -> None:
    con.execute(
        "insert into audit.publications values (?, ?, ?, current_timestamp)", [release, run_id, ",".join(months)]
    )


def reconcile_publications(con: duckdb.DuckDBPyConnection, release_exists) -> list[str]:
    """Revisions whose publication never completed (it failed or died before its swap) are removed,
    with the rows they stored, so the audit trail credits only what BI could read and the next
    publish records them again under its own run. A release whose serving file exists did swap
    (the process died before recording it): it is recorded now. Returns the releases removed."""
    ensure_audit_tables(con)
    pending = con.execute(
        "select distinct release, run_id from audit.revisions where release is not null "
        "and release not in (select release from audit.publications) order by release"
    ).fetchall()
    removed = []
    for release, run_id in pending:
        if release_exists(release):
            months = con.execute(
                "select distinct strftime(as_of_date, '%Y-%m') as m from audit.revisions where release = ? order by m",
                [release],
            ).fetchall()
            record_publication(con, release, run_id, [m for (m,) in months])
            continue
        discard_revisions(con, release)
        removed.append(release)
    return removed


def discard_revisions(con: duckdb.DuckDBPyConnection, release: str) -> None:
    """Remove the revisions recorded for a release that was not published, and the rows they stored."""
    con.execute("begin")
    try:
        for (history,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'audit' and table_name like '%\\_\\_revisions' escape '\\'"
        ).fetchall():
            con.execute(
                f"delete from audit.{_q(history)} as h where exists (select 1 from audit.revisions as r "
                "where r.release = ? and r.as_of_date = h.as_of_date and r.revision = h.revision)",
                [release],
            )
        con.execute("delete from audit.revisions where release = ?", [release])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def record_revisions(
    con: duckdb.DuckDBPyConnection,
    months: list[date],
    run_id: str,
    keys: dict[str, list[str]],
    release: str,
    unchanged: dict[date, set[str]] | None = None,
) -> list[MonthRevision]:
    """Record a new revision of each month whose marts differ from its latest revision.
    `unchanged`: per month, marts the caller knows were not rewritten (a month's publish: the
    runs since the last publication did not build that month of them); their latest revision is
    kept without comparing rows while their row count has not moved. A mart never recorded for the
    month is counted as all new; any other is compared by count and row-hash sum, then row by row."""
    ensure_audit_tables(con)
    marts = [
        t
        for (t,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'marts' and table_name not like '\\_%' escape '\\' order by table_name"
        ).fetchall()
        if "as_of_date" in _columns(con, "marts", t)
    ]
    now = datetime.now(UTC).replace(tzinfo=None)
    results = []
    con.execute("begin")
    try:
        for day in months:
            skip = (unchanged or {}).get(day, set())
            results.append(_record_month(con, day, run_id, marts, keys, now, release, skip))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return results


def _record_month(
    con, day: date, run_id: str, marts: list[str], keys: dict, now, release: str, skip: set[str]
) -> MonthRevision:
    last = con.execute("select max(revision) from audit.revisions where as_of_date = ?", [day]).fetchone()[0]
    diffs = {}
    for mart in marts:
        history = f"audit.{_q(mart + '__revisions')}"
        columns = _columns(con, "marts", mart)
        con.execute(f"create table if not exists {history} as select 0 as revision, * from marts.{_q(mart)} limit 0")
        kept = set(_columns(con, "audit", mart + "__revisions"))
        for column in columns:  # a mart that gained a column: its history gains it too (null before)
            if column not in kept:
                kind = con.execute(
                    "select data_type from duckdb_columns() where database_name = current_database() "
                    "and schema_name = 'marts' and table_name = ? and column_name = ?",
                    [mart, column],
                ).fetchone()[0]
                con.execute(f"alter table {history} add column {_q(column)} {kind}")
        previous = con.execute(
            "select max(mart_revision) from audit.revisions where as_of_date = ? and mart = ?", [day, mart]
        ).fetchone()[0]
        if previous is None or mart in skip:
            total = con.execute(f"select count(*) from marts.{_q(mart)} where as_of_date = ?", [day]).fetchone()[0]
            if previous is None:  # never recorded: every row is new
                diffs[mart] = (None, total, total, 0, 0)
                continue
            recorded = con.execute(
                "select row_count from audit.revisions where as_of_date = ? and mart = ? and mart_revision = ? limit 1",
                [day, mart, previous],
            ).fetchone()[0]
            if total == recorded:  # not rewritten since its revision (a count that moved is compared)
                diffs[mart] = (previous, total, 0, 0, 0)
                continue
        cols = ", ".join(_q(c) for c in columns)
        key = [c for c in keys.get(mart, columns) if c in columns] or columns
        key_expr = ", ".join(_q(c) for c in key)
        now_rows = f"(select {cols} from marts.{_q(mart)} where as_of_date = $day)"
        old_rows = f"(select {cols} from {history} where as_of_date = $day and revision = $previous)"
        # the same rows (as a multiset) have the same count and sum of row hashes: then no row by
        # row comparison (a 64-bit hash sum; equal sums of different rows are not a practical risk)
        fingerprint = f"select count(*), sum(hash({cols})::hugeint) from {{}}"
        params = {"day": day, "previous": previous}
        now_print = con.execute(fingerprint.format(now_rows), {"day": day}).fetchone()
        if now_print == con.execute(fingerprint.format(old_rows), params).fetchone():
            diffs[mart] = (previous, now_print[0], 0, 0, 0)
            continue
        counts = con.execute(
            # keys compared as a hash of their text, so a null key part matches itself
            f"""with new as (select md5(cast(row({key_expr}) as varchar)) as k, md5(cast(row({cols}) as varchar)) as h
                             from {now_rows}),
                     old as (select md5(cast(row({key_expr}) as varchar)) as k, md5(cast(row({cols}) as varchar)) as h
                             from {old_rows})
                select
                    (select count(*) from new),
                    (select count(*) from new anti join old using (k)),
                    (select count(*) from old anti join new using (k)),
                    (select count(*) from new join old using (k) where new.h != old.h)""",
            {"day": day, "previous": previous if previous is not None else -1},
        ).fetchone()
        diffs[mart] = (previous, *counts)
    changed = {m: d for m, d in diffs.items() if d[0] is None or any(d[2:])}
    if last is not None and not changed:
        return MonthRevision(day, last, {})
    revision = (last or 0) + 1
    for mart, (previous, total, added, removed, updated) in diffs.items():
        mart_revision = revision if mart in changed else previous
        if mart in changed:
            cols = ", ".join(_q(c) for c in _columns(con, "marts", mart))
            con.execute(
                f"insert into audit.{_q(mart + '__revisions')} (revision, {cols}) "
                f"select ?, {cols} from marts.{_q(mart)} where as_of_date = ?",
                [revision, day],
            )
        con.execute(
            "insert into audit.revisions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [day, revision, mart, run_id, mart_revision, total, added, removed, updated, now, release],
        )
    return MonthRevision(day, revision, {m: d[2:] for m, d in changed.items()})
