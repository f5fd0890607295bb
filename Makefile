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
BENCH_DIR ?= /tmp/lakehouse-bench
BENCH_ROWS ?= 10000000
BENCH_STORES ?= 40
PYTEST_ARGS ?=

.PHONY: setup java run sample test test-slow jars lint submit dry-run clean \
        bench bench-generate bench-bronze bench-silver bench-gold bench-pipeline-30m

setup: java $(VENV)/.installed

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

# The suite CI runs: every test not marked slow, then the offline Terraform checks.
test: setup tf-tools
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory tf-check

# The slow tests: the standalone Spark cluster run of the whole pipeline, large-sample checks.
test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Delta jars for local Delta runs and for staging to Dataproc (needs Maven Central).
jars: setup
	$(BIN)/lakehouse jars fetch

lint: setup
	$(BIN)/ruff check src jobs tests benchmarks

# Dataproc: make submit JOB=gold_kpis PROFILE=large ENV=dev [CLUSTER=name]
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

bench-silver: setup
	$(BIN)/python benchmarks/bench_silver.py $(BENCH_ARGS)

bench-gold: setup
	$(BIN)/python benchmarks/bench_gold.py $(BENCH_ARGS)

# the whole pipeline in one process on 30M tickets (~30 min on 2 cores; ~9 GB of landing data)
bench-pipeline-30m: setup
	$(BIN)/python benchmarks/bench_gold.py --pipeline --dir $(BENCH_DIR)-30m --rows 30000000 --stores $(BENCH_STORES)

# bronze, silver, gold in order on one BENCH_DIR; a missed target does not stop the later ones
bench: setup
	@status=0; for step in bronze silver gold; do \
	  $(MAKE) --no-print-directory bench-$$step || status=1; done; exit $$status

clean:
	rm -rf data build spark-warehouse metastore_db derby.log

include infra/terraform/terraform.mk
