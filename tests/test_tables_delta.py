"""What only the Delta store has: Delta's log (operation names, time travel), VACUUM kept in step with
`keep_versions`, and the tables plain Delta readers see. The behaviours both formats share are in
test_table_store.py; these run on the shared session, which loads the Delta jars (`make jars`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chispa import assert_df_equality

from lakehouse.jvm import local_jars
from lakehouse.tables import delta, open_table_store
from lakehouse.tables.delta import DeltaTableStore

SCHEMA = "k string, seq int, v string"
TARGET = [("a", 1, "a1"), ("b", 5, "b5"), ("c", 3, "c3"), ("e", None, "e-null")]

pytestmark = pytest.mark.skipif(not local_jars().delta, reason="no Delta jars in the jar cache: run `make jars`")


@pytest.fixture
def delta_settings(settings):
    return settings.model_copy(update={"table_format": "delta"})


@pytest.fixture
def store(spark, delta_settings):
    store = open_table_store(spark, delta_settings)
    assert isinstance(store, DeltaTableStore)
    return store


def frame(spark, rows, schema=SCHEMA):
    return spark.createDataFrame(rows, schema)


def assert_rows(actual, spark, rows, schema=SCHEMA):
    assert_df_equality(actual, frame(spark, rows, schema), ignore_row_order=True, ignore_nullable=True)


def data_files(store, name: str) -> set[str]:
    return {p.name for p in Path(store.path(name)).rglob("*.parquet") if "_delta_log" not in p.parts}


def test_a_plain_delta_reader_sees_the_table_and_our_operations_in_its_history(spark, store):
    for i in range(2):
        store.overwrite("gold.t", frame(spark, [("a", i, f"v{i}")]))
    store.merge("gold.t", frame(spark, [("a", 5, "v5")]), ["k"], ["seq"])
    store.rollback("gold.t", 0)
    assert_rows(spark.read.format("delta").load(store.path("gold.t")), spark, [("a", 0, "v0")])
    assert_rows(spark.read.format("delta").option("versionAsOf", 2).load(store.path("gold.t")), spark, [("a", 5, "v5")])
    history = spark.sql(f"DESCRIBE HISTORY delta.`{store.path('gold.t')}`").orderBy("version").collect()
    assert [(r["operation"], r["userMetadata"]) for r in history] == [
        ("WRITE", "overwrite"),
        ("WRITE", "overwrite"),
        ("MERGE", "merge"),
        ("RESTORE", "rollback"),
    ]
    assert [(v.version, v.operation, v.rows) for v in store.history("gold.t")] == [
        (3, "rollback", None),
        (2, "merge", None),
        (1, "overwrite", 1),
        (0, "overwrite", 1),
    ]


def test_vacuum_keeps_every_file_a_kept_version_reads(spark, delta_settings):
    store = open_table_store(spark, delta_settings.model_copy(update={"keep_versions": 1}))
    for i in range(4):  # every overwrite replaces the table's only file
        store.overwrite("gold.t", frame(spark, [("a", i, f"v{i}")]).coalesce(1))
    store.maintain()
    assert [v.version for v in store.history("gold.t")] == [3, 2]
    assert_rows(store.read("gold.t", version=2), spark, [("a", 2, "v2")])
    assert store.rollback("gold.t", 2) == 4
    store.maintain()
    assert_rows(store.read("gold.t"), spark, [("a", 2, "v2")])
    assert_rows(store.read("gold.t", version=3), spark, [("a", 3, "v3")])
    assert [r["operation"] for r in spark.sql(f"DESCRIBE HISTORY delta.`{store.path('gold.t')}`").collect()].count(
        "VACUUM END"
    ) == 0  # housekeeping is not a version


def test_vacuum_retention_is_the_age_of_the_oldest_kept_version_in_whole_hours():
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert delta.vacuum_hours(now - timedelta(minutes=5), now) == 1  # VACUUM rounds hours: never below one
    assert delta.vacuum_hours(now - timedelta(hours=3), now) == 3
    assert delta.vacuum_hours(now - timedelta(hours=3, seconds=1), now) == 4  # rounded up: the version keeps its files


def test_a_column_added_to_the_contract_reaches_existing_delta_tables(spark, delta_settings, tmp_path):
    """The bronze job on Delta, before and after a contract gains a column: the table gains it, older rows null."""
    from lakehouse.bronze import run_bronze
    from lakehouse.config import ColumnSpec, Config, TableSpec, load_profile
    from lakehouse.runtime import RunContext

    def contract(*extra: ColumnSpec) -> dict[str, TableSpec]:
        columns = (ColumnSpec(name="sId", type="string", required=True), ColumnSpec(name="dtUpdated", type="timestamp"))
        return {"things": TableSpec(entity="things", merge_key=("sId",), sequence_column="dtUpdated",
                                    columns=columns + extra)}

    def run(tables: dict[str, TableSpec], run_id: str) -> dict:
        settings = delta_settings.model_copy(update={"landing": str(tmp_path / "landing")})
        config = Config(settings, load_profile("local"), tables)
        context = RunContext(run_id=run_id, job="bronze_merge", started_at=datetime(2024, 3, 5, tzinfo=UTC),
                             git_sha="test", config=config, spark=spark, tables=open_table_store(spark, settings))
        return run_bronze(context)

    folder = tmp_path / "landing" / "s1" / "things"
    folder.mkdir(parents=True)
    (folder / "e1.csv").write_text("sId,dtUpdated,nWashes\nk1,2024-03-01T10:00:00Z,3\n")
    run(contract(), "run-1")
    (folder / "e2.csv").write_text("sId,dtUpdated,nWashes\nk2,2024-03-02T10:00:00Z,5\n")
    assert run(contract(ColumnSpec(name="nWashes", type="integer")), "run-2")["rows_written"] == 1
    table = open_table_store(spark, delta_settings).read("bronze.things")
    assert {r["sId"]: (r["nWashes"], r["_rescued"]) for r in table.collect()} == {
        "k1": (None, {"nwashes": "3"}),  # merged before the change: the value waits in _rescued (docs/bronze.md)
        "k2": ("5", {}),
    }
