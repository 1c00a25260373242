"""tierwise benchmark: time every stage on generated banks of several sizes.

    make bench                            # 10k, 100k and 1M customers, 12 months
    BENCH_SIZES=10000,100000 make bench   # the two smaller banks only

Each stage runs as its own process (the operator's commands), timed on the wall clock with the
peak resident memory of its whole process tree (dbt's subprocess included), sampled from /proc.
Beside tierwise, the same two marts are built by a hand-written DuckDB script (baseline a) and by
pandas (baseline b) on the same raw data, and all three are compared row for row.
Prints one table per size, the targets as measured ratios and the machine; `--markdown FILE`
appends them to FILE. A benchmark reports; it fails (exit 1) only when a baseline disagrees.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from tierwise.config import Settings, dbt_command
from tierwise.rules import record_rules_built

TIERWISE = str(Path(sys.executable).with_name("tierwise"))
HERE = Path(__file__).resolve().parent
COMPARED = ("fct_customer_month", "fct_customer_tier")
FULL_BUILD = "dbt build, all {months} months (every model and data test, full refresh)"
ONE_MONTH = "dbt build, one month (incremental)"
LOAD_HISTORY = "load, the first {months} months"
LOAD_MONTH = "load, the operator's month (one batch)"
OPERATOR_MONTH = "tierwise run --month (Dagster: build, checks, publish, report)"
TWO_MARTS = "tierwise dbt: the two marts and their upstream, all months (run, no tests)"
BASELINE_SQL = "baseline (a): one hand-written DuckDB script"
BASELINE_PANDAS = "baseline (b): pandas"


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    rows: int | None = None
    stopped: str | None = None  # why the stage was stopped before it finished (memory)

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds else None


def _tree_rss_kb(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            pid, ppid = int(status.parent.name), int(fields["PPid"].strip())
            rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
            children.setdefault(ppid, []).append(pid)
        except (OSError, ValueError, KeyError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def run_stage(
    name: str, command: list[str], env: dict, rows: int | None = None, max_rss_mb: float | None = None
) -> Stage:
    """Run one stage as its own process; `max_rss_mb` stops it (and records why) past that memory."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)  # fmt: skip
        peak, stopped = 0, None
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            if max_rss_mb and peak / 1024 > max_rss_mb:
                os.killpg(proc.pid, 9)
                proc.wait()
                stopped = f"stopped: peak RSS passed {max_rss_mb / 1024:.0f} GB"
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        log.seek(0)
        output = log.read()
    if stopped:
        print(f"  {name}: {stopped} after {seconds:.0f} s", flush=True)
        return Stage(name, seconds, peak / 1024, rows, stopped)
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed ({proc.returncode}):\n{output[-3000:]}")
    print(f"  {name}: {seconds:,.1f} s, peak RSS {peak / 1024:,.0f} MB", flush=True)
    return Stage(name, seconds, peak / 1024, rows)


def machine() -> str:
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores, {int(mem.split()[1]) / 1024 / 1024:.1f} GiB RAM"


