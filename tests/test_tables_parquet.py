"""What only the Parquet store has: version directories and their log, the published table path (a symlink or a
copy), shared files (hard links), compaction, crash leftovers. The behaviours both formats share are in
test_table_store.py."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakehouse.errors import UserError
from lakehouse.tables import MergeResult, merge, open_table_store
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


def data_dir(settings, name: str, version: int) -> Path:
    """The data directory of a committed version, as its log entry names it."""
    entry = json.loads((versions_dir(settings, name) / "_log" / f"{version:020d}.json").read_text())
    return versions_dir(settings, name) / entry["data"]


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
    assert sorted(p.name.split("-")[0] for p in versions_dir(settings, "gold.t").iterdir()) == [
        "_log",
        "v000001",
        "v000002",
        "v000003",
    ]
    store.overwrite("gold.t", frame(spark, [("a", 5, "v5")]))
    assert_rows(store.read("gold.t", version=4), spark, [("a", 1, "v1")])


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
    first = {p.stat().st_ino for p in data_dir(settings, "ops.run_log", 0).glob("*.parquet")}
    assert first and first <= {p.stat().st_ino for p in data_dir(settings, "ops.run_log", 2).glob("*.parquet")}
    with pytest.raises(
        ValueError, match=r"columns change type: seq \(int in the table, string in the data\)"
    ):
        store.append("ops.run_log", frame(spark, [("d", "4")], "k string, seq string"))


def test_append_compacts_a_table_of_many_small_files(spark, settings, store, monkeypatch):
    from lakehouse.tables import parquet

    monkeypatch.setattr(parquet, "COMPACT_AFTER_FILES", 3)
    for i in range(4):
        store.append("ops.run_log", frame(spark, [("a", i, f"a{i}")]).repartition(1))
    assert [len(list(data_dir(settings, "ops.run_log", i).glob("*.parquet"))) for i in (2, 3)] == [3, 1]
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
    kept = next((data_dir(settings, "gold.p", 0) / "month=m1").glob("*.parquet")).stat().st_ino
    assert kept in {p.stat().st_ino for p in (data_dir(settings, "gold.p", 1) / "month=m1").glob("*.parquet")}

    with pytest.raises(ValueError, match=r"gold.p is partitioned by \['month'\], not \['v'\]"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), ["v"])
    with pytest.raises(ValueError, match="needs partition_by columns"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), [])


# ---------------------------------------------------------------- merge


def test_merge_keeps_the_partitioning(spark, settings, store):
    store.overwrite("bronze.t", frame(spark, TARGET), partition_by=["seq"])
    store.merge("bronze.t", frame(spark, [("a", 2, "a2"), ("f", 9, "f9")]), ["k"], ["seq"])
    assert_rows(store.read("bronze.t"), spark, [("a", 2, "a2"), *TARGET[1:], ("f", 9, "f9")])
    partitions = sorted(
        p.name for p in data_dir(settings, "bronze.t", 1).iterdir() if p.is_dir()
    )
    assert partitions == ["seq=2", "seq=3", "seq=5", "seq=9", "seq=__HIVE_DEFAULT_PARTITION__"]


def data_file_inodes(settings, name: str, version: int) -> dict[str, int]:
    """Inode of every data file of a version, by file name (a linked file keeps its inode)."""
    folder = data_dir(settings, name, version)
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
    assert store.history("bronze.t")[0].rows == len(rows) + 2  # counted without reading the shared files

    # an update of a key in the "b" file rewrites that file only
    files = spark.read.parquet(str(data_dir(settings, "bronze.t", result.version)))
    b_file = files.filter(F.col("k") == "b1").select("_metadata.file_name").first()[0]
    result = store.merge("bronze.t", frame(spark, [("b1", 2, "changed"), ("c0", 1, "stale")]), ["k"], ["seq"])
    assert (result.updated, result.unchanged) == (1, 1)
    latest = data_file_inodes(settings, "bronze.t", result.version)
    assert b_file not in latest
    assert {n: i for n, i in after.items() if n != b_file}.items() <= latest.items()
    expected = [r for r in rows if r[0] != "b1"] + [("b1", 2, "changed"), ("e0", 1, "new"), ("e1", 1, "new")]
    assert_rows(store.read("bronze.t"), spark, expected)
    assert store.history("bronze.t")[0].rows == len(expected)


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
    assert sorted(p.name for p in layer_root.iterdir()) == ["t"]
    # the partial directory of version 1 could still be a racing writer's: it goes with the next version
    assert (root / "v000001" / "part-00000-x.parquet").exists()
    store.append("bronze.t", frame(spark, [("y", 1, "y1")]))
    assert not (root / "v000001").exists()


def test_a_commit_killed_before_publishing_is_published_by_the_next_write(spark, settings, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    store.overwrite("bronze.t", frame(spark, [("y", 1, "y1")]))
    path = store.path("bronze.t")
    os.remove(path)  # as if killed between the log entry (commit) and the symlink swap
    os.symlink(f"../_versions/bronze/t/{data_dir(settings, 'bronze.t', 0).name}", path)
    assert_rows(spark.read.parquet(path), spark, TARGET)  # the path shows the old version

    assert_rows(store.read("bronze.t"), spark, [("y", 1, "y1")])  # the log decides, and the read repairs the path
    assert_rows(spark.read.parquet(path), spark, [("y", 1, "y1")])
    assert duckdb_rows(path) == [("y", 1, "y1")]
    store.append("bronze.t", frame(spark, [("z", 1, "z1")]))
    assert_rows(spark.read.parquet(path), spark, [("y", 1, "y1"), ("z", 1, "z1")])


def test_a_merge_that_changes_nothing_still_repairs_the_table_path(spark, settings, store):
    """Killed after its commit, before the switch: the next run's merge changes no row, yet the path is right."""
    store.overwrite("bronze.t", frame(spark, TARGET))
    store.merge("bronze.t", frame(spark, [("d", 1, "d1")]), ["k"], ["seq"])
    path = store.path("bronze.t")
    os.remove(path)
    os.symlink(f"../_versions/bronze/t/{data_dir(settings, 'bronze.t', 0).name}", path)
    result = ParquetTableStore(spark, settings).merge("bronze.t", frame(spark, [("d", 1, "d1")]), ["k"], ["seq"])
    assert (result.version, result.unchanged) == (1, 1)
    assert duckdb_rows(path) == sorted([*TARGET, ("d", 1, "d1")], key=repr)


