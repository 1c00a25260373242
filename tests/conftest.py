"""Shared test setup: telemetry off (dbt and Dagster), tests import helpers from this folder."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
if "DAGSTER_HOME" not in os.environ:
    _dagster_home = Path(tempfile.mkdtemp(prefix="tierwise-dagster-"))
    (_dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(_dagster_home)
sys.path.insert(0, str(Path(__file__).parent))
