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
    rollforward_breaks: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        delivered = sum(t.delivered for t in self.tables)
        loaded = sum(t.loaded for t in self.tables)
        quarantined = sum(t.quarantined for t in self.tables)
        return (
            f"batch {self.batch_id} ({self.as_of_date}): {self.status}; delivered {delivered:,} = loaded {loaded:,}"
            f" + quarantined {quarantined:,}; roll-forward breaks {self.rollforward_breaks:,}"
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
    con.execute(
        """create table if not exists raw._dq_rollforward_breaks (
            batch_id varchar not null, account_id varchar not null, as_of_date date not null,
            check_name varchar not null, txn_id varchar, expected decimal(18,2), actual decimal(18,2),
            difference decimal(18,2))"""
    )


# ---------------------------------------------------------------------------------- manifest
def read_manifest(batch_dir: Path) -> tuple[dict, str]:
    path = batch_dir / "_manifest.json"
    if not path.is_file():
        raise BatchRefused(f"{batch_dir}: no _manifest.json (control file) in the batch folder")
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchRefused(f"_manifest.json: not valid UTF-8 JSON ({exc})") from exc
    for key in ("batch_id", "as_of_date", "tables"):
        if key not in manifest:
            raise BatchRefused(f"_manifest.json: required key '{key}' missing")
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
    return manifest, hashlib.sha256(raw).hexdigest()


# ---------------------------------------------------------------------------------- checks
def _typed_select(table: Table) -> str:
    parts = []
    for c in table.columns:
        sql_type = SQL_TYPES[c.type]
        parts.append(f"try_cast(nullif(trim(cast({_q(c.name)} as varchar)), '') as {sql_type}) as {_q(c.name)}")
    return ", ".join(parts)


def _first_type_error(con, table: Table, view: str, file_name: str) -> str | None:
    checks = []
    for c in table.columns:
        raw = f"nullif(trim(cast({_q(c.name)} as varchar)), '')"
        checks.append(
            f"select _row_number, '{c.name}' as col, {raw} as val, '{SQL_TYPES[c.type]}' as typ from {view} "
            f"where {raw} is not null and try_cast({raw} as {SQL_TYPES[c.type]}) is null"
        )
    sql = " union all ".join(f"({s} order by _row_number limit 1)" for s in checks)
    bad = con.execute(f"select * from ({sql}) order by _row_number, col limit 1").fetchone()
    if bad is None:
        return None
    row, col, val, typ = bad
    return f"{file_name}: row {row} column {col}: value '{val}' is not a valid {typ}"


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
    """Create _chk_<table>: typed rows with the first rule each breaks (null = clean)."""
    cases = _rule_cases(table)
    rule = " ".join(f"when {cond} then '{r}'" for cond, r, _c, _d in cases)
    column = " ".join(f"when {cond} then '{c}'" for cond, _r, c, _d in cases)
    detail = " ".join(f"when {cond} then {d}" for cond, _r, _c, d in cases)
    row_json = "json_object(" + ", ".join(f"'{c}', {_q(c)}" for c in table.column_names) + ")"
    name = f"_chk_{table.name}"
    con.execute(
        f"""create or replace temp table {_q(name)} as
        with typed as (select {_typed_select(table)}, _row_number from {view})
        select *, case {rule or "when false then null"} end as _rule,
               case {column or "when false then null"} end as _column,
               case {detail or "when false then null"} end as _detail,
               {row_json} as _row_values
        from typed""",
        {"as_of": as_of} if "$as_of" in (rule + detail) else None,
    )
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
        if read.sha256 != entry.get("sha256"):
            raise BatchRefused(
                f"{path.name}: row - column -: checksum mismatch (corrupt file): sha256 {read.sha256} "
                f"!= manifest {entry.get('sha256')}"
            )
        view = f"_landed_{name}"
        con.register(view, read.table)
        error = _first_type_error(con, table, view, path.name)
        if error:
            raise BatchRefused(error)
        _stage_table(con, table, view, as_of)
        con.unregister(view)
        if name == "fx_rates":
            con.execute("insert into _known_currencies select distinct currency from _chk_fx_rates where _rule is null")
        result.tables.append(TableReconciliation(name, path.name, read.rows, 0, 0, read.sha256))

    _write_batch(con, result, batch_dir, manifest_sha)
    return result


def _write_batch(con, result: LoadResult, batch_dir: Path, manifest_sha: str) -> None:
    batch_id = result.batch_id
    con.execute("begin transaction")
    try:
        for rec in result.tables:
            table = TABLES[rec.table]
            chk = _q(f"_chk_{rec.table}")
            cols = ", ".join(_q(c) for c in table.column_names)
            con.execute(f"delete from raw.{_q(rec.table)} where _batch_id = ?", [batch_id])
            con.execute(
                f"insert into raw.{_q(rec.table)} select {cols}, ?, ?, _row_number from {chk} "
                "where _rule is null order by _row_number",
                [batch_id, rec.source_file],
            )
            for t in ("_quarantine", "_load_reconciliation"):
                con.execute(f"delete from raw.{t} where batch_id = ? and table_name = ?", [batch_id, rec.table])
            con.execute(
                f"insert into raw._quarantine select ?, ?, ?, _row_number, _rule, _column, _detail, _row_values "
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
        result.rollforward_breaks = _record_rollforward_breaks(con, batch_id)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _record_rollforward_breaks(con, batch_id: str) -> int:
    """CONTRACT.md balance roll-forward, reported (never fixed) per account and month."""
    con.execute("delete from raw._dq_rollforward_breaks where batch_id = ?", [batch_id])
    con.execute(
        """
        insert into raw._dq_rollforward_breaks
        with bal as (
            select account_id, as_of_date, ledger_balance from raw.deposit_balances where _batch_id = $batch
        ),
        prev_bal as (
            select account_id, as_of_date, ledger_balance from raw.deposit_balances
            qualify row_number() over (partition by account_id, as_of_date order by _batch_id desc) = 1
        ),
        txn as (
            select txn_id, account_id, txn_ts, balance_after,
                   last_day(cast(txn_ts as date)) as as_of_date,
                   case when direction = 'C' then amount else -amount end as signed_amount
            from raw.deposit_transactions where _batch_id = $batch
        ),
        ordered as (
            select *, lag(balance_after) over w as prev_after, row_number() over w as seq,
                   row_number() over (partition by account_id, as_of_date order by txn_ts desc, txn_id desc) as rev_seq
            from txn window w as (partition by account_id, as_of_date order by txn_ts, txn_id)
        ),
        with_opening as (
            select o.*, p.ledger_balance as opening
            from ordered as o
            left join prev_bal as p
                on o.account_id = p.account_id and p.as_of_date = last_day(o.as_of_date - interval 1 month)
        ),
        net as (select account_id, as_of_date, sum(signed_amount) as net from txn group by all),
        chain_breaks as (
            select account_id, as_of_date, 'balance_after_chain' as check_name, txn_id,
                   coalesce(prev_after, opening) + signed_amount as expected, balance_after as actual
            from with_opening
            where coalesce(prev_after, opening) is not null
              and balance_after <> coalesce(prev_after, opening) + signed_amount
        ),
        last_breaks as (
            select o.account_id, o.as_of_date, 'last_txn_vs_month_end', o.txn_id,
                   o.balance_after, b.ledger_balance
            from ordered as o
            inner join bal as b on o.account_id = b.account_id and o.as_of_date = b.as_of_date
            where o.rev_seq = 1 and o.balance_after <> b.ledger_balance
        ),
        month_breaks as (
            select b.account_id, b.as_of_date, 'month_rollforward', null,
                   p.ledger_balance + coalesce(n.net, 0), b.ledger_balance
            from bal as b
            inner join prev_bal as p
                on b.account_id = p.account_id and p.as_of_date = last_day(b.as_of_date - interval 1 month)
            left join net as n on b.account_id = n.account_id and b.as_of_date = n.as_of_date
            where p.ledger_balance + coalesce(n.net, 0) <> b.ledger_balance
        ),
        all_breaks as (
            select * from chain_breaks union all select * from last_breaks union all select * from month_breaks
        )
        select $batch, account_id, as_of_date, check_name, txn_id, expected, actual, actual - expected
        from all_breaks
        """,
        {"batch": batch_id},
    )
    return con.execute("select count(*) from raw._dq_rollforward_breaks where batch_id = ?", [batch_id]).fetchone()[0]


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