def test_a_version_whose_files_are_gone_is_one_clear_error(spark, settings, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    shutil.rmtree(data_dir(settings, "bronze.t", 0))
    with pytest.raises(UserError, match=r"bronze.t version 0: its files are missing .*lakehouse history bronze.t"):
        store.read("bronze.t")


def test_a_parquet_warehouse_on_an_object_store_is_refused(spark, settings):
    gs = settings.model_copy(update={"warehouse": "gs://bucket/warehouse"})
    with pytest.raises(UserError, match=r"table_format parquet cannot keep a warehouse on gs://.*use table_format: delta"):
        ParquetTableStore(spark, gs)


def test_classification_names_the_target_files_holding_each_key(spark):
    target = frame(spark, [("a", 1, "x"), ("a", 1, "y"), ("b", 5, "z")]).withColumn(
        "file", F.when(F.col("v") == "x", "f1").when(F.col("v") == "y", "f2").otherwise("f3")
    )
    source = merge.dedupe_latest(frame(spark, [("a", 2, "new"), ("b", 1, "old"), ("c", 1, "new")]), ["k"], ["seq"])
    classified = merge.classify_merge_source(source, target, ["k"], ["seq"], target_file="file")
    got = {r.k: (r[merge.ACTION], sorted(r[merge.TARGET_FILES] or [])) for r in classified.collect()}
    assert got == {"a": ("update", ["f1", "f2"]), "b": ("unchanged", ["f3"]), "c": ("insert", [])}
    without = merge.classify_merge_source(source, target, ["k"], ["seq"])
    assert merge.TARGET_FILES not in without.columns
