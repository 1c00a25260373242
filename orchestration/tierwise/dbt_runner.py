"""Run dbt in-process against the warehouse under $TIERWISE_HOME."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from tierwise.config import DBT_PROJECT_DIR, Settings
from tierwise.months import parse_month
from tierwise.rules import record_rules_built, rules_changed_since_last_build, rules_path_for_dbt


def dbt_vars(month: str, from_month: str | None = None) -> str:
    """The --vars payload; months are validated, never spliced unchecked."""
    payload = {"as_of_month": parse_month(month)}
    if from_month is not None:
        payload["from_month"] = parse_month(from_month)
        if payload["from_month"] > payload["as_of_month"]:
            raise ValueError(f"from_month {from_month} is after as_of_month {month}")
    return json.dumps(payload, sort_keys=True)


def run_dbt(settings: Settings, args: Sequence[str]) -> bool:
    """Invoke dbt with the repo's profiles; returns True when every node succeeded."""
    from dbt.cli.main import dbtRunner

    settings.ensure()
    os.environ.update(settings.dbt_env())
    os.environ["TIERWISE_RULES_PATH"] = rules_path_for_dbt(settings)
    full = [*args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    result = dbtRunner().invoke(full)
    return bool(result.success)


def build_month(settings: Settings, month: str, from_month: str | None = None) -> bool:
    """dbt build through `month`; the stateful tier model recomputes from `from_month` (default: `month`).

    When the rules changed since the last successful build, the tier state is rebuilt from the
    first loaded month (--full-refresh), so no month keeps a tier computed under old rules.
    """
    args = ["build", "--vars", dbt_vars(month, from_month)]
    if rules_changed_since_last_build(settings):
        args.append("--full-refresh")
    ok = run_dbt(settings, args)
    if ok:
        record_rules_built(settings)
    return ok
