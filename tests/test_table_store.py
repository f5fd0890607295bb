"""The table-layer contract (docs/tables.md), every case on every format: Parquet and Delta.

Each test runs once per format through `open_table_store` on the shared session, which loads the
Delta jars (`make jars`); without them the Delta half is skipped with that reason. What only one
format has (Parquet's version directories and publishing, Delta's log and VACUUM) is tested in
test_tables_parquet.py and test_tables_delta.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality

from lakehouse.errors import UserError
from lakehouse.jvm import local_jars
from lakehouse.tables import MergeResult, merge, open_table_store

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "k string, seq int, v string"
TARGET = [("a", 1, "a1"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null")]
FORMATS = [
    "parquet",
    pytest.param(
        "delta",
        marks=pytest.mark.skipif(not local_jars().delta, reason="no Delta jars in the jar cache: run `make jars`"),
    ),
]


@pytest.fixture(params=FORMATS)
def fmt(request) -> str:
    return request.param


@pytest.fixture
def fmt_settings(settings, fmt):
    return settings.model_copy(update={"table_format": fmt})


@pytest.fixture
def store(spark, fmt_settings):
    """A store of the format on the test's empty warehouse."""
    return open_table_store(spark, fmt_settings)


def frame(spark, rows, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def assert_rows(actual, spark, rows, schema=SCHEMA):
    """Whole-frame comparison (column names, types and rows) against an inline expectation."""
    assert_df_equality(actual, frame(spark, rows, schema), ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- read, overwrite, versions


def test_overwrite_then_read_the_current_and_an_earlier_version(spark, store):
    assert not store.exists("bronze.t")
    assert store.overwrite("bronze.t", frame(spark, TARGET)) == 0
    assert store.overwrite("bronze.t", frame(spark, [("z", 9, "z9")])) == 1
    assert store.exists("bronze.t")
    assert_rows(store.read("bronze.t"), spark, [("z", 9, "z9")])
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


def test_history_and_rollback_reach_the_kept_versions_only(spark, fmt_settings):
    store = open_table_store(spark, fmt_settings.model_copy(update={"keep_versions": 2}))
    for i in range(4):  # versions 0..3
        store.overwrite("gold.t", frame(spark, [("a", i, f"v{i}")]))
    store.maintain()

    history = store.history("gold.t")
    assert [(v.version, v.operation, v.rows) for v in history] == [
        (3, "overwrite", 1),
        (2, "overwrite", 1),
        (1, "overwrite", 1),
    ]
    assert history[0].committed_at >= history[1].committed_at and history[0].committed_at.tzinfo
    with pytest.raises(KeyError, match=r"versions kept: \[1, 2, 3\]"):
        store.read("gold.t", version=0)
    with pytest.raises(KeyError, match=r"versions kept: \[1, 2, 3\]"):
        store.rollback("gold.t", 0)

    assert store.rollback("gold.t", 1) == 4
    assert_rows(store.read("gold.t"), spark, [("a", 1, "v1")])
    assert [(v.version, v.operation) for v in store.history("gold.t")] == [
        (4, "rollback"),
        (3, "overwrite"),
        (2, "overwrite"),
    ]
    store.overwrite("gold.t", frame(spark, [("a", 5, "v5")]))
    store.maintain()
    assert_rows(store.read("gold.t", version=4), spark, [("a", 1, "v1")])  # kept versions stay readable
    assert_rows(store.read("gold.t", version=3), spark, [("a", 3, "v3")])


def test_list_tables(spark, store):
    store.overwrite("bronze.t1", frame(spark, TARGET))
    store.append("ops.run_log", frame(spark, TARGET))
    store.overwrite("bronze.t2", frame(spark, TARGET))
    assert store.list_tables() == ["bronze.t1", "bronze.t2", "ops.run_log"]
    assert store.list_tables("bronze") == ["bronze.t1", "bronze.t2"]
    assert store.list_tables("gold") == []


# ---------------------------------------------------------------- append, overwrite_partitions, replace_rows


def test_append_unions_by_name_and_adds_new_columns(spark, store):
    store.append("ops.run_log", frame(spark, [("a", 1, "a1")]))
    store.append("ops.run_log", frame(spark, [(2, "b")], "seq int, k string"))  # v missing, other order
    store.append("ops.run_log", frame(spark, [("c", 3, "c3", 7)], SCHEMA + ", extra long"))

    assert_rows(
        store.read("ops.run_log"),
        spark,
        [("a", 1, "a1", None), ("b", 2, None, None), ("c", 3, "c3", 7)],
        SCHEMA + ", extra long",
    )
    assert [v.operation for v in store.history("ops.run_log")] == ["append", "append", "append"]
    with pytest.raises(ValueError, match=r"columns change type: seq \(int in the table, string in the data\)"):
        store.append("ops.run_log", frame(spark, [("d", "4")], "k string, seq string"))


def test_overwrite_partitions_replaces_only_the_partitions_present(spark, store):
    schema = "month string, v int"
    assert store.overwrite_partitions("gold.p", frame(spark, [("m1", 1), ("m2", 2)], schema), ["month"]) == 0
    store.overwrite_partitions("gold.p", frame(spark, [("m2", 20), ("m2", 21), ("m3", 30)], schema), ["month"])

    expected = [("m1", 1), ("m2", 20), ("m2", 21), ("m3", 30)]
    assert_rows(store.read("gold.p"), spark, expected, schema)  # the partition column stays in place
    assert_rows(store.read("gold.p", version=0), spark, [("m1", 1), ("m2", 2)], schema)
    assert [v.operation for v in store.history("gold.p")] == ["overwrite_partitions", "overwrite_partitions"]

    with pytest.raises(ValueError, match=r"gold.p is partitioned by \['month'\], not \['v'\]"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), ["v"])
    with pytest.raises(ValueError, match="needs partition_by columns"):
        store.overwrite_partitions("gold.p", frame(spark, [("m1", 1)], schema), [])


def test_replace_rows_replaces_by_a_column_and_is_idempotent(spark, store):
    schema = "file string, n int"
    store.replace_rows("quarantine.q", frame(spark, [("f1", 1), ("f1", 2)], schema), "file", ["f1"])
    store.replace_rows("quarantine.q", frame(spark, [("f2", 3)], schema), "file", ["f2"])
    # f1 recorded again (a re-run after a kill): its rows are replaced, not added twice
    store.replace_rows("quarantine.q", frame(spark, [("f1", 1), ("f1", 2)], schema), "file", ["f1"])
    assert_rows(store.read("quarantine.q"), spark, [("f1", 1), ("f1", 2), ("f2", 3)], schema)
    assert [v.operation for v in store.history("quarantine.q")] == ["overwrite", "append", "append"]


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
        monkeypatch.setattr(merge, "BROADCAST_SOURCE_ROWS", -1)  # no source is small enough
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
    assert [(v.version, v.operation) for v in store.history("bronze.t")] == [(0, "merge")]  # no new version


def test_merge_adds_new_columns_and_nulls_missing_ones(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    source = frame(spark, [("a", 2, "A"), ("z", 1, "Z")], "k string, seq int, extra string")  # no v
    result = store.merge("bronze.t", source, ["k"], ["seq"])
    schema = SCHEMA + ", extra string"
    expected = [("a", 2, None, "A"), ("b", 5, "b5", None), ("c", 3, "c3", None), ("e", None, "e-null", None)]
    assert_rows(store.read("bronze.t"), spark, [*expected, ("z", 1, None, "Z")], schema)
    assert result == MergeResult(1, source_rows=2, source_duplicates=0, inserted=1, updated=1, unchanged=0)

    # a column added by a merge that changes no row still lands (a contract gained a column)
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


def test_merge_keeps_the_partitioning(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET), partition_by=["seq"])
    store.merge("bronze.t", frame(spark, [("a", 2, "a2"), ("f", 9, "f9")]), ["k"], ["seq"])
    assert_rows(store.read("bronze.t"), spark, [("a", 2, "a2"), *TARGET[1:], ("f", 9, "f9")])
    # still partitioned by seq: a partition overwrite by another column is refused
    with pytest.raises(ValueError, match=r"partitioned by \['seq'\], not \['k'\]"):
        store.overwrite_partitions("bronze.t", frame(spark, [("a", 3, "a3")]), ["k"])


def test_merge_rejects_bad_arguments(spark, store):
    store.overwrite("bronze.t", frame(spark, TARGET))
    source = frame(spark, [("a", 2, "a2")])
    with pytest.raises(ValueError, match="at least one key"):
        store.merge("bronze.t", source, [], ["seq"])
    with pytest.raises(TypeError, match="not a string"):
        store.merge("bronze.t", source, "k", ["seq"])
    with pytest.raises(ValueError, match=r"merge columns \['nope'\] are not in the source"):
        store.merge("bronze.t", source, ["k"], ["nope"])
    with pytest.raises(ValueError, match=r"columns change type: seq \(int in the table, string in the data\)"):
        store.merge("bronze.t", frame(spark, [("a", "2", "a2")], "k string, seq string, v string"), ["k"], ["seq"])
    assert len(store.history("bronze.t")) == 1


# ---------------------------------------------------------------- writers that fail, race or die


def test_two_writers_of_one_table_lose_nothing(spark, store):
    """Writers that race for one table (the warehouse lock normally prevents it): each either commits
    or gets one UserError saying what to do; the table holds exactly what was committed."""
    store.overwrite("bronze.t", frame(spark, TARGET))
    batches = {"w1": [("w1-a", 1, "x"), ("w1-b", 1, "x")], "w2": [("w2-a", 1, "y")]}
    outcome: dict[str, object] = {}

    def write(name: str) -> None:
        try:
            outcome[name] = store.merge("bronze.t", frame(spark, batches[name]), ["k"], ["seq"])
        except Exception as exc:  # noqa: BLE001 - anything but our UserError fails the test below
            outcome[name] = exc

    threads = [threading.Thread(target=write, args=(n,)) for n in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    committed = [n for n, r in outcome.items() if isinstance(r, MergeResult)]
    for result in outcome.values():
        if not isinstance(result, MergeResult):
            assert isinstance(result, UserError), repr(result)
            assert "another writer committed" in str(result) and "run it again" in str(result)
    assert committed, outcome
    assert_rows(store.read("bronze.t"), spark, [*TARGET, *(row for n in committed for row in batches[n])])


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lakehouse.config import load_profile, load_settings
    from lakehouse.session import build_session
    from lakehouse.tables import open_table_store

    root, warehouse, fmt = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    settings = load_settings(
        "local", root / "conf",
        {"landing": warehouse + "/../landing", "warehouse": warehouse, "table_format": fmt},
    )
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
    open_table_store(spark, settings).overwrite("bronze.t", big)
    print("finished", flush=True)
    """
)


def _parquet_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts}


def test_a_writer_killed_midway_leaves_the_previous_version_intact(spark, store, fmt, fmt_settings):
    store.overwrite("bronze.t", frame(spark, TARGET))
    history = store.history("bronze.t")
    # where the writer's files go: the table folder (Delta) or the versions folder (Parquet)
    watched = Path(store.path("bronze.t")) if fmt == "delta" else Path(fmt_settings.warehouse) / "_versions"
    before = _parquet_files(watched)

    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(ROOT), fmt_settings.warehouse, fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the JVM dies with it
    )
    try:
        deadline = time.monotonic() + 120
        while not _parquet_files(watched) - before:  # data files being written
            assert writer.poll() is None, writer.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.1)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    _wait_for_group_exit(writer.pid)  # its JVM and Python workers too

    # the previous version is current and complete
    assert store.history("bronze.t") == history
    assert_rows(store.read("bronze.t"), spark, TARGET)
    # the next write succeeds
    assert store.overwrite("bronze.t", frame(spark, [("z", 1, "z1")])) == 1
    assert_rows(store.read("bronze.t"), spark, [("z", 1, "z1")])


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
