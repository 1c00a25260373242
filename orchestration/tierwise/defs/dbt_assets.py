"""The whole dbt project as Dagster assets, partitioned by month.

`DbtProject` + `@dbt_assets` run dbt in place, so the top-level `seeds/` folder (seed-paths
`../seeds`) keeps working; the component alternative copies dbt_project/ elsewhere first.
"""

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from tierwise.config import DBT_PROJECT_DIR, Settings
from tierwise.defs.partitions import month_of_partition, monthly_partitions
from tierwise.rules import rules_changed_since_last_build, rules_path_for_dbt

BUILD_POOL = "tierwise_build_db"  # DuckDB allows one writer: one build at a time


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def prepare_manifest(settings: Settings) -> Path:
    """Parse the dbt project so the definitions can be built from a fresh manifest."""
    from dbt.cli.main import dbtRunner

    project = dbt_project()
    os.environ.update(settings.dbt_env())
    os.environ["TIERWISE_RULES_PATH"] = rules_path_for_dbt(settings)
    target = project.project_dir / project.target_path
    result = dbtRunner().invoke(
        [
            "parse",
            "--project-dir",
            str(project.project_dir),
            "--profiles-dir",
            str(project.profiles_dir),
            "--target-path",
            str(target),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    return project.manifest_path


def build_args(first_month: str, last_month: str, full_refresh: bool) -> list[str]:
    """dbt CLI arguments for a run over [first_month, last_month]; months are validated."""
    payload = {"as_of_month": month_of_partition(last_month), "from_month": month_of_partition(first_month)}
    if payload["from_month"] > payload["as_of_month"]:
        raise ValueError(f"partition range {first_month}..{last_month} is reversed")
    args = ["build", "--vars", json.dumps(payload, sort_keys=True)]
    return [*args, "--full-refresh"] if full_refresh else args


class TierwiseTranslator(DagsterDbtTranslator):
    """Asset groups follow the data flow: landing -> staging -> intermediate -> marts."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        kind = dbt_resource_props["resource_type"]
        if kind == "seed":
            return "rules"
        if kind == "snapshot":
            return "history"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)


def build_dbt_assets(manifest: Path, retries: int = 2) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest,
        project=dbt_project(),
        partitions_def=monthly_partitions,
        dagster_dbt_translator=TierwiseTranslator(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=dg.RetryPolicy(max_retries=retries, delay=30) if retries else None,
        pool=BUILD_POOL,
    )
    def tierwise_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        settings = Settings.from_env()
        settings.ensure()
        os.environ.update(settings.dbt_env())
        os.environ["TIERWISE_RULES_PATH"] = rules_path_for_dbt(settings)
        keys = context.partition_keys
        args = build_args(keys[0], keys[-1], rules_changed_since_last_build(settings))
        context.log.info(f"dbt {' '.join(args)}")
        # Not .fetch_row_counts() / .fetch_column_metadata(): they open dbt's DuckDB connection in
        # this process and keep it, which blocks the next partition's loader (one writer only).
        yield from dbt.cli(args, context=context).stream()

    return tierwise_dbt
