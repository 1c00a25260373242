"""The same dbt project on Apache Spark (issue #9): hand the loader's raw tables to Spark, build
there with the `spark` target, and compare every mart with the DuckDB build row for row.

    tierwise spark sync      # raw schema of the build database -> Spark tables raw.*
    tierwise spark build     # dbt build --target spark (seeds, models, tests)
    tierwise spark compare   # every mart, Spark vs DuckDB: money to the cent

On a cluster the bank's own ingestion lands raw.* (same contract, same columns); `sync` is for
the local `method: session` target, whose Hive metastore and tables live under
$TIERWISE_HOME/spark. PySpark and dbt-spark are imported only here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from tierwise.config import DBT_PROJECT_DIR, Settings

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
    """Run a Spark step in a child process: the embedded Hive metastore (Derby) stays locked by
    a JVM until that JVM exits, and dbt's own Spark session must open it next."""
    env = {**os.environ, "TIERWISE_HOME": str(settings.home)}
    done = subprocess.run([sys.executable, "-m", "tierwise.spark", step], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"spark {step} failed:\n{done.stderr[-3000:]}")


def sync_raw(settings: Settings) -> dict[str, int]:
    """Copy every raw table of the build database into Spark's `raw` database (replacing it),
    through Parquet files, with the same column names and types. Returns rows per table."""
    _in_own_process("sync", settings)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        names = con.execute("select table_name from duckdb_tables() where schema_name = 'raw' order by 1").fetchall()
        return {name: con.execute(f'select count(*) from raw."{name}"').fetchone()[0] for (name,) in names}
    finally:
        con.close()


def _sync_raw_here(settings: Settings) -> None:
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
                con.execute(f"copy (select {select} from raw.\"{name}\") to '{staging / ('t' + name)}.parquet'")
            tables[name] = (columns, rows)
    finally:
        con.close()

    spark = session(settings)
    try:
        spark.sql("create database if not exists raw")
        for name, (columns, rows) in tables.items():
            spark.sql(f"drop table if exists raw.`{name}`")
            ddl = ", ".join(f"`{c}` {SPARK_TYPES.get(t, t.lower())}" for c, t in columns)
            spark.sql(f"create table raw.`{name}` ({ddl}) using parquet")
            if rows:
                spark.read.parquet(f"{staging / ('t' + name)}.parquet").createOrReplaceTempView("incoming")
                column_list = ", ".join(f"`{c}`" for c, _ in columns)
                spark.sql(f"insert into raw.`{name}` select {column_list} from incoming")
    finally:
        spark.stop()


def dbt_build(settings: Settings, first_month: str, last_month: str, *extra: str) -> subprocess.CompletedProcess:
    """`dbt build` (seeds, models, tests) on the spark target for from_month..as_of_month, in its
    own process (dbt-spark's session lives in the dbt process); `extra` dbt arguments follow."""
    env = {
        "TIERWISE_DBT_TARGET": "spark",
        "TIERWISE_SPARK_DIR": str(spark_dir(settings)),
        "DBT_TARGET_PATH": str(settings.home / "spark" / "dbt_target"),
        "DBT_LOG_PATH": str(settings.logs_dir / "dbt-spark"),
        # the run's months, as the DuckDB refresh passes them (macros/months.sql)
        "TIERWISE_FROM_MONTH": first_month,
        "TIERWISE_AS_OF_MONTH": last_month,
    }
    return settings.run_dbt("build", *extra, env=env, cwd=spark_dir(settings))


def compare_marts(settings: Settings) -> dict[str, tuple[int, int, int]]:
    """For every mart of the DuckDB build: (rows, rows only in DuckDB, rows only in Spark).
    A mart missing on Spark counts all its rows as only in DuckDB."""
    export = spark_dir(settings) / "marts_export"
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = current_database() "
                "and schema_name = 'marts' and table_name not like '\\_%' escape '\\' order by 1"
            ).fetchall()
        ]
    finally:
        con.close()

    _in_own_process("export", settings)

    result = {}
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for mart in marts:
            total = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            if not (export / mart).is_dir():
                result[mart] = (total, total, 0)
                continue
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() where database_name = current_database() "
                "and schema_name = 'marts' and table_name = ? order by column_index",
                [mart],
            ).fetchall()
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


def _export_marts_here(settings: Settings) -> None:
    """Every table of Spark's marts database as Parquet, for the comparison in DuckDB."""
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
