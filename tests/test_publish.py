"""Publishing for BI: only the marts reach the serving database and Parquet, and a reader
holding the serving database open during a refresh is not blocked and keeps one whole
publication."""

import duckdb
import pytest
from golden_bank import MONTHS
from tierwise.cli import main
from tierwise.config import REPO_ROOT, Settings
from tierwise.publish import publish
from warehouses import snapshot


@pytest.fixture
def home(golden_mar, tmp_path, monkeypatch):
    """A copy of the golden bank: six months loaded, January to March built."""
    monkeypatch.setenv("TIERWISE_HOME", str(snapshot(golden_mar, tmp_path / "home")))
    return Settings.from_env()


def _build(first, last):
    assert main(["backfill", "--from", first, "--to", last]) == 0


def test_only_marts_and_the_audit_record_are_published(home):
    result = publish(home, run_id="t1")
    reader = duckdb.connect(str(result.serving_path), read_only=True)
    schemas = {r[0] for r in reader.execute("select distinct schema_name from duckdb_tables()").fetchall()}
    assert schemas == {"marts", "audit"}
    # The build run's test results and rule seeds travel with the marts: every test passed or
    # warned (the golden bank is clean), and every seed in seeds/ is listed with its hash.
    statuses = dict(reader.execute("select status, count(*) from audit.test_results group by all").fetchall())
    assert set(statuses) == {"pass"} and statuses["pass"] > 100
    seeds = {r[0] for r in reader.execute("select seed from audit.rule_versions").fetchall()}
    assert seeds == {p.stem for p in (REPO_ROOT / "seeds").glob("*.csv")}
    tables = {r[0] for r in reader.execute("select table_name from duckdb_tables()").fetchall()}
    assert {"fct_customer_tier", "fct_churn_signals", "dim_customers", "_publication"} <= tables
    columns = {r[0] for r in reader.execute("select column_name from duckdb_columns()").fetchall()}
    assert {"full_name", "id_number", "phone"}.isdisjoint(columns)
    text = str(reader.execute("select * from marts.dim_customers").fetchall())
    assert "张伟" not in text and "张*" in text
    assert (
        reader.execute("select count(*) from marts.fct_customer_tier").fetchone()[0]
        == result.row_counts["fct_customer_tier"]
    )
    reader.close()
    parquet = sorted(p.name for p in (result.parquet_dir / "fct_customer_tier").iterdir())
    assert parquet == ["as_of_date=2025-01-31", "as_of_date=2025-02-28", "as_of_date=2025-03-31"]
    assert (result.parquet_dir / "dim_tier_thresholds.parquet").is_file()  # not dated: one file
    assert (result.parquet_dir / "_audit" / "test_results.parquet").is_file()


def test_reader_keeps_its_publication_while_a_refresh_publishes(home):
    first = publish(home, run_id="t1")
    reader = duckdb.connect(str(first.serving_path), read_only=True)
    query = "select count(distinct as_of_date) from marts.fct_customer_tier"
    assert reader.execute(query).fetchone()[0] == 3
    # The refresh runs while the reader is connected: neither blocks the other.
    _build(MONTHS[3], MONTHS[5])
    second = publish(home, run_id="t2")
    assert reader.execute(query).fetchone()[0] == 3  # still the whole earlier publication
    assert reader.execute("select run_id from marts._publication").fetchone()[0] == "t1"
    reader.close()
    fresh = duckdb.connect(str(second.serving_path), read_only=True)
    assert fresh.execute(query).fetchone()[0] == 6
    assert fresh.execute("select run_id from marts._publication").fetchone()[0] == "t2"
    fresh.close()
    assert (second.parquet_dir / "fct_customer_tier" / "as_of_date=2025-06-30").is_dir()
