"""The build pool: DuckDB lets one process write the build database, so everything that writes
it — the Dagster steps of a refresh (landing, dbt, publish) and the CLI's `tierwise load` and
`tierwise publish` — takes the one slot of the Dagster pool `tierwise_build_db` (limit 1, the
instance's dagster.yaml) in the warehouse's own Dagster instance. The CLI claims it as
`cli-<host>-<pid>-<id>`; a claim whose process has died is freed by the next claimant (as
`refresh.recover_dead_runs` does for a dead run)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator

from tierwise.config import Settings, WarehouseBusy

BUILD_POOL = "tierwise_build_db"  # DuckDB allows one writer: one build at a time
CLI_CLAIM = "cli-"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def dead_cli_claims(run_ids: set[str]) -> list[str]:
    """The CLI claims among `run_ids` whose process on this host has died."""
    host = socket.gethostname()
    dead = []
    for run_id in run_ids:
        if not run_id.startswith(CLI_CLAIM):
            continue
        claim_host, _, pid = run_id[len(CLI_CLAIM) :].rpartition("-")[0].rpartition("-")  # host-pid-id
        if claim_host == host and pid.isdigit() and not alive(int(pid)):
            dead.append(run_id)
    return dead


def free_dead_cli_claims(storage, log=print) -> list[str]:
    """Free the build pool's slots held or queued for by CLI commands that have died; their ids."""
    info = storage.get_concurrency_info(BUILD_POOL)
    dead = dead_cli_claims(info.active_run_ids | info.pending_run_ids)
    for claim in dead:
        storage.free_concurrency_slots_for_run(claim)
        log(f"a command holding the build pool had died ({claim}): slot freed")
    return dead


@contextlib.contextmanager
def build_pool_slot(settings: Settings, step: str, wait_seconds: float, log=print) -> Iterator[None]:
    """Hold the build pool's slot for `step` (e.g. "load"), waiting up to wait_seconds for the
    run or command that holds it (saying so once); WarehouseBusy when it does not come free."""
    from tierwise.refresh import instance_for

    instance = instance_for(settings)
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(BUILD_POOL)
    claimant = f"{CLI_CLAIM}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_seconds
    said = False
    try:
        while True:
            free_dead_cli_claims(storage, log)
            if storage.claim_concurrency_slot(BUILD_POOL, claimant, step).is_claimed:
                break
            info = storage.get_concurrency_info(BUILD_POOL)
            holders = ", ".join(sorted(info.active_run_ids)) or "a run"
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the build pool {BUILD_POOL} is held by {holders}; waited {wait_seconds:.0f}s "
                    "(TIERWISE_WAREHOUSE_WAIT_SECONDS)"
                )
            if not said:
                log(f"waiting for the build pool {BUILD_POOL}, held by {holders}")
                said = True
            time.sleep(1)
        yield
    finally:
        storage.free_concurrency_slot_for_step(claimant, step)  # the claim, or the place in the queue
        instance.dispose()
