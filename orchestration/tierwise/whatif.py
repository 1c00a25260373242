"""What if the bank adopted other tier thresholds or another downgrade grace? (定期评估和调整分层标准)

The answer is computed by the warehouse's own dbt models, not a re-implementation: a scratch
copy of the build database gets the edited rules as a new threshold version effective from the
month's first day (as a bank would adopt them) and/or another `downgrade_grace_months`, and dbt
rebuilds that month's raw tier, tier state and `fct_customer_tier` there, carrying the real
grace state of the month before. The scratch copy is then compared with the published month:
how many customers and how much AUM would change held (and raw) tier, the new distribution,
and the private bankers the top tier would need at the capacity the rules give them. Neither the
build database nor the publication is touched; the scratch folder is removed afterwards.
"""

from __future__ import annotations

import csv
import math
import shutil
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pandas as pd

from tierwise.config import Settings
from tierwise.months import as_of_date
from tierwise.publish import current_release_db
from tierwise.rules import DEFAULT_RULES_DIR, active_rules_dir, rule_names
from tierwise.rules_check import RulesInvalid, validate_rules

TIER_MODELS = ("int_customer_month__raw_tier", "int_customer_tier_state", "fct_customer_tier")
WHAT_IF_VERSION = "what_if"
PRIVATE_BANKER_ROLE = "private_banker"  # the rm_capacity role whose books serve the top tier


class WhatIfError(ValueError):
    """The what-if cannot be computed (bad input, a busy warehouse, a failing rule); the message says why."""


@dataclass(frozen=True)
class WhatIf:
    month: str
    held_moves: pd.DataFrame  # from_tier, to_tier, customers, aum_cny (customers whose held tier changes)
    raw_moves: pd.DataFrame  # the same for the raw tier (before the grace)
    distribution: pd.DataFrame  # tier, tier_rank, customers_now, customers_what_if, aum_now_cny, aum_what_if_cny
    top_tier: str
    top_tier_customers: int
    banker_capacity: int | None
    bankers_needed: int | None
    bankers_now: int
    seconds: float

    @property
    def customers_moving(self) -> int:
        return int(self.held_moves["customers"].sum()) if len(self.held_moves) else 0

    @property
    def aum_moving_cny(self) -> Decimal:
        return Decimal(str(self.held_moves["aum_cny"].sum())) if len(self.held_moves) else Decimal(0)


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _edited_rules(settings: Settings, month: str, min_aum: dict[str, str] | None, grace_months: int | None,
                  folder: Path) -> None:  # fmt: skip
    """The rules in force, with the edits: thresholds as a new version from the month's first day."""
    for source in active_rules_dir(settings).glob("*.csv"):
        shutil.copyfile(source, folder / source.name)
    if min_aum:
        path = folder / "tier_thresholds.csv"
        rows = _read_rows(path)
        start = as_of_date(month).replace(day=1).isoformat()
        in_force = max((r["effective_from"] for r in rows if r["effective_from"] <= as_of_date(month).isoformat()),
                       default=None)  # fmt: skip
        if in_force is None:
            raise WhatIfError(f"no threshold version is in force in {month}")
        current = [r for r in rows if r["effective_from"] == in_force]
        unknown = sorted(set(min_aum) - {r["tier"] for r in current})
        if unknown:
            raise WhatIfError(f"unknown tier(s) {', '.join(unknown)}")
        for row in current:
            value = min_aum.get(row["tier"], row["min_aum_cny"])
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                raise WhatIfError(f"threshold of {row['tier']} is not a number: {value!r}") from None
            rows.append({**row, "version": WHAT_IF_VERSION, "effective_from": start, "min_aum_cny": str(amount)})
        _write_rows(path, [r for r in rows if not (r["effective_from"] == start and r["version"] != WHAT_IF_VERSION)])
    if grace_months is not None:
        if grace_months < 1:
            raise WhatIfError("the downgrade grace is at least 1 month")
        path = folder / "tier_policy.csv"
        rows = _read_rows(path)
        for row in rows:
            if row["policy_key"] == "downgrade_grace_months":
                row["policy_value"] = str(int(grace_months))
        _write_rows(path, rows)


def _copy_build_database(settings: Settings, target: Path) -> None:
    """A copy of the build database, taken while a read-only connection keeps any writer out."""
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException as exc:
        raise WhatIfError(f"the warehouse is being refreshed; try again when the run ends ({exc})") from None
    try:
        for suffix in ("", ".wal"):
            source = Path(str(settings.warehouse_path) + suffix)
            if source.exists():
                shutil.copy2(source, str(target) + suffix)
    finally:
        con.close()


def _load_rules(database: Path, rules: Path) -> None:
    """The edited rule tables into the scratch copy: each CSV replaces its seed table's rows (the
    seed's column types kept), as `dbt seed` would load the same file."""
    con = duckdb.connect(str(database))
    try:
        for path in sorted(rules.glob("*.csv")):
            if path.stem not in rule_names():
                raise WhatIfError(f"unknown rule file {path.name}; known: {', '.join(rule_names())}")
            table = f'rules."{path.stem}"'  # one of the shipped seeds' names
            con.execute(f"delete from {table}")  # noqa: S608
            con.execute(f"insert into {table} by name select * from read_csv(?, header = true, all_varchar = true)",  # noqa: S608
                        [str(path)])  # fmt: skip
    finally:
        con.close()


