"""Monthly partitions: one partition per month-end (数据日期), Asia/Shanghai calendar."""

from __future__ import annotations

import contextlib
import warnings

import dagster as dg

from tierwise.months import parse_month

TIMEZONE = "Asia/Shanghai"
DEFAULT_FIRST_MONTH = "1990-01"


def first_month() -> str:
    """The first month of the partition calendar: $TIERWISE_FIRST_MONTH (YYYY-MM), default 1990-01,
    so a bank backfilling decades of history finds its months. The calendar is a time window,
    not a list: its length costs nothing; a batch before the first month is refused by Dagster
    (DagsterUnknownPartitionError), so a bank with older history sets the variable."""
    import os

    value = os.environ.get("TIERWISE_FIRST_MONTH", "").strip() or DEFAULT_FIRST_MONTH
    try:
        return parse_month(value)
    except ValueError as exc:
        raise ValueError(f"TIERWISE_FIRST_MONTH: {exc}") from None


monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=f"{first_month()}-01", timezone=TIMEZONE)


@contextlib.contextmanager
def single_run_backfills_allowed():
    """Where an `@asset` is defined with `backfill_policy=BackfillPolicy.single_run()`: a backfill
    of many months is one run (one dbt build over the window, then one publish and one report),
    which the month-incremental models rely on. Dagster 1.13 marks that parameter of `@asset`
    beta (the same one of `@multi_asset` is not); tierwise uses it on purpose, so this one
    warning is silenced where the two such assets are defined, and nowhere else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
        yield


def month_of_partition(partition_key: str) -> str:
    """'2025-10-01' (Dagster's monthly key) -> '2025-10', validated."""
    return parse_month(str(partition_key)[:7]) if len(str(partition_key)) == 10 else parse_month(partition_key)