def speed_probe() -> str:
    """The machine's speed at the time of a run, on a fixed task (shared virtual machines vary by
    a fifth from one hour to the next): DuckDB hashing 300M integers, a pure-Python loop."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")  # no bar in the run's log
        started = time.perf_counter()
        con.execute("select sum(hash(i) % 1000) from range(300000000) t(i)").fetchone()
        sql = time.perf_counter() - started
    started, total = time.perf_counter(), 0
    for i in range(20_000_000):
        total += i & 7
    return f"speed probe: DuckDB 300M hashes {sql:.2f} s, Python 20M-step loop {time.perf_counter() - started:.2f} s"


def bench_size(
    customers: int,
    months: int,
    end: str,
    root: Path,
    resume: bool = False,
    recorded_only: bool = False,
    operator_only: bool = False,
) -> list[Stage]:
    """Every stage on one bank. Each finished stage is recorded in the bank's `bench-stages.json`;
    with `resume`, recorded stages are not run again (a 1M bank takes hours; a run stopped after
    the load goes on from the full build); with `recorded_only`, nothing runs: the recorded
    stages are reported and the others left out; with `operator_only`, the stages up to the
    operator's run only (no report or side-by-side)."""
    home = root / f"bank-{customers}"
    settings = Settings(home)
    env = {**os.environ, "TIERWISE_HOME": str(home), **settings.dbt_env()}
    first = _shift(end, 1 - months)
    record = home / "bench-stages.json"
    keep = resume or recorded_only
    done = {s["name"]: Stage(**s) for s in json.loads(record.read_text())} if keep and record.exists() else {}
    stages: list[Stage] = []
    detail_record = home / "bench-details.json"
    details: dict[str, list] = json.loads(detail_record.read_text()) if keep and detail_record.exists() else {}

    def keep_detail(name: str, read) -> None:
        """What a stage spent its time on (dbt's nodes, the Dagster run's steps), read after it ran."""
        if name in done or recorded_only:
            return
        details[name] = read()
        detail_record.write_text(json.dumps(details, indent=1))

    def stage(name: str, command: list[str], rows=None, max_rss_mb: float | None = None, first_month=None) -> None:
        """`rows`: a count, or a function giving it (called only when the stage runs); `first_month`:
        a dbt stage's months, first_month..end, given as a refresh gives them (the environment)."""
        if name in done:
            print(f"  {name}: recorded by an earlier run, {done[name].seconds:,.1f} s", flush=True)
            stages.append(done[name])
        elif recorded_only:
            print(f"  {name}: not recorded, left out", flush=True)
        else:
            months = {"TIERWISE_FROM_MONTH": first_month, "TIERWISE_AS_OF_MONTH": end} if first_month else {}
            stages.append(run_stage(name, command, {**env, **months}, rows() if callable(rows) else rows, max_rss_mb))
            home.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps([vars(s) for s in stages], indent=1))

    stage("generate", [TIERWISE, "generate", "--customers", str(customers), "--months", str(months),
                       "--end-month", end])  # fmt: skip
    delivered = _delivered(home, _months(first, end))
    if stages:
        stages[0].rows = delivered
    # The history first, then the last month's batch alone: the load half of the operator's month.
    history, last_batch = _months(first, _shift(end, -1)), home / "landing" / end
    last_rows = _delivered(home, [end])
    if history:  # `tierwise load` with no folder would load every batch, the last month's too
        stage(LOAD_HISTORY.format(months=months - 1),
              [TIERWISE, "load", *(str(home / "landing" / m) for m in history)], delivered - last_rows)  # fmt: skip
    stage(LOAD_MONTH, [TIERWISE, "load", str(last_batch)], last_rows)
    warehouse = settings.warehouse_path

    # the production refresh's dbt build (defs/dbt_assets.build_args): data tests, no unit tests
    no_unit = ("--exclude-resource-type", "unit_test")
    full_name = FULL_BUILD.format(months=months)
    # The months reach dbt in its environment, as a refresh passes them (macros/months.sql), not as
    # --vars: a new vars value would make the next dbt command (the operator's run among them)
    # parse the whole project again, which a month's refresh in production does not do.
    stage(full_name, dbt_command("build", *no_unit, "--full-refresh"), delivered, first_month=first)
    keep_detail(full_name, lambda: slowest_nodes(settings))
    # a full publish of every month: what BI reads before the operator's month, which then
    # publishes only its months into a copy of it (publish.py)
    stage("publish", [TIERWISE, "publish"], lambda: _mart_rows(home))
    stage(ONE_MONTH, dbt_command("build", *no_unit), last_rows, first_month=end)
    keep_detail(ONE_MONTH, lambda: slowest_nodes(settings))
    # the operator's refresh of one month through Dagster; the rules are marked as built so it
    # stays incremental (a rules change would rebuild everything)
    record_rules_built(settings)
    stage(OPERATOR_MONTH, [TIERWISE, "run", "--month", end], last_rows)
    keep_detail(OPERATOR_MONTH, lambda: run_steps(settings))
    DETAILS[customers] = details
    if operator_only:
        return stages
    stage("report (zh+en, html/pdf/xlsx)", [TIERWISE, "report", "--month", end])

    # Side by side on the same raw data: the same two marts by dbt alone and by the baselines.
    def customer_months() -> int:
        return _count(warehouse, "marts.fct_customer_month")

    stage(TWO_MARTS, dbt_command("run", "--select", "+fct_customer_month +fct_customer_tier", "--full-refresh"),
          customer_months, first_month=first)  # fmt: skip
    spill = env["TIERWISE_DUCKDB_TEMP_DIR"]
    stage(BASELINE_SQL, [sys.executable, str(HERE / "baseline_duckdb.py"), str(warehouse), spill], customer_months)
    stage(BASELINE_PANDAS, [sys.executable, str(HERE / "baseline_pandas.py"), str(warehouse)], customer_months,
          PANDAS_MAX_RSS_MB)  # fmt: skip
    return stages


