"""`tierwise status`: per month, how far it got — batch delivered, built, published, reported —
and what is open: data-quality warnings, and batches that are late.

A month's batch is due on day TIERWISE_BATCH_DUE_DAY (default 3) of the next month, Asia/Shanghai
(the same due day the Dagster freshness check on the landing asset uses, defs/freshness.py).
Everything is read: the build database read-only (if a refresh holds it, that part says so),
the serving database, the report folders. Nothing is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date

import duckdb

from tierwise.config import Settings
from tierwise.months import bank_today, month_range
from tierwise.publish import has_table, months_in

DEFAULT_DUE_DAY = 3


def batch_due_day() -> int:
    text = os.environ.get("TIERWISE_BATCH_DUE_DAY", str(DEFAULT_DUE_DAY))
    if not text.isdigit() or not 1 <= int(text) <= 28:
        raise ValueError(f"TIERWISE_BATCH_DUE_DAY must be a day 1-28, got {text!r}")
    return int(text)


def due_date(month: str, due_day: int) -> date:
    """The day a month's batch is due: `due_day` of the month after."""
    year, mon = (int(p) for p in month.split("-"))
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return date(year, mon, due_day)


@dataclass
class MonthStatus:
    month: str
    due: date
    batch: str | None = None  # "batch_id rev N, loaded YYYY-MM-DD HH:MM"
    built: bool = False
    published: str | None = None  # release
    reported: str | None = None  # release the report folder was rendered from
    warnings: list[str] = field(default_factory=list)

    @property
    def late(self) -> bool:
        return self.batch is None and bank_today() > self.due


def _build_facts(settings: Settings) -> tuple[dict[str, str], set[str], dict[str, int], str | None]:
    """(batch per month, built months, roll-forward breaks per month, problem)."""
    if not settings.warehouse_path.exists():
        return {}, set(), {}, "no build database yet"
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException:
        return (
            {},
            set(),
            {},
            "the build database is in use (a refresh or load is running): batches and builds not shown",
        )
    try:
        batches, breaks = {}, {}
        if has_table(con, "raw", "_load_batches"):
            for batch_id, as_of, revision, loaded in con.execute(
                "select batch_id, as_of_date, revision, loaded_at from raw._load_batches order by as_of_date"
            ).fetchall():
                batches[f"{as_of:%Y-%m}"] = f"{batch_id} rev {revision}, loaded {loaded:%Y-%m-%d %H:%M}"
        if has_table(con, "marts", "rpt_rollforward_breaks"):  # found by the build (dbt)
            breaks = {
                m: int(n)
                for m, n in con.execute(
                    "select strftime(as_of_date, '%Y-%m'), sum(break_count) "
                    "from marts.rpt_rollforward_breaks group by 1"
                ).fetchall()
            }
        return batches, set(months_in(con)), breaks, None
    finally:
        con.close()


def _serving_facts(settings: Settings) -> tuple[set[str], str | None, dict[str, int]]:
    """(published months, release, failed/warned tests per month of the latest run covering it)."""
    serving = settings.home / "serving" / "serving.duckdb"
    if not serving.exists():
        return set(), None, {}
    con = duckdb.connect(str(serving), read_only=True)
    try:
        release = con.execute("select release from marts._publication").fetchone()[0]
        months = set(months_in(con))
        tests: dict[str, int] = {}
        if has_table(con, "audit", "test_results"):
            for month in months:
                tests[month] = con.execute(
                    """select count(*) from audit.test_results
                       where run_id = (select run_id from audit.test_results where ? between from_month and to_month
                                       order by recorded_at desc limit 1)
                         and status not in ('pass', 'success')""",
                    [month],
                ).fetchone()[0]
        return months, release, tests
    finally:
        con.close()


def month_status(settings: Settings, today: date | None = None) -> tuple[list[MonthStatus], list[str]]:
    """Every month from the first delivered or published one to the last closed month."""
    from tierwise.months import last_closed_month

    due_day = batch_due_day()
    batches, built, breaks, problem = _build_facts(settings)
    published, release, tests = _serving_facts(settings)
    known = sorted(set(batches) | built | published)
    if not known:
        return [], [problem] if problem else []
    last = max(known[-1], last_closed_month(today or bank_today()))
    rows = []
    for month in month_range(known[0], last):
        row = MonthStatus(month, due_date(month, due_day), batches.get(month), month in built)
        row.published = release if month in published else None
        record = settings.reports_dir / month / "_render.json"
        if record.is_file():
            try:
                row.reported = json.loads(record.read_text(encoding="utf-8")).get("release")
            except ValueError:
                row.reported = "unreadable _render.json"
        if breaks.get(month):
            row.warnings.append(f"{breaks[month]} roll-forward break(s)")
        if tests.get(month):
            row.warnings.append(f"{tests[month]} data test(s) warned or failed")
        rows.append(row)
    return rows, [problem] if problem else []


def render(rows: list[MonthStatus], notes: list[str]) -> str:
    lines = ["month    batch                                        built  published                 report    open"]
    for r in rows:
        batch = r.batch or (f"LATE (due {r.due})" if r.late else f"not yet (due {r.due})")
        report = "current" if r.reported and r.reported == r.published else (r.reported or "-")
        lines.append(
            f"{r.month}  {batch:<44} {'yes' if r.built else 'no':<6} {r.published or '-':<25} {report:<9} "
            f"{'; '.join(r.warnings) or '-'}"
        )
    return "\n".join(lines + [f"note: {n}" for n in notes])
