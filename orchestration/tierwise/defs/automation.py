"""The monthly refresh: a schedule for the month just closed, and a sensor for new batches."""

import json

import dagster as dg

from tierwise.config import Settings

monthly_refresh_job = dg.define_asset_job(
    "monthly_refresh",
    selection=dg.AssetSelection.all(),
    description="Load the month's batch and build every dbt model, test and snapshot for it.",
)

# Default: the 3rd of each month, 06:00 Asia/Shanghai, for the month just closed (the latest
# complete partition).
monthly_refresh_schedule = dg.build_schedule_from_partitioned_job(
    monthly_refresh_job, day_of_month=3, hour_of_day=6, minute_of_hour=0, name="monthly_refresh_schedule"
)


def _valid_manifest_month(folder) -> str | None:
    """The batch's month when the folder holds a readable manifest for a month end, else None."""
    try:
        manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        as_of = str(manifest["as_of_date"])
    except (OSError, ValueError, KeyError):
        return None
    return as_of[:7] if folder.name == as_of[:7] else None


@dg.sensor(
    job=monthly_refresh_job, minimum_interval_seconds=300, description="New landing batch -> refresh that month."
)
def new_batch_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = Settings.from_env()
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    requests, found = [], set(seen)
    if settings.landing_dir.is_dir():
        for folder in sorted(settings.landing_dir.iterdir()):
            month = _valid_manifest_month(folder) if folder.is_dir() else None
            if month is None or month in seen:
                continue
            found.add(month)
            requests.append(dg.RunRequest(run_key=f"batch-{month}", partition_key=f"{month}-01"))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(sorted(found)))
