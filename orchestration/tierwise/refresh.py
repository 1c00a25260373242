"""The operator's refresh: `tierwise run` and `tierwise backfill` execute the Dagster code
location's `monthly_refresh` job in this process, so the CLI, the schedule, the sensor and a
backfill launched from the UI all run the same assets, checks and publish.

Runs are recorded in the persistent Dagster instance under $TIERWISE_HOME/dagster, so they
show up in `dagster dev` (see README) next to the scheduled ones.
"""

import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tierwise.config import Settings
from tierwise.months import month_range, parse_month
from tierwise.pool import alive, free_dead_cli_claims
from tierwise.retention import prune_dagster_runs

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


PID_TAG, HOST_TAG = "tierwise/pid", "tierwise/host"


def run_tags() -> dict[str, str]:
    """Who runs this in-process run: lets the next refresh recognise a run whose process died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def recover_dead_runs(instance: dg.DagsterInstance, log=print) -> list[str]:
    """Fail the CLI's runs whose process died (SIGKILL, power loss) and free their build-pool
    slot: otherwise the pool of 1 stays claimed and every later refresh waits for ever."""
    recovered = []
    filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    for run in instance.get_runs(filters=filters):
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if pid is None or host != socket.gethostname() or int(pid) == os.getpid() or alive(int(pid)):
            continue
        instance.report_run_failed(run, f"process {pid} of this run died without finishing (recovered)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(run.run_id)
        log(f"[refresh] run {run.run_id} (pid {pid}) had died: marked failed, build-pool slot freed")
    # a `tierwise load` or `publish` killed while it held the slot
    recovered += free_dead_cli_claims(instance.event_log_storage, log=lambda m: log(f"[refresh] {m}"))
    return recovered


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance under $TIERWISE_HOME/dagster (telemetry off, build pool of 1)."""
    settings.ensure()
    # from its folder, not through $DAGSTER_HOME: nothing of this warehouse is left in os.environ
    return dg.DagsterInstance.from_config(str(settings.dagster_home))


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
    with refresh_lock(settings, log):
        return _refresh_locked(settings, first_month, last_month, single_run, instance, log)


@contextlib.contextmanager
def refresh_lock(settings: Settings, log=print):
    """One refresh of a warehouse at a time from the CLI: a second `tierwise run` waits for the
    first, and says so (naming the process it waits for), instead of failing on DuckDB's lock."""
    settings.ensure()
    path = settings.home / "state" / "refresh.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            log(f"[refresh] waiting: another refresh of {settings.home} is running ({holder})")
            fcntl.flock(handle, fcntl.LOCK_EX)
            log("[refresh] the other refresh has finished; starting")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refresh_locked(settings, first_month, last_month, single_run, instance, log) -> RefreshResult:
    from tierwise.defs.location import build_definitions

    months = month_range(first_month, last_month)
    later = _built_after(settings, last_month)
    if later:
        log(
            f"[refresh] months {later[0]}..{later[-1]} are built after {last_month}: rebuilding "
            f"{first_month}..{later[-1]} in one run (the tier state carries forward), so none of them is dropped"
        )
        months, single_run = month_range(first_month, later[-1]), True
    result = RefreshResult(months)
    instance = instance or instance_for(settings)
    recover_dead_runs(instance, log)
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
                RUN_CONFIG,
                partition_key=partition_key(first),
                instance=instance,
                raise_on_error=False,
                tags=run_tags(),
            )
        else:
            tags = {
                ASSET_PARTITION_RANGE_START_TAG: partition_key(first),
                ASSET_PARTITION_RANGE_END_TAG: partition_key(last),
                **run_tags(),
            }
            run = job.execute_in_process(RUN_CONFIG, tags=tags, instance=instance, raise_on_error=False)
        result.run_ids.append(run.run_id)
        if not run.success:
            result.failure = f"{label}: " + _failure_text(run)
            return result
        log(f"[refresh] {label} done (run {run.run_id})")
    pruned = prune_dagster_runs(instance)
    if pruned:
        log(f"[refresh] retention: {len(pruned)} older Dagster run(s) removed (TIERWISE_KEEP_RUNS)")
    return result


def _built_after(settings: Settings, month: str) -> list[str]:
    """Months after `month` that the build database's marts hold (none when the database cannot
    be read now: the dbt asset refuses such a run itself, refuse_dropping_built_months)."""
    import duckdb

    from tierwise.publish import built_months

    try:
        return [m for m in built_months(settings) if m > month]
    except duckdb.Error:  # held by another process, out of memory...: the run reports it itself
        return []


@dataclass
class ReportResult:
    run_id: str
    paths: list[str] = field(default_factory=list)
    failure: str | None = None

    @property
    def success(self) -> bool:
        return self.failure is None


def render_report(
    settings: Settings,
    month: str,
    *,
    langs: list[str] | None = None,
    formats: list[str] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> ReportResult:
    """Materialize the monthly_review asset of one month (already published) in process."""
    from tierwise.defs.location import build_definitions
    from tierwise.defs.reports import REPORT_JOB

    config: dict = {}
    if langs:
        config["langs"] = langs
    if formats:
        config["formats"] = formats
    run_config = {**RUN_CONFIG, "ops": {"monthly_review": {"config": config}}}
    instance = instance or instance_for(settings)
    recover_dead_runs(instance)
    job = build_definitions(settings).resolve_job_def(REPORT_JOB)
    run = job.execute_in_process(
        run_config, partition_key=partition_key(month), instance=instance, raise_on_error=False, tags=run_tags()
    )
    if not run.success:
        return ReportResult(run.run_id, failure=_failure_text(run))
    files = []
    for event in run.get_asset_materialization_events():
        listing = event.materialization.metadata.get("files")
        if listing is not None:
            files += [line[2:] for line in listing.value.splitlines() if line.startswith("- ")]
    return ReportResult(run.run_id, files)


def _failure_text(run: dg.ExecuteInProcessResult) -> str:
    """The failed steps and their errors, as an operator needs to read them."""
    lines = []
    for event in run.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = error.message.strip() if error else "unknown error"
            while error is not None and error.cause is not None:  # the user code's own exception
                error = error.cause
                message += " <- " + error.message.strip()
            lines.append(f"step {event.step_key} failed: {message}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:
                lines.append(f"check {check.asset_key.to_user_string()}:{check.check_name} failed")
    return "\n".join(lines) or "run failed"
