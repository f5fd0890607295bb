# lakehouse: `make setup`, `make run`, `make test` on a fresh machine; see README.md.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LANDING ?= data/landing
WAREHOUSE ?= data/warehouse
STORES ?= 6
ROWS ?= 100000
SEED ?= 7
JOB ?= pipeline
ENV ?= dev
PROFILE ?= small
CLUSTER ?=
JARS_DIR ?= .cache/jars
TOOLS_BIN ?= .cache/bin
FAKE_GCS_VERSION ?= v1.56.1
SHARED_JARS ?= ../shared/jars
HOST ?= 127.0.0.1
PORT ?= 8080
BENCH_DIR ?= /tmp/lakehouse-bench
BENCH_ROWS ?= 10000000
BENCH_STORES ?= 40
PYTEST_ARGS ?=

.PHONY: setup java run sample test test-slow jars tools lint submit dry-run clean serve \
        bench bench-generate bench-bronze bench-peers bench-silver bench-gold bench-formats bench-pipeline-30m bench-serve

setup: java $(VENV)/.installed jars

# A Java 17 runtime for Spark, from apt when `java` is missing.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "java not found: installing openjdk-17-jre-headless with apt"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq openjdk-17-jre-headless; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The embedded sample: generated once, deterministic per SEED.
$(LANDING)/.generated:
	$(BIN)/lakehouse generate --stores $(STORES) --rows $(ROWS) --seed $(SEED) --out $(LANDING)
	touch $@

sample: setup $(LANDING)/.generated

run: setup $(LANDING)/.generated
	$(BIN)/lakehouse run pipeline --env local --profile local --landing $(LANDING) --warehouse $(WAREHOUSE)

# The query service over the `make run` warehouse (docs/serving.md): `lakehouse keys create --name me` first.
serve: setup
	$(BIN)/lakehouse serve --host $(HOST) --port $(PORT) --env local --warehouse $(WAREHOUSE)

# The suite CI runs: every test not marked slow, then the offline Terraform checks.
test: setup tools tf-tools
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory tf-check

# The slow tests: the standalone Spark cluster run of the whole pipeline, large-sample checks.
test-slow: setup tools
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# The JVM jars of the production path (Delta, the Cloud Storage connector) with the machine's
# Maven client into $(JARS_DIR), once; the team's Delta jars ($(SHARED_JARS)) when Maven cannot get them.
jars: $(JARS_DIR)/.fetched

$(JARS_DIR)/.fetched: $(VENV)/.installed
	@command -v mvn >/dev/null 2>&1 || { \
	  echo "mvn not found: installing maven with apt"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq maven; }
	$(BIN)/lakehouse jars fetch --out $(JARS_DIR) $(if $(wildcard $(SHARED_JARS)/*.jar),--fallback $(SHARED_JARS),)
	touch $@

# Test tools: a local Cloud Storage server (fake-gcs-server, built from the Go module proxy).
tools: $(TOOLS_BIN)/fake-gcs-server

$(TOOLS_BIN)/fake-gcs-server:
	GOBIN=$(abspath $(TOOLS_BIN)) go install github.com/fsouza/fake-gcs-server@$(FAKE_GCS_VERSION)

lint: setup
	$(BIN)/ruff check src jobs tests benchmarks

# Dataproc: make submit JOB=gold PROFILE=large ENV=dev [CLUSTER=name]  (JOB: a step of lakehouse.steps or pipeline)
submit: setup
	$(BIN)/lakehouse submit $(JOB) --env $(ENV) --profile $(PROFILE) $(if $(CLUSTER),--cluster $(CLUSTER),)

dry-run: setup
	$(BIN)/lakehouse submit $(JOB) --env $(ENV) --profile $(PROFILE) $(if $(CLUSTER),--cluster $(CLUSTER),) --dry-run

# Benchmarks print figures (rows/s, peak memory); they are scripts, not tests.
BENCH_ARGS = --dir $(BENCH_DIR) --rows $(BENCH_ROWS) --stores $(BENCH_STORES)

bench-generate: setup
	$(BIN)/python benchmarks/bench_generate.py $(BENCH_ARGS)

bench-bronze: setup
	$(BIN)/python benchmarks/bench_bronze.py $(BENCH_ARGS)

# bronze's task for tickets in DuckDB and Polars, against ours, on BENCH_DIR's landing
bench-peers: setup
	$(BIN)/python benchmarks/bench_peers.py $(BENCH_ARGS)

bench-silver: setup
	$(BIN)/python benchmarks/bench_silver.py $(BENCH_ARGS)

bench-gold: setup
	$(BIN)/python benchmarks/bench_gold.py $(BENCH_ARGS)

# Delta next to Parquet on one landing: bronze full and incremental, silver, gold (a table for docs/tables.md)
bench-formats: setup
	$(BIN)/python benchmarks/bench_formats.py $(BENCH_ARGS)

# the query service on loopback: p50/p99 and requests/s with 16 clients (needs wrk: apt-get install -y wrk)
bench-serve: setup
	$(BIN)/python benchmarks/bench_serve.py --warehouse $(WAREHOUSE)

# the whole pipeline in one process on 30M tickets (~30 min on 2 cores; ~9 GB of landing data)
bench-pipeline-30m: setup
	$(BIN)/python benchmarks/bench_gold.py --pipeline --dir $(BENCH_DIR)-30m --rows 30000000 --stores $(BENCH_STORES)

# bronze, silver, gold in order on one BENCH_DIR, then Delta next to Parquet; a missed target does not stop the later ones
bench: setup
	@status=0; for step in bronze silver gold formats; do \
	  $(MAKE) --no-print-directory bench-$$step || status=1; done; exit $$status

clean:
	rm -rf data build spark-warehouse metastore_db derby.log  # keeps .cache (jars, tools)

include infra/terraform/terraform.mk
