"""Report assets: rendered from the serving database once the month is published."""

import dagster as dg

from tierwise.config import Settings
from tierwise.defs.partitions import month_of_partition, monthly_partitions
from tierwise.publish import current_release_db
from tierwise.report import render_monthly_review


@dg.asset(
    name="monthly_review",
    group_name="reports",
    deps=["serving_publication"],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Monthly tier review (reports/monthly_review.md) for branch and wealth managers, from the "
    "published marts: tiers, migration, churn watchlist, cross-sell, RM books. Aggregates only.",
)
def monthly_review(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = Settings.from_env()
    serving = current_release_db(settings)
    reports = [
        render_monthly_review(serving, month_of_partition(key), settings.reports_dir) for key in context.partition_keys
    ]
    latest = reports[-1]
    return dg.MaterializeResult(
        metadata={
            "reports": dg.MetadataValue.md("\n".join(f"- {r.markdown}" for r in reports)),
            "path": dg.MetadataValue.path(str(latest.markdown)),
            "preview": dg.MetadataValue.md(latest.markdown.read_text(encoding="utf-8")),
        }
    )
