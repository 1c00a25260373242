"""Report assets: the monthly review, rendered from the serving database once the month is
published (HTML, PDF and Excel, Chinese and English)."""

import dagster as dg

from tierwise.defs.partitions import month_of_partition, monthly_partitions, single_run_backfills_allowed
from tierwise.defs.resources import TierwiseSettings
from tierwise.publish import current_release_db
from tierwise.reporting import default_formats, render_review
from tierwise.reporting.words import LANGS

REPORT_JOB = "monthly_review_report"


class ReviewConfig(dg.Config):
    """Which languages and formats to render (default: both languages, the formats of
    $TIERWISE_REPORT_FORMATS or else all)."""

    langs: list[str] = list(LANGS)
    formats: list[str] | None = None


with single_run_backfills_allowed():
    _monthly_review_asset = dg.asset(
        name="monthly_review",
        group_name="reports",
        deps=["serving_publication"],
        partitions_def=monthly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"pandas", "html", "pdf", "excel"},
        description="Monthly tier review (客户分层月度回顾) for branch and wealth managers, read from the published "
        "marts: headline KPIs, tiers and concentration, migration, churn watchlist, cross-sell, RM books, data "
        "quality. HTML, PDF and Excel in zh and en under $TIERWISE_HOME/reports/YYYY-MM/.",
    )


@_monthly_review_asset
def monthly_review(
    context: dg.AssetExecutionContext, config: ReviewConfig, tierwise: TierwiseSettings
) -> dg.MaterializeResult:
    settings = tierwise.settings()
    serving = current_release_db(settings)
    rendered = []
    for key in context.partition_keys:
        try:
            formats = config.formats or default_formats()
            files = render_review(serving, month_of_partition(key), settings.reports_dir, config.langs, formats)
        except (ValueError, RuntimeError) as exc:  # nothing published, a font missing, a bad format setting
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        rendered.append(files)
    latest = rendered[-1]
    listing = "\n".join(f"- {path}" for files in rendered for path in files.paths())
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md(listing),
            "path": dg.MetadataValue.path(str(latest.paths()[0].parent)),
            "months": dg.MetadataValue.int(len(rendered)),
            "serving_release": dg.MetadataValue.path(str(serving)),
        }
    )


monthly_review_job = dg.define_asset_job(REPORT_JOB, selection=[monthly_review.key])
