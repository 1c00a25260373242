"""The operator's refresh: `tierwise run` and `tierwise backfill` execute the Dagster code
location's `monthly_refresh` job in this process, so the CLI, the schedule, the sensor and a
backfill launched from the UI all run the same assets, checks and publish.

Runs are recorded in the persistent Dagster instance under $TIERWISE_HOME/dagster, so they
show up in `dagster dev` (see README) next to the scheduled ones.
"""

import os
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tierwise.config import Settings
from tierwise.months import month_range, parse_month

JOB_NAME = "monthly_refresh"
# The terminal gets INFO and above; every event (DEBUG included) is stored in the instance.
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class RefreshResult:
    months: list[str]
    run_ids: list[str] = field(default_factory=list)
    failure: str | None = None

    @property
    def success(self) -> bool:
        return self.failure is None


def partition_key(month: str) -> str:
    """'2025-10' -> Dagster's monthly partition key '2025-10-01' (validated)."""
    return f"{parse_month(month)}-01"


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance under $TIERWISE_HOME/dagster (telemetry off, build pool of 1)."""
    settings.ensure()
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return dg.DagsterInstance.get()


def refresh(
    settings: Settings,
    first_month: str,
    last_month: str,
    *,
    single_run: bool = True,
    instance: dg.DagsterInstance | None = None,
    log=print,
) -> RefreshResult:
    """Load, build, test, publish and report months first..last.

    single_run: one Dagster run over the partition range (a backfill; the dbt assets' backfill
    policy makes it one `dbt build` with from_month..as_of_month). Otherwise one run per month,
    in order, stopping at the first failure.
    """
    from tierwise.defs.location import build_definitions

    months = month_range(first_month, last_month)
    result = RefreshResult(months)
    instance = instance or instance_for(settings)
    job = build_definitions(settings).resolve_job_def(JOB_NAME)
    if single_run and len(months) > 1:
        batches = [(months[0], months[-1])]
    else:
        batches = [(m, m) for m in months]
    for first, last in batches:
        label = first if first == last else f"{first}..{last}"
        log(f"[refresh] {JOB_NAME} {label}")
        if first == last:
            run = job.execute_in_process(
                RUN_CONFIG, partition_key=partition_key(first), instance=instance, raise_on_error=False
            )
        else:
            tags = {
                ASSET_PARTITION_RANGE_START_TAG: partition_key(first),
                ASSET_PARTITION_RANGE_END_TAG: partition_key(last),
            }
            run = job.execute_in_process(RUN_CONFIG, tags=tags, instance=instance, raise_on_error=False)
        result.run_ids.append(run.run_id)
        if not run.success:
            result.failure = f"{label}: " + _failure_text(run)
            return result
        log(f"[refresh] {label} done (run {run.run_id})")
    return result


def _failure_text(run: dg.ExecuteInProcessResult) -> str:
    """The failed steps and their errors, as an operator needs to read them."""
    lines = []
    for event in run.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = error.message.strip() if error else "unknown error"
            lines.append(f"step {event.step_key} failed: {message}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:
                lines.append(f"check {check.asset_key.to_user_string()}:{check.check_name} failed")
    return "\n".join(lines) or "run failed"
