"""The same dbt project on Apache Spark (issues #9, #23): hand the loader's raw tables to Spark,
build there with dbt-spark, and compare every mart with the DuckDB build row for row.

Two ways to reach Spark (`endpoint`):
  thrift   a Spark Thrift server (HiveServer2 protocol), what a bank's cluster exposes: dbt-spark
           `method: thrift`, target `spark_thrift`, reached at $TIERWISE_SPARK_HOST:$TIERWISE_SPARK_PORT
           (user, auth: README, "Spark"). The tested path: the suite starts a standalone master,
           worker and Thrift server (tests/spark_cluster.py).
  session  a local PySpark session inside the dbt process (target `spark`, metastore and tables
           under $TIERWISE_HOME/spark): Spark without a cluster, for a laptop.

Handing raw tables over (`sync`) writes them as Parquet under $TIERWISE_HOME/spark/raw_parquet and
has Spark read them, so the Spark driver must see this machine's files (a local cluster, or a
shared mount). On a bank's cluster the bank's own ingestion lands raw.* under the landing contract
and only build and compare are used. Comparing fetches each Spark mart through the endpoint.
PySpark, PyHive and dbt-spark are imported only here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from tierwise.config import DBT_PROJECT_DIR, Settings

TARGETS = {"thrift": "spark_thrift", "session": "spark"}
# DuckDB types of the raw schema -> Spark SQL types (JSON lineage columns travel as text).
SPARK_TYPES = {"VARCHAR": "string", "JSON": "string", "INTEGER": "int"}
# Doubles (shares and rates) are compared to 9 decimals: both engines divide in double, but the
# order of a parallel sum may differ in the last bits. Money and counts compare exactly.
DOUBLE_DECIMALS = 9


def spark_dir(settings: Settings) -> Path:
    return settings.home / "spark"


SPARK_DIR_VAR = re.compile(r"\{\{\s*env_var\('TIERWISE_SPARK_DIR'[^}]*\}\}")


def session_conf(settings: Settings) -> dict[str, str]:
    """The `spark` target's server_side_parameters from dbt_project/profiles.yml, with
    $TIERWISE_SPARK_DIR filled in: one definition of the metastore, warehouse and session
    settings for dbt's session and ours."""
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    parameters = profile["tierwise"]["outputs"]["spark"]["server_side_parameters"]
    return {key: SPARK_DIR_VAR.sub(str(spark_dir(settings)), str(value)) for key, value in parameters.items()}


def session(settings: Settings):
    """A local Spark session on the same metastore and warehouse folders as the dbt `spark`
    target; only one process may hold the embedded metastore at a time."""
    from pyspark.sql import SparkSession

    folder = spark_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    # Derby writes derby.log into the JVM's working folder unless told otherwise
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dderby.system.home={folder}")
    return builder.enableHiveSupport().getOrCreate()


def _in_own_process(step: str, settings: Settings) -> None:
    """Run a local-session Spark step in a child process: the embedded Hive metastore (Derby)
    stays locked by a JVM until that JVM exits, and dbt's own Spark session must open it next."""
    env = {**os.environ, "TIERWISE_HOME": str(settings.home)}
    done = subprocess.run([sys.executable, "-m", "tierwise.spark", step], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"spark {step} failed:\n{done.stderr[-3000:]}")


ENV_VAR = re.compile(r"\{\{\s*env_var\('(?P<name>[A-Z_]+)'(?:,\s*'(?P<default>[^']*)')?\)[^}]*\}\}")


def endpoint_settings() -> dict[str, str]:
    """Host, port, user and auth of the `spark_thrift` target as dbt resolves them from
    profiles.yml (the environment over the profile's defaults): tierwise's own connection for
    sync and compare reaches the same server as dbt."""
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    output = profile["tierwise"]["outputs"][TARGETS["thrift"]]
    resolve = lambda value: ENV_VAR.sub(lambda m: os.environ.get(m["name"], m["default"] or ""), str(value))  # noqa: E731
    return {key: resolve(output[key]) for key in ("host", "port", "user", "auth")}


