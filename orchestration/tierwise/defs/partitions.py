"""Monthly partitions: one partition per month-end (数据日期), Asia/Shanghai calendar."""

from __future__ import annotations

import dagster as dg

from tierwise.months import parse_month

FIRST_MONTH = "2020-01-01"
TIMEZONE = "Asia/Shanghai"

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, timezone=TIMEZONE)


def month_of_partition(partition_key: str) -> str:
    """'2025-10-01' (Dagster's monthly key) -> '2025-10', validated."""
    return parse_month(str(partition_key)[:7]) if len(str(partition_key)) == 10 else parse_month(partition_key)


def months_of_window(start_key: str, end_key_exclusive_start: str) -> tuple[str, str]:
    """First and last month of a partition range given the first and last partition keys."""
    return month_of_partition(start_key), month_of_partition(end_key_exclusive_start)
