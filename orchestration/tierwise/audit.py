"""What a refresh ran, kept beside the marts: dbt test results and the rule seeds in force.

Written into the build database's `audit` schema after a successful dbt build and published with
the marts, so the monthly review's data-quality appendix (and an auditor) reads them from the
serving database, never from Dagster's event log or dbt's target folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from tierwise.config import Settings
from tierwise.months import as_of_date
from tierwise.rules import active_rules_dir, rules_hash

AUDIT_DDL = (
    "create schema if not exists audit",
    """create table if not exists audit.test_results (
        run_id varchar not null, from_month varchar not null, to_month varchar not null,
        unique_id varchar not null, test_name varchar not null, tested_node varchar,
        severity varchar not null, status varchar not null, failures bigint, message varchar,
        recorded_at timestamp not null)""",
    """create table if not exists audit.rule_versions (
        run_id varchar not null, seed varchar not null, rows bigint not null, sha256 varchar not null,
        versions varchar, recorded_at timestamp not null)""",
    """create table if not exists audit.runs (
        run_id varchar not null, from_month varchar not null, to_month varchar not null,
        git_commit varchar, tierwise_version varchar, package_versions varchar not null,
        rules_sha256 varchar not null, dbt_invocation_id varchar, recorded_at timestamp not null)""",
    # whether the run rebuilt every month (dbt --full-refresh): a month's publish then copies
    # everything (publish.py); null for runs recorded before it was kept (read as "yes")
    "alter table audit.runs add column if not exists full_refresh boolean",
    """create table if not exists audit.run_inputs (
        run_id varchar not null, as_of_date date not null, batch_id varchar not null,
        batch_revision integer, manifest_sha256 varchar, table_name varchar not null,
        source_file varchar not null, file_sha256 varchar, rows_delivered bigint, rows_loaded bigint,
        rows_quarantined bigint)""",
    """create table if not exists audit.run_models (
        run_id varchar not null, unique_id varchar not null, resource_type varchar not null,
        relation varchar, status varchar not null, execution_seconds double, row_count bigint)""",
)
PACKAGES = ("tierwise", "dbt-core", "dbt-duckdb", "duckdb", "dagster", "dagster-dbt", "pandas")


def test_rows(run_results: dict[str, Any], manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per dbt data or unit test in run_results, with its severity from the manifest."""
    rows = []
    for result in run_results.get("results", []):
        unique_id = result["unique_id"]
        if not unique_id.startswith(("test.", "unit_test.")):
            continue
        node = manifest.get("nodes", {}).get(unique_id) or manifest.get("unit_tests", {}).get(unique_id) or {}
        attached = node.get("attached_node") or (node.get("depends_on", {}).get("nodes") or [None])[0]
        rows.append(
            {
                "unique_id": unique_id,
                "test_name": node.get("name", unique_id.split(".")[-1]),
                "tested_node": attached.split(".")[-1] if attached else node.get("model"),
                "severity": str(node.get("config", {}).get("severity", "error")).lower(),
                "status": result["status"],
                "failures": result.get("failures"),
                "message": result.get("message"),
            }
        )
    return rows


def rule_rows(settings: Settings) -> list[dict[str, Any]]:
    """Each rule seed in force: its sha256, row count and, where it has one, its versions."""
    rows = []
    for path in sorted(active_rules_dir(settings).glob("*.csv")):
        data = path.read_bytes()
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
        versions = sorted({r["version"] for r in records if r.get("version")})
        rows.append(
            {
                "seed": path.stem,
                "rows": len(records),
                "sha256": hashlib.sha256(data).hexdigest(),
                "versions": ",".join(versions) or None,
            }
        )
    return rows


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def git_commit() -> str | None:
    """The commit of the code that ran (None outside a git checkout); '+dirty' if edited."""
    import subprocess

    from tierwise.config import REPO_ROOT

    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def model_rows(run_results: dict[str, Any], manifest: dict[str, Any], con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each model, seed and snapshot the run built, with its status, time and row count (tables)."""
    rows = []
    tables = {
        (r[0], r[1])
        for r in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
    }
    for result in run_results.get("results", []):
        unique_id = result["unique_id"]
        kind = unique_id.split(".", 1)[0]
        if kind not in ("model", "seed", "snapshot"):
            continue
        node = manifest.get("nodes", {}).get(unique_id, {})
        schema, name = node.get("schema"), node.get("alias") or node.get("name")
        count = None
        if (schema, name) in tables:
            count = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]  # noqa: S608
        rows.append(
            {
                "unique_id": unique_id,
                "resource_type": kind,
                "relation": f"{schema}.{name}" if schema else None,
                "status": result["status"],
                "execution_seconds": result.get("execution_time"),
                "row_count": count,
            }
        )
    return rows


def record_run(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    months: tuple[str, str],
    run_results: dict[str, Any],
    manifest: dict[str, Any],
) -> int:
    """Replace this run's audit rows (a retried step records once). Returns the tests recorded."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for statement in AUDIT_DDL:
        con.execute(statement)
    tests = test_rows(run_results, manifest)
    con.execute("begin")
    con.execute("delete from audit.test_results where run_id = ?", [run_id])
    con.execute("delete from audit.rule_versions where run_id = ?", [run_id])
    con.executemany(
        "insert into audit.test_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [run_id, *months, t["unique_id"], t["test_name"], t["tested_node"], t["severity"], t["status"]]
            + [t["failures"], t["message"], now]
            for t in tests
        ],
    )
    rules = rule_rows(settings)
    con.executemany(
        "insert into audit.rule_versions values (?, ?, ?, ?, ?, ?)",
        [[run_id, r["seed"], r["rows"], r["sha256"], r["versions"], now] for r in rules],
    )
    for table in ("runs", "run_inputs", "run_models"):
        con.execute(f"delete from audit.{table} where run_id = ?", [run_id])  # noqa: S608
    versions = package_versions()
    con.execute(
        "insert into audit.runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            *months,
            git_commit(),
            versions["tierwise"],
            json.dumps(versions, sort_keys=True),
            rules_hash(settings),
            run_results.get("metadata", {}).get("invocation_id"),
            now,
            bool(run_results.get("args", {}).get("full_refresh")),
        ],
    )
    # The batches this run read: the one serving each of its months (int_month_batches), with
    # every file's checksum and reconciliation. Earlier months enter only through their
    # already-built tier state and marts rows.
    con.execute(
        """insert into audit.run_inputs
           select ?, b.as_of_date, b.batch_id, lb.revision, lb.manifest_sha256, r.table_name, r.source_file,
                  r.file_sha256, r.rows_delivered, r.rows_loaded, r.rows_quarantined
           from intermediate.int_month_batches b
           join raw._load_batches lb on lb.batch_id = b.batch_id
           join raw._load_reconciliation r on r.batch_id = b.batch_id
           where b.as_of_date between ? and ?""",
        [run_id, as_of_date(months[0]), as_of_date(months[1])],
    )
    con.executemany(
        "insert into audit.run_models values (?, ?, ?, ?, ?, ?, ?)",
        [
            [run_id, m["unique_id"], m["resource_type"], m["relation"], m["status"], m["execution_seconds"]]
            + [m["row_count"]]
            for m in model_rows(run_results, manifest, con)
        ],
    )
    con.execute("commit")
    return len(tests)
