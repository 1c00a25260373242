"""Publish asset: after a month's dbt build and checks succeed, swap in the new serving DB."""

import dagster as dg

from tierwise.config import Settings
from tierwise.defs.dbt_assets import BUILD_POOL
from tierwise.defs.partitions import monthly_partitions
from tierwise.publish import publish


def build_publish_asset(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        name="serving_publication",
        group_name="publish",
        deps=mart_keys,
        partitions_def=monthly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=BUILD_POOL,
        description="Read-only serving DuckDB + Parquet of the marts schema, swapped atomically (no raw, no PII).",
    )
    def serving_publication(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = publish(Settings.from_env(), run_id=context.run.run_id)
        table = "\n".join(["| mart | rows |", "|---|---|"] + [f"| {k} | {v} |" for k, v in result.row_counts.items()])
        return dg.MaterializeResult(
            metadata={
                "release": result.release,
                "serving_path": str(result.serving_path),
                "parquet": str(result.parquet_dir),
                "marts": dg.MetadataValue.md(table),
            }
        )

    return serving_publication
