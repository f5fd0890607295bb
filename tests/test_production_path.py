"""The production configuration, run here: the whole pipeline on Delta gives the same silver and gold as on Parquet,
a second batch merges into existing Delta bronze tables, a re-run changes nothing, the read-only commands work on
Delta; and the whole pipeline runs on gs:// (a local Cloud Storage server on loopback, the real connector and
client) with the same gold as the local run.

One small generated landing feeds every warehouse. Its latest export of every store and entity is held back
as a second batch, so the local warehouses see an incremental merge; the gs:// run reads both batches at once,
so its gold equalling the local Delta gold also shows that merging exports in batches gives what one run gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality
from fakes.gcs_server import available, create_bucket, gcs_server

from lakehouse import inspect, pipeline
from lakehouse.config import load_config
from lakehouse.contract import BRONZE_MANIFEST, GOLD_KPIS, MODEL_METRICS, silver_table
from lakehouse.generate.batches import hold_back_latest, put_back
from lakehouse.jvm import EMULATOR_ENV, gcs_emulator_conf, local_jars
from lakehouse.runtime import JobOptions
from lakehouse.tables import open_table_store

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("parquet", "delta")
# columns that say which run wrote a row (ids, times, where the model was saved), not what the data is
RUN_COLUMNS = {"_run_id", "_ingested_at", "_silver_run_id", "_quarantined_at", "model_version", "run_id",
               "trained_at", "model_path"}
GOLD = [*GOLD_KPIS, "gold.churn_risk", MODEL_METRICS]
BUCKET = "lake"
QUIET = lambda *a, **k: None  # noqa: E731 - the report is not what these tests look at

pytestmark = pytest.mark.skipif(not local_jars().delta, reason="no Delta jars in the jar cache: run `make jars`")
needs_gcs = pytest.mark.skipif(
    not local_jars().gcs or available() is not None,
    reason=str(available() or "no Cloud Storage connector in the jar cache: run `make jars`"),
)


# the churn model's outputs: a fit sums floating-point numbers in an order that follows the input's files, so
# its scores and AUCs agree between formats to about 1e-9, not to the last bit (everything else agrees exactly)
MODEL_OUTPUTS = {"gold.churn_risk": "risk_score", MODEL_METRICS: "roc_auc"}


def comparable(df):
    """`df` without its run columns, in a fixed column order."""
    return df.select(*sorted(c for c in df.columns if c not in RUN_COLUMNS))


def assert_same_table(name: str, left, right) -> None:
    """Whole-frame equality; the model's outputs compared to 1e-6 (they come from an iterative fit)."""
    score = MODEL_OUTPUTS.get(name)
    if score is None:
        assert_df_equality(left, right, ignore_row_order=True, ignore_nullable=True)
        return
    rest = [c for c in left.columns if c not in (score, "candidate_auc")]
    assert_df_equality(left.select(rest), right.select(rest), ignore_row_order=True, ignore_nullable=True)
    a = sorted((tuple(repr(r[c]) for c in rest), r[score]) for r in left.collect())
    b = sorted((tuple(repr(r[c]) for c in rest), r[score]) for r in right.collect())
    assert [k for k, _ in a] == [k for k, _ in b], name
    assert [v for _, v in a] == pytest.approx([v for _, v in b], abs=1e-6), name


def tables(spark, warehouse, fmt: str, names) -> dict:
    settings = load_config("local", "local").settings.model_copy(update={"warehouse": str(warehouse), "table_format": fmt})
    store = open_table_store(spark, settings)
    return {name: comparable(store.read(name)) for name in names}




