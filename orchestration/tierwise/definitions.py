"""The tierwise Dagster code location: `dagster dev -m tierwise.definitions` (or `make dagster`)."""

from tierwise.defs.location import build_definitions

defs = build_definitions()
