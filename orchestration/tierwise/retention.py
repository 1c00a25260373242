"""What a refresh leaves behind, pruned to a retention setting.

Every dbt invocation from Dagster writes its own target folder (manifest, run results, compiled
SQL: ~13 MB for this project) under $TIERWISE_HOME/dbt/target, and every run stays in Dagster's
storage with its event log and compute logs. Both grow by each refresh for ever unless pruned.
`TIERWISE_KEEP_RUNS` (default 50) is how many of each are kept: the newest dbt target folders,
and the newest finished Dagster runs (a run still going is never touched). The audit trail
proper (tests, rules, inputs, revisions) lives in the warehouse's `audit` schema, not here.
"""

from __future__ import annotations

import os
import shutil

import dagster as dg

from tierwise.config import Settings

DEFAULT_KEEP_RUNS = 50
DBT_TARGET_PREFIX = "tierwise_dbt-"  # dagster-dbt: <op name>-<run id>-<uuid>


def keep_runs() -> int:
    text = os.environ.get("TIERWISE_KEEP_RUNS", str(DEFAULT_KEEP_RUNS))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"TIERWISE_KEEP_RUNS must be a whole number >= 1, got {text!r}")
    return int(text)


def prune_dbt_targets(settings: Settings, keep: int | None = None) -> list[str]:
    """Remove all but the newest `keep` per-invocation dbt target folders; returns those removed."""
    keep = keep or keep_runs()
    root = settings.dbt_target_dir
    if not root.is_dir():
        return []
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.startswith(DBT_TARGET_PREFIX)),
        key=lambda p: p.stat().st_mtime,
    )
    removed = folders[:-keep]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return [p.name for p in removed]


FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def prune_dagster_runs(instance: dg.DagsterInstance, keep: int | None = None) -> list[str]:
    """Delete all but the newest `keep` finished runs (run, event log, compute logs)."""
    keep = keep or keep_runs()
    finished = instance.get_runs(filters=dg.RunsFilter(statuses=FINISHED))  # newest first
    removed = []
    for run in finished[keep:]:
        instance.delete_run(run.run_id)
        instance.compute_log_manager.delete_logs(prefix=[run.run_id])  # stdout/stderr captured per step
        removed.append(run.run_id)
    return removed
