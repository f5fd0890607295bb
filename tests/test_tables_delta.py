"""Tests of the Delta table store: the Parquet store's behaviours, run when Delta jars are available.

Delta's jars must be on the JVM's classpath when it starts, and the shared `spark` fixture's JVM
has none; so `test_delta_store_in_a_fresh_process` runs this module again in a new interpreter
(with LAKEHOUSE_DELTA_FRESH=1), where a Delta-enabled session is built first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality

from lakehouse.session import DELTA_JARS_ENV, delta_jars
from lakehouse.tables import MergeResult

ROOT = Path(__file__).resolve().parents[1]
FRESH_ENV = "LAKEHOUSE_DELTA_FRESH"
FRESH = os.environ.get(FRESH_ENV) == "1"
JARS = delta_jars()
SCHEMA = "k string, seq int, v string"
TARGET = [("a", 1, "a1"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null")]

pytestmark = [
    pytest.mark.delta,
    pytest.mark.skipif(
        not JARS,
        reason=f"no Delta Lake jars: set {DELTA_JARS_ENV} to a folder holding delta-spark_2.12-3.2.x.jar "
        "and delta-storage-3.2.x.jar (or put them in ~/.ivy2/jars)",
    ),
]
in_fresh_process = pytest.mark.skipif(
    bool(JARS) and not FRESH,
    reason="runs inside test_delta_store_in_a_fresh_process (Delta needs its jars at JVM start)",
)


def test_delta_store_in_a_fresh_process():
    if FRESH:
        pytest.skip("this is the fresh process")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"],
        env={**os.environ, FRESH_ENV: "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout.splitlines()[-1], proc.stdout[-2000:]


@pytest.fixture(scope="module")
def delta_spark():
    """A local session with the Delta extension, catalog and jars (this module's own JVM)."""
    from lakehouse.config import load_profile, load_settings
    from lakehouse.session import build_session

    settings = load_settings("local", ROOT / "conf", {"table_format": "delta"})
    session = build_session(
        settings.model_copy(update={"spark_master": "local[2]"}),
        load_profile("local", ROOT / "run_profiles"),
        app_name="lakehouse-delta-tests",
        extra_conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "2g",
            "spark.sql.adaptive.coalescePartitions.enabled": "false",
        },
        log_level="ERROR",
    )
    assert "io.delta" in session.conf.get("spark.sql.extensions", "")
    yield session
    session.stop()


@pytest.fixture
def delta_settings(settings):
    return settings.model_copy(update={"table_format": "delta"})


@pytest.fixture
def store(delta_spark, delta_settings):
    from lakehouse.tables import open_table_store
    from lakehouse.tables.delta import DeltaTableStore

    store = open_table_store(delta_spark, delta_settings)
    assert isinstance(store, DeltaTableStore)
    return store