DETAILS: dict[int, dict[str, list]] = {}


def slowest_nodes(settings: Settings, count: int = 12) -> list:
    """dbt's run_results.json of the last dbt command: the slowest nodes and the time per resource
    type ([name, seconds] pairs; type totals as 'all <type>s (n)')."""
    results = json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    by_type: dict[str, list[float]] = {}
    for r in results:
        by_type.setdefault(r["unique_id"].split(".")[0], []).append(r["execution_time"])
    slow = sorted(results, key=lambda r: -r["execution_time"])[:count]
    return [[f"all {t}s ({len(v)})", round(sum(v), 1)] for t, v in sorted(by_type.items())] + [
        [_node_name(r["unique_id"]), round(r["execution_time"], 1)] for r in slow
    ]


def _node_name(unique_id: str) -> str:
    """model.tierwise.fct_cross_sell -> fct_cross_sell; a generic test's id ends in a hash: its name."""
    parts = unique_id.split(".")
    return parts[-2] if parts[0] == "test" and len(parts) > 3 else parts[-1]


def run_steps(settings: Settings) -> list:
    """The last Dagster run's steps (dbt build and checks, publish, report...) and their seconds."""
    from tierwise.refresh import instance_for

    instance = instance_for(settings)
    run = instance.get_runs(limit=1)[0]
    stats = instance.get_run_step_stats(run.run_id)
    return [[s.step_key, round((s.end_time or 0) - (s.start_time or 0), 1)] for s in stats]


def _delivered(home: Path, months: list[str]) -> int:
    return sum(
        sum(t["rows"] for t in json.loads((home / "landing" / m / "_manifest.json").read_text())["tables"].values())
        for m in months
    )


PANDAS_MAX_RSS_MB = float(os.environ.get("BENCH_PANDAS_MAX_RSS_MB", 18 * 1024))


def _count(warehouse: Path, table_name: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"select count(*) from {table_name}").fetchone()[0]  # noqa: S608 - fixed names
    finally:
        con.close()


def compare(warehouse: Path, schemas: list[str]) -> list[str]:
    """Row-for-row equality of each baseline's two marts with tierwise's (money to the cent):
    rows only in the marts, rows only in the baseline. Returns the failures."""
    if not schemas:
        return []
    con = duckdb.connect(str(warehouse), read_only=True)
    failures = []
    try:
        for schema in schemas:
            for mart in COMPARED:
                cols = ", ".join(r[0] for r in con.execute(
                    "select column_name from duckdb_columns() where schema_name = 'marts' and table_name = ? "
                    "order by column_index", [mart]).fetchall())  # fmt: skip
                ours, theirs = f"marts.{mart}", f"{schema}.{mart}"
                only_ours = con.execute(
                    f"select count(*) from (select {cols} from {ours} except all select {cols} from {theirs})"  # noqa: S608
                ).fetchone()[0]
                only_theirs = con.execute(
                    f"select count(*) from (select {cols} from {theirs} except all select {cols} from {ours})"  # noqa: S608
                ).fetchone()[0]
                total = con.execute(f"select count(*) from {ours}").fetchone()[0]  # noqa: S608
                verdict = "equal" if only_ours == only_theirs == 0 else "DIFFERENT"
                print(f"  {schema}.{mart} vs {ours}: {total:,} rows, {only_ours} only in marts, "
                      f"{only_theirs} only in baseline -> {verdict}", flush=True)  # fmt: skip
                if verdict != "equal":
                    failures.append(f"{theirs}: {only_ours} rows only in marts, {only_theirs} only in the baseline")
    finally:
        con.close()
    return failures


