"""The Dagster resources of a code location.

`TierwiseSettings`: the warehouse a code location works on. Every asset and sensor gets its
settings from the Definitions they were built with (`build_definitions(settings)`), never from
the process environment, so two warehouses built in one process stay apart.

`TierwiseDbtCli`: dagster-dbt's dbt resource on this environment's dbt-core, without the
in-process dbt adapter tierwise does not use."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from tierwise.config import Settings, dbt_executable, dbt_launcher
from tierwise.dbt_launch import env_flags


class TierwiseDbtCli(DbtCliResource):
    """DbtCliResource on `tierwise-dbt` (dbt with an explicit environment, dbt_launch.py): each
    invocation's settings travel as its leading arguments (`with_env`). Its dbt version is the
    installed dbt-core package's when it runs this environment's dbt (the one tierwise pins):
    dagster-dbt otherwise asks a `dbt --version` process on every run, which costs ~3 CPU-seconds
    per refresh; any other executable is still asked."""

    def with_env(self, env: dict[str, str]) -> TierwiseDbtCli:
        """This resource, its dbt started with `env` over the Dagster process's environment."""
        if Path(self.dbt_executable) != Path(dbt_launcher()):
            raise ValueError(f"an environment needs tierwise-dbt as the dbt executable, not {self.dbt_executable}")
        return TierwiseDbtCli(
            project_dir=self.project_dir,
            profiles_dir=self.profiles_dir,
            profile=self.profile,
            target=self.target,
            dbt_executable=self.dbt_executable,
            global_config_flags=[*env_flags(env), *self.global_config_flags],
        )

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) in (Path(dbt_executable()), Path(dbt_launcher())):
            from dbt.version import __version__

            return version.parse(__version__)
        return DbtCliResource._cli_version.func(self)  # type: ignore[attr-defined]

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 (dagster-dbt's signature)
        """No dbt adapter in the Dagster process. dagster-dbt makes one (it loads the project,
        the profile and every macro again, ~1 CPU-second per refresh) only for
        `fetch_row_counts()` / `fetch_column_metadata()`, which tierwise never calls: its row
        counts are read from the build database after dbt ends (dbt_assets.py). Without one,
        dagster-dbt streams the run's events as it does for dbt Fusion, which has no adapter."""
        return None


class TierwiseSettings(dg.ConfigurableResource):
    """$TIERWISE_HOME of the warehouse (and its landing root when delivered elsewhere)."""

    home: str
    landing_root: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> TierwiseSettings:
        landing = str(settings.landing_root) if settings.landing_root else None
        return cls(home=str(settings.home), landing_root=landing)

    def settings(self) -> Settings:
        return Settings(Path(self.home), Path(self.landing_root) if self.landing_root else None)
