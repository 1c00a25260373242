"""`tierwise metrics`: the governed metrics of the semantic layer (docs/metrics.md), answered
from the published serving file.

The metrics are defined once, in dbt YAML (dbt_project/models/semantic/), and compiled by dbt
into the home's `semantic_manifest.json` on every parse. MetricFlow (the engine behind dbt's
semantic layer, `dbt-metricflow`) turns a request ("AUM retention by tier, last 6 months") into
SQL over the marts. Here that SQL runs on the serving file BI reads, opened read-only and
attached under the build database's name, so the relations the manifest names are the
published marts and a query never touches the build database or blocks a refresh. Nothing in
this module restates a metric: it only passes names to MetricFlow.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tierwise.config import Settings
from tierwise.publish import current_release_db

# the catalog name of the build database (build.duckdb), which the semantic manifest names
BUILD_CATALOG = "build"


@dataclass(frozen=True)
class MetricsAnswer:
    columns: list[str]
    rows: list[tuple]
    sql: str


class _ServingClient:
    """MetricFlow's SqlClient on a read-only DuckDB connection to one serving release."""

    def __init__(self, serving_file: Path) -> None:
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        self._renderer = DuckDbSqlPlanRenderer()
        self._con = duckdb.connect()
        self._con.execute(f"attach ? as {BUILD_CATALOG} (read_only)", [str(serving_file)])

    @property
    def sql_engine_type(self):
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self):
        return self._renderer

    def query(self, stmt: str, sql_bind_parameter_set=None):
        from metricflow.data_table.mf_table import MetricFlowDataTable

        params = dict(sql_bind_parameter_set.param_dict) if sql_bind_parameter_set is not None else {}
        cursor = self._con.execute(stmt, params or None)
        columns = [column[0] for column in cursor.description]
        return MetricFlowDataTable.create_from_rows(columns, cursor.fetchall())

    def execute(self, stmt: str, sql_bind_parameter_set=None) -> None:
        raise PermissionError("the serving file is read-only: tierwise metrics only queries it")

    def dry_run(self, stmt: str, sql_bind_parameter_set=None) -> None:
        self._con.execute(f"explain {stmt}")

    def rows(self, stmt: str) -> list[tuple]:
        return self._con.execute(stmt).fetchall()

    def close(self) -> None:
        self._con.close()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


def semantic_manifest_path(settings: Settings) -> Path:
    return settings.dbt_target_dir / "semantic_manifest.json"


class Metrics:
    """The semantic layer of one warehouse's current publication."""

    def __init__(self, settings: Settings) -> None:
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        self.settings = settings
        manifest = semantic_manifest_path(settings)
        if not manifest.is_file():
            raise FileNotFoundError(f"no semantic manifest at {manifest}: run `tierwise run` first")
        self._client = _ServingClient(current_release_db(settings))
        lookup = SemanticManifestLookup(parse_manifest_from_dbt_generated_manifest(manifest.read_text()))
        self._engine = MetricFlowEngine(semantic_manifest_lookup=lookup, sql_client=self._client)
        self._metrics = json.loads(manifest.read_text())["metrics"]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Metrics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def months(self) -> list[datetime.date]:
        """The first days of the published months (the time spine, marts.dim_dates), ascending."""
        rows = self._client.rows("select distinct month_start from build.marts.dim_dates order by 1")
        return [row[0] for row in rows]

    def catalogue(self) -> list[dict[str, str]]:
        """Every metric: name, label, type and description (as dbt compiled them)."""
        return sorted(
            (
                {"name": m["name"], "label": m.get("label") or "", "type": m["type"], "description": m["description"]}
                for m in self._metrics
            ),
            key=lambda m: m["name"],
        )

    def query(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = ("metric_time__month",),
        start: datetime.date | None = None,
        end: datetime.date | None = None,
        where: Sequence[str] = (),
        order_by: Sequence[str] | None = None,
    ) -> MetricsAnswer:
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        known = {m["name"] for m in self._metrics}
        unknown = [name for name in metrics if name not in known]
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; `tierwise metrics list` names them")
        request = MetricFlowQueryRequest.create(
            metric_names=list(metrics),
            group_by_names=list(group_by),
            time_constraint_start=datetime.datetime.combine(start, datetime.time()) if start else None,
            time_constraint_end=datetime.datetime.combine(end, datetime.time()) if end else None,
            where_constraints=list(where) or None,
            order_by_names=list(order_by if order_by is not None else group_by),
        )
        result = self._engine.query(request)
        table = result.result_df
        return MetricsAnswer(list(table.column_names), [tuple(row) for row in table.rows], result.sql)