def _mart_rows(home: Path) -> int:
    """The rows a full publish copies: every mart of the build database (counted before it runs)."""
    con = duckdb.connect(str(Settings(home).warehouse_path), read_only=True)
    try:
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        return sum(con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for (t,) in tables)  # noqa: S608
    finally:
        con.close()


def _shift(month: str, delta: int) -> str:
    y, m = (int(p) for p in month.split("-"))
    index = y * 12 + m - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _months(first: str, last: str) -> list[str]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = _shift(m, 1)
    return out


def table(customers: int, stages: list[Stage]) -> str:
    lines = [
        f"### {customers:,} customers",
        "",
        "rows: delivered rows for generate, load and the refreshes; mart rows for publish; customer-months for the"
        " side-by-side stages.",
        "",
        "| stage | wall s | rows | rows/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in stages:
        rate = f"{s.rows_per_second:,.0f}" if s.rows_per_second and not s.stopped else "-"
        rows = f"{s.rows:,}" if s.rows else "-"
        wall = f"{s.seconds:,.1f}" + (f" ({s.stopped})" if s.stopped else "")
        lines.append(f"| {s.name} | {wall} | {rows} | {rate} | {s.peak_rss_mb:,.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000,1000000"))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--end-month", default="2025-12")
    parser.add_argument("--root", default=None, help="where the banks are built (default: a temp folder)")
    parser.add_argument("--markdown", default=None, help="append the result tables to this file")
    parser.add_argument("--recorded-only", action="store_true",
                        help="with --root: run nothing, report the stages earlier runs recorded")  # fmt: skip
    parser.add_argument("--resume", action="store_true",
                        help="with --root: keep the stages an earlier run of the same banks recorded")  # fmt: skip
    parser.add_argument("--operator-only", action="store_true",
                        help="up to the operator's month only: generate, load, builds, `tierwise run`")  # fmt: skip
    args = parser.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="tierwise-bench-"))
    probe = speed_probe()
    print(f"machine: {machine()}; {probe}; banks under {root}")
    results, failures, by_size = [], [], {}
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} customers x {args.months} months", flush=True)
        stages = bench_size(
            size, args.months, args.end_month, root, args.resume, args.recorded_only, args.operator_only
        )
        pandas = _stage(stages, BASELINE_PANDAS)
        schemas = (["baseline"] if _stage(stages, BASELINE_SQL) else []) + (
            ["baseline_pandas"] if pandas and not pandas.stopped else []
        )
        size_failures = compare(root / f"bank-{size}" / "warehouse" / "build.duckdb", schemas)
        failures += [f"{size:,}: {f}" for f in size_failures]
        by_size[size] = stages
        results.append(table(size, stages) + "\n\n" + ratios(stages, size_failures, schemas, DETAILS.get(size, {})))
        print(results[-1] + "\n", flush=True)
    summary = scaling(by_size)
    print(summary, flush=True)
    probe = f"{probe} at the start, {speed_probe().removeprefix('speed probe: ')} at the end"
    print(probe, flush=True)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as out:
            command = " ".join(["python benchmarks/bench.py", *sys.argv[1:]])
            out.write(f"\n## Run of {time.strftime('%Y-%m-%d %H:%M')}\n\nMachine: {machine()}; {probe}. "
                      f"Command: `{command}` (`make bench` runs `--markdown BENCHMARKS.md`).\n\n")  # fmt: skip
            out.write("\n\n".join(results) + "\n\n" + summary + "\n")
    if failures:
        print("baselines disagree with the marts:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def _stage(stages: list[Stage], prefix: str) -> Stage | None:
    return next((s for s in stages if s.name.startswith(prefix)), None)


def ratios(stages: list[Stage], failures: list[str], schemas: list[str], details: dict[str, list]) -> str:
    """The issue's targets as measured ratios (a benchmark reports; it does not fail on them);
    a ratio whose stages were not measured is left out."""
    full, one = _stage(stages, "dbt build, all"), _stage(stages, ONE_MONTH)
    dbt, sql, pandas = _stage(stages, TWO_MARTS), _stage(stages, BASELINE_SQL), _stage(stages, BASELINE_PANDAS)
    finished = [s.peak_rss_mb for s in stages if not s.stopped]
    lines = []
    if schemas:
        lines.append(f"- equality with the marts ({', '.join(schemas)}; {', '.join(COMPARED)}, row for row, money to "
                     "the cent): " + ("all equal" if not failures else "; ".join(failures)))  # fmt: skip
    if sql and dbt and full:
        two, every = dbt.seconds / sql.seconds, full.seconds / sql.seconds
        lines.append(f"- dbt (two marts) / baseline (a): {two:.2f}x; full build (every mart and data test) / "
                     f"baseline (a): {every:.2f}x (target <= 1.5x at 1M)")  # fmt: skip
    if one and full:
        lines.append(f"- one-month incremental build / full build: {one.seconds / full.seconds:.0%} (target <= 10%)")
    loads = [s for s in stages if s.name.startswith("load") and s.rows]
    if loads:
        rows, seconds = sum(s.rows for s in loads), sum(s.seconds for s in loads)
        lines.append(f"- load: {rows / seconds:,.0f} rows/s over {rows:,} rows (target >= 500,000)")
    month_load, run = _stage(stages, LOAD_MONTH), _stage(stages, OPERATOR_MONTH)
    if month_load and run:
        lines.append(f"- the operator's month, its batch's load + `tierwise run --month`: {month_load.seconds:,.1f} + "
                     f"{run.seconds:,.1f} = {month_load.seconds + run.seconds:,.1f} s (target <= 120 s)")  # fmt: skip
    steps = dict(map(tuple, details.get(OPERATOR_MONTH, [])))
    publish = _stage(stages, "publish")
    if publish and "serving_publication" in steps:
        month_publish = steps["serving_publication"]
        lines.append(f"- the run's publish of one month / a full publish: {month_publish:,.1f} / "
                     f"{publish.seconds:,.1f} s = {month_publish / publish.seconds:.0%} (target <= 10%)")  # fmt: skip
    if sql and dbt and full:
        lines.append(f"- two core marts / baseline (a): {dbt.seconds / sql.seconds:.2f}x (target <= 1.0x)")
    for name, spent in details.items():
        parts = [f"{k} {v:,.1f} s" for k, v in spent]
        if name == OPERATOR_MONTH and run:  # the run's steps run one after the other, in its process
            outside = run.seconds - sum(steps.values())
            parts.append(f"outside the steps (start-up, Dagster's run and events) {outside:,.1f} s")
        lines.append(f"- where {name} spent its time: " + ", ".join(parts))
    if pandas and pandas.stopped:
        lines.append(f"- pandas: {pandas.stopped} after {pandas.seconds:,.0f} s (does not fit)")
    elif pandas and dbt and sql:
        lines.append(f"- pandas / dbt (two marts): {pandas.seconds / dbt.seconds:.1f}x; pandas / baseline (a): "
                     f"{pandas.seconds / sql.seconds:.1f}x (target: tierwise >= 10x faster at 100k)")  # fmt: skip
    if finished:
        lines.append(f"- peak RSS of any finished stage: {max(finished):,.0f} MB (target <= 8 GB)")
    return "\n".join(lines)


def scaling(by_size: dict[int, list[Stage]]) -> str:
    sizes = sorted(by_size)
    lines = ["### Growth (target: 10x customers costs <= 11x time)", ""]
    for small, big in zip(sizes, sizes[1:], strict=False):
        factor = big / small
        for prefix in ("dbt build, all", TWO_MARTS, BASELINE_SQL):
            a, b = _stage(by_size[small], prefix), _stage(by_size[big], prefix)
            if not (a and b):
                continue
            lines.append(
                f"- {prefix}: {small:,} -> {big:,} customers ({factor:.0f}x): {b.seconds / a.seconds:.1f}x time"
            )
    return "\n".join(lines) if len(sizes) > 1 else ""


if __name__ == "__main__":
    sys.exit(main())
