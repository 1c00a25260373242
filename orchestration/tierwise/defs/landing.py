"""Landing ingestion as assets: the month's batch folder, validated and loaded into raw.*.

One multi-asset produces every raw table the loader writes, so the dbt sources (mapped to
raw/<table> by the translator) hang off it and the graph runs from landing file to report.
"""

import dagster as dg

from tierwise.config import Settings
from tierwise.defs.partitions import month_of_partition, monthly_partitions
from tierwise.defs.resources import TierwiseSettings
from tierwise.landing.contract import TABLES
from tierwise.landing.loader import load_batch, loaded_batch_for_month
from tierwise.landing.reader import BatchRefused
from tierwise.pool import BUILD_POOL

CONTROL_TABLES = ("_load_batches", "_load_reconciliation", "_quarantine")
RAW_KEYS = [dg.AssetKey(["raw", name]) for name in (*TABLES, *CONTROL_TABLES)]


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name="landing", partitions_def=monthly_partitions) for key in RAW_KEYS],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=BUILD_POOL,
    description="The month's landing batch ($TIERWISE_HOME/landing/YYYY-MM), checked and loaded into raw.",
)
def landing_batch(context: dg.AssetExecutionContext, tierwise: TierwiseSettings):
    settings = tierwise.settings()
    settings.ensure()
    results = [_load_month(settings, month_of_partition(key)) for key in context.partition_keys]
    by_table = {t.table: t for t in results[-1].tables}
    for key in RAW_KEYS:
        name = key.path[-1]
        if name in by_table:
            rec = by_table[name]
            metadata = {"delivered": rec.delivered, "loaded": rec.loaded, "quarantined": rec.quarantined}
        else:
            metadata = {"batches": ", ".join(f"{r.batch_id}:{r.status}" for r in results)}
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def _load_month(settings: Settings, month: str):
    """Load the month's batch folder; without one, use the batch `tierwise load` already put in raw."""
    folder = settings.landing_dir / month
    con = settings.connect()
    try:
        if (folder / "_manifest.json").is_file():
            return load_batch(con, folder)
        loaded = loaded_batch_for_month(con, month)
        if loaded is None:
            raise dg.Failure(
                f"no landing batch for {month}: {folder}/_manifest.json is missing and raw holds none",
                allow_retries=False,
            )
        return loaded
    except BatchRefused as exc:
        raise dg.Failure(f"batch {month} refused: {exc}", allow_retries=False) from exc
    finally:
        con.close()