class _Thrift:
    """A PyHive cursor on the Thrift endpoint; `sql` runs one statement, `rows` fetches a result."""

    def __init__(self) -> None:
        from pyhive import hive

        where = endpoint_settings()
        logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)  # the error below says it once
        try:
            self.connection = hive.connect(host=where["host"], port=int(where["port"]), username=where["user"],
                                           auth=where["auth"])  # fmt: skip
        except Exception as exc:  # thrift's TTransportException, a SASL refusal, a bad port number
            raise RuntimeError(
                f"cannot reach the Spark Thrift server at {where['host']}:{where['port']} as {where['user']} "
                f"(auth {where['auth']}): {str(exc)[:500]}. Set TIERWISE_SPARK_HOST / TIERWISE_SPARK_PORT "
                "(README, 'Spark') or start the server."
            ) from None
        self.cursor = self.connection.cursor()

    def sql(self, statement: str) -> None:
        try:
            self.cursor.execute(statement)
        except Exception as exc:  # PyHive puts the server's whole Java stack in the message
            message = getattr(getattr(getattr(exc, "args", [None])[0], "status", None), "errorMessage", None)
            raise RuntimeError(f"spark: {statement[:200]} failed: {(message or str(exc))[:2000]}") from None

    def rows(self, statement: str) -> tuple[list[str], list[tuple]]:
        self.sql(statement)
        names = [d[0] for d in self.cursor.description]
        return names, self.cursor.fetchall()

    def close(self) -> None:
        self.connection.close()


def _raw_tables(settings: Settings) -> dict[str, tuple[list[tuple[str, str]], int]]:
    """Every raw table of the build database written as Parquet under spark/raw_parquet:
    name -> (columns with DuckDB types, rows)."""
    staging = spark_dir(settings) / "raw_parquet"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    tables: dict[str, tuple[list[tuple[str, str]], int]] = {}
    try:
        names = con.execute("select table_name from duckdb_tables() where schema_name = 'raw' order by 1").fetchall()
        for (name,) in names:
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = 'raw' "
                "and table_name = ? order by column_index",
                [name],
            ).fetchall()
            rows = con.execute(f'select count(*) from raw."{name}"').fetchone()[0]
            if rows:
                select = ", ".join(f'cast("{c}" as varchar) as "{c}"' if t == "JSON" else f'"{c}"' for c, t in columns)
                # Spark skips files whose names start with '_' (hidden): prefix every file.
                con.execute(f"copy (select {select} from raw.\"{name}\") to '{_raw_file(settings, name)}'")
            tables[name] = (columns, rows)
    finally:
        con.close()
    return tables


def _raw_file(settings: Settings, name: str) -> Path:
    return spark_dir(settings) / "raw_parquet" / f"t{name}.parquet"


def _raw_statements(settings: Settings, tables: dict[str, tuple[list[tuple[str, str]], int]]) -> list[str]:
    """Spark SQL that replaces Spark's raw.* with the Parquet files, same names and types."""
    statements = ["create database if not exists raw"]
    for name, (columns, rows) in tables.items():
        ddl = ", ".join(f"`{c}` {SPARK_TYPES.get(t, t.lower())}" for c, t in columns)
        statements += [f"drop table if exists raw.`{name}`", f"create table raw.`{name}` ({ddl}) using parquet"]
        if rows:
            column_list = ", ".join(f"`{c}`" for c, _ in columns)
            location = _raw_file(settings, name).resolve().as_uri()
            statements.append(f"insert into raw.`{name}` select {column_list} from parquet.`{location}`")
    return statements


def sync_raw(settings: Settings, endpoint: str = "thrift") -> dict[str, int]:
    """Copy every raw table of the build database into Spark's `raw` database (replacing it),
    through Parquet files, with the same column names and types. Returns rows per table."""
    tables = _raw_tables(settings)
    if endpoint == "session":
        _in_own_process("sync", settings)
    else:
        spark = _Thrift()
        try:
            for statement in _raw_statements(settings, tables):
                spark.sql(statement)
        finally:
            spark.close()
    return {name: rows for name, (_, rows) in tables.items()}


def _sync_raw_here(settings: Settings) -> None:
    spark = session(settings)
    try:
        for statement in _raw_statements(settings, _raw_tables(settings)):
            spark.sql(statement)
    finally:
        spark.stop()


