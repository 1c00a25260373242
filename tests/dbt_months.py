"""Run by tests/test_long_history.py in its own process: dbt in process on one warehouse
(the environment names it, Settings.dbt_env), the project parsed once and reused by every
invocation, as a sequence of steps given as JSON: {"args": [...], "from": "YYYY-MM",
"to": "YYYY-MM"}. Each step's months reach dbt as a refresh passes them
(TIERWISE_FROM_MONTH / TIERWISE_AS_OF_MONTH, macros/months.sql). Its own process because dbt
keeps global state (flags, adapters) that must not leak into the test process."""

from __future__ import annotations

import json
import os
import sys

from dbt.cli.main import dbtRunner


def main(project: str, steps: list[dict]) -> None:
    base = ["--project-dir", project, "--profiles-dir", project, "--quiet"]
    parsed = dbtRunner().invoke(["parse", *base])
    if not parsed.success:
        raise SystemExit(f"dbt parse failed: {parsed.exception}")
    runner = dbtRunner(manifest=parsed.result)
    for step in steps:
        os.environ["TIERWISE_FROM_MONTH"] = step.get("from", "")
        os.environ["TIERWISE_AS_OF_MONTH"] = step.get("to", "")
        result = runner.invoke([*step["args"], *base])
        if not result.success:
            raise SystemExit(f"dbt {step} failed: {result.exception or result.result}")


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