def latest(spark, warehouse, name: str, when: str):
    """The rows of `name` written last (by its `when` column), without the run columns."""
    settings = load_config("local", "local").settings.model_copy(update={"warehouse": str(warehouse), "table_format": "delta"})
    df = open_table_store(spark, settings).read(name)
    return comparable(df.where(df[when] == df.agg({when: "max"}).first()[0]))


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """Both formats through batch 1 (the pipeline), batch 2 (the held-back exports) and a bronze re-run."""
    from lakehouse.generate import generate

    root = tmp_path_factory.mktemp("production_path")
    landing, held = root / "landing", root / "held"
    generate(out=landing, stores=2, tickets=2000, seed=5)
    assert hold_back_latest(landing, held)
    config = load_config("local", "local")
    names = [silver_table(s) for s in config.tables.values()] + GOLD

    def options(fmt: str) -> JobOptions:
        return JobOptions(env="local", profile="local", landing=str(landing), warehouse=str(root / fmt),
                          table_format=fmt)

    summaries, first, seconds = {}, {}, {}
    for fmt in FORMATS:
        started = time.monotonic()
        summaries[(fmt, 1)] = pipeline.run_steps("pipeline", options(fmt), report=QUIET)
        seconds[fmt] = time.monotonic() - started
        first[fmt] = {n: (df.schema, df.collect()) for n, df in tables(spark, root / fmt, fmt, names).items()}
    put_back(held, landing)
    versions = {}
    for fmt in FORMATS:
        summaries[(fmt, 2)] = pipeline.run_steps("pipeline", options(fmt), report=QUIET)
        store = open_table_store(spark, config.settings.model_copy(update={"warehouse": str(root / fmt), "table_format": fmt}))
        versions[fmt] = {n: store.history(n)[0].version for n in store.list_tables("bronze")}
        summaries[(fmt, 3)] = pipeline.run_steps("bronze", options(fmt), report=QUIET)
    print(f"\nthe first pipeline run, in the test's session: parquet {seconds['parquet']:.1f} s, delta {seconds['delta']:.1f} s")
    return {"root": root, "landing": landing, "config": config, "names": names, "summaries": summaries,
            "first": first, "versions": versions, "options": options, "seconds": seconds}


def test_delta_gives_the_same_silver_and_gold_as_parquet(spark, runs):
    first = runs["first"]  # after the first batch (collected then)
    for name, (schema, rows) in first["parquet"].items():
        assert rows, name
        delta_schema, delta_rows = first["delta"][name]
        assert_same_table(name, spark.createDataFrame(rows, schema), spark.createDataFrame(delta_rows, delta_schema))
    parquet = tables(spark, runs["root"] / "parquet", "parquet", runs["names"])  # after the second
    delta = tables(spark, runs["root"] / "delta", "delta", runs["names"])
    for name, df in parquet.items():
        assert_same_table(name, df, delta[name])


def test_the_second_batch_merges_into_the_existing_delta_bronze_tables(spark, runs):
    for fmt in FORMATS:
        first, second = runs["summaries"][(fmt, 1)]["bronze"], runs["summaries"][(fmt, 2)]["bronze"]
        assert first["mode"] == second["mode"] == "incremental"
        assert 0 < second["files_read"] < first["files_read"]
        assert second["rows_read"] == second["rows_written"] + second["rows_superseded"] + second["rows_quarantined"]
    assert runs["summaries"][("delta", 2)]["bronze"] == runs["summaries"][("parquet", 2)]["bronze"]
    settings = runs["config"].settings.model_copy(update={"warehouse": str(runs["root"] / "delta"), "table_format": "delta"})
    assert open_table_store(spark, settings).history("bronze.tickets")[0].operation == "merge"


def test_a_rerun_changes_nothing(spark, runs):
    for fmt in FORMATS:
        assert runs["summaries"][(fmt, 3)]["bronze"]["files_read"] == 0
        store = open_table_store(spark, runs["config"].settings.model_copy(
            update={"warehouse": str(runs["root"] / fmt), "table_format": fmt}))
        assert {n: store.history(n)[0].version for n in store.list_tables("bronze")} == runs["versions"][fmt]


def test_the_read_only_commands_and_client_views_work_on_delta(spark, runs):
    plain = JobOptions(env="local", warehouse=runs["options"]("delta").warehouse)  # no format given: it is recorded
    listed = {row["table"] for row in inspect.list_tables(plain)}
    assert {"gold.location_scorecard_bottom", "bronze.tickets", "ops.run_log"} <= listed
    history = inspect.table_history(plain, "silver.tickets")
    assert [h["operation"] for h in history][:2] == ["overwrite", "overwrite"]
    assert {r["job"] for r in inspect.latest_runs(plain, 50)} == {"bronze_merge", "silver_clean", "gold_kpis",
                                                                  "churn_scoring"}
    with inspect.sql_session(plain) as session:
        bottom = session.sql("SELECT * FROM client.location_scorecard_bottom").collect()
        assert 0 < len(bottom) <= 20
        assert session.sql("SELECT count(*) AS n FROM silver.tickets").first()["n"] > 0
    assert inspect.rollback(plain, "silver.tickets", history[1]["version"]) == history[0]["version"] + 1
    assert inspect.table_history(plain, "silver.tickets")[0]["operation"] == "rollback"


# ---------------------------------------------------------------- gs://


