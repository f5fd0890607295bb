"""Tests of the Parquet table store: versions, atomic publish, crash recovery, merge semantics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakehouse.tables import MergeResult, base, open_table_store
from lakehouse.tables.parquet import ParquetTableStore

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "k string, seq int, v string"
TARGET = [("a", 1, "a1"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null")]


@pytest.fixture
def store(spark, settings):
    """A Parquet store on the test's empty warehouse."""
    return ParquetTableStore(spark, settings)


def frame(spark, rows, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def assert_rows(actual, spark, rows, schema=SCHEMA):
    """Whole-frame comparison (column names, types and rows) against an inline expectation."""
    assert_df_equality(actual, frame(spark, rows, schema), ignore_row_order=True, ignore_nullable=True)


def duckdb_rows(path: str) -> list[tuple]:
    """The rows DuckDB reads from a table path, sorted; DuckDB knows nothing of our versions."""
    query = f"select * from read_parquet('{path}/**/*.parquet', hive_partitioning=true, union_by_name=true)"
    return sorted(duckdb.connect().sql(query).fetchall(), key=repr)


def versions_dir(settings, name: str) -> Path:
    layer, table = name.split(".")
    return Path(settings.warehouse) / "_versions" / layer / table


# ---------------------------------------------------------------- read, overwrite, publish


def test_open_table_store_gives_parquet_for_local(spark, settings):
    assert isinstance(open_table_store(spark, settings), ParquetTableStore)


def test_overwrite_publishes_a_plain_parquet_dataset_at_the_table_path(spark, store):
    assert not store.exists("bronze.t")
    assert store.overwrite("bronze.t", frame(spark, TARGET)) == 0
    assert store.overwrite("bronze.t", frame(spark, [("z", 9, "z9")])) == 1

    path = store.path("bronze.t")
    assert store.exists("bronze.t")
    assert os.path.isdir(path) and os.path.islink(path)  # a directory for users, swapped atomically
    assert_rows(store.read("bronze.t"), spark, [("z", 9, "z9")])
    assert_rows(spark.read.parquet(path), spark, [("z", 9, "z9")])
    assert duckdb_rows(path) == [("z", 9, "z9")]
    assert_rows(store.read("bronze.t", version=0), spark, TARGET)


def test_overwrite_may_read_the_table_it_replaces(spark, store):
    store.overwrite("silver.t", frame(spark, TARGET))
    store.overwrite("silver.t", store.read("silver.t").filter("seq >= 3"))
    assert_rows(store.read("silver.t"), spark, [("b", 5, "b5"), ("c", 3, "c3")])


def test_missing_tables_and_versions_raise_key_error(spark, store):
    with pytest.raises(KeyError, match="table bronze.nope does not exist"):
        store.read("bronze.nope")
    with pytest.raises(KeyError, match="table bronze.nope does not exist"):
        store.history("bronze.nope")
    store.overwrite("bronze.t", frame(spark, TARGET))
    with pytest.raises(KeyError, match=r"bronze.t has no version 7; versions kept: \[0\]"):
        store.read("bronze.t", version=7)
    with pytest.raises(KeyError, match="has no version 7"):
        store.rollback("bronze.t", 7)
    with pytest.raises(ValueError, match="must look like 'layer.table'"):
        store.read("tickets")


def test_republishing_the_same_input_gives_the_same_table(spark, store):
    source = frame(spark, TARGET)
    store.overwrite("gold.t", source)
    first = store.read("gold.t")
    store.overwrite("gold.t", source)
    assert_df_equality(store.read("gold.t"), first, ignore_row_order=True)
    assert [v.operation for v in store.history("gold.t")] == ["overwrite", "overwrite"]


def test_history_rollback_and_pruning(spark, settings):
    store = ParquetTableStore(spark, settings.model_copy(update={"keep_versions": 2}))
    for i in range(4):  # versions 0..3
        store.overwrite("gold.t", frame(spark, [("a", i, f"v{i}")]))

    history = store.history("gold.t")
    assert [(v.version, v.operation, v.rows) for v in history] == [
        (3, "overwrite", 1),
        (2, "overwrite", 1),
        (1, "overwrite", 1),
    ]
    assert history[0].committed_at >= history[1].committed_at and history[0].committed_at.tzinfo
    with pytest.raises(KeyError, match=r"versions kept: \[1, 2, 3\]"):
        store.read("gold.t", version=0)

    assert store.rollback("gold.t", 1) == 4
    assert_rows(store.read("gold.t"), spark, [("a", 1, "v1")])
    assert duckdb_rows(store.path("gold.t")) == [("a", 1, "v1")]
    assert [(v.version, v.operation) for v in store.history("gold.t")] == [
        (4, "rollback"),
        (3, "overwrite"),
        (2, "overwrite"),
    ]
    # version 1 left the history, but its files stay: version 4 uses them
    assert sorted(p.name for p in versions_dir(settings, "gold.t").iterdir()) == [
        "_log",
        "v000001",
        "v000002",
        "v000003",
    ]
    store.overwrite("gold.t", frame(spark, [("a", 5, "v5")]))
    assert_rows(store.read("gold.t", version=4), spark, [("a", 1, "v1")])


def test_list_tables(spark, store):
    store.overwrite("bronze.t1", frame(spark, TARGET))
    store.append("ops.run_log", frame(spark, TARGET))
    store.overwrite("bronze.t2", frame(spark, TARGET))
    assert store.list_tables() == ["bronze.t1", "bronze.t2", "ops.run_log"]
    assert store.list_tables("bronze") == ["bronze.t1", "bronze.t2"]
    assert store.list_tables("gold") == []


def test_refuses_to_replace_a_folder_it_does_not_own(spark, store):
    os.makedirs(store.path("gold.t"))
    with pytest.raises(ValueError, match="is not a table of this warehouse"):
        store.overwrite("gold.t", frame(spark, TARGET))


# ---------------------------------------------------------------- append, overwrite_partitions


def test_append_unions_by_name_and_shares_the_existing_files(spark, settings, store):
    store.append("ops.run_log", frame(spark, [("a", 1, "a1")]))
    store.append("ops.run_log", frame(spark, [(2, "b")], "seq int, k string"))  # v missing, other order
    store.append("ops.run_log", frame(spark, [("c", 3, "c3", 7)], SCHEMA + ", extra long"))

    assert_rows(
        store.read("ops.run_log"),
        spark,
        [("a", 1, "a1", None), ("b", 2, None, None), ("c", 3, "c3", 7)],
        SCHEMA + ", extra long",
    )
    assert [(v.operation, v.rows) for v in store.history("ops.run_log")] == [
        ("append", 3),
        ("append", 2),
        ("append", 1),
    ]
    # no rewrite: the first version's files are hard links in the latest version
    root = versions_dir(settings, "ops.run_log")
    first = {p.stat().st_ino for p in (root / "v000000").glob("*.parquet")}
    assert first and first <= {p.stat().st_ino for p in (root / "v000002").glob("*.parquet")}
    with pytest.raises(
        ValueError, match=r"columns change type: seq \(int in the table, string in the data\)"
    ):
        store.append("ops.run_log", frame(spark, [("d", "4")], "k string, seq string"))


def test_append_compacts_a_table_of_many_small_files(spark, settings, store, monkeypatch):
    from lakehouse.tables import parquet

    monkeypatch.setattr(parquet, "COMPACT_AFTER_FILES", 3)
    for i in range(4):
        store.append("ops.run_log", frame(spark, [("a", i, f"a{i}")]).repartition(1))
    root = versions_dir(settings, "ops.run_log")
    assert [len(list((root / f"v00000{i}").glob("*.parquet"))) for i in (2, 3)] == [3, 1]
    assert_rows(store.read("ops.run_log"), spark, [("a", i, f"a{i}") for i in range(4)])
    assert store.history("ops.run_log")[0].rows == 4


def test_overwrite_partitions_replaces_only_the_partitions_present(spark, settings, store):
    schema = "month string, v int"
    assert store.overwrite_partitions("gold.p", frame(spark, [("m1", 1), ("m2", 2)], schema), ["month"]) == 0
    store.overwrite_partitions(
        "gold.p", frame(spark, [("m2", 20), ("m2", 21), ("m3", 30)], schema), ["month"]
    )

    expected = [("m1", 1), ("m2", 20), ("m2", 21), ("m3", 30)]
    assert_rows(store.read("gold.p"), spark, expected, schema)  # partition column stays in place
    assert_rows(spark.read.parquet(store.path("gold.p")).select("month", "v"), spark, expected, schema)
    assert duckdb_rows(store.path("gold.p")) == sorted([(v, m) for m, v in expected], key=repr)
    assert_rows(store.read("gold.p", version=0), spark, [("m1", 1), ("m2", 2)], schema)
    assert [(v.operation, v.rows) for v in store.history("gold.p")] == [
        ("overwrite_partitions", 4),
        ("overwrite_partitions", 2),
    ]
    root = versions_dir(settings, "gold.p")
    kept = next((root / "v000000" / "month=m1").glob("*.parquet")).stat().st_ino
    assert kept in {p.stat().st_ino for p in (root / "v000001" / "month=m1").glob("*.parquet")}

    with pytest.raises(ValueError, match=r"gold.p is partitioned by \['month'\], not \['v'\]"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), ["v"])
    with pytest.raises(ValueError, match="needs partition_by columns"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), [])


