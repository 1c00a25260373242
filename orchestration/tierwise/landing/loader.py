"""Validated landing loader: manifest -> typed raw tables, quarantine, reconciliation, DQ.

A batch is checked completely before anything is written, then written in one transaction:
either every table of the batch lands (with its quarantined rows) or nothing does.
Identifiers placed into SQL come only from the contract module; values are bound parameters.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from tierwise.landing.contract import LOAD_ORDER, SQL_TYPES, TABLES, Table
from tierwise.landing.reader import BatchRefused, read_file
from tierwise.months import BANK_TIMEZONE, bank_today

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
META_COLUMNS = ("_batch_id", "_source_file", "_row_number")


def _q(name: str) -> str:
    """Quote an identifier that comes from the contract (never from input)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a contract identifier: {name!r}")
    return f'"{name}"'


@dataclass
class TableReconciliation:
    table: str
    source_file: str
    delivered: int
    loaded: int
    quarantined: int
    file_sha256: str | None = None


@dataclass
class LoadResult:
    batch_id: str
    as_of_date: date
    status: str  # loaded | replaced | unchanged
    tables: list[TableReconciliation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        delivered = sum(t.delivered for t in self.tables)
        loaded = sum(t.loaded for t in self.tables)
        quarantined = sum(t.quarantined for t in self.tables)
        return (
            f"batch {self.batch_id} ({self.as_of_date}): {self.status}; delivered {delivered:,} = loaded {loaded:,}"
            f" + quarantined {quarantined:,}"
        )


# ---------------------------------------------------------------------------------- schema
def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for table in TABLES.values():
        cols = ", ".join(f"{_q(c.name)} {SQL_TYPES[c.type]}" for c in table.columns)
        con.execute(
            f"create table if not exists raw.{_q(table.name)} "
            f"({cols}, _batch_id varchar not null, _source_file varchar not null, _row_number bigint not null)"
        )
    con.execute(
        """create table if not exists raw._load_batches (
            batch_id varchar primary key, as_of_date date not null, manifest_sha256 varchar not null,
            batch_path varchar not null, loaded_at timestamp not null, revision integer not null,
            warnings varchar)"""
    )
    con.execute(
        """create table if not exists raw._quarantine (
            batch_id varchar not null, table_name varchar not null, source_file varchar not null,
            row_number bigint not null, rule varchar not null, column_name varchar, detail varchar not null,
            row_values json)"""
    )
    con.execute(
        """create table if not exists raw._load_reconciliation (
            batch_id varchar not null, table_name varchar not null, source_file varchar not null,
            rows_delivered bigint not null, rows_loaded bigint not null, rows_quarantined bigint not null,
            file_sha256 varchar)"""
    )
    # Warehouses created before the column existed get it (null for their earlier loads).
    con.execute("alter table raw._load_reconciliation add column if not exists file_sha256 varchar")
    # Balance roll-forward breaks are found by dbt now (int_deposit_rollforward_breaks, on every
    # engine); the table the loader used to fill goes with it.
    con.execute("drop table if exists raw._dq_rollforward_breaks")


# ---------------------------------------------------------------------------------- manifest
def read_manifest(batch_dir: Path) -> tuple[dict, str]:
    path = batch_dir / "_manifest.json"
    if not path.is_file():
        raise BatchRefused(f"{batch_dir}: no _manifest.json (control file) in the batch folder")
    if path.is_symlink() and path.resolve().parent != batch_dir.resolve():
        raise BatchRefused("_manifest.json: a symlink to a file outside the batch folder; deliver the file itself")
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_repeated_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchRefused(f"_manifest.json: not valid UTF-8 JSON ({exc})") from exc
    except RecursionError:
        raise BatchRefused("_manifest.json: nested too deeply to be a manifest") from None
    if not isinstance(manifest, dict):
        raise BatchRefused(f"_manifest.json: a JSON object is expected, not a {type(manifest).__name__}")
    for key in ("batch_id", "as_of_date", "tables"):
        if key not in manifest:
            raise BatchRefused(f"_manifest.json: required key '{key}' missing")
    _check_tables_entry(manifest["tables"])
    encoding = manifest.get("encoding") or "utf-8"
    parquet = manifest.get("format") == "parquet"  # a Parquet batch has no text encoding ('binary')
    if not (parquet and encoding == "binary") and (
        not isinstance(encoding, str) or encoding.lower().replace("_", "-") not in ACCEPTED_ENCODINGS
    ):
        raise BatchRefused(f"_manifest.json: encoding {encoding!r} is not accepted (utf-8 or gbk)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", str(manifest["batch_id"])):
        raise BatchRefused(f"_manifest.json: batch_id {manifest['batch_id']!r} is not a plain identifier")
    try:
        as_of = date.fromisoformat(manifest["as_of_date"])
    except (TypeError, ValueError) as exc:
        raise BatchRefused(f"_manifest.json: as_of_date {manifest['as_of_date']!r} is not an ISO date") from exc
    next_day = date.fromordinal(as_of.toordinal() + 1)
    if next_day.day != 1:
        raise BatchRefused(f"_manifest.json: as_of_date {as_of} is not the last day of a month (数据日期)")
    today = bank_today()
    if as_of >= today:
        raise BatchRefused(
            f"_manifest.json: as_of_date {as_of} is not a closed month yet (today is {today} in {BANK_TIMEZONE}); "
            "a batch is delivered after its month end"
        )
    missing = [t for t in TABLES if t not in manifest["tables"]]
    if missing:
        raise BatchRefused(f"_manifest.json: table '{missing[0]}' missing from the manifest (all 11 are required)")
    delimiter = manifest.get("delimiter") or ","
    if delimiter not in (",", "|"):
        raise BatchRefused(f"_manifest.json: delimiter {delimiter!r} is not ',' or '|'")
    folder_month = re.match(r"^(\d{4}-\d{2})(?:$|[-_.])", batch_dir.name)
    if folder_month and folder_month.group(1) != f"{as_of:%Y-%m}":
        raise BatchRefused(f"_manifest.json: as_of_date {as_of} is not in the month of its folder {batch_dir.name!r}")
    return manifest, hashlib.sha256(raw).hexdigest()


ACCEPTED_ENCODINGS = ("utf-8", "utf8", "gbk", "cp936")


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise BatchRefused(f"_manifest.json: key {key!r} appears twice (a table listed twice?)")
        seen[key] = value
    return seen


def _check_tables_entry(tables: object) -> None:
    """`tables` maps each table to {file, rows, sha256}: rows a whole number >= 0, sha256 64 hex."""
    if not isinstance(tables, dict):
        raise BatchRefused(f"_manifest.json: 'tables' must be an object of table entries, not {type(tables).__name__}")
    for name, entry in tables.items():
        if not isinstance(entry, dict):
            raise BatchRefused(f"_manifest.json: table {name!r}: entry must be an object with file, rows, sha256")
        if not isinstance(entry.get("file"), str) or not entry["file"]:
            raise BatchRefused(f"_manifest.json: table {name!r}: 'file' must be a file name")
        rows = entry.get("rows")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise BatchRefused(f"_manifest.json: table {name!r}: 'rows' must be a whole number >= 0, got {rows!r}")
        if not isinstance(entry.get("sha256"), str) or not re.fullmatch(r"[0-9a-fA-F]{64}", entry["sha256"]):
            raise BatchRefused(f"_manifest.json: table {name!r}: 'sha256' must be 64 hex digits")


# ---------------------------------------------------------------------------------- checks
def _raw_text(column: str) -> str:
    """SQL: a landed field as trimmed text, null when empty (what every type check and cast reads)."""
    return f"nullif(trim(cast({_q(column)} as varchar)), '')"


def _typed_select(table: Table) -> str:
    parts = []
    for c in table.columns:
        sql_type = SQL_TYPES[c.type]
        parts.append(f"try_cast({_raw_text(c.name)} as {sql_type}) as {_q(c.name)}")
    return ", ".join(parts)


MONEY_PATTERN = r"^[+-]?[0-9]+(\.[0-9]{1,2})?$"  # a plain decimal, at most two places (no 1e3, 1_000, 10.005)


def _type_checks(table: Table) -> str:
    """SQL: the first column (by name) of the row whose value is not of its column's type, or null.
    Money must be a plain decimal with at most two places: rounding or reading exponents would
    change an amount silently. Text columns always fit."""
    cases = []
    for c in sorted(table.columns, key=lambda c: c.name):
        if c.type == "str":
            continue
        raw = _raw_text(c.name)
        bad = f"try_cast({raw} as {SQL_TYPES[c.type]}) is null"
        if c.type == "money":
            bad = f"({bad} or not regexp_full_match({raw}, '{MONEY_PATTERN}'))"
        cases.append(f"when {raw} is not null and {bad} then '{c.name}'")
    return f"case {' '.join(cases)} end" if cases else "cast(null as varchar)"


def _first_type_error(con, table: Table, view: str, file_name: str) -> str | None:
    """The first value (by row, then column name) that is not of its column's type (_type_checks,
    staged with the rows), as a refusal naming file, row and column. A table holding personal data
    (a column marked PII in the contract: customers) never has the value quoted, whatever the
    column: a wrong column may hold a name or an ID number, and this message reaches logs and the
    orchestrator's storage."""
    found = con.execute(
        f"select _row_number, _type_error from {_q('_chk_' + table.name)} where _type_error is not null "
        "order by _row_number limit 1"
    ).fetchone()
    if found is None:
        return None
    row, col = found
    val = con.execute(f"select {_raw_text(col)} from {view} where _row_number = ?", [row]).fetchone()[0]
    typ = next(c.type for c in table.columns if c.name == col)
    expected = {
        "money": "a plain decimal amount with at most two places (e.g. 1234.50)",
        "num": "a decimal number",
        "int": "a whole number",
        "date": "a date (YYYY-MM-DD)",
        "ts": "a timestamp (YYYY-MM-DD HH:MM:SS)",
        "bool": "true or false",
    }.get(typ, typ)
    # repr(): a value with control characters (terminal escapes) is shown escaped, never raw
    shown = "the value (not quoted: personal data)" if any(c.pii for c in table.columns) else f"value {val!r}"
    return f"{file_name}: row {row} column {col}: {shown} is not {expected}"


def _rule_cases(table: Table) -> list[tuple[str, str, str, str]]:
    """(condition, rule, column, detail-sql) in the order rules are applied."""
    cases = []
    for c in table.columns:
        if c.required:
            cases.append((f"{_q(c.name)} is null", "not_null", c.name, f"'{c.name} is empty'"))
    for col, values in table.accepted.items():
        allowed = ", ".join(f"'{v}'" for v in values)
        cases.append(
            (
                f"{_q(col)} is not null and {_q(col)} not in ({allowed})",
                "unknown_code",
                col,
                f"'{col}=''' || cast({_q(col)} as varchar) || ''' not in ({', '.join(values)})'",
            )
        )
    for col in table.currency_columns:
        cases.append(
            (
                f"{_q(col)} not in (select currency from _known_currencies)",
                "unknown_code",
                col,
                f"'{col}=''' || cast({_q(col)} as varchar) || ''' has no fx rate in this batch and is not CNY'",
            )
        )
    for col in table.positive:
        cases.append(
            (f"{_q(col)} <= 0", "non_positive", col, f"'{col}=' || cast({_q(col)} as varchar) || ' must be > 0'")
        )
    for col in table.non_negative:
        cases.append(
            (f"{_q(col)} < 0", "negative_value", col, f"'{col}=' || cast({_q(col)} as varchar) || ' must be >= 0'")
        )
    for col in table.not_after_as_of:
        cases.append(
            (
                f"cast({_q(col)} as date) > $as_of",
                "date_after_as_of",
                col,
                f"'{col}=' || cast({_q(col)} as varchar) || ' is after as_of_date ' || cast($as_of as varchar)",
            )
        )
    return cases


def _stage_table(con, table: Table, view: str, as_of: date) -> None:
    """Create _chk_<table>: typed rows with the first column whose value is not of its type
    (_type_error: the batch is refused, _first_type_error) and the first rule each breaks (null = clean)."""
    cases = _rule_cases(table)
    rule = " ".join(f"when {cond} then '{r}'" for cond, r, _c, _d in cases)
    column = " ".join(f"when {cond} then '{c}'" for cond, _r, c, _d in cases)
    detail = " ".join(f"when {cond} then {d}" for cond, _r, _c, d in cases)
    name = f"_chk_{table.name}"
    con.execute(
        f"""create or replace temp table {_q(name)} as
        with typed as (select {_typed_select(table)}, {_type_checks(table)} as _type_error, _row_number from {view})
        select *, case {rule or "when false then null"} end as _rule,
               case {column or "when false then null"} end as _column,
               case {detail or "when false then null"} end as _detail
        from typed""",
        {"as_of": as_of} if "$as_of" in (rule + detail) else None,
    )


def _mark_keys(con, table: Table) -> None:
    """In _chk_<table>: a repeated key and a key with no parent row break their rules too."""
    name = f"_chk_{table.name}"
    key = ", ".join(_q(k) for k in table.key)
    con.execute(
        f"""update {_q(name)} as t set _rule = 'duplicate_key', _column = '{table.key[0]}',
               _detail = 'duplicate key (' || {" || ', ' || ".join(f"cast(t.{_q(k)} as varchar)" for k in table.key)}
                         || '), first seen at row ' || d.first_row
        from (select _row_number, first_value(_row_number) over (partition by {key} order by _row_number) as first_row
              from {_q(name)} where _rule is null) as d
        where t._row_number = d._row_number and d.first_row <> d._row_number"""
    )
    for fk in table.foreign_keys:
        parent = f"_chk_{fk.parent}"
        con.execute(
            f"""update {_q(name)} set _rule = 'orphan_key', _column = '{fk.column}',
                   _detail = '{fk.column}=''' || cast({_q(fk.column)} as varchar) || ''' not found in {fk.parent}'
            where _rule is null and {_q(fk.column)} not in (
                select {_q(fk.parent_column)} from {_q(parent)} where _rule is null)"""
        )


# ---------------------------------------------------------------------------------- load
def load_batch(con: duckdb.DuckDBPyConnection, batch_dir: Path) -> LoadResult:
    batch_dir = Path(batch_dir)
    manifest, manifest_sha = read_manifest(batch_dir)
    batch_id = str(manifest["batch_id"])
    as_of = date.fromisoformat(manifest["as_of_date"])
    ensure_raw_schema(con)
    previous = con.execute(
        "select manifest_sha256, revision from raw._load_batches where batch_id = ?", [batch_id]
    ).fetchone()
    if previous and previous[0] == manifest_sha:
        result = LoadResult(batch_id, as_of, "unchanged")
        result.tables = _reconciliation(con, batch_id)
        return result
    _refuse_second_batch_for_month(con, batch_id, as_of)

    fmt = manifest.get("format") or "csv"
    encoding = manifest.get("encoding") or "utf-8"
    delimiter = manifest.get("delimiter") or ","
    result = LoadResult(batch_id, as_of, "replaced" if previous else "loaded")
    root = batch_dir.resolve()
    con.execute("create or replace temp table _known_currencies (currency varchar)")
    con.execute("insert into _known_currencies values ('CNY')")
    for name in LOAD_ORDER:
        table = TABLES[name]
        entry = manifest["tables"][name]
        file_name = str(entry.get("file", ""))
        path = (batch_dir / file_name).resolve()
        if path.parent != root:
            raise BatchRefused(f"_manifest.json: table {name} file {file_name!r} is outside the batch folder")
        file_fmt = "parquet" if path.suffix == ".parquet" else fmt
        read = read_file(path, file_fmt, encoding, delimiter, table.column_names)
        result.warnings += read.warnings
        declared_rows = int(entry.get("rows", -1))
        if read.rows != declared_rows:
            kind = "truncated file" if read.rows < declared_rows else "more rows than declared"
            raise BatchRefused(
                f"{path.name}: row {min(read.rows, declared_rows) + 1} column -: {kind}: the manifest declares "
                f"{declared_rows} rows, the file has {read.rows}"
            )
        if read.sha256 != entry["sha256"].lower():
            raise BatchRefused(
                f"{path.name}: row - column -: checksum mismatch (corrupt file): sha256 {read.sha256} "
                f"!= manifest {entry.get('sha256')}"
            )
        view = f"_landed_{name}"
        con.register(view, read.table)
        _stage_table(con, table, view, as_of)
        error = _first_type_error(con, table, view, path.name)
        if error:
            raise BatchRefused(error)
        con.unregister(view)
        _mark_keys(con, table)
        if name == "fx_rates":
            con.execute("insert into _known_currencies select distinct currency from _chk_fx_rates where _rule is null")
        result.tables.append(TableReconciliation(name, path.name, read.rows, 0, 0, read.sha256))

    _write_batch(con, result, batch_dir, manifest_sha)
    return result


def _refuse_second_batch_for_month(con, batch_id: str, as_of: date) -> None:
    """One batch serves a month (docs: a re-delivery keeps its batch_id and becomes a new revision).
    A batch with another id for a month that already has one is refused, naming the batch in
    place: the operator re-delivers under that id, or retracts it first (`tierwise batches
    retract`), so the month never has two candidate batches."""
    other = con.execute(
        "select batch_id, revision, loaded_at from raw._load_batches where as_of_date = ? and batch_id <> ?",
        [as_of, batch_id],
    ).fetchone()
    if other:
        raise BatchRefused(
            f"_manifest.json: row - column batch_id: month {as_of:%Y-%m} already has batch {other[0]!r} "
            f"(revision {other[1]}, loaded {other[2]:%Y-%m-%d %H:%M}); deliver the correction under batch_id "
            f"{other[0]!r} (it replaces that batch as a new revision) or retract it first: "
            f"`tierwise batches retract {other[0]} --reason ...`"
        )


BATCH_TABLES = (*TABLES, "_quarantine", "_load_reconciliation")


def ensure_retraction_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """create table if not exists raw._batch_retractions (
            batch_id varchar not null, as_of_date date not null, revision integer not null,
            manifest_sha256 varchar not null, batch_path varchar not null, loaded_at timestamp not null,
            reason varchar not null, retracted_by varchar not null, retracted_at timestamp not null,
            rows_removed json not null)"""
    )


