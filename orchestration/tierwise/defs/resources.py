"""The warehouse a code location works on, as a Dagster resource: every asset and sensor gets
its settings from the Definitions they were built with (`build_definitions(settings)`), never
from the process environment, so two warehouses built in one process stay apart."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from tierwise.config import Settings


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