def dbt_build(settings: Settings, first_month: str, last_month: str, *extra: str, endpoint: str = "thrift"):
    """`dbt build` (seeds, models, tests) on the endpoint's target for from_month..as_of_month,
    in its own process; `extra` dbt arguments follow."""
    env = {
        "TIERWISE_DBT_TARGET": TARGETS[endpoint],
        "TIERWISE_SPARK_DIR": str(spark_dir(settings)),
        "DBT_TARGET_PATH": str(settings.home / "spark" / "dbt_target"),
        "DBT_LOG_PATH": str(settings.logs_dir / "dbt-spark"),
        # the run's months, as the DuckDB refresh passes them (macros/months.sql)
        "TIERWISE_FROM_MONTH": first_month,
        "TIERWISE_AS_OF_MONTH": last_month,
    }
    spark_dir(settings).mkdir(parents=True, exist_ok=True)
    return settings.run_dbt("build", *extra, env=env, cwd=spark_dir(settings))


def _duckdb_marts(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "select table_name, column_name, data_type from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'marts' and table_name not like '\\_%' escape '\\' order by table_name, column_index"
    ).fetchall()
    marts: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        marts.setdefault(table, []).append((column, data_type))
    return marts


def compare_marts(settings: Settings, endpoint: str = "thrift") -> dict[str, tuple[int, int, int]]:
    """For every mart of the DuckDB build: (rows, rows only in DuckDB, rows only in Spark).
    A mart missing on Spark counts all its rows as only in DuckDB."""
    export = spark_dir(settings) / "marts_export"
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        marts = _duckdb_marts(con)
    finally:
        con.close()

    if endpoint == "session":
        _in_own_process("export", settings)
    else:
        _fetch_marts(export, marts)

    result = {}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for mart, columns in marts.items():
            total = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            if not (export / mart).is_dir():
                result[mart] = (total, total, 0)
                continue
            select = ", ".join(
                f"round({c}, {DOUBLE_DECIMALS}) as {c}" if t in ("DOUBLE", "FLOAT") else c for c, t in columns
            )
            ours = f"select {select} from marts.{mart}"
            theirs = f"select {select} from read_parquet('{export / mart}/*.parquet')"
            only_ours = con.execute(f"select count(*) from ({ours} except all {theirs})").fetchone()[0]
            only_theirs = con.execute(f"select count(*) from ({theirs} except all {ours})").fetchone()[0]
            result[mart] = (total, only_ours, only_theirs)
    finally:
        con.close()
    return result


def _fetch_marts(export: Path, marts: dict[str, list[tuple[str, str]]]) -> None:
    """Every Spark mart the DuckDB build also has, fetched through the Thrift endpoint into
    Parquet files typed as DuckDB's mart (values travel as text, each cast back exactly)."""
    shutil.rmtree(export, ignore_errors=True)
    spark = _Thrift()
    try:
        _, tables = spark.rows("show tables in marts")
        present = {row[1] for row in tables if not row[2]}  # (namespace, tableName, isTemporary)
        for mart, columns in marts.items():
            if mart not in present:
                continue
            names, rows = spark.rows(f"select {', '.join(f'`{c}`' for c, _ in columns)} from marts.`{mart}`")
            text = {name: [None if row[i] is None else str(row[i]) for row in rows] for i, name in enumerate(names)}
            frame = pd.DataFrame(text, columns=names, dtype="object")
            (export / mart).mkdir(parents=True)
            typed = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in columns)
            local = duckdb.connect()
            try:
                local.register("fetched", frame)
                local.execute(f"copy (select {typed} from fetched) to '{export / mart / 'part.parquet'}'")
            finally:
                local.close()
    finally:
        spark.close()


def _export_marts_here(settings: Settings) -> None:
    """Every table of the local session's marts database as Parquet, for the comparison in DuckDB."""
    export = spark_dir(settings) / "marts_export"
    shutil.rmtree(export, ignore_errors=True)
    spark = session(settings)
    try:
        for row in spark.sql("show tables in marts").collect():
            if not row.isTemporary:
                spark.table(f"marts.`{row.tableName}`").coalesce(1).write.parquet(str(export / row.tableName))
    finally:
        spark.stop()


if __name__ == "__main__":  # the child process of _in_own_process
    steps = {"sync": _sync_raw_here, "export": _export_marts_here}
    steps[sys.argv[1]](Settings.from_env())