# ---------------------------------------------------------------- merge


MERGE_CASES = {
    # case: (source rows, expected table rows, (source_rows, source_duplicates, inserted, updated, unchanged))
    "insert new key": ([("d", 1, "d1")], [*TARGET, ("d", 1, "d1")], (1, 0, 1, 0, 0)),
    "update when later": (
        [("a", 2, "a2")],
        [("a", 2, "a2"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null")],
        (1, 0, 0, 1, 0),
    ),
    "stale row ignored": ([("b", 4, "b4")], TARGET, (1, 0, 0, 0, 1)),
    "equal order keeps the target": ([("c", 3, "c3-other")], TARGET, (1, 0, 0, 0, 1)),
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


@pytest.fixture(params=["broadcast source", "shuffled source"])
def merge_plan(request, monkeypatch):
    """Both ways a merge matches its source against the table: broadcast (small) or shuffled."""
    if request.param == "shuffled source":
        monkeypatch.setattr(base, "BROADCAST_SOURCE_ROWS", -1)  # no source is small enough
    return request.param


@pytest.mark.parametrize("case", list(MERGE_CASES))
def test_merge_semantics(spark, store, case, merge_plan):
    source, expected, counts = MERGE_CASES[case]
    store.overwrite("bronze.t", frame(spark, TARGET))
    result = store.merge("bronze.t", frame(spark, source), ["k"], ["seq"])
    assert_rows(store.read("bronze.t"), spark, expected)
    changed = counts[2] + counts[3] > 0
    assert result == MergeResult(1 if changed else 0, *counts)
    assert len(store.history("bronze.t")) == (2 if changed else 1)


def test_merge_compares_null_keys_null_safely(spark, store, merge_plan):
    store.overwrite("bronze.t", frame(spark, [(None, 1, "n1"), ("a", 1, "a1")]))
    result = store.merge(
        "bronze.t", frame(spark, [(None, 2, "n2"), (None, 3, "n3"), ("a", 1, "a1")]), ["k"], ["seq"]
    )
    assert_rows(store.read("bronze.t"), spark, [(None, 3, "n3"), ("a", 1, "a1")])
    assert result == MergeResult(1, source_rows=3, source_duplicates=1, inserted=0, updated=1, unchanged=1)


def test_merge_composite_keys_and_several_order_columns(spark, store, merge_plan):
    schema = "loc string, id string, seq int, export string, v string"
    target = [("l1", "t1", 1, "e1", "x"), ("l2", "t1", 1, "e1", "y"), (None, "t1", 1, "e1", "z")]
    source = [
        ("l1", "t1", 1, "e2", "x-new"),  # same seq, later export: update
        ("l2", "t1", 1, None, "y-null"),  # same seq, null export orders lowest: unchanged
        (None, "t1", 2, "e0", "z2"),  # null part of the key matches null-safely: update
        ("l1", "t2", 1, "e1", "new"),  # same id at another location: insert
    ]
    store.overwrite("bronze.tickets", frame(spark, target, schema))
    result = store.merge("bronze.tickets", frame(spark, source, schema), ["loc", "id"], ["seq", "export"])
    expected = [
        ("l1", "t1", 1, "e2", "x-new"),
        ("l2", "t1", 1, "e1", "y"),
        (None, "t1", 2, "e0", "z2"),
        ("l1", "t2", 1, "e1", "new"),
    ]
    assert_rows(store.read("bronze.tickets"), spark, expected, schema)
    assert result == MergeResult(1, source_rows=4, source_duplicates=0, inserted=1, updated=2, unchanged=1)


def test_merge_creates_the_table_and_is_idempotent(spark, store):
    source = frame(spark, [("a", 1, "a1"), ("a", 2, "a2"), ("b", 1, "b1")])
    first = store.merge("bronze.t", source, ["k"], ["seq"])
    assert first == MergeResult(0, source_rows=3, source_duplicates=1, inserted=2, updated=0, unchanged=0)
    again = store.merge("bronze.t", source, ["k"], ["seq"])
    assert again == MergeResult(0, source_rows=3, source_duplicates=1, inserted=0, updated=0, unchanged=2)
    assert_rows(store.read("bronze.t"), spark, [("a", 2, "a2"), ("b", 1, "b1")])
    assert [v.operation for v in store.history("bronze.t")] == ["merge"]  # nothing changed: no new version


def test_merge_adds_new_columns_and_nulls_missing_ones(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    source = frame(spark, [("a", 2, "A"), ("z", 1, "Z")], "k string, seq int, extra string")  # no v
    result = store.merge("bronze.t", source, ["k"], ["seq"])
    schema = SCHEMA + ", extra string"
    expected = [("a", 2, None, "A"), ("b", 5, "b5", None), ("c", 3, "c3", None), ("e", None, "e-null", None)]
    assert_rows(store.read("bronze.t"), spark, [*expected, ("z", 1, None, "Z")], schema)
    assert result == MergeResult(1, source_rows=2, source_duplicates=0, inserted=1, updated=1, unchanged=0)

    # a column added by a merge that changes no row still lands (the files are shared)
    stale = frame(spark, [("a", 1, "old", 5)], "k string, seq int, extra string, more int")
    assert store.merge("bronze.t", stale, ["k"], ["seq"]).version == 2
    assert store.read("bronze.t").columns == ["k", "seq", "v", "extra", "more"]


def test_merge_without_order_only_inserts(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    result = store.merge("bronze.t", frame(spark, [("a", 9, "a9"), ("d", 1, "d1")]), ["k"])
    assert_rows(store.read("bronze.t"), spark, [*TARGET, ("d", 1, "d1")])
    assert result == MergeResult(1, source_rows=2, source_duplicates=0, inserted=1, updated=0, unchanged=1)


def test_merge_breaks_full_ties_the_same_way_whatever_the_input_order(spark, store):
    schema = "k string, seq int, _rescued map<string,string>"  # bronze keeps a map column
    rows = [("a", 1, {"u": "1"}), ("a", 1, {"u": "2"}), ("a", 1, {"u": "3"})]
    store.merge("bronze.x", frame(spark, rows, schema), ["k"], ["seq"])
    store.merge("bronze.y", frame(spark, rows[::-1], schema).repartition(3), ["k"], ["seq"])
    assert_df_equality(store.read("bronze.x"), store.read("bronze.y"))


def test_merge_keeps_the_partitioning(spark, settings, store):
    store.overwrite("bronze.t", frame(spark, TARGET), partition_by=["seq"])
    store.merge("bronze.t", frame(spark, [("a", 2, "a2"), ("f", 9, "f9")]), ["k"], ["seq"])
    assert_rows(store.read("bronze.t"), spark, [("a", 2, "a2"), *TARGET[1:], ("f", 9, "f9")])
    partitions = sorted(
        p.name for p in (versions_dir(settings, "bronze.t") / "v000001").iterdir() if p.is_dir()
    )
    assert partitions == ["seq=2", "seq=3", "seq=5", "seq=9", "seq=__HIVE_DEFAULT_PARTITION__"]


def data_file_inodes(settings, name: str, version: int) -> dict[str, int]:
    """Inode of every data file of a version, by file name (a linked file keeps its inode)."""
    folder = versions_dir(settings, name) / f"v{version:06d}"
    return {p.name: p.stat().st_ino for p in folder.rglob("*.parquet")}


def test_merge_rewrites_only_the_files_holding_updated_keys(spark, settings, store):
    # four files, one key range each
    rows = [(f"{k}{i}", 1, "old") for k in "abcd" for i in range(3)]
    store.overwrite("bronze.t", frame(spark, rows).repartitionByRange(4, "k"))
    before = data_file_inodes(settings, "bronze.t", 0)
    assert len(before) == 4

    # inserts only: every file is shared (same inode), new files hold the new rows
    result = store.merge("bronze.t", frame(spark, [("e0", 1, "new"), ("e1", 1, "new")]), ["k"], ["seq"])
    after = data_file_inodes(settings, "bronze.t", result.version)
    assert set(before.items()) < set(after.items())

    # an update of a key in the "b" file rewrites that file only
    files = spark.read.parquet(str(versions_dir(settings, "bronze.t") / f"v{result.version:06d}"))
    b_file = files.filter(F.col("k") == "b1").select("_metadata.file_name").first()[0]
    result = store.merge("bronze.t", frame(spark, [("b1", 2, "changed"), ("c0", 1, "stale")]), ["k"], ["seq"])
    assert (result.updated, result.unchanged) == (1, 1)
    latest = data_file_inodes(settings, "bronze.t", result.version)
    assert b_file not in latest
    assert {n: i for n, i in after.items() if n != b_file}.items() <= latest.items()
    expected = [r for r in rows if r[0] != "b1"] + [("b1", 2, "changed"), ("e0", 1, "new"), ("e1", 1, "new")]
    assert_rows(store.read("bronze.t"), spark, expected)
    assert store.history("bronze.t")[0].rows == len(expected)


def test_merge_rejects_bad_arguments(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    source = frame(spark, [("a", 2, "a2")])
    with pytest.raises(ValueError, match="at least one key"):
        store.merge("bronze.t", source, [], ["seq"])
    with pytest.raises(TypeError, match="not a string"):
        store.merge("bronze.t", source, "k", ["seq"])
    with pytest.raises(ValueError, match=r"merge columns \['nope'\] are not in the source"):
        store.merge("bronze.t", source, ["k"], ["nope"])
    with pytest.raises(
        ValueError, match=r"columns change type: seq \(int in the table, string in the data\)"
    ):
        store.merge(
            "bronze.t", frame(spark, [("a", "2", "a2")], "k string, seq string, v string"), ["k"], ["seq"]
        )
    assert len(store.history("bronze.t")) == 1


# ---------------------------------------------------------------- publishing through Hadoop's FileSystem API


def test_copy_publishing_through_the_hadoop_file_system(spark, settings):
    """The object-store path (gs://), exercised on the local file system."""
    store = ParquetTableStore(spark, settings, publish="copy")
    store.overwrite("silver.t", frame(spark, TARGET))
    result = store.merge("silver.t", frame(spark, [("a", 2, "a2"), ("d", 1, "d1")]), ["k"], ["seq"])
    assert result == MergeResult(1, source_rows=2, source_duplicates=0, inserted=1, updated=1, unchanged=0)
    store.append("silver.t", frame(spark, [("f", 1, "f1")]))

    path = store.path("silver.t")
    assert os.path.isdir(path) and not os.path.islink(path)
    expected = [
        ("a", 2, "a2"),
        ("b", 5, "b5"),
        ("c", 3, "c3"),
        ("e", None, "e-null"),
        ("d", 1, "d1"),
        ("f", 1, "f1"),
    ]
    assert_rows(spark.read.parquet(path), spark, expected)
    assert_rows(store.read("silver.t"), spark, expected)

    assert store.rollback("silver.t", 0) == 3
    assert_rows(spark.read.parquet(path), spark, TARGET)
    assert duckdb_rows(path) == sorted(TARGET, key=repr)
    assert store.list_tables("silver") == ["silver.t"]


# ---------------------------------------------------------------- crashes


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lakehouse.config import load_profile, load_settings
    from lakehouse.session import build_session
    from lakehouse.tables.parquet import ParquetTableStore

    root, warehouse = Path(sys.argv[1]), sys.argv[2]
    settings = load_settings("local", root / "conf", {"landing": warehouse + "/../landing", "warehouse": warehouse})
    spark = build_session(
        settings.model_copy(update={"spark_master": "local[2]"}),
        load_profile("local", root / "run_profiles"),
        extra_conf={"spark.ui.enabled": "false", "spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "2"},
        log_level="ERROR",
    )

    def slow(batches):  # a long write, so the test can kill it halfway
        for batch in batches:
            time.sleep(0.5)
            yield batch

    big = (
        spark.range(0, 40_000, numPartitions=40)
        .selectExpr("cast(id as string) as k", "cast(id as int) as seq", "'big' as v")
        .mapInPandas(slow, "k string, seq int, v string")
    )
    ParquetTableStore(spark, settings).overwrite("bronze.t", big)
    print("finished", flush=True)
    """
)


def test_a_writer_killed_midway_leaves_the_previous_version_intact(spark, settings, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    history = store.history("bronze.t")
    version_dir = versions_dir(settings, "bronze.t") / "v000001"

    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(ROOT), settings.warehouse],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the JVM dies with it
    )
    try:
        deadline = time.monotonic() + 120
        while not any(f.is_file() for f in version_dir.rglob("*")):  # part files being written
            assert writer.poll() is None, writer.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.1)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    _wait_for_group_exit(writer.pid)  # its JVM and Python workers too

    # the previous version is current and complete, for the store, Spark and DuckDB alike
    assert store.history("bronze.t") == history
    assert_rows(store.read("bronze.t"), spark, TARGET)
    assert_rows(spark.read.parquet(store.path("bronze.t")), spark, TARGET)
    assert duckdb_rows(store.path("bronze.t")) == sorted(TARGET, key=repr)

    # the next write succeeds and cleans the leftovers
    assert store.overwrite("bronze.t", frame(spark, [("z", 1, "z1")])) == 1
    assert_rows(store.read("bronze.t"), spark, [("z", 1, "z1")])
    assert not list(version_dir.rglob("_temporary"))
    assert_rows(spark.read.parquet(store.path("bronze.t")), spark, [("z", 1, "z1")])


def _wait_for_group_exit(pgid: int, timeout: float = 30) -> None:
    """Wait until no live (non-zombie) process of the group is left (Linux /proc)."""

    def alive() -> list[str]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
                pids.append(stat.parent.name)
        return pids

    deadline = time.monotonic() + timeout
    while alive():
        assert time.monotonic() < deadline, f"processes {alive()} of group {pgid} outlived SIGKILL"
        time.sleep(0.1)


def test_leftovers_of_killed_commits_are_cleaned_and_never_current(spark, settings, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    root = versions_dir(settings, "bronze.t")
    layer_root = Path(store.path("bronze.t")).parent
    # a partial version directory, a half-written log entry and a publishing symlink
    (root / "v000001" / "_temporary").mkdir(parents=True)
    (root / "v000001" / "part-00000-x.parquet").write_bytes(b"PAR1 partial")
    (root / "_log" / "00000000000000000001.json.tmp-dead").write_text('{"version": 1')
    os.symlink("../_versions/bronze/t/v000001", layer_root / ".t.publishing-dead")

    assert [v.version for v in store.history("bronze.t")] == [0]
    assert_rows(store.read("bronze.t"), spark, TARGET)

    store.append("bronze.t", frame(spark, [("z", 1, "z1")]))
    assert_rows(store.read("bronze.t"), spark, [*TARGET, ("z", 1, "z1")])
    assert sorted(p.name for p in (root / "_log").iterdir()) == [
        "00000000000000000000.json",
        "00000000000000000001.json",
    ]
    assert not (root / "v000001" / "part-00000-x.parquet").exists()
    assert sorted(p.name for p in layer_root.iterdir()) == ["t"]


def test_a_commit_killed_before_publishing_is_published_by_the_next_write(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    store.overwrite("bronze.t", frame(spark, [("y", 1, "y1")]))
    path = store.path("bronze.t")
    os.remove(path)  # as if killed between the log entry (commit) and the symlink swap
    os.symlink("../_versions/bronze/t/v000000", path)

    assert_rows(store.read("bronze.t"), spark, [("y", 1, "y1")])  # the log decides
    store.append("bronze.t", frame(spark, [("z", 1, "z1")]))
    assert_rows(spark.read.parquet(path), spark, [("y", 1, "y1"), ("z", 1, "z1")])


def test_classification_names_the_target_files_holding_each_key(spark):
    target = frame(spark, [("a", 1, "x"), ("a", 1, "y"), ("b", 5, "z")]).withColumn(
        "file", F.when(F.col("v") == "x", "f1").when(F.col("v") == "y", "f2").otherwise("f3")
    )
    source = base.dedupe_latest(frame(spark, [("a", 2, "new"), ("b", 1, "old"), ("c", 1, "new")]), ["k"], ["seq"])
    classified = base.classify_merge_source(source, target, ["k"], ["seq"], target_file="file")
    got = {r.k: (r[base.ACTION], sorted(r[base.TARGET_FILES] or [])) for r in classified.collect()}
    assert got == {"a": ("update", ["f1", "f2"]), "b": ("unchanged", ["f3"]), "c": ("insert", [])}
    without = base.classify_merge_source(source, target, ["k"], ["seq"])
    assert base.TARGET_FILES not in without.columns
