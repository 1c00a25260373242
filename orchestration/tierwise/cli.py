"""The `tierwise` command: generate, load, run. `tierwise <command> --help` explains each."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from tierwise.config import Settings, WarehouseBusy, warehouse_wait_seconds
from tierwise.months import last_closed_month, month_range, parse_month
from tierwise.pool import build_pool_slot


def _month_arg(text: str) -> str:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from tierwise.generator.bank import BankSpec
    from tierwise.generator.writer import OutputFormat, generate

    out = Path(args.out) if args.out else settings.landing_dir
    spec = BankSpec(args.customers, args.months, args.end_month or last_closed_month(), args.seed)
    fmt = OutputFormat(args.format, args.encoding, args.delimiter)
    started = time.perf_counter()
    folders = generate(spec, out, fmt, progress=lambda m: print(f"[generate] {m}", flush=True))
    print(f"[generate] {len(folders)} batches under {out} in {time.perf_counter() - started:.1f}s")
    return 0


class OutsideLandingRoot(ValueError):
    pass


def _batch_dirs(args: argparse.Namespace, settings: Settings) -> list[Path]:
    if args.batches:
        root = settings.landing_dir.resolve()
        batches = []
        for given in args.batches:
            path = Path(given).resolve()  # symlinks and '..' resolved before the check
            if not path.is_relative_to(root):
                raise OutsideLandingRoot(
                    f"batch folder {given} is outside the landing root {root} "
                    "(set TIERWISE_LANDING_DIR to deliver elsewhere)"
                )
            if not path.is_dir():
                raise OutsideLandingRoot(f"batch folder {given} does not exist")
            batches.append(path)
        return batches
    root = settings.landing_dir
    return sorted(p for p in root.iterdir() if (p / "_manifest.json").is_file()) if root.is_dir() else []


@contextlib.contextmanager
def _writing_warehouse(settings: Settings, label: str):
    """The build database for a command that writes it, with the build pool's slot held (the
    same single writer as a refresh's Dagster steps, tierwise.pool): waits for the run or
    command that holds either, saying so once, up to TIERWISE_WAREHOUSE_WAIT_SECONDS, then
    raises WarehouseBusy."""
    settings.ensure()
    wait = warehouse_wait_seconds()

    def log(message: str) -> None:
        print(f"[{label}] {message}", file=sys.stderr)

    with build_pool_slot(settings, label, wait, log):
        con = settings.connect(wait, log=log)
        try:
            yield con
        finally:
            con.close()


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from tierwise.landing.loader import load_batch
    from tierwise.landing.reader import BatchRefused

    try:
        batches = _batch_dirs(args, settings)
    except OutsideLandingRoot as exc:
        print(f"[load] REFUSED {exc}", file=sys.stderr)
        return 2
    if not batches:
        print(f"[load] no batch folders given and none under {settings.landing_dir}", file=sys.stderr)
        return 2
    try:
        with _writing_warehouse(settings, "load") as con:
            for batch in batches:
                started = time.perf_counter()
                try:
                    result = load_batch(con, batch)
                except BatchRefused as exc:
                    print(f"[load] REFUSED batch {batch}: {exc}", file=sys.stderr)
                    return 2
                for warning in result.warnings:
                    print(f"[load] warning: {warning}")
                print(f"[load] {result.summary()} in {time.perf_counter() - started:.1f}s")
    except WarehouseBusy as exc:
        print(f"[load] REFUSED {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_batches(args: argparse.Namespace, settings: Settings) -> int:
    """List the loaded batches, or retract one (audited in raw._batch_retractions)."""
    if args.action == "retract" and not args.batch_id:
        print("[batches] retract needs the batch_id to retract (`tierwise batches` lists them)", file=sys.stderr)
        return 2
    try:
        with _writing_warehouse(settings, "batches") as con:
            return _retract_batch(args, con) if args.action == "retract" else _list_batches(con)
    except WarehouseBusy as exc:
        print(f"[batches] REFUSED {exc}", file=sys.stderr)
        return 2


def _retract_batch(args: argparse.Namespace, con) -> int:
    import getpass

    from tierwise.landing.loader import retract_batch
    from tierwise.landing.reader import BatchRefused

    try:
        removed = retract_batch(con, args.batch_id, args.reason or "", getpass.getuser())
    except BatchRefused as exc:
        print(f"[batches] REFUSED {exc}", file=sys.stderr)
        return 2
    print(f"[batches] retracted {args.batch_id}: {sum(removed.values()):,} rows removed from raw "
          "(recorded in raw._batch_retractions); load the corrected batch, then rebuild its month")  # fmt: skip
    return 0


def _list_batches(con) -> int:
    from tierwise.landing.loader import list_batches

    print("batch_id\tas_of_date\trevision\tloaded_at\tdelivered\tloaded\tquarantined")
    for b in list_batches(con):
        print(f"{b['batch_id']}\t{b['as_of_date']}\t{b['revision']}\t{b['loaded_at']:%Y-%m-%d %H:%M:%S}\t"
              f"{b['delivered']}\t{b['loaded']}\t{b['quarantined']}")  # fmt: skip
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Per month: batch delivered, built, published, report rendered, open warnings, late batches."""
    from tierwise.status import month_status, render

    try:
        rows, notes = month_status(settings)
    except ValueError as exc:  # a malformed TIERWISE_BATCH_DUE_DAY
        print(f"[status] {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"[status] nothing delivered or published under {settings.home} yet", file=sys.stderr)
        for note in notes:
            print(f"[status] {note}", file=sys.stderr)
        return 0
    print(render(rows, notes))
    return 1 if any(r.late for r in rows) else 0


def _install_rules(args: argparse.Namespace, settings: Settings) -> bool:
    from tierwise.rules import RulesError, install_rules

    if not getattr(args, "rules", None):
        return True
    try:
        replaced = install_rules(settings, Path(args.rules))
    except RulesError as exc:
        print(f"[rules] {exc}", file=sys.stderr)
        return False
    print(f"[rules] rules for this warehouse: {settings.rules_dir} (replaced {', '.join(replaced)})")
    return True


def _refresh(settings: Settings, first: str, last: str, single_run: bool) -> int:
    from tierwise.refresh import refresh

    started = time.perf_counter()
    result = refresh(settings, first, last, single_run=single_run)
    if not result.success:
        print(f"[refresh] FAILED {result.failure}", file=sys.stderr)
        print(f"[refresh] Dagster run(s): {', '.join(result.run_ids)} (see `make dagster`)", file=sys.stderr)
        return 1
    print(f"[refresh] {first}..{last} built, checked and published in {time.perf_counter() - started:.1f}s")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not _install_rules(args, settings):
        return 2
    return _refresh(settings, args.month, args.month, single_run=True)


def _reversed_range(args: argparse.Namespace) -> bool:
    """True (and says so) when --from is after --to."""
    if args.from_month > args.to_month:
        print(f"[{args.command}] --from {args.from_month} is after --to {args.to_month}", file=sys.stderr)
        return True
    return False


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    if _reversed_range(args):
        return 2
    if not _install_rules(args, settings):
        return 2
    return _refresh(settings, args.from_month, args.to_month, single_run=not args.month_by_month)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """generate -> load -> build every month, on built-in sample data."""
    end = args.end_month or last_closed_month()
    gen_args = argparse.Namespace(
        customers=args.customers,
        months=args.months,
        end_month=end,
        seed=args.seed,
        format="csv",
        encoding="utf-8",
        delimiter=",",
        out=None,
    )
    if cmd_generate(gen_args, settings):
        return 1
    months = month_range(_shift_month(end, 1 - args.months), end)
    batches = [str(settings.landing_dir / m) for m in months]
    if cmd_load(argparse.Namespace(batches=batches), settings):
        return 1
    if _refresh(settings, months[0], months[-1], single_run=True):
        return 1
    _print_tier_summary(settings)
    for path in sorted((settings.reports_dir / end).glob("monthly_review.*")):
        print(f"[demo] monthly review: {path}")
    if cmd_docs(args, settings):
        return 1
    print(f"[demo] published for BI: {settings.home / 'serving' / 'serving.duckdb'} (+ Parquet under serving/parquet)")
    print(f"[demo] done. build warehouse: {settings.warehouse_path}")
    print(f"[demo] landing batches: {settings.landing_dir}")
    print(f"[demo] dbt artifacts and logs: {settings.dbt_target_dir.parent}, {settings.logs_dir}")
    return 0


def _print_tier_summary(settings: Settings) -> None:
    """The latest month's tier KPIs, read back from the published serving database."""
    import duckdb

    from tierwise.publish import serving_dir

    con = duckdb.connect(str(serving_dir(settings) / "serving.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select cast(as_of_date as varchar), tier, customers, aum_cny, aum_share, aum_retention_rate "
            "from marts.rpt_tier_kpis where as_of_date = (select max(as_of_date) from marts.rpt_tier_kpis) "
            "order by tier_rank desc"
        ).fetchall()
    finally:
        con.close()
    if not rows:
        return
    print(f"[demo] tiers at {rows[0][0]} (marts.rpt_tier_kpis):")
    print(f"[demo]   {'tier':<10}{'customers':>10}{'AUM (CNY)':>20}{'share':>8}{'AUM kept':>10}")
    for _, tier, customers, aum, share, kept in rows:
        kept_text = "-" if kept is None else f"{kept:.1%}"
        print(f"[demo]   {tier:<10}{customers:>10,}{float(aum):>20,.2f}{share:>8.1%}{kept_text:>10}")


def _shift_month(month: str, delta: int) -> str:
    y, m = (int(p) for p in month.split("-"))
    index = y * 12 + (m - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Render the monthly review of a published month through the Dagster report job."""
    from tierwise.refresh import render_report

    langs = [args.lang] if args.lang else None
    result = render_report(settings, args.month, langs=langs, formats=args.format)
    if not result.success:
        print(f"[report] FAILED {result.failure}", file=sys.stderr)
        return 1
    for path in result.paths:
        print(f"[report] {path}")
    return 0


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    """Why a customer-month got its tier, signals and recommendations, traced to source rows."""
    from tierwise.explain import ExplainError, explain, to_json, to_text

    try:
        result = explain(settings.warehouse_path, args.customer, args.month)
    except ExplainError as exc:
        print(f"[explain] {exc}", file=sys.stderr)
        return 2
    print(to_json(result) if args.json else to_text(result, args.lang))
    return 0


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    """The governed metrics (docs/metrics.md), answered by MetricFlow from the published marts."""
    from tierwise.metrics import Metrics
    from tierwise.safe_text import csv_bytes, csv_text

    try:
        with Metrics(settings) as metrics:
            if args.action == "list":
                for metric in metrics.catalogue():
                    print(f"{metric['name']:<32} {metric['type']:<7} {metric['description']}")
                return 0
            months = metrics.months()
            start = months[-args.last_months] if args.last_months and months else None
            answer = metrics.query(
                [name.strip() for name in args.metrics.split(",") if name.strip()],
                [name.strip() for name in args.group_by.split(",") if name.strip()],
                start=start,
                where=args.where or (),
            )
    except (FileNotFoundError, ValueError) as exc:
        print(f"[metrics] {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # MetricFlow's own errors name the metric or dimension it cannot resolve
        print(f"[metrics] {type(exc).__name__}: {str(exc).strip()[:2000]}", file=sys.stderr)
        return 2
    cells = [[csv_text(v) if isinstance(v, str) else ("" if v is None else str(v)) for v in row] for row in answer.rows]
    if args.csv:
        Path(args.csv).write_bytes(csv_bytes(answer.columns, answer.rows))
        print(f"[metrics] {len(cells)} rows -> {args.csv}")
        return 0
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(answer.columns)]
    print("  ".join(c.ljust(w) for c, w in zip(answer.columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    if args.sql:
        print(answer.sql)
    return 0


def explorer_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """Streamlit serving the segment explorer (orchestration/tierwise/explorer/app.py) on this
    machine only, headless, without Streamlit's usage statistics."""
    from tierwise.config import REPO_ROOT

    app = REPO_ROOT / "orchestration" / "tierwise" / "explorer" / "app.py"
    return [str(Path(sys.executable).with_name("streamlit")), "run", str(app), "--server.address", address,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]  # fmt: skip


def cmd_explore(args: argparse.Namespace, settings: Settings) -> int:
    """The segment explorer in the browser, on this warehouse's publication (Ctrl-C stops it)."""
    import subprocess

    if not (settings.home / "serving" / "serving.duckdb").exists():
        print(f"[explore] nothing published under {settings.home}: run `tierwise run` (or `make demo`) first",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"[explore] http://{args.address}:{args.port}/ on {settings.home} (Ctrl-C stops it)", flush=True)
    env = {**os.environ, "TIERWISE_HOME": str(settings.home)}
    try:
        return subprocess.run(explorer_command(args.port, args.address), env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    """dbt docs (lineage graph, every column described) + column-level lineage, as a static folder."""
    from tierwise.docs import build_docs

    try:
        site = build_docs(settings)
    except RuntimeError as exc:
        print(f"[docs] {exc}", file=sys.stderr)
        return 1
    print(f"[docs] {site.index} (dbt docs: models, tests, exposures, lineage graph)")
    print(
        f"[docs] {site.lineage_html}: {site.resolved_columns} of {site.mart_columns} mart columns traced "
        "to landing / rule columns"
    )
    return 0


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from tierwise.publish import PublishRefused, publish

    def log(message: str) -> None:
        print(f"[publish] {message}", file=sys.stderr)

    try:
        with build_pool_slot(settings, "publish", warehouse_wait_seconds(), log):
            result = publish(settings, run_id=args.run_id, wait_seconds=warehouse_wait_seconds(), log=log)
    except (WarehouseBusy, PublishRefused) as exc:
        print(f"[publish] REFUSED {exc}", file=sys.stderr)
        return 2
    print(f"[publish] release {result.release}: {len(result.row_counts)} marts -> {result.serving_path}")
    print(f"[publish] parquet: {result.parquet_dir}")
    return 0


def cmd_spark(args: argparse.Namespace, settings: Settings) -> int:
    """The same dbt project on Spark: raw tables handed over, dbt build, marts compared."""
    try:
        from tierwise import spark
    except ImportError as exc:  # pragma: no cover - the spark extra is part of the dev install
        print(f"[spark] needs the spark extra (pip install -e '.[spark]'): {exc}", file=sys.stderr)
        return 2
    if _reversed_range(args):
        return 2
    endpoint = args.endpoint
    try:
        if not args.no_sync:
            tables = spark.sync_raw(settings, endpoint)
            print(f"[spark] raw: {len(tables)} tables, {sum(tables.values()):,} rows handed to Spark ({endpoint})")
        extra = ("--full-refresh",) if args.full_refresh else ()
        built = spark.dbt_build(settings, args.from_month, args.to_month, *extra, endpoint=endpoint)
        summary = [line for line in built.stdout.splitlines() if "Done. PASS=" in line]
        print(f"[spark] dbt build --target {spark.TARGETS[endpoint]}: "
              f"{summary[-1].split('Done. ')[-1] if summary else built.stdout[-2000:]}")  # fmt: skip
        if built.returncode != 0:
            return 1
        if args.no_compare:
            return 0
        compared = spark.compare_marts(settings, endpoint)
    except RuntimeError as exc:  # the endpoint refused a statement or could not be reached
        print(f"[spark] FAILED {exc}", file=sys.stderr)
        return 1
    different = 0
    for mart, (rows, only_duckdb, only_spark) in compared.items():
        verdict = "equal" if only_duckdb == only_spark == 0 else "DIFFERENT"
        different += verdict != "equal"
        print(f"[spark] {mart}: {rows:,} rows, {only_duckdb} only in DuckDB, {only_spark} only in Spark -> {verdict}")
    return 1 if different else 0


def _add_month_range_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_month", type=_month_arg, required=True, help="first month, YYYY-MM")
    parser.add_argument("--to", dest="to_month", type=_month_arg, required=True, help="last month, YYYY-MM")


def _add_bank_args(parser: argparse.ArgumentParser) -> None:
    """The synthetic bank's size, history, last month and seed (generate and demo share them)."""
    parser.add_argument("--customers", type=_positive, default=10_000, help="number of customers (default 10000)")
    parser.add_argument("--months", type=_positive, default=12, help="months of history (default 12)")
    parser.add_argument(
        "--end-month", type=_month_arg, default=None, help="last month YYYY-MM (default: the last closed month)"
    )
    parser.add_argument("--seed", type=int, default=20251031, help="random seed (default 20251031)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tierwise",
        description="Monthly customer segmentation warehouse (客户分层管理). State lives under $TIERWISE_HOME "
        "(default ./.tierwise).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate",
        help="write a synthetic bank as monthly landing batches",
        description="Simulate a retail bank and write one landing batch folder per month "
        "(all 11 tables + _manifest.json), per docs/landing-contract.md. Same seed, same bytes.",
    )
    _add_bank_args(gen)
    gen.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    gen.add_argument("--encoding", choices=("utf-8", "gbk"), default="utf-8", help="CSV encoding (default utf-8)")
    gen.add_argument("--delimiter", choices=(",", "|"), default=",", help="CSV delimiter (default ,)")
    gen.add_argument("--out", default=None, help="output folder (default $TIERWISE_HOME/landing)")
    gen.set_defaults(func=cmd_generate)

    load = sub.add_parser(
        "load",
        help="validate and load landing batches into the warehouse",
        description="Verify each batch's manifest (rows, sha256, encoding, delimiter), columns "
        "and types; refuse a broken file naming file, row and column; quarantine rows that break "
        "a rule; record reconciliation (balance roll-forward breaks are found by the build). Loading a batch twice "
        "changes nothing; a re-delivered batch_id replaces the earlier one.",
    )
    load.add_argument("batches", nargs="*", help="batch folders (default: every batch under $TIERWISE_HOME/landing)")
    load.set_defaults(func=cmd_load)

    batches = sub.add_parser(
        "batches",
        help="list loaded batches, or retract one",
        description="`tierwise batches` lists the loaded landing batches (one per month). "
        "`tierwise batches retract BATCH_ID --reason TEXT` removes a batch from raw in one transaction and "
        "records who, when, why and what it held in raw._batch_retractions; a month's published figures "
        "stay until a corrected batch is loaded and the month rebuilt (publishing refuses to drop a month).",
    )
    batches.add_argument("action", nargs="?", choices=("list", "retract"), default="list")
    batches.add_argument("batch_id", nargs="?", help="the batch to retract")
    batches.add_argument("--reason", help="why the batch is retracted (required to retract)")
    batches.set_defaults(func=cmd_batches)

    status = sub.add_parser(
        "status",
        help="per month: batch delivered, built, published, report rendered, open warnings",
        description="One line per month from the first delivered one to the last closed month: the batch "
        "(id, revision, when loaded) or LATE once its due day has passed (TIERWISE_BATCH_DUE_DAY of the next "
        "month, default 3, Asia/Shanghai), built, the release publishing it, the release its report was "
        "rendered from, and open data-quality warnings. Exit 1 when a batch is late.",
    )
    status.set_defaults(func=cmd_status)

    rules_help = (
        "folder of rule CSVs (same names as seeds/) that replace the shipped defaults for this "
        "warehouse from now on; the tier history is rebuilt under them"
    )
    run = sub.add_parser(
        "run",
        help="refresh one month: load its batch, build, test, publish, report (Dagster)",
        description="Run the Dagster job monthly_refresh for one month's partition in this process: "
        "load the month's landing batch (or use the one already loaded), dbt build (models, "
        "snapshots, seeds, tests as asset checks), publish the marts for BI and render the "
        "reports. The run is recorded in the Dagster instance under $TIERWISE_HOME/dagster.",
    )
    run.add_argument("--month", type=_month_arg, required=True, help="month to refresh, YYYY-MM")
    run.add_argument("--rules", default=None, help=rules_help)
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser(
        "backfill",
        help="refresh a range of months in one Dagster run (or month by month)",
        description="Run monthly_refresh over the partitions --from..--to. By default one run "
        "covers the range (one dbt build that carries the downgrade grace month to month); "
        "--month-by-month runs one partition after another. Both give the same marts.",
    )
    _add_month_range_args(backfill)
    backfill.add_argument("--month-by-month", action="store_true", help="one Dagster run per month, in order")
    backfill.add_argument("--rules", default=None, help=rules_help)
    backfill.set_defaults(func=cmd_backfill)

    pub = sub.add_parser(
        "publish",
        help="publish the marts to the read-only serving database and Parquet",
        description="Copy the marts schema (only) into a new serving DuckDB file and a Parquet release "
        "partitioned by as_of_date, then swap both in atomically; BI readers are never blocked.",
    )
    pub.add_argument("--run-id", default="manual", help="run id recorded in marts._publication")
    pub.set_defaults(func=cmd_publish)

    report = sub.add_parser(
        "report",
        help="render the monthly review of a published month (HTML, PDF, Excel)",
        description="Render the monthly review (客户分层月度回顾) of month M from the serving database, "
        "as the Dagster report job: $TIERWISE_HOME/reports/M/monthly_review.<lang>.<html|pdf|xlsx>.",
    )
    report.add_argument("--month", type=_month_arg, required=True, help="month to report, YYYY-MM")
    report.add_argument("--lang", choices=["zh", "en"], default=None, help="one language (default: zh and en)")
    report.add_argument(
        "--format",
        action="append",
        choices=["html", "pdf", "xlsx"],
        default=None,
        help="a format to render (repeatable; default: all three)",
    )
    report.set_defaults(func=cmd_report)

    exp = sub.add_parser(
        "explain",
        help="why a customer got its tier, churn signals and cross-sell rows in a month",
        description="Explain a customer-month in plain words: AUM parts per account and holding with the "
        "batch, file and row each came from, FX, thresholds, raw and prior tier, months below and the "
        "downgrade-rule branch; each churn signal with its values; each cross-sell row's reason. Reads the "
        "build database read-only; masked names only.",
    )
    exp.add_argument("--customer", required=True, help="customer_id")
    exp.add_argument("--month", type=_month_arg, required=True, help="month, YYYY-MM")
    exp.add_argument("--lang", choices=["zh", "en"], default="en", help="words (default en)")
    exp.add_argument("--json", action="store_true", help="machine-readable JSON instead of words")
    exp.set_defaults(func=cmd_explain)

    met = sub.add_parser(
        "metrics",
        help="the governed metrics (dbt semantic layer), answered from the published marts",
        description="List the metrics the semantic layer defines (dbt_project/models/semantic/, docs/metrics.md) "
        "or query them: MetricFlow compiles the request to SQL over the marts and runs it on the published "
        "serving file, read-only. Example: tierwise metrics query --metrics aum_retention_rate "
        "--group-by metric_time__month,tier_month__tier --last-months 6",
    )
    met.add_argument("action", choices=["list", "query"], help="list the metrics, or query some")
    met.add_argument("--metrics", default="", help="metric names, comma-separated (query)")
    met.add_argument(
        "--group-by", default="metric_time__month", help="dimensions, comma-separated (default metric_time__month)"
    )
    met.add_argument("--last-months", type=int, default=None, help="only the last N published months")
    met.add_argument(
        "--where", action="append", help="a MetricFlow filter, e.g. \"{{ Dimension('tier_month__tier') }} = 'gold'\""
    )
    met.add_argument("--csv", default=None, help="write the answer to this CSV file (text cells formula-safe)")
    met.add_argument("--sql", action="store_true", help="also print the SQL MetricFlow ran")
    met.set_defaults(func=cmd_metrics)

    explore = sub.add_parser(
        "explore",
        help="the segment explorer in the browser (overview, watchlist, customer 360, what-if)",
        description="Start the segment explorer (Streamlit) on the published serving file, read-only: KPIs and "
        "migration with drill-down, the watchlist with downloads, a customer's months, and a what-if of new "
        "thresholds computed by the dbt tier models on a scratch copy. Chinese and English; masked names only.",
    )
    explore.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    explore.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1 only)")
    explore.set_defaults(func=cmd_explore)

    docs = sub.add_parser(
        "docs",
        help="build the documentation site: dbt docs + column-level lineage",
        description="Build $TIERWISE_HOME/docs/: dbt's docs as one static index.html (models, sources, tests, "
        "exposures, lineage graph, every column described) and column_lineage.{html,json} (sqlglot over the "
        "compiled SQL: each mart column traced to landing and rule columns).",
    )
    docs.set_defaults(func=cmd_docs)

    spark_cmd = sub.add_parser(
        "spark",
        help="build the same dbt project on Spark and compare every mart with DuckDB",
        description="Hand the build database's raw tables to Spark, run `dbt build` on Spark for the months, "
        "then compare every mart with the DuckDB build row for row (money to the cent). Exit 1 when any mart "
        "differs. --endpoint thrift (default) reaches a Spark Thrift server at $TIERWISE_SPARK_HOST:"
        "$TIERWISE_SPARK_PORT (README, 'Spark'); session runs a local PySpark inside dbt (metastore under "
        "$TIERWISE_HOME/spark). A later month after built ones is an incremental run: its partitions are "
        "overwritten.",
    )
    _add_month_range_args(spark_cmd)
    spark_cmd.add_argument("--endpoint", choices=("thrift", "session"), default="thrift",
                           help="how to reach Spark (default: thrift)")  # fmt: skip
    spark_cmd.add_argument("--full-refresh", action="store_true", help="rebuild every table instead of the months")
    spark_cmd.add_argument("--no-sync", action="store_true",
                           help="raw.* is already on Spark (landed by the bank's own ingestion)")  # fmt: skip
    spark_cmd.add_argument("--no-compare", action="store_true", help="build on Spark only")
    spark_cmd.set_defaults(func=cmd_spark)

    demo = sub.add_parser(
        "demo",
        help="the main job on sample data: generate, load, build, test, publish, report",
        description="Generate a synthetic bank under $TIERWISE_HOME/landing, load every batch, "
        "then backfill every month in one Dagster run (dbt build with tests as asset checks, "
        "publish, monthly review report), and print where the outputs are.",
    )
    _add_bank_args(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args, Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
