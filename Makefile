# tierwise — the README's two commands: `make demo` and `make test`.
# Each creates/updates .venv from pyproject.toml, so a fresh machine needs only Python >= 3.11 and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export TIERWISE_HOME ?= $(CURDIR)/.tierwise
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

# Python may cache compiled modules (__pycache__) for every command here. A machine that sets
# PYTHONDONTWRITEBYTECODE (this one's image does) makes every new Python process compile dbt,
# Dagster and pandas from source again: ~5-8 CPU-s per process, and a refresh starts several
# (the CLI, dbt, the report), the test suite hundreds. The install stays --no-compile: modules
# are compiled once, when first imported, not all of site-packages (pyspark, streamlit...) up front.
unexport PYTHONDONTWRITEBYTECODE

DEMO_CUSTOMERS ?= 10000
DEMO_MONTHS ?= 12

.PHONY: demo test test-fast lint install clean dagster explore sysdeps bench

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e ".[dev,spark]"
	touch $@

install: $(INSTALLED) sysdeps

## sysdeps: Debian packages the reports need — a CJK font for Chinese PDFs and charts (the report
## must not depend on a font the machine happens to have), Pango for WeasyPrint, poppler-utils for
## the PDF tests, HarfBuzz's subsetter (without it WeasyPrint falls back to fontTools, which takes
## ~30 s per PDF to subset the CJK font instead of ~1 s), eatmydata for the test suite (below), and
## Chromium, the browser the explorer's test drives through Playwright (never a browser download).
## Installs only what is missing (as root, or through sudo).
SYSTEM_PACKAGES := fonts-noto-cjk fontconfig libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils eatmydata chromium
sysdeps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { echo "install these system packages first: $$missing" >&2; exit 1; }; \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing system packages:" $$missing; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## demo: generate a synthetic bank, load it, build every month, print where the outputs are.
demo: $(INSTALLED) sysdeps
	$(BIN)/tierwise demo --customers $(DEMO_CUSTOMERS) --months $(DEMO_MONTHS)

## explore: the segment explorer on the $(TIERWISE_HOME) warehouse, http://127.0.0.1:8501 (Ctrl-C
## stops it); builds the demo bank first when nothing is published there yet.
explore: $(INSTALLED) sysdeps
	test -e $(TIERWISE_HOME)/serving/serving.duckdb || $(BIN)/tierwise demo --customers $(DEMO_CUSTOMERS) --months $(DEMO_MONTHS)
	$(BIN)/tierwise explore

## dagster: the Dagster UI on the $(TIERWISE_HOME) warehouse, http://127.0.0.1:3000 (Ctrl-C stops it).
dagster: $(INSTALLED)
	$(BIN)/python -c "from tierwise.config import Settings; Settings.from_env().ensure()"
	DAGSTER_HOME=$(TIERWISE_HOME)/dagster $(BIN)/dagster dev -m tierwise.definitions -h 127.0.0.1 -p 3000

## lint: ruff (Python) and sqlfluff with the dbt templater (SQL).
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p $(TIERWISE_HOME)/lint
	TIERWISE_DUCKDB_PATH=$(TIERWISE_HOME)/lint/lint.duckdb $(BIN)/sqlfluff lint dbt_project

## test: the whole suite (CI): ruff, sqlfluff and every pytest test, in two xdist workers that share
## the session's built warehouses (tests/warehouses.py). PYTEST_ARGS adds options (.ci/run: --durations=20).
## Under eatmydata (when installed) fsync is a no-op: a Dagster run stores ~800 events in SQLite and
## DuckDB syncs its WAL at every dbt model, each an fsync; tests kill processes, never the machine,
## so what they check does not depend on it (~10% of the suite's time).
PYTEST_ARGS ?=
TEST_WORKERS ?= 2
test: $(INSTALLED) sysdeps
	$$(command -v eatmydata) $(BIN)/pytest -n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

## test-fast: the inner loop: everything not marked slow (unit tests, bad-input corpus, argument
## checks, ruff, dbt unit tests on an empty-built warehouse); no pipeline run.
test-fast: $(INSTALLED)
	$$(command -v eatmydata) $(BIN)/pytest -n $(TEST_WORKERS) --dist load -m "not slow" $(PYTEST_ARGS)

## bench: time every stage on generated banks (BENCH_SIZES=10000,100000,1000000 by default) beside the two baselines; not part of `make test`.
bench: $(INSTALLED) sysdeps
	$(BIN)/python benchmarks/bench.py --markdown BENCHMARKS.md

clean:
	rm -rf $(TIERWISE_HOME) dbt_project/target dbt_project/logs
