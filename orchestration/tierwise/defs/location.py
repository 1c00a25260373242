"""The code location's contents, built for given settings (tests and the CLI build their own;
`tierwise.definitions` is the module Dagster loads)."""

import dagster as dg

from tierwise.config import Settings, dbt_launcher
from tierwise.defs.automation import build_refresh_schedule, monthly_refresh_job, new_batch_sensor
from tierwise.defs.dbt_assets import build_dbt_assets, dbt_project, prepare_manifest
from tierwise.defs.freshness import build_freshness_checks, build_freshness_sensor
from tierwise.defs.landing import landing_batch
from tierwise.defs.publish import build_publish_asset
from tierwise.defs.reports import monthly_review, monthly_review_job
from tierwise.defs.resources import TierwiseDbtCli, TierwiseSettings


def build_definitions(settings: Settings | None = None, dbt_retries: int = 2) -> dg.Definitions:
    """The code location on one warehouse; dbt_retries covers transient failures (tests pass 0).
    The settings reach every asset and sensor as the `tierwise` resource, read once here."""
    settings = settings or Settings.from_env()
    manifest = prepare_manifest(settings)
    dbt = build_dbt_assets(manifest, retries=dbt_retries)
    marts = [key for key in dbt.keys if key.path[0] == "marts"]
    freshness = build_freshness_checks()
    return dg.Definitions(
        assets=[landing_batch, dbt, build_publish_asset(marts), monthly_review],
        asset_checks=freshness,
        jobs=[monthly_refresh_job, monthly_review_job],
        schedules=[build_refresh_schedule()],
        sensors=[new_batch_sensor, build_freshness_sensor(freshness)],
        resources={
            "dbt": TierwiseDbtCli(project_dir=dbt_project(), dbt_executable=dbt_launcher()),
            "tierwise": TierwiseSettings.of(settings),
        },
    )
