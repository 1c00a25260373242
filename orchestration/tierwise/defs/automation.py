"""The monthly refresh: a schedule for the month just closed, and a sensor for new batches."""

import json
import os
import re
from zoneinfo import ZoneInfo

import dagster as dg

from tierwise.defs.freshness import LANDING_KEY
from tierwise.defs.partitions import TIMEZONE
from tierwise.defs.resources import TierwiseSettings
from tierwise.months import last_closed_month

monthly_refresh_job = dg.define_asset_job(
    "monthly_refresh",
    # every asset and its checks, but not the landing freshness check (the only check on the
    # landing asset): it is about the calendar, evaluated by its own sensor (defs/freshness.py)
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks_for_assets(LANDING_KEY),
    description="Load the month's batch and build every dbt model, test and snapshot for it.",
)

DEFAULT_REFRESH_AT = "3 06:00"  # day of month and time, Asia/Shanghai (the partitions' timezone)


def parse_refresh_at(text: str) -> tuple[int, int, int]:
    """'D HH:MM' -> (day, hour, minute); day 1-28 so every month has it."""
    match = re.fullmatch(r"\s*(\d{1,2})\s+(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"TIERWISE_REFRESH_AT must look like 'D HH:MM' (e.g. '3 06:00'), got {text!r}")
    day, hour, minute = (int(g) for g in match.groups())
    if not (1 <= day <= 28 and hour < 24 and minute < 60):
        raise ValueError(f"TIERWISE_REFRESH_AT {text!r}: day must be 1-28, time a valid HH:MM")
    return day, hour, minute


def build_refresh_schedule(refresh_at: str | None = None) -> dg.ScheduleDefinition:
    """The monthly refresh for the month just closed (the latest complete partition), on the
    day and time of $TIERWISE_REFRESH_AT (default '3 06:00', Asia/Shanghai). Written as a plain
    schedule returning a RunRequest for the partition (Dagster's build_schedule_from_partitioned_job
    goes through the deprecated JobDefinition.run_request_for_partition)."""
    day, hour, minute = parse_refresh_at(refresh_at or os.environ.get("TIERWISE_REFRESH_AT") or DEFAULT_REFRESH_AT)

    @dg.schedule(
        job=monthly_refresh_job,
        cron_schedule=f"{minute} {hour} {day} * *",
        execution_timezone=TIMEZONE,
        name="monthly_refresh_schedule",
    )
    def monthly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        local = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE))
        key = f"{last_closed_month(local.date())}-01"  # the month that closed before this tick
        return dg.RunRequest(run_key=key, partition_key=key)

    return monthly_refresh_schedule


monthly_refresh_schedule = build_refresh_schedule(DEFAULT_REFRESH_AT)


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
def new_batch_sensor(context: dg.SensorEvaluationContext, tierwise: TierwiseSettings) -> dg.SensorResult:
    settings = tierwise.settings()
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