def _client(address: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": address})


def _lakehouse(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse", *args], capture_output=True, text=True, cwd=ROOT, timeout=1800,
        env={**os.environ, EMULATOR_ENV: address, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def cloud(runs):
    """The landing (both batches) uploaded with the Python client, then `lakehouse run pipeline` on gs:// on Delta,
    in a process of its own as a user runs it."""
    with gcs_server() as address:
        create_bucket(address, BUCKET)
        bucket = _client(address).bucket(BUCKET)
        landing = runs["landing"]
        for file in sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith(".")):
            bucket.blob(f"landing/{file.relative_to(landing).as_posix()}").upload_from_filename(str(file))
        started = time.monotonic()
        run = _lakehouse(address, "run", "pipeline", "--env", "local", "--landing", f"gs://{BUCKET}/landing",
                         "--warehouse", f"gs://{BUCKET}/warehouse", "--table-format", "delta")
        yield {"address": address, "run": run, "seconds": time.monotonic() - started}


@needs_gcs
def test_the_pipeline_runs_on_gcs(cloud):
    run = cloud["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    stored = sorted(b.name for b in _client(cloud["address"]).list_blobs(BUCKET, prefix="warehouse/"))
    for table in ("bronze/tickets", "quarantine/bronze_files", "silver/tickets", "gold/location_scorecard_bottom",
                  "ops/run_log", "ops/bronze_manifest"):
        assert any(name.startswith(f"warehouse/{table}/_delta_log/") for name in stored), table
    assert "warehouse/_lakehouse.json" in stored  # the warehouse records its format
    assert "warehouse/_lock" not in stored  # released when the job ended
    # (the connector marks folders with empty objects named `<folder>/`)
    models = {n.split("/")[3] for n in stored if n.startswith("warehouse/models/churn_risk/")} - {""}
    assert len(models) == 1 and not next(iter(models)).startswith(".")  # saved, then renamed into place
    print(f"\ngs:// pipeline: {cloud['seconds']:.1f} s in a process of its own (JVM start included)")


def reach(spark, address: str) -> None:
    """Point the test's session at the local Cloud Storage server."""
    conf = spark._jsc.hadoopConfiguration()
    for key, value in gcs_emulator_conf(address).items():
        conf.set(key.removeprefix("spark.hadoop."), value)


@needs_gcs
def test_gold_on_gcs_equals_the_local_delta_run(spark, runs, cloud):
    assert cloud["run"].returncode == 0
    reach(spark, cloud["address"])
    there = tables(spark, f"gs://{BUCKET}/warehouse", "delta", GOLD_KPIS)
    here = tables(spark, runs["root"] / "delta", "delta", GOLD_KPIS)
    for name in GOLD_KPIS:
        assert_same_table(name, there[name], here[name])
    # the model: the local warehouse trained twice (one model per batch), gs:// once on both batches; the latest
    # local model and its scores are what gs:// has
    for name, when in (("gold.churn_risk", "scored_on"), (MODEL_METRICS, "trained_at")):
        there, here = (latest(spark, root, name, when) for root in (f"gs://{BUCKET}/warehouse", runs["root"] / "delta"))
        assert_same_table(name, there, here)


@needs_gcs
def test_runs_history_and_rollback_on_gcs(spark, cloud):
    assert cloud["run"].returncode == 0
    warehouse = f"gs://{BUCKET}/warehouse"
    listed = _lakehouse(cloud["address"], "runs", "--warehouse", warehouse)
    assert listed.returncode == 0, listed.stderr[-2000:]
    for job in ("bronze_merge", "silver_clean", "gold_kpis", "churn_scoring"):
        assert job in listed.stdout
    history = _lakehouse(cloud["address"], "history", "gold.location_scorecard", "--warehouse", warehouse)
    assert history.returncode == 0 and "overwrite" in history.stdout, history.stderr[-2000:]
    # the manifest has a commit per entity merged: take it back to the oldest kept one, with RESTORE on gs://
    reach(spark, cloud["address"])
    settings = load_config("local", "local").settings.model_copy(update={"warehouse": warehouse, "table_format": "delta"})
    kept = open_table_store(spark, settings).history(BRONZE_MANIFEST)
    assert len(kept) > 1
    oldest, latest = kept[-1].version, kept[0].version
    rollback = _lakehouse(cloud["address"], "rollback", BRONZE_MANIFEST, str(oldest), "--warehouse", warehouse)
    assert rollback.returncode == 0, rollback.stderr[-2000:]
    assert f"version {oldest} is current again (as version {latest + 1})" in rollback.stdout, rollback.stdout


@needs_gcs
def test_a_parquet_warehouse_on_gcs_is_refused_in_one_line(cloud):
    run = _lakehouse(cloud["address"], "run", "bronze", "--landing", f"gs://{BUCKET}/landing", "--warehouse",
                     f"gs://{BUCKET}/parquet", "--table-format", "parquet")
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "table_format parquet cannot keep a warehouse on gs://" in run.stderr
