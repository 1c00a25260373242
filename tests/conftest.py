"""Shared test setup: telemetry off, tests import the landing builder from this folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
sys.path.insert(0, str(Path(__file__).parent))
