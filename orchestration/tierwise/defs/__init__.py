"""The Dagster code location: one asset graph from landing batch to marts (see definitions.py)."""
