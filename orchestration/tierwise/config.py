"""Where tierwise keeps its state. Everything lives under one folder, $TIERWISE_HOME.

Read at call time (never at import time) so tests and operators can point a run anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

# DuckDB's memory_limit for every connection tierwise opens (dbt's through profiles.yml, and
# load / publish / the Dagster assets through Settings.connect). DuckDB's resident memory runs
# ~0.7 GB above its limit (a 1M-customer build at 8 GB peaked at 8.7 GB), so 7 GB keeps a
# process under the 8 GB budget. TIERWISE_DUCKDB_MEMORY_LIMIT overrides it.
DEFAULT_MEMORY_LIMIT = "7GB"


def duckdb_memory_limit() -> str:
    return os.environ.get("TIERWISE_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)


# The Dagster instance: no telemetry; every concurrency pool (tierwise uses one, for the build
# database, which DuckDB lets only one process write) runs one step at a time across all runs.
DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def dbt_executable() -> str:
    """This environment's dbt (beside its Python)."""
    return str(Path(sys.executable).with_name("dbt"))


def dbt_launcher() -> str:
    """`tierwise-dbt` (tierwise/dbt_launch.py, beside this environment's dbt): dbt started with
    an explicit environment, the executable the code location gives dagster-dbt."""
    return str(Path(sys.executable).with_name("tierwise-dbt"))


def dbt_command(*args: str) -> list[str]:
    """A dbt command line: this environment's dbt on the repository's project and profiles."""
    return [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


class WarehouseBusy(RuntimeError):
    """Another process holds the build database."""


def warehouse_wait_seconds() -> float:
    """How long `tierwise load`, `batches retract` and `publish` wait for a refresh that holds the
    warehouse: $TIERWISE_WAREHOUSE_WAIT_SECONDS, default 30 minutes."""
    text = os.environ.get("TIERWISE_WAREHOUSE_WAIT_SECONDS", "1800")
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"TIERWISE_WAREHOUSE_WAIT_SECONDS must be a number of seconds >= 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_root: Path | None = None  # where landing batches are delivered; default home/landing

    @classmethod
    def from_env(cls) -> Settings:
        landing = os.environ.get("TIERWISE_LANDING_DIR")
        return cls(
            Path(os.environ.get("TIERWISE_HOME", ".tierwise")).resolve(),
            Path(landing).resolve() if landing else None,
        )

    @property
    def landing_dir(self) -> Path:
        """The landing root: `tierwise load` refuses a batch folder outside it."""
        return self.landing_root or self.home / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse" / "build.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def rules_dir(self) -> Path:
        return self.home / "rules"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    def ensure(self) -> None:
        for folder in (
            self.landing_dir,
            self.warehouse_path.parent,
            self.dagster_home,
            self.reports_dir,
            self.logs_dir,
            self.dbt_target_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():  # an operator's own instance settings are kept
            dagster_yaml.write_text(DAGSTER_YAML)

    def connect(self, wait_seconds: float = 0, log=None):
        """A connection to the build database held to duckdb_memory_limit(). DuckDB lets one process
        write: with wait_seconds, a database held by another process (a refresh) is waited for,
        said once through `log`, and then refused as WarehouseBusy, a plain message."""
        import duckdb

        deadline = time.monotonic() + wait_seconds
        said = False
        while True:
            try:
                con = duckdb.connect(str(self.warehouse_path))
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse {self.warehouse_path} is in use by another process (a refresh or load); "
                        f"try again when it has finished{f' (waited {wait_seconds:.0f}s)' if wait_seconds else ''}"
                    ) from None
                if log and not said:
                    log(f"waiting for the warehouse: another process holds {self.warehouse_path} (a refresh?)")
                    said = True
                time.sleep(1)
        con.execute("set memory_limit = ?", [duckdb_memory_limit()])
        return con

    def dbt_env(self) -> dict[str, str]:
        """Environment dbt reads (profiles.yml and dbt_project.yml use env_var); telemetry is always
        off. Every dbt invocation of this warehouse takes all of it, rules folder included, so no
        setting of another warehouse lingering in os.environ can reach its build."""
        from tierwise.rules import rules_path_for_dbt

        return {
            "TIERWISE_DUCKDB_PATH": str(self.warehouse_path),
            # DuckDB spills what does not fit in memory_limit here (profiles.yml), not in /tmp.
            "TIERWISE_DUCKDB_TEMP_DIR": str(self.home / "warehouse" / "spill"),
            "TIERWISE_DUCKDB_MEMORY_LIMIT": duckdb_memory_limit(),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": str(self.dbt_target_dir),
            "DBT_LOG_PATH": str(self.logs_dir / "dbt"),
            "DAGSTER_HOME": str(self.dagster_home),
            "TIERWISE_RULES_PATH": rules_path_for_dbt(self),
            # the run's months (macros/months.sql): unset unless a refresh sets them over this
            "TIERWISE_FROM_MONTH": "",
            "TIERWISE_AS_OF_MONTH": "",
        }

    def run_dbt(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
        """dbt in its own process on this warehouse (dbt_env, then `env` over it); output captured."""
        return subprocess.run(dbt_command(*args), env={**os.environ, **self.dbt_env(), **(env or {})},
                              capture_output=True, text=True, cwd=cwd, check=False)  # fmt: skip
