"""Run dbt in-process against the warehouse under $TIERWISE_HOME."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from tierwise.config import DBT_PROJECT_DIR, Settings
from tierwise.months import parse_month


def dbt_vars(month: str) -> str:
    """The --vars payload for one month; the month is validated, never spliced unchecked."""
    return json.dumps({"as_of_month": parse_month(month)})


def run_dbt(settings: Settings, args: Sequence[str]) -> bool:
    """Invoke dbt with the repo's profiles; returns True when every node succeeded."""
    from dbt.cli.main import dbtRunner

    settings.ensure()
    os.environ.update(settings.dbt_env())
    full = [*args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    result = dbtRunner().invoke(full)
    return bool(result.success)


def build_month(settings: Settings, month: str, extra: Sequence[str] = ()) -> bool:
    return run_dbt(settings, ["build", "--vars", dbt_vars(month), *extra])
