"""Publish asset: after a month's dbt build and checks succeed, swap in the new serving DB."""

import dagster as dg

from tierwise.defs.partitions import month_of_partition, monthly_partitions, single_run_backfills_allowed
from tierwise.defs.resources import TierwiseSettings
from tierwise.pool import BUILD_POOL
from tierwise.publish import PublishRefused, publish


def build_publish_asset(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    with single_run_backfills_allowed():
        publication_asset = dg.asset(
            name="serving_publication",
            group_name="publish",
            deps=mart_keys,
            partitions_def=monthly_partitions,
            backfill_policy=dg.BackfillPolicy.single_run(),
            pool=BUILD_POOL,
            description="Read-only serving DuckDB + Parquet of the marts schema, swapped atomically (no raw, no PII).",
        )

    @publication_asset
    def serving_publication(context: dg.AssetExecutionContext, tierwise: TierwiseSettings) -> dg.MaterializeResult:
        months = [month_of_partition(key) for key in context.partition_keys]
        try:
            result = publish(tierwise.settings(), run_id=context.run.run_id, months=months)
        except PublishRefused as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        if result.mode == "month":
            context.log.info(f"month's publish: {', '.join(result.months_rewritten)} written, the rest linked")
        elif result.why_full:
            context.log.info(f"full publish: {result.why_full}")
        for revision in result.revisions:
            changed = ", ".join(f"{m} +{a}/-{r}/~{c}" for m, (a, r, c) in revision.changed.items()) or "unchanged"
            context.log.info(f"{revision.as_of_date}: revision {revision.revision} ({changed})")
        table = "\n".join(["| mart | rows |", "|---|---|"] + [f"| {k} | {v} |" for k, v in result.row_counts.items()])
        return dg.MaterializeResult(
            metadata={
                "release": result.release,
                "mode": result.mode,
                "months_written": ", ".join(result.months_rewritten) or "all",
                "serving_path": str(result.serving_path),
                "parquet": str(result.parquet_dir),
                "marts": dg.MetadataValue.md(table),
                "revisions": dg.MetadataValue.json(
                    {str(r.as_of_date): {"revision": r.revision, "changed": r.changed} for r in result.revisions}
                ),
            }
        )

    return serving_publication
