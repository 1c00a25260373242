"""tierwise benchmark: time every stage on generated banks of several sizes.

    make bench                                   # 10k and 100k customers, 12 months
    BENCH_SIZES=10000,100000,1000000 make bench  # add 1M (about an hour and a half)

Each stage runs as its own process (the operator's commands), timed on the wall clock with the
peak resident memory of its whole process tree (dbt's subprocess included), sampled from /proc.
Prints one table per size plus the machine; `--markdown FILE` appends the tables to FILE.
A benchmark reports; it never fails on a target.
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

TIERWISE = str(Path(sys.executable).with_name("tierwise"))


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    rows: int | None = None

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


def run_stage(name: str, args: list[str], env: dict, rows: int | None = None) -> Stage:
    started = time.perf_counter()
    proc = subprocess.Popen([TIERWISE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kb(proc.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    output = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed ({proc.returncode}):\n{output[-3000:]}")
    return Stage(name, seconds, peak / 1024, rows)


def machine() -> str:
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores, {int(mem.split()[1]) / 1024 / 1024:.1f} GiB RAM"


def bench_size(customers: int, months: int, end: str, root: Path) -> list[Stage]:
    home = root / f"bank-{customers}"
    env = {**os.environ, "TIERWISE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
    first = _shift(end, 1 - months)
    stages = [run_stage("generate", ["generate", "--customers", str(customers), "--months", str(months),
                                     "--end-month", end], env)]  # fmt: skip
    delivered = sum(
        sum(t["rows"] for t in json.loads((home / "landing" / m / "_manifest.json").read_text())["tables"].values())
        for m in _months(first, end)
    )
    stages[0].rows = delivered
    stages.append(run_stage("load", ["load"], env, delivered))
    stages.append(run_stage(f"refresh all {months} months (build, test, publish, report)",
                            ["backfill", "--from", first, "--to", end], env, delivered))  # fmt: skip
    month_rows = delivered // months
    stages.append(run_stage("refresh one month (incremental)", ["run", "--month", end], env, month_rows))
    marts = _mart_rows(home)
    stages.append(run_stage("publish", ["publish"], env, marts))
    stages.append(run_stage("report (zh+en, html/pdf/xlsx)", ["report", "--month", end], env))
    return stages


def _mart_rows(home: Path) -> int:
    con = duckdb.connect(str(home / "serving" / "serving.duckdb"), read_only=True)
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
        "| stage | wall s | rows | rows/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in stages:
        rate = f"{s.rows_per_second:,.0f}" if s.rows_per_second else "-"
        rows = f"{s.rows:,}" if s.rows else "-"
        lines.append(f"| {s.name} | {s.seconds:,.1f} | {rows} | {rate} | {s.peak_rss_mb:,.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000"))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--end-month", default="2025-12")
    parser.add_argument("--root", default=None, help="where the banks are built (default: a temp folder)")
    parser.add_argument("--markdown", default=None, help="append the result tables to this file")
    args = parser.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="tierwise-bench-"))
    print(f"machine: {machine()}; banks under {root}")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        stages = bench_size(size, args.months, args.end_month, root)
        results.append(table(size, stages))
        print(results[-1], flush=True)
        full = next(s for s in stages if s.name.startswith("refresh all"))
        one = next(s for s in stages if s.name.startswith("refresh one"))
        print(f"incremental month / full build: {one.seconds / full.seconds:.0%} (target <= 20%)\n", flush=True)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as out:
            out.write(f"\nMachine: {machine()}. Command: `make bench` (sizes {args.sizes}).\n\n")
            out.write("\n\n".join(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