def what_if(settings: Settings, month: str, min_aum: dict[str, str] | None = None, grace_months: int | None = None,
            rules_folder: Path | None = None) -> WhatIf:  # fmt: skip
    """The month re-tiered under the edited rules (or a whole rules folder), against the publication."""
    started = time.monotonic()
    end = as_of_date(month)  # validates YYYY-MM
    serving = current_release_db(settings)
    root = settings.home / "what_if" / uuid.uuid4().hex[:12]
    try:
        rules = root / "rules"
        rules.mkdir(parents=True)
        _edited_rules(settings, month, min_aum, grace_months, rules)
        if rules_folder is not None:  # a whole rules folder laid over them, as `tierwise run --rules` would
            for path in Path(rules_folder).glob("*.csv"):
                shutil.copyfile(path, rules / path.name)
        try:  # the checks of `tierwise run --rules`
            validate_rules(rules, DEFAULT_RULES_DIR)
        except RulesInvalid as exc:
            raise WhatIfError(str(exc)) from None
        database = root / "build.duckdb"
        _copy_build_database(settings, database)
        _load_rules(database, rules)
        # dbt on the copy with the home's project settings, so the home's parse is reused
        target = root / "target"
        target.mkdir()
        partial = settings.dbt_target_dir / "partial_parse.msgpack"
        if partial.is_file():
            shutil.copy2(partial, target / partial.name)
        env = {
            "TIERWISE_DUCKDB_PATH": str(database),
            "TIERWISE_DUCKDB_TEMP_DIR": str(root / "spill"),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(root / "logs"),
            "TIERWISE_FROM_MONTH": month,
            "TIERWISE_AS_OF_MONTH": month,
        }
        built = settings.run_dbt("run", "--select", *TIER_MODELS, env=env)
        if built.returncode != 0:
            failed = [line for line in built.stdout.splitlines() if "ERROR" in line or "FAIL" in line]
            raise WhatIfError("the tier models failed on these rules: " + " | ".join(failed[-5:])[-1500:])
        return _compare(database, serving, month, end, time.monotonic() - started)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _compare(database: Path, serving: Path, month: str, end, seconds: float) -> WhatIf:
    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute("attach ? as published (read_only)", [str(serving)])
        both = con.execute(
            """
            select now.customer_id, now.tier as tier_now, now.raw_tier as raw_now, now.aum_basis_cny as aum,
                   what_if.tier as tier_what_if, what_if.raw_tier as raw_what_if,
                   what_if.tier_rank as rank_what_if, now.tier_rank as rank_now
            from published.marts.fct_customer_tier as now
            inner join marts.fct_customer_tier as what_if
                on now.customer_id = what_if.customer_id and now.as_of_date = what_if.as_of_date
            where now.as_of_date = ?
            """,
            [end],
        ).df()
        ranks = con.execute(
            "select tier, max(tier_rank) as tier_rank from rules.tier_thresholds group by tier order by 2"
        ).df()
        capacity = con.execute(
            "select max(default_max_clients) from rules.rm_capacity where rm_role = ?", [PRIVATE_BANKER_ROLE]
        ).fetchone()[0]
        bankers_now = con.execute(
            "select count(distinct rm_id) from published.marts.fct_rm_book where as_of_date = ? and rm_role = ?",
            [end, PRIVATE_BANKER_ROLE],
        ).fetchone()[0]
    finally:
        con.close()
    if both.empty:
        raise WhatIfError(f"{month} is not a published month")
    both["aum"] = both["aum"].astype(float)

    def moves(before: str, after: str) -> pd.DataFrame:
        changed = both[both[before] != both[after]]
        grouped = changed.groupby([before, after], as_index=False).agg(customers=("customer_id", "count"),
                                                                       aum_cny=("aum", "sum"))  # fmt: skip
        return grouped.rename(columns={before: "from_tier", after: "to_tier"}).sort_values(["from_tier", "to_tier"])

    now = both.groupby("tier_now").agg(customers_now=("customer_id", "count"), aum_now_cny=("aum", "sum"))
    later = both.groupby("tier_what_if").agg(customers_what_if=("customer_id", "count"),
                                             aum_what_if_cny=("aum", "sum"))  # fmt: skip
    distribution = ranks.set_index("tier").join(now).join(later).fillna(0).reset_index()
    for column in ("customers_now", "customers_what_if"):
        distribution[column] = distribution[column].astype(int)
    top_tier = str(ranks.iloc[-1]["tier"])
    top = int((both["tier_what_if"] == top_tier).sum())
    needed = math.ceil(top / capacity) if capacity else None
    return WhatIf(month, moves("tier_now", "tier_what_if"), moves("raw_now", "raw_what_if"), distribution, top_tier,
                  top, int(capacity) if capacity else None, needed, int(bankers_now), seconds)  # fmt: skip