def frame(spark, rows, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def assert_rows(actual, spark, rows, schema=SCHEMA):
    assert_df_equality(actual, frame(spark, rows, schema), ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- read, overwrite, history, rollback


@in_fresh_process
def test_overwrite_read_history_and_rollback(delta_spark, store):
    spark = delta_spark
    assert not store.exists("gold.t")
    with pytest.raises(KeyError, match="table gold.t does not exist"):
        store.read("gold.t")
    for i in range(3):
        assert store.overwrite("gold.t", frame(spark, [("a", i, f"v{i}")])) == i
    assert_rows(spark.read.format("delta").load(store.path("gold.t")), spark, [("a", 2, "v2")])
    assert_rows(store.read("gold.t", version=1), spark, [("a", 1, "v1")])
    with pytest.raises(KeyError, match="has no version 9"):
        store.read("gold.t", version=9)

    assert store.rollback("gold.t", 0) == 3
    assert_rows(store.read("gold.t"), spark, [("a", 0, "v0")])
    history = store.history("gold.t")
    assert [(v.version, v.operation) for v in history] == [
        (3, "rollback"),
        (2, "overwrite"),
        (1, "overwrite"),
        (0, "overwrite"),
    ]
    assert history[1].rows == 1 and history[0].committed_at.tzinfo is not None
    assert store.list_tables("gold") == ["gold.t"]


@in_fresh_process
def test_overwrite_may_read_the_table_it_replaces(delta_spark, store):
    store.overwrite("silver.t", frame(delta_spark, TARGET))
    store.overwrite("silver.t", store.read("silver.t").filter("seq >= 3"))
    assert_rows(store.read("silver.t"), delta_spark, [("b", 5, "b5"), ("c", 3, "c3")])


@in_fresh_process
def test_append_and_overwrite_partitions(delta_spark, store):
    spark = delta_spark
    store.append("ops.run_log", frame(spark, [("a", 1, "a1")]))
    store.append("ops.run_log", frame(spark, [(2, "b")], "seq int, k string"))
    store.append("ops.run_log", frame(spark, [("c", 3, "c3", 7)], SCHEMA + ", extra long"))
    assert_rows(
        store.read("ops.run_log"),
        spark,
        [("a", 1, "a1", None), ("b", 2, None, None), ("c", 3, "c3", 7)],
        SCHEMA + ", extra long",
    )

    schema = "month string, v int"
    store.overwrite_partitions("gold.p", frame(spark, [("m1", 1), ("m2", 2)], schema), ["month"])
    store.overwrite_partitions("gold.p", frame(spark, [("m2", 20), ("m3", 30)], schema), ["month"])
    assert_rows(store.read("gold.p"), spark, [("m1", 1), ("m2", 20), ("m3", 30)], schema)
    with pytest.raises(ValueError, match=r"partitioned by \['month'\], not \['v'\]"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), ["v"])


# ---------------------------------------------------------------- merge


MERGE_CASES = {
    "insert new key": ([("d", 1, "d1")], [*TARGET, ("d", 1, "d1")], (1, 0, 1, 0, 0)),
    "update when later": (
        [("a", 2, "a2")],
        [("a", 2, "a2"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null")],
        (1, 0, 0, 1, 0),
    ),
    "stale and equal rows ignored": ([("b", 4, "b4"), ("c", 3, "c3-other")], TARGET, (2, 0, 0, 0, 2)),
    "nulls order lowest": (
        [("e", 1, "e1"), ("b", None, "b-null")],
        [("a", 1, "a1"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", 1, "e1")],
        (2, 0, 0, 1, 1),
    ),
    "source duplicates: latest wins": (
        [("a", 7, "a7"), ("a", 9, "a9"), ("a", 8, "a8"), ("d", 1, "d1"), ("d", None, "d-null")],
        [("a", 9, "a9"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null"), ("d", 1, "d1")],
        (5, 3, 1, 1, 0),
    ),
}


@in_fresh_process
@pytest.mark.parametrize("case", list(MERGE_CASES))
def test_merge_semantics(delta_spark, store, case):
    source, expected, counts = MERGE_CASES[case]
    store.overwrite("bronze.t", frame(delta_spark, TARGET))
    result = store.merge("bronze.t", frame(delta_spark, source), ["k"], ["seq"])
    assert_rows(store.read("bronze.t"), delta_spark, expected)
    changed = counts[2] + counts[3] > 0
    assert result == MergeResult(1 if changed else 0, *counts)


@in_fresh_process
def test_merge_null_keys_composite_keys_and_new_columns(delta_spark, store):
    spark = delta_spark
    store.overwrite("bronze.n", frame(spark, [(None, 1, "n1"), ("a", 1, "a1")]))
    result = store.merge(
        "bronze.n", frame(spark, [(None, 2, "n2"), (None, 3, "n3"), ("a", 1, "a1")]), ["k"], ["seq"]
    )
    assert_rows(store.read("bronze.n"), spark, [(None, 3, "n3"), ("a", 1, "a1")])
    assert result == MergeResult(1, source_rows=3, source_duplicates=1, inserted=0, updated=1, unchanged=1)

    schema = "loc string, id string, seq int, v string"
    store.overwrite("bronze.c", frame(spark, [("l1", "t1", 1, "x"), (None, "t1", 1, "z")], schema))
    source = frame(spark, [("l1", "t1", 2, "x2"), (None, "t1", 2, "z2"), ("l2", "t1", 1, "new")], schema)
    result = store.merge("bronze.c", source.withColumn("extra", source["v"]), ["loc", "id"], ["seq"])
    assert_rows(
        store.read("bronze.c"),
        spark,
        [("l1", "t1", 2, "x2", "x2"), (None, "t1", 2, "z2", "z2"), ("l2", "t1", 1, "new", "new")],
        schema + ", extra string",
    )
    assert result == MergeResult(1, source_rows=3, source_duplicates=0, inserted=1, updated=2, unchanged=0)


@in_fresh_process
def test_merge_creates_the_table_and_is_idempotent(delta_spark, store):
    source = frame(delta_spark, [("a", 1, "a1"), ("a", 2, "a2"), ("b", 1, "b1")])
    first = store.merge("bronze.t", source, ["k"], ["seq"])
    assert first == MergeResult(0, source_rows=3, source_duplicates=1, inserted=2, updated=0, unchanged=0)
    again = store.merge("bronze.t", source, ["k"], ["seq"])
    assert again == MergeResult(0, source_rows=3, source_duplicates=1, inserted=0, updated=0, unchanged=2)
    assert_rows(store.read("bronze.t"), delta_spark, [("a", 2, "a2"), ("b", 1, "b1")])
    assert [v.version for v in store.history("bronze.t")] == [0]


# ---------------------------------------------------------------- crashes


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lakehouse.config import load_profile, load_settings
    from lakehouse.session import build_session
    from lakehouse.tables import open_table_store

    root, warehouse = Path(sys.argv[1]), sys.argv[2]
    settings = load_settings(
        "local", root / "conf",
        {"landing": warehouse + "/../landing", "warehouse": warehouse, "table_format": "delta"},
    )
    spark = build_session(
        settings.model_copy(update={"spark_master": "local[2]"}),
        load_profile("local", root / "run_profiles"),
        extra_conf={"spark.ui.enabled": "false", "spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "2"},
        log_level="ERROR",
    )

    def slow(batches):
        for batch in batches:
            time.sleep(0.5)
            yield batch

    big = (
        spark.range(0, 40_000, numPartitions=40)
        .selectExpr("cast(id as string) as k", "cast(id as int) as seq", "'big' as v")
        .mapInPandas(slow, "k string, seq int, v string")
    )
    open_table_store(spark, settings).overwrite("bronze.t", big)
    """
)


@in_fresh_process
def test_a_writer_killed_midway_leaves_the_previous_version_intact(delta_spark, store, delta_settings):
    store.overwrite("bronze.t", frame(delta_spark, TARGET))
    history = store.history("bronze.t")
    table = Path(store.path("bronze.t"))
    before = {p for p in table.glob("*.parquet")}

    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(ROOT), delta_settings.warehouse],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not set(table.glob("*.parquet")) - before:  # new data files being written
            assert writer.poll() is None, writer.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.1)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.communicate()

    assert store.history("bronze.t") == history
    assert_rows(store.read("bronze.t"), delta_spark, TARGET)
    assert store.overwrite("bronze.t", frame(delta_spark, [("z", 1, "z1")])) == 1
    assert_rows(store.read("bronze.t"), delta_spark, [("z", 1, "z1")])
