"""`tierwise-dbt`: dbt with an explicit environment, given on its command line.

dbt reads a warehouse's settings (profiles.yml, dbt_project.yml: `env_var(...)`) and a run's
months (macros/months.sql) from its process environment. dagster-dbt starts dbt with a copy of
the Dagster process's own environment and no way to add to it, so the code location names this
launcher as its dbt executable and passes each invocation's settings as leading arguments:

    tierwise-dbt --env TIERWISE_DUCKDB_PATH=/home/x/warehouse/build.duckdb --env ... build ...

The launcher sets them over the environment it was given and replaces itself with this
environment's dbt (`exec`, same process id, so dagster-dbt's signals and exit code reach dbt).
Nothing in the Dagster process's environment changes: two warehouses refreshed in one process
cannot see each other's settings. Values are paths, months and limits, never secrets (they are
visible in the process list).
"""

from __future__ import annotations

import os
import sys

ENV_FLAG = "--env"


def env_flags(env: dict[str, str]) -> list[str]:
    """`env` as the launcher's leading arguments (names are checked: NAME=VALUE, no '=' in NAME)."""
    flags: list[str] = []
    for name, value in env.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ValueError(f"not an environment variable: {name!r}")
        flags += [ENV_FLAG, f"{name}={value}"]
    return flags


def split_args(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The leading `--env NAME=VALUE` pairs and the dbt arguments after them."""
    env: dict[str, str] = {}
    rest = list(argv)
    while rest[:1] == [ENV_FLAG]:
        if len(rest) < 2 or "=" not in rest[1] or rest[1].startswith("="):
            raise SystemExit(f"tierwise-dbt: {ENV_FLAG} needs NAME=VALUE, got {rest[1:2]}")
        name, _, value = rest[1].partition("=")
        env[name] = value
        rest = rest[2:]
    return env, rest


def main(argv: list[str] | None = None) -> None:
    from tierwise.config import dbt_executable

    env, args = split_args(sys.argv[1:] if argv is None else argv)
    dbt = dbt_executable()
    os.execve(dbt, [dbt, *args], {**os.environ, **env})  # noqa: S606 - this environment's dbt


if __name__ == "__main__":
    main()
