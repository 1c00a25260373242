"""The whole dbt project as Dagster assets, partitioned by month.

`DbtProject` + `@dbt_assets` run dbt in place, so the top-level `seeds/` folder (seed-paths
`../seeds`) keeps working; the component alternative copies dbt_project/ elsewhere first.
"""

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from tierwise.audit import record_run
from tierwise.config import DBT_PROJECT_DIR, Settings
from tierwise.defs.partitions import month_of_partition, monthly_partitions
from tierwise.defs.resources import TierwiseSettings
from tierwise.months import as_of_date
from tierwise.pool import BUILD_POOL
from tierwise.publish import discard_prepared, prepare_month_base
from tierwise.retention import DBT_TARGET_PREFIX, prune_dbt_targets
from tierwise.rules import record_rules_built, rules_changed_since_last_build

# Failures worth a retry: another process holds the DuckDB file, or the disk hiccuped. A failing
# test or a model error is deterministic and fails the run at once.
TRANSIENT_ERRORS = ("Could not set lock on file", "IO Error", "Conflicting lock")


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


PARSE_INPUTS_SKIPPED = ("target", "logs", "dbt_packages", ".user.yml")  # dbt's own outputs in the project


def manifest_fingerprint(settings: Settings) -> str:
    """Everything a parse of the dbt project depends on: every project file (models, macros,
    tests, YAML, dbt_project.yml, profiles.yml), the rules folder the seeds come from and its
    path, the target, and the dbt and adapter versions. The warehouse path is not among them:
    it names the database file, which is `build` in every home."""
    from importlib.metadata import version

    from tierwise.rules import rules_hash, rules_path_for_dbt

    digest = hashlib.sha256()
    for package in ("dbt-core", "dbt-duckdb", "dagster-dbt"):
        digest.update(f"{package}=={version(package)}\n".encode())
    digest.update(f"rules={rules_path_for_dbt(settings)}:{rules_hash(settings)}\n".encode())
    digest.update(f"target={os.environ.get('TIERWISE_DBT_TARGET', '')}\n".encode())
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if relative.parts[0] in PARSE_INPUTS_SKIPPED or not path.is_file():
            continue
        digest.update(f"{relative.as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def prepare_manifest(settings: Settings) -> Path:
    """Parse the dbt project into $TIERWISE_HOME/dbt/target (never the repository, so two homes
    never share a target folder); dbt runs copy the partial-parse file from there. The parse is
    skipped when the manifest there was parsed from the same inputs (manifest_fingerprint):
    loading the code location then costs no dbt process, and a copied home reuses its manifest."""
    settings.ensure()
    target = settings.dbt_target_dir
    manifest, stamp = target / "manifest.json", target / "manifest.fingerprint"
    fingerprint = manifest_fingerprint(settings)
    if manifest.is_file() and stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return manifest
    stamp.unlink(missing_ok=True)
    # in its own process, with this warehouse's settings as its environment (Settings.run_dbt)
    result = settings.run_dbt("parse", "--target-path", str(target))
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{(result.stdout + result.stderr)[-4000:]}")
    stamp.write_text(fingerprint + "\n")
    return manifest


# set by dagster-dbt itself for each invocation (its unique target folder, JSON logs there)
SET_BY_DAGSTER_DBT = ("DBT_TARGET_PATH", "DBT_LOG_PATH")


def invocation_env(settings: Settings, window: dict[str, str]) -> dict[str, str]:
    """The environment of one dbt build of this warehouse: its settings and the run's months."""
    env = {**settings.dbt_env(), **window}
    return {name: value for name, value in env.items() if name not in SET_BY_DAGSTER_DBT}


def invocation_target(settings: Settings, run_id: str) -> Path:
    """A new target folder for one dbt invocation under the home's dbt target folder (named as
    dagster-dbt names its own, which retention prunes), holding a copy of the home's partial-parse
    file so dbt does not parse the whole project again."""
    target = settings.dbt_target_dir / f"{DBT_TARGET_PREFIX}{run_id[:7]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True)
    partial = settings.dbt_target_dir / "partial_parse.msgpack"
    if partial.is_file():
        shutil.copy2(partial, target / partial.name)
    return target


def run_window_env(first_month: str, last_month: str) -> dict[str, str]:
    """The run's months for dbt (macros/months.sql), validated: environment variables, not
    `--vars`, because a new vars value makes dbt parse the whole project again on every run."""
    first, last = month_of_partition(first_month), month_of_partition(last_month)
    if first > last:
        raise ValueError(f"partition range {first_month}..{last_month} is reversed")
    return {"TIERWISE_FROM_MONTH": first, "TIERWISE_AS_OF_MONTH": last}


def build_args(full_refresh: bool, months: int = 1) -> list[str]:
    """dbt CLI arguments for a refresh (data tests included, unit tests not); the months travel
    in run_window_env.

    A run of more than one month (a backfill, or any full refresh) builds one node at a time
    (`--threads 1`): its largest queries (fct_churn_signals and fct_cross_sell over every month)
    share DuckDB's one memory_limit, and side by side at 1M customers x 12 months they ran out of
    memory; one after the other they fit. DuckDB still spreads each query over every core. A
    month's run keeps the profile's threads: its queries are a month's size."""
    # dbt unit tests check SQL logic on fixed fixtures, not the month's data: they run in
    # `make test` (tests/test_dbt_unit_tests.py), not in every production refresh, as dbt advises
    args = ["build", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    if full_refresh or months > 1:
        args += ["--threads", "1"]
    return args


def refuse_dropping_built_months(settings: Settings, first: str, last: str) -> None:
    """A run ends the month-incremental models at its last month (the tier state carries forward,
    so a later month built from an earlier state is removed): a run ending before the latest
    built month would drop the later ones from the marts. It is refused before dbt starts;
    `tierwise run`/`backfill` extend such a run to the latest built month instead."""
    from tierwise.publish import built_months

    later = [m for m in built_months(settings) if m > last]
    if later:
        raise dg.Failure(
            description=(
                f"refused: months {later[0]}..{later[-1]} are built after {last}; a run ending at {last} would "
                f"drop them from the marts. Rebuild {first}..{later[-1]} in one run: "
                f"`tierwise backfill --from {first} --to {later[-1]}` (`tierwise run --month {first}` does this)"
            ),
            allow_retries=False,
        )


class TierwiseTranslator(DagsterDbtTranslator):
    """Asset groups follow the data flow: landing -> staging -> intermediate -> marts."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        kind = dbt_resource_props["resource_type"]
        if kind == "seed":
            return "rules"
        if kind == "snapshot":
            return "history"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)


def dbt_errors(exc: Exception, limit: int = 2000) -> str:
    """The error lines dbt logged (dagster-dbt collects them after 'Errors parsed from dbt logs')."""
    text = str(exc)
    marker = "Errors parsed from dbt logs:"
    return (text.split(marker, 1)[1] if marker in text else text).strip()[:limit]


def stream_with_mart_row_counts(stream, key_for_output, settings: Settings, months: tuple[str, str], after=None):
    """Yield dbt's events as they come until the first mart's: that one and all after it wait
    for dbt's process to end (DuckDB: one writer), then get dagster/row_count and, for monthly
    marts, dagster/partition_row_count (rows dated in the run's months) from a short connection,
    on which `after(con)` (the audit record) runs first."""
    held = []
    try:
        for event in stream:
            key = key_for_output(event.output_name) if isinstance(event, dg.Output) else event.asset_key
            if held or key.path[0] == "marts":  # from the first mart on (events keep dbt's order)
                held.append((key, event))
            else:
                yield event
    except BaseException:
        yield from (event for _, event in held)  # what was built and every check stay visible
        raise
    con = settings.connect()
    try:
        if after is not None:
            after(con)
        for key, event in held:
            if isinstance(event, dg.Output | dg.AssetMaterialization) and key.path[0] == "marts":
                event = event.with_metadata({**event.metadata, **_row_counts(con, key.path[-1], *months)})
            yield event
    finally:
        con.close()


def _row_counts(con: duckdb.DuckDBPyConnection, table: str, first_month: str, last_month: str) -> dict:
    columns = {r[0] for r in con.execute(f"describe marts.{table}").fetchall()}  # noqa: S608 - name from manifest
    total = con.execute(f"select count(*) from marts.{table}").fetchone()[0]  # noqa: S608
    if "as_of_date" not in columns:
        return {"dagster/row_count": dg.MetadataValue.int(total)}
    in_run = con.execute(
        f"select count(*) from marts.{table} where as_of_date between ? and ?",  # noqa: S608
        [as_of_date(first_month).replace(day=1), as_of_date(last_month)],
    ).fetchone()[0]
    return {
        "dagster/row_count": dg.MetadataValue.int(total),
        "dagster/partition_row_count": dg.MetadataValue.int(in_run),
    }


def build_dbt_assets(manifest: Path, retries: int = 2) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest,
        project=dbt_project(),
        partitions_def=monthly_partitions,
        dagster_dbt_translator=TierwiseTranslator(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=dg.RetryPolicy(max_retries=retries, delay=30) if retries else None,
        pool=BUILD_POOL,
    )
    def tierwise_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, tierwise: TierwiseSettings):
        settings = tierwise.settings()
        settings.ensure()
        keys = context.partition_keys
        window = run_window_env(keys[0], keys[-1])
        args = build_args(rules_changed_since_last_build(settings), len(keys))
        context.log.info(f"dbt {' '.join(args)} for {window}")
        months = (window["TIERWISE_FROM_MONTH"], window["TIERWISE_AS_OF_MONTH"])
        refuse_dropping_built_months(settings, *months)
        if "--full-refresh" not in args:  # a month's publish will follow: its copy of the release, beside the build
            prepare_month_base(settings)
        try:
            # this warehouse's settings and the run's months reach dbt on its command line
            # (tierwise-dbt, dbt_launch.py), not through this process's environment
            invocation = dbt.with_env(invocation_env(settings, window)).cli(
                args, context=context, target_path=invocation_target(settings, context.run.run_id)
            )

            def record_audit(con: duckdb.DuckDBPyConnection) -> None:
                run_results = invocation.get_artifact("run_results.json")
                tests = record_run(con, settings, context.run.run_id, months, run_results, invocation.manifest)
                context.log.info(
                    f"audit: {tests} test results and the rule seeds recorded for run {context.run.run_id}"
                )

            stream = invocation.stream()
            yield from stream_with_mart_row_counts(
                stream, context.asset_key_for_output, settings, months, after=record_audit
            )
        except DagsterDbtCliRuntimeError as exc:
            discard_prepared(settings)
            transient = any(marker in str(exc) for marker in TRANSIENT_ERRORS)
            raise dg.Failure(
                description=f"dbt build failed for {months[0]}..{months[1]}: {dbt_errors(exc)}",
                metadata={"dbt_errors": dg.MetadataValue.text(str(exc)[-4000:])},
                allow_retries=transient,
            ) from exc
        record_rules_built(settings)
        pruned = prune_dbt_targets(settings)
        if pruned:
            context.log.info(f"retention: {len(pruned)} older dbt target folder(s) removed (TIERWISE_KEEP_RUNS)")

    return tierwise_dbt
