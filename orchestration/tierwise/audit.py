"""What a refresh ran, kept beside the marts: dbt test results and the rule seeds in force.

Written into the build database's `audit` schema after a successful dbt build and published with
the marts, so the monthly review's data-quality appendix (and an auditor) reads them from the
serving database, never from Dagster's event log or dbt's target folder.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime
from typing import Any

import duckdb

from tierwise.config import Settings
from tierwise.rules import active_rules_dir

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
)


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
    con.execute("commit")
    return len(tests)
