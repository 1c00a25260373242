"""Validation of a rules folder before it is installed (`tierwise run --rules DIR`).

A rules folder that dbt cannot read fails a minute later inside dbt without naming the column,
and one that dbt reads but that makes no sense (negative grace, thresholds that do not rise with
the tier) publishes wrong tiers. So every file of the complete folder (the bank's files over the
shipped defaults) is checked first, and the first problem is refused naming file, row and column.

What is checked, and where each expectation comes from:
- columns: exactly the shipped file's columns (seeds/);
- types: the seed's `column_types` in dbt_project/models/rules/_rules__seeds.yml (what dbt loads
  them as); a file without column_types keeps the shipped file's inferred kinds (whole numbers);
- empties: a value may be empty only in a column where the shipped file has an empty value;
- at least one row per file; keys unique (the seed's unique tests);
- meaning: policy values are numbers of the right sign; every shipped policy and suitability key
  is present; each threshold version starts at 0 and rises strictly with tier_rank, and has every
  tier of the shipped file; the tier codes other files use exist; churn bands cover a score of 0.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from tierwise.config import DBT_PROJECT_DIR

SEEDS_YAML = DBT_PROJECT_DIR / "models" / "rules" / "_rules__seeds.yml"


class RulesInvalid(ValueError):
    """A rules folder that cannot be installed; the message names file, row and column, and quotes
    a value as repr() so control characters in a file never reach the terminal raw."""


def _column_types() -> dict[str, dict[str, str]]:
    spec = yaml.safe_load(SEEDS_YAML.read_text(encoding="utf-8"))
    return {s["name"]: (s.get("config") or {}).get("column_types") or {} for s in spec.get("seeds", [])}


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulesInvalid(f"{path.name}: row - column -: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise RulesInvalid(f"{path.name}: row 1 column -: the file is empty (a header and at least one row needed)")
    return [h.strip() for h in rows[0]], rows[1:]


def _kind(declared: str | None, shipped_values: list[str]) -> str:
    declared = (declared or "").lower()
    if declared.startswith("decimal") or declared in ("double", "float", "numeric"):
        return "number"
    if declared in ("integer", "int", "bigint"):
        return "integer"
    if declared in ("date", "boolean"):
        return declared
    if declared:
        return "string"
    present = [v for v in shipped_values if v != ""]
    return "integer" if present and all(re.fullmatch(r"-?\d+", v) for v in present) else "string"


def _typed(value: str, kind: str):
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", value):
            raise ValueError("a whole number")
        return int(value)
    if kind == "number":
        if not re.fullmatch(r"[+-]?\d+(\.\d+)?", value):
            raise ValueError("a plain decimal number")
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise ValueError("a plain decimal number") from exc
    if kind == "date":
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("a date (YYYY-MM-DD)") from exc
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError("true or false")
        return value.lower() == "true"
    return value


def validate_rules(folder: Path, shipped: Path) -> None:
    """Raise RulesInvalid for the first problem of the complete rules folder `folder`."""
    types = _column_types()
    tables: dict[str, list[dict]] = {}
    for default in sorted(shipped.glob("*.csv")):
        name = default.stem
        path = folder / default.name
        expected, shipped_rows = _read(default)
        header, rows = _read(path)
        missing = [c for c in expected if c not in header]
        extra = [c for c in header if c not in expected]
        if missing or extra:
            column = (missing or extra)[0]
            what = "is missing" if missing else "is not a column of this rule file"
            raise RulesInvalid(f"{path.name}: row 1 column {column}: {what} (columns: {', '.join(expected)})")
        if not rows:
            raise RulesInvalid(f"{path.name}: row 2 column -: no rows (header only); the rule needs at least one")
        nullable = {c for i, c in enumerate(expected) if any(len(r) > i and r[i] == "" for r in shipped_rows)}
        kinds = {c: _kind(types.get(name, {}).get(c), [r[i] for r in shipped_rows if len(r) > i])
                 for i, c in enumerate(expected)}  # fmt: skip
        parsed = []
        for number, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise RulesInvalid(
                    f"{path.name}: row {number} column -: {len(row)} fields, the header has {len(header)}"
                )
            record = {"_row": number}
            for column, value in zip(header, row, strict=True):
                value = value.strip()
                if value == "":
                    if column not in nullable:
                        raise RulesInvalid(f"{path.name}: row {number} column {column}: empty; a value is required")
                    record[column] = None
                    continue
                try:
                    record[column] = _typed(value, kinds[column])
                except ValueError as exc:
                    raise RulesInvalid(f"{path.name}: row {number} column {column}: {value!r} is not {exc}") from None
            parsed.append(record)
        tables[name] = parsed
    shipped_tables = {p.stem: _records(p) for p in shipped.glob("*.csv")}
    _check_meaning(tables, shipped_tables)


def _records(path: Path) -> list[dict]:
    header, rows = _read(path)
    return [dict(zip(header, row, strict=False)) for row in rows]


def _fail(name: str, row: int | str, column: str, message: str):
    raise RulesInvalid(f"{name}.csv: row {row} column {column}: {message}")


def _unique(name: str, rows: list[dict], columns: tuple[str, ...]) -> None:
    seen: dict[tuple, int] = {}
    for r in rows:
        key = tuple(r[c] for c in columns)
        if key in seen:
            _fail(name, r["_row"], columns[-1], f"{'/'.join(map(str, key))} repeats row {seen[key]}")
        seen[key] = r["_row"]


def _keys_present(name: str, rows: list[dict], column: str, shipped: list[dict]) -> dict:
    values = {r[column]: r for r in rows}
    for needed in (s[column] for s in shipped):
        if needed not in values:
            _fail(name, "-", column, f"'{needed}' is missing (every key of the shipped file is required)")
    return values


def _check_meaning(t: dict[str, list[dict]], shipped: dict[str, list[dict]]) -> None:
    for name, columns in {
        "tier_thresholds": ("version", "tier"),
        "tier_policy": ("policy_key",),
        "suitability": ("rule_key",),
        "churn_signals": ("signal",),
        "churn_bands": ("risk_band",),
        "product_families": ("category",),
        "risk_segments": ("risk_level",),
        "rm_capacity": ("rm_role",),
        "cross_sell_affinity": ("tier", "category"),
        "life_stage_affinity": ("life_stage", "category"),
        "segment_bands": ("segment_type", "segment"),
    }.items():
        if name in t:
            _unique(name, t[name], columns)

    # tier_policy: every shipped key, each a number; counts and months whole and not negative
    policies = _keys_present("tier_policy", t["tier_policy"], "policy_key", shipped["tier_policy"])
    for key, r in policies.items():
        try:
            value = Decimal(str(r["policy_value"]))
        except InvalidOperation:
            _fail("tier_policy", r["_row"], "policy_value", f"{r['policy_value']!r} for {key} is not a number")
        whole = key.endswith(("_months", "_rank", "_cap"))
        if value < 0 or (whole and value != value.to_integral_value()):
            kind = "a whole number >= 0" if whole else "a number >= 0"
            _fail("tier_policy", r["_row"], "policy_value", f"{key} = {r['policy_value']} must be {kind}")
    ratio = policies.get("backtest_loss_ratio")
    if ratio and Decimal(str(ratio["policy_value"])) > 1:
        _fail("tier_policy", ratio["_row"], "policy_value", "backtest_loss_ratio is a share: between 0 and 1")
    suitability = _keys_present("suitability", t["suitability"], "rule_key", shipped["suitability"])
    for key, r in suitability.items():
        if not re.fullmatch(r"\d+", str(r["rule_value"])):
            _fail("suitability", r["_row"], "rule_value", f"{key} = {r['rule_value']!r} must be a whole number >= 0")

    # tier_thresholds: per version, every shipped tier, ranks as shipped, from 0 and rising
    shipped_ranks = {s["tier"]: int(s["tier_rank"]) for s in shipped["tier_thresholds"]}
    versions: dict[str, list[dict]] = {}
    for r in t["tier_thresholds"]:
        versions.setdefault(r["version"], []).append(r)
    starts = {}
    for version, rows in versions.items():
        dates = {r["effective_from"] for r in rows}
        if len(dates) > 1:
            _fail(
                "tier_thresholds",
                rows[-1]["_row"],
                "effective_from",
                f"version {version} has more than one effective_from",
            )
        starts[version] = dates.pop()
        tiers = {r["tier"]: r for r in rows}
        for r in rows:
            if r["tier"] not in shipped_ranks:
                _fail(
                    "tier_thresholds",
                    r["_row"],
                    "tier",
                    f"unknown tier code {r['tier']!r} (known: {', '.join(shipped_ranks)})",
                )
            if r["tier_rank"] != shipped_ranks[r["tier"]]:
                _fail("tier_thresholds", r["_row"], "tier_rank",
                      f"{r['tier']} has rank {r['tier_rank']}; a rank means the same tier in every version "
                      f"({r['tier']} = {shipped_ranks[r['tier']]})")  # fmt: skip
        for tier in shipped_ranks:
            if tier not in tiers:
                _fail("tier_thresholds", rows[0]["_row"], "tier", f"version {version!r} has no row for tier '{tier}'")
        ordered = sorted(rows, key=lambda r: r["tier_rank"])
        if ordered[0]["min_aum_cny"] != 0:
            _fail("tier_thresholds", ordered[0]["_row"], "min_aum_cny",
                  f"version {version}: the lowest tier must start at 0 so every customer has a tier")  # fmt: skip
        for lower, higher in zip(ordered, ordered[1:], strict=False):
            if higher["min_aum_cny"] <= lower["min_aum_cny"]:
                _fail("tier_thresholds", higher["_row"], "min_aum_cny",
                      f"version {version}: {higher['tier']} (rank {higher['tier_rank']}) starts at "
                      f"{higher['min_aum_cny']}, not above {lower['tier']} ({lower['min_aum_cny']}): thresholds "
                      "must rise with tier_rank")  # fmt: skip
    if len(set(starts.values())) != len(starts):
        _fail("tier_thresholds", "-", "effective_from", "two versions start on the same date")

    # tier codes used elsewhere exist
    for r in t["cross_sell_affinity"]:
        if r["tier"] not in shipped_ranks:
            _fail("cross_sell_affinity", r["_row"], "tier", f"unknown tier code {r['tier']!r}")
        if not 0 <= r["weight"] <= 1:
            _fail("cross_sell_affinity", r["_row"], "weight", f"{r['weight']} is not a weight between 0 and 1")
    for r in t["life_stage_affinity"]:
        if r["multiplier"] < 0:
            _fail("life_stage_affinity", r["_row"], "multiplier", f"{r['multiplier']} is negative")

    # churn: weights, thresholds and lookbacks not negative; bands cover a score of 0
    for r in t["churn_signals"]:
        for column in ("weight", "ratio_threshold", "min_value", "lookback_months"):
            if r.get(column) is not None and r[column] < 0:
                _fail("churn_signals", r["_row"], column, f"{r[column]} is negative")
    if not any(r["min_score"] == 0 for r in t["churn_bands"]):
        _fail("churn_bands", "-", "min_score", "no band starts at 0: a customer without signals would have no band")
    for r in t["segment_bands"]:
        if r["min_value"] < 0 or (r["max_value"] is not None and r["max_value"] < r["min_value"]):
            column = "max_value" if r["min_value"] >= 0 else "min_value"
            band = f"band {r['segment']} [{r['min_value']}, {r['max_value']}]"
            _fail("segment_bands", r["_row"], column, f"{band} is not a range of values >= 0")
    for r in t["rm_capacity"]:
        if r["default_max_clients"] is not None and r["default_max_clients"] <= 0:
            _fail("rm_capacity", r["_row"], "default_max_clients", "must be a positive number of clients or empty")