def list_batches(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Loaded batches, oldest month first, with their reconciliation totals."""
    ensure_raw_schema(con)
    rows = con.execute(
        """select b.batch_id, b.as_of_date, b.revision, b.loaded_at, b.manifest_sha256,
                  coalesce(sum(r.rows_delivered), 0), coalesce(sum(r.rows_loaded), 0),
                  coalesce(sum(r.rows_quarantined), 0)
           from raw._load_batches as b left join raw._load_reconciliation as r using (batch_id)
           group by all order by b.as_of_date, b.batch_id"""
    ).fetchall()
    keys = ("batch_id", "as_of_date", "revision", "loaded_at", "manifest_sha256", "delivered", "loaded", "quarantined")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def retract_batch(con: duckdb.DuckDBPyConnection, batch_id: str, reason: str, by: str) -> dict[str, int]:
    """Remove a loaded batch from raw (its rows, quarantine, reconciliation and roll-forward
    records) in one transaction, and record who retracted it, why, and what it held, in
    raw._batch_retractions. Returns the rows removed per table."""
    ensure_raw_schema(con)
    ensure_retraction_log(con)
    if not reason.strip():
        raise BatchRefused("a retraction needs a reason (--reason)")
    batch = con.execute(
        "select as_of_date, revision, manifest_sha256, batch_path, loaded_at from raw._load_batches where batch_id = ?",
        [batch_id],
    ).fetchone()
    if batch is None:
        raise BatchRefused(f"no loaded batch with batch_id {batch_id!r} (`tierwise batches` lists them)")
    removed: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        for table in BATCH_TABLES:
            column = "_batch_id" if table in TABLES else "batch_id"
            removed[table] = con.execute(
                f"select count(*) from raw.{_q(table)} where {column} = ?", [batch_id]
            ).fetchone()[0]
            con.execute(f"delete from raw.{_q(table)} where {column} = ?", [batch_id])
        con.execute("delete from raw._load_batches where batch_id = ?", [batch_id])
        con.execute(
            "insert into raw._batch_retractions values (?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?)",
            [batch_id, *batch, reason.strip(), by, json.dumps(removed, sort_keys=True)],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return removed


def _write_batch(con, result: LoadResult, batch_dir: Path, manifest_sha: str) -> None:
    batch_id = result.batch_id
    con.execute("begin transaction")
    try:
        for rec in result.tables:
            table = TABLES[rec.table]
            chk = _q(f"_chk_{rec.table}")
            cols = ", ".join(_q(c) for c in table.column_names)
            # the quarantined row's values, for the few rows that need them (not built for every row)
            row_json = "json_object(" + ", ".join(f"'{c}', {_q(c)}" for c in table.column_names) + ")"
            con.execute(f"delete from raw.{_q(rec.table)} where _batch_id = ?", [batch_id])
            # in the file's order: the connection keeps insertion order (and _row_number says it)
            con.execute(
                f"insert into raw.{_q(rec.table)} select {cols}, ?, ?, _row_number from {chk} where _rule is null",
                [batch_id, rec.source_file],
            )
            for t in ("_quarantine", "_load_reconciliation"):
                con.execute(f"delete from raw.{t} where batch_id = ? and table_name = ?", [batch_id, rec.table])
            con.execute(
                f"insert into raw._quarantine select ?, ?, ?, _row_number, _rule, _column, _detail, {row_json} "
                f"from {chk} where _rule is not null order by _row_number",
                [batch_id, rec.table, rec.source_file],
            )
            rec.loaded, rec.quarantined = con.execute(
                f"select count(*) filter (where _rule is null), count(*) filter (where _rule is not null) from {chk}"
            ).fetchone()
            con.execute(
                "insert into raw._load_reconciliation values (?, ?, ?, ?, ?, ?, ?)",
                [batch_id, rec.table, rec.source_file, rec.delivered, rec.loaded, rec.quarantined, rec.file_sha256],
            )
        revision = con.execute(
            "select coalesce(max(revision), 0) + 1 from raw._load_batches where batch_id = ?", [batch_id]
        ).fetchone()[0]
        con.execute("delete from raw._load_batches where batch_id = ?", [batch_id])
        con.execute(
            "insert into raw._load_batches values (?, ?, ?, ?, current_timestamp, ?, ?)",
            [
                batch_id,
                result.as_of_date,
                manifest_sha,
                str(batch_dir.resolve()),
                revision,
                "\n".join(result.warnings) or None,
            ],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _reconciliation(con, batch_id: str) -> list[TableReconciliation]:
    rows = con.execute(
        "select table_name, source_file, rows_delivered, rows_loaded, rows_quarantined, file_sha256 "
        "from raw._load_reconciliation where batch_id = ? order by table_name",
        [batch_id],
    ).fetchall()
    return [TableReconciliation(*r) for r in rows]


def loaded_batch_for_month(con: duckdb.DuckDBPyConnection, month: str) -> LoadResult | None:
    """The batch already in raw for month 'YYYY-MM' (the newest revision), or None."""
    ensure_raw_schema(con)
    row = con.execute(
        "select batch_id, as_of_date from raw._load_batches where strftime(as_of_date, '%Y-%m') = ? "
        "order by loaded_at desc limit 1",
        [month],
    ).fetchone()
    if row is None:
        return None
    result = LoadResult(row[0], row[1], "already loaded")
    result.tables = _reconciliation(con, row[0])
    return result
