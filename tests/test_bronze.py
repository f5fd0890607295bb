"""Bronze merge: every drift kind of DOMAIN.md §1 to canonical text, dedup order and ties, both
null-key policies, bad-file isolation, incremental == full refresh, re-runs that change nothing."""

from __future__ import annotations

import io
import json
import math
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.bronze import job as bronze_job
from lakehouse.bronze import run_bronze
from lakehouse.bronze.dedup import (
    bronze_rows,
    latest_per_key,
    quarantine_rows,
    with_merge_keys,
)
from lakehouse.bronze.discover import discover
from lakehouse.bronze.stage import pack_tasks, staged_rows, task_count
from lakehouse.config import (
    BronzeSettings,
    ColumnSpec,
    Config,
    TableSpec,
    load_profile,
    load_settings,
    load_tables,
)
from lakehouse.contract import REASON, RESCUED, RESCUED_TYPE, SOURCE_FRESHNESS
from lakehouse.errors import UserError
from lakehouse.fs import LocalFileSystem
from lakehouse.runtime import RunContext
from lakehouse.session import sql_conf
from lakehouse.tables import open_table_store

ROOT = Path(__file__).resolve().parents[1]
T0 = "2024-03-01T14:05:09.000000Z"
T0_S = 1709301909  # T0 in epoch seconds
RUN_AT = datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)

# a small contract with one column of every logical type
THINGS = TableSpec(
    entity="things",
    merge_key=("sId",),
    sequence_column="dtUpdated",
    columns=(
        ColumnSpec(name="sId", type="string", required=True),
        ColumnSpec(name="bFlag", type="boolean"),
        ColumnSpec(name="nCount", type="integer"),
        ColumnSpec(name="nAmount", type="decimal"),
        ColumnSpec(name="dtAt", type="timestamp"),
        ColumnSpec(name="dDay", type="date"),
        ColumnSpec(name="sPlan", type="enum", values=("basic", "deluxe")),
        ColumnSpec(name="dtUpdated", type="timestamp"),
    ),
)


# ---------------------------------------------------------------- helpers


def parquet(table: pa.Table, int96: bool = False) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, use_deprecated_int96_timestamps=int96)
    return sink.getvalue()


def csv(text: str, bom: bool = False) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def jsonl(*objects: dict) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objects).encode("utf-8")


def write_exports(landing: Path, entity: str, files: dict[str, bytes], store: str = "s1") -> None:
    """Write `<landing>/<store>/<entity>/<name>` for every file name (`store/name` picks a store)."""
    for name, data in files.items():
        where, _, base = name.rpartition("/")
        folder = landing / (where or store) / entity
        folder.mkdir(parents=True, exist_ok=True)
        (folder / base).write_bytes(data)


def comparable(df):
    """`_rescued` as JSON text with sorted keys: chispa sorts rows by every column, and maps do not sort."""
    if RESCUED not in df.columns:
        return df
    entries = F.array_sort(F.map_entries(F.col(RESCUED)))
    return df.withColumn(RESCUED, F.to_json(F.map_from_entries(entries)))


def staged(spark, tmp_path: Path, files: dict[str, bytes], spec: TableSpec = THINGS):
    """Stage files the way bronze does (Spark tasks reading each file with Arrow); rows with their export id."""
    landing = tmp_path / "landing"
    write_exports(landing, spec.entity, files)
    exports = discover(LocalFileSystem(), str(landing), {spec.entity}, ("csv", "parquet", "json"))
    assert all(e.problem is None for e in exports), exports
    return staged_rows(spark, spec, [e for e in exports if e.size])


def test_staged_rows_run_in_few_tasks_however_many_schemas(spark, tmp_path):
    # 12 Parquet files whose `nCount` has 12 different types: every file read with its own schema
    types = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64(), pa.string(),
             pa.bool_(), pa.binary(), pa.date32(), pa.timestamp("ms"), pa.decimal128(10, 2)]
    files = {}
    for i, kind in enumerate(types):
        sink = io.BytesIO()
        pq.write_table(pa.table({"sId": pa.array([f"k{i}"]), "nCount": pa.array([None], type=kind)}), sink)
        files[f"2024{i:02d}.parquet"] = sink.getvalue()
    rows = staged(spark, tmp_path, files)
    assert sorted(r.sId for r in rows.collect()) == sorted(f"k{i}" for i in range(len(types)))
    parallelism = spark.sparkContext.defaultParallelism
    assert rows.rdd.getNumPartitions() == parallelism  # one task per core, not one per file or schema
    exports = discover(LocalFileSystem(), str(tmp_path / "landing"), {"things"}, ("parquet",))
    # a large input gets a task per `spark.sql.files.maxPartitionBytes` (128 MiB)
    large = [replace(e, size=100 * 2**20) for e in exports]
    assert task_count(spark, large) == max(parallelism, math.ceil(len(types) * 100 / 128))


def test_files_are_packed_into_tasks_of_about_equal_cost(tmp_path):
    write_exports(tmp_path / "landing", "things", {f"e{i:02d}.csv": b"sId\n" + b"x\n" * (i + 1) for i in range(20)})
    exports = discover(LocalFileSystem(), str(tmp_path / "landing"), {"things"}, ("csv",))
    groups = pack_tasks(exports, 4)
    assert sorted(f.path for g in groups for f in g) == sorted(e.path for e in exports)
    sizes = {e.path: e.size for e in exports}
    loads = [sum(sizes[f.path] for f in g) for g in groups]
    assert len(groups) == 4 and max(loads) - min(loads) <= max(sizes.values())
    assert pack_tasks(exports[:2], 8) and len(pack_tasks(exports[:2], 8)) == 2  # never more tasks than files


def assert_column(spark, tmp_path, files: dict[str, bytes], column: str, expected: list[tuple[str, str | None]]):
    """The canonical text of `column` per export id equals `expected`."""
    actual = staged(spark, tmp_path, files).select("_export_id", column)
    want = spark.createDataFrame(expected, f"_export_id string, {column} string")
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def make_run(spark, tmp_path: Path, tables: dict[str, TableSpec], run_id: str, warehouse: str = "warehouse",
             **bronze) -> RunContext:
    settings = load_settings(
        "local", ROOT / "conf", {"landing": str(tmp_path / "landing"), "warehouse": str(tmp_path / warehouse)}
    )
    settings = settings.model_copy(update={"bronze": BronzeSettings(**bronze)})
    config = Config(settings, load_profile("local", ROOT / "run_profiles"), tables, ROOT / "conf")
    return RunContext(run_id=run_id, job="bronze_merge", started_at=RUN_AT, git_sha="test", config=config,
                      spark=spark, tables=open_table_store(spark, settings))


# ---------------------------------------------------------------- drift kinds of DOMAIN.md §1


def test_column_names_any_case_padding_and_order_missing_null_unknown_rescued(spark, tmp_path):
    files = {
        "e1.csv": csv(" SID ,nloyalty, bFLAG \nk1,7,Y\n"),
        "e2.parquet": parquet(pa.table({"sPlan ": ["DELUXE"], " sid": ["k2"], "Terminal": pa.array([3], pa.int16())})),
        "e3.json": jsonl({"SId": "k3", "NCOUNT": 4, "Notes": {"a": 1}}),
    }
    actual = staged(spark, tmp_path, files).select("sId", "bFlag", "nCount", "sPlan", "dtAt", RESCUED)
    want = spark.createDataFrame(
        [("k1", "true", None, None, None, {"nloyalty": "7"}),
         ("k2", None, None, "deluxe", None, {"terminal": "3"}),
         ("k3", None, "4", None, None, {"notes": '{"a":1}'})],
        T.StructType([*[T.StructField(c, T.StringType()) for c in ("sId", "bFlag", "nCount", "sPlan", "dtAt")],
                      T.StructField(RESCUED, RESCUED_TYPE)]),
    )
    assert_df_equality(comparable(actual), comparable(want), ignore_row_order=True, ignore_nullable=True)


def test_boolean_encodings(spark, tmp_path):
    files = {
        "p_bin.parquet": parquet(pa.table({"sId": ["a"], "bFlag": pa.array([b"\x01"], pa.binary())})),
        "p_bin0.parquet": parquet(pa.table({"sId": ["b"], "bFlag": pa.array([b"\x00"], pa.binary())})),
        "p_int.parquet": parquet(pa.table({"sId": ["c"], "bFlag": pa.array([1], pa.int8())})),
        "p_bool.parquet": parquet(pa.table({"sId": ["d"], "bFlag": [False]})),
        "c.csv": csv("sId,bFlag\ne,Y\nf,no\ng,T\nh,maybe\ni,\nj,  \n"),
        "j.json": jsonl({"sId": "k", "bFlag": True}, {"sId": "l", "bFlag": 0}, {"sId": "m", "bFlag": "TRUE"}),
    }
    actual = staged(spark, tmp_path, files).select("sId", "bFlag")
    want = spark.createDataFrame(
        [("a", "true"), ("b", "false"), ("c", "true"), ("d", "false"), ("e", "true"), ("f", "false"),
         ("g", "true"), ("h", "maybe"), ("i", None), ("j", None), ("k", "true"), ("l", "false"), ("m", "true")],
        "sId string, bFlag string",
    )
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def test_integer_encodings(spark, tmp_path):
    files = {
        "p16.parquet": parquet(pa.table({"sId": ["a"], "nCount": pa.array([7], pa.int16())})),
        "pf.parquet": parquet(pa.table({"sId": ["b"], "nCount": [7.0]})),
        "pf2.parquet": parquet(pa.table({"sId": ["c"], "nCount": [7.5]})),
        "c.csv": csv("sId,nCount\nd,007\ne,-12\nf,ten\n"),
        "j.json": jsonl({"sId": "g", "nCount": 7}, {"sId": "h", "nCount": 1e2}),
    }
    assert_column(spark, tmp_path, files, "nCount", [
        ("p16", "7"), ("pf", "7"), ("pf2", "7.5"), ("c", "7"), ("c", "-12"), ("c", "ten"), ("j", "7"), ("j", "100"),
    ])


def test_decimal_encodings_are_lossless(spark, tmp_path):
    files = {
        "pd.parquet": parquet(pa.table({"sId": ["a", "b"], "nAmount": [12.5, 0.1]})),
        "pdec.parquet": parquet(pa.table({"sId": ["c"], "nAmount": pa.array([Decimal("12.5000")], pa.decimal128(18, 4))})),
        "pf.parquet": parquet(pa.table({"sId": ["d"], "nAmount": pa.array([12.5], pa.float32())})),
        "c.csv": csv('sId,nAmount\ne,"$1,234.50"\nf,(12.50)\ng,-12.50\nh,12.500000001\ni,abc\n'),
        "j.json": jsonl({"sId": "k", "nAmount": 12.50}, {"sId": "l", "nAmount": "$3"}),
    }
    assert_column(spark, tmp_path, files, "nAmount", [
        ("pd", "12.5"), ("pd", "0.1"), ("pdec", "12.5"), ("pf", "12.5"), ("c", "1234.5"), ("c", "-12.5"),
        ("c", "-12.5"), ("c", "12.500000001"), ("c", "abc"), ("j", "12.5"), ("j", "3"),
    ])


def test_timestamp_encodings_are_the_same_instant(spark, tmp_path):
    def ts(unit: str, tz: str | None = "UTC") -> pa.Array:
        return pa.array([T0_S], pa.timestamp("s", tz)).cast(pa.timestamp(unit, tz))

    files = {
        "ms.parquet": parquet(pa.table({"sId": ["a"], "dtAt": ts("ms")})),
        "us_naive.parquet": parquet(pa.table({"sId": ["b"], "dtAt": ts("us", None)})),
        "ns.parquet": parquet(pa.table({"sId": ["c"], "dtAt": ts("ns")})),
        "int96.parquet": parquet(pa.table({"sId": ["d"], "dtAt": ts("ns", None)}), int96=True),
        "millis.parquet": parquet(pa.table({"sId": ["e"], "dtAt": pa.array([T0_S * 1000], pa.int64())})),
        "c.csv": csv("sId,dtAt\nf,2024-03-01T16:05:09+02:00\ng,03/01/2024 14:05:09\nh,1709301909000\ni,yesterday\n"),
        "j.json": jsonl({"sId": "k", "dtAt": "2024-03-01 14:05:09Z"}, {"sId": "l", "dtAt": T0_S * 1000}),
    }
    assert_column(spark, tmp_path, files, "dtAt", [
        ("ms", T0), ("us_naive", T0), ("ns", T0), ("int96", T0), ("millis", T0),
        ("c", T0), ("c", T0), ("c", T0), ("c", "yesterday"), ("j", T0), ("j", T0),
    ])


def test_date_and_enum_encodings(spark, tmp_path):
    files = {
        "pd.parquet": parquet(pa.table({"sId": ["a"], "dDay": pa.array([19783], pa.date32()), "sPlan": ["Basic"]})),
        "pt.parquet": parquet(pa.table({"sId": ["b"], "dDay": pa.array([T0_S * 1000], pa.timestamp("ms", "UTC")),
                                        "sPlan": ["PLATINUM"]})),
        "c.csv": csv("sPlan,dDay,sId\nDELUXE,2024-03-01,c\n basic ,03/01/2024,d\n,2024-02-30,e\n"),
    }
    actual = staged(spark, tmp_path, files).select("sId", "dDay", "sPlan")
    want = spark.createDataFrame(
        [("a", "2024-03-01", "basic"), ("b", "2024-03-01", "PLATINUM"), ("c", "2024-03-01", "deluxe"),
         ("d", "2024-03-01", "basic"), ("e", "2024-02-30", None)],
        "sId string, dDay string, sPlan string",
    )
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def test_csv_dialect_bom_quoted_newlines_and_malformed_records(spark, tmp_path):
    files = {
        "bom.csv": csv('sId,sPlan,nCount\n"a","multi\nline",1\nb,"say ""hi""",\nc,x,1,extra\n', bom=True),
        "empty.csv": csv("sId,nCount\n"),
        "empty.json": b"",
        "empty.parquet": parquet(pa.table({"sId": pa.array([], pa.string())})),
    }
    actual = staged(spark, tmp_path, files).select("sId", "sPlan", "nCount", "_malformed")
    want = spark.createDataFrame(
        [("a", "multi\nline", "1", False), ("b", 'say "hi"', None, False), ("c", "x", "1", True)],
        "sId string, sPlan string, nCount string, _malformed boolean",
    )
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- dedup order and null keys

KEYED = TableSpec(
    entity="keyed",
    merge_key=("sId",),
    sequence_column="dtUpdated",
    columns=(
        ColumnSpec(name="sId", type="string"),
        ColumnSpec(name="v", type="string"),
        ColumnSpec(name="dtUpdated", type="timestamp"),
    ),
)
STAGED = "sId string, v string, dtUpdated string, _rescued map<string,string>, _store_id string, " \
         "_source_file string, _export_id string, _malformed boolean"


def keyed_rows(spark, rows, spec=KEYED):
    cols = [c.name for c in spec.columns]
    schema = ", ".join(f"{c} string" for c in cols) + STAGED[STAGED.index(", _rescued"):]
    full = [(*r[: len(cols)], {}, "s1", f"file:/l/s1/{spec.entity}/{r[-1]}", r[-1].rsplit(".", 1)[0], False)
            for r in rows]
    return spark.createDataFrame(full, schema).transform(with_merge_keys(spec, "run-1", RUN_AT))


def test_dedup_keeps_latest_then_export_id_then_file_name(spark):
    t1, t2 = "2024-03-01T00:00:00.000000Z", "2024-03-02T00:00:00.000000Z"
    rows = keyed_rows(spark, [
        ("a", "old", t1, "e2.csv"), ("a", "new", t2, "e1.csv"),  # later dtUpdated wins over later export
        ("b", "e1", t1, "e1.csv"), ("b", "e2", t1, "e2.csv"),  # tie on dtUpdated: greater export id
        ("c", "csv", t1, "e1.csv"), ("c", "parquet", t1, "e1.parquet"),  # then greater file name
        ("d", "unparseable", "yesterday", "e9.csv"), ("d", "parsed", t1, "e1.csv"),  # unparseable orders lowest
        ("e", "none", None, "e9.csv"), ("e", "some", t1, "e1.csv"),  # null orders lowest
    ])
    actual = rows.transform(bronze_rows(KEYED)).transform(latest_per_key(KEYED)).select("sId", "v")
    want = spark.createDataFrame([("a", "new"), ("b", "e2"), ("c", "parquet"), ("d", "parsed"), ("e", "some")],
                                 "sId string, v string")
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def test_dedup_of_full_ties_does_not_depend_on_input_order(spark):
    rows = [("a", f"v{i}", "2024-03-01T00:00:00.000000Z", "e1.csv") for i in range(6)]
    first = keyed_rows(spark, rows).transform(latest_per_key(KEYED)).select("v").collect()
    second = keyed_rows(spark, rows[::-1]).repartition(3).transform(latest_per_key(KEYED)).select("v").collect()
    assert len(first) == 1 and first == second


def test_null_merge_keys_are_quarantined_by_default(spark):
    rows = keyed_rows(spark, [("a", "ok", None, "e1.csv"), (None, "no key", None, "e1.csv")])
    quarantined = rows.transform(quarantine_rows(KEYED)).select("v", REASON)
    assert_df_equality(quarantined, spark.createDataFrame([("no key", "null_merge_key")], "v string, _reason string"),
                       ignore_nullable=True)
    assert [r.v for r in rows.transform(bronze_rows(KEYED)).collect()] == ["ok"]


def test_house_accounts_without_number_dedup_on_lower_name_and_email(spark):
    spec = load_tables(ROOT / "conf")["house_accounts"]
    t1, t2 = "2024-03-01T00:00:00.000000Z", "2024-03-02T00:00:00.000000Z"
    rows = keyed_rows(spark, [
        ("H1", "Acme", "a@acme.com", "L1", "10", t1, "e1.csv"),
        ("H1", "Acme Inc", "a@acme.com", "L1", "12", t2, "e2.csv"),  # same number: one row
        (None, "Fleet Co", "Ops@Fleet.com", "L1", "5", t1, "e1.csv"),
        (None, "FLEET CO", "ops@fleet.com", "L1", "6", t2, "e2.csv"),  # same composite, any case: one row
        (None, "Fleet Co", None, "L1", "7", t1, "e1.csv"),  # null email is part of the composite
        (None, "Fleet Co", None, "L1", "8", t1, "e2.csv"),
        (None, None, None, "L1", "9", t1, "e1.csv"),  # no identity at all: quarantined
    ], spec)
    merged = rows.transform(bronze_rows(spec)).transform(latest_per_key(spec))
    actual = merged.select("sAccountNumber", "nBalance", "_fallback_sAccountName", "_fallback_sEmail")
    want = spark.createDataFrame(
        [("H1", "12", None, None), (None, "6", "fleet co", "ops@fleet.com"), (None, "8", "fleet co", None)],
        "sAccountNumber string, nBalance string, _fallback_sAccountName string, _fallback_sEmail string",
    )
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)
    assert [(r.nBalance, r[REASON]) for r in rows.transform(quarantine_rows(spec)).collect()] == [("9", "null_merge_key")]


# ---------------------------------------------------------------- run_bronze end to end


def test_bad_files_are_isolated_recorded_and_fail_only_when_asked(spark, tmp_path):
    good = csv("sId,v,dtUpdated\na,1,2024-03-01\n")
    truncated = parquet(pa.table({"sId": ["b"] * 100, "v": ["x"] * 100}))
    write_exports(tmp_path / "landing", "keyed", {
        "e1.csv": good,
        "e2.parquet": truncated[: len(truncated) // 2],
        "e3.csv": b"\xff\xfe\x00garbage\x81\x82",
        "e4.csv": "sId,v\nc,caf\u00e9\n".encode("cp1252"),
        "e5.json": b'{"sId": "d", "v": "\xe9"}\n',
        "notes.txt": b"hello",
        "Bad-Store/e1.csv": good,
    })
    strict = make_run(spark, tmp_path, {"keyed": KEYED}, "run-strict", fail_on_bad_files=True)
    with pytest.raises(UserError, match="bad export file"):
        run_bronze(strict)
    assert not strict.tables.exists("bronze.keyed")

    run = make_run(spark, tmp_path, {"keyed": KEYED}, "run-1")
    summary = run_bronze(run)
    assert (summary["files_read"], summary["bad_files"], summary["rows_read"]) == (1, 6, 1)
    assert [r.sId for r in run.tables.read("bronze.keyed").collect()] == ["a"]
    bad = run.tables.read("quarantine.bronze_files").filter(F.col("run_id") == "run-1")
    actual = bad.select(F.regexp_extract("path", r"landing/(.*)$", 1).alias("file"), "reason")
    want = spark.createDataFrame(
        [("s1/keyed/e2.parquet", "corrupt_parquet"), ("s1/keyed/e3.csv", "not_utf8"),
         ("s1/keyed/e4.csv", "not_utf8"), ("s1/keyed/e5.json", "not_utf8"),
         ("s1/keyed/notes.txt", "unexpected_file"), ("Bad-Store/keyed/e1.csv", "unexpected_file")],
        "file string, reason string",
    )
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)
    (count,) = [c for c in run.counts if c.table == "bronze.keyed"]
    assert count.details["bad_files"] == 6 and count.details["bad_files_not_utf8"] == 3


EXPORTS = [  # (export file, bytes) in the order they land
    ("e1.csv", csv(
        "sId,v,dtUpdated,extra\n"
        "a,a1,2024-03-01T00:00:00Z,x\n"
        "b,b1,2024-03-05T00:00:00Z,\n"
        ",no key,2024-03-01T00:00:00Z,\n"
        "c,c1,yesterday,\n"
    )),
    ("e2.parquet", parquet(pa.table({
        "SID": ["a", "b", "c", "d", "d"],
        "V": ["a2", "b2-older", "c2", "d2", "d2-tie"],
        "dtUpdated": pa.array([T0_S, T0_S, T0_S, T0_S, T0_S], pa.timestamp("s", "UTC")).cast(pa.timestamp("ms", "UTC")),
    }))),
    ("e3.json", jsonl(
        {"sid": "a", "v": "a3-same-time", "dtUpdated": "2024-03-01 14:05:09"},  # tie on time: later export wins
        {"sid": "e", "v": "e3", "dtUpdated": None},
        {"sid": "c", "v": "c3-unparseable", "dtUpdated": "soon"},  # loses to c2's real timestamp
    )),
    ("e3.csv", csv("sId,v,dtUpdated\na,a3-csv,2024-03-01T14:05:09Z\n")),  # same export id: e3.json > e3.csv
]


def bronze_snapshot(run: RunContext, name: str):
    return run.tables.read(name).drop("_run_id", "_ingested_at")


def test_incremental_equals_full_refresh_and_rerun_is_a_no_op(spark, tmp_path):
    tables = {"keyed": KEYED}
    for i, (name, data) in enumerate(EXPORTS):
        write_exports(tmp_path / "landing", "keyed", {name: data})
        run = make_run(spark, tmp_path, tables, f"run-{i}")
        summary = run_bronze(run)
        (count,) = [c for c in run.counts if c.table == "bronze.keyed"]  # and ops.source_freshness
        assert count.rows_in == summary["rows_read"] > 0
        assert count.rows_in == count.rows_out + count.details["rows_superseded"] + count.details[
            "quarantined_null_merge_key"] + count.details["quarantined_malformed_record"]

    full = make_run(spark, tmp_path, tables, "run-full", warehouse="warehouse-full")
    assert run_bronze(full, full_refresh=True)["rows_read"] == 13
    for name in ("bronze.keyed", "quarantine.bronze_keyed"):
        assert_df_equality(comparable(bronze_snapshot(run, name)), comparable(bronze_snapshot(full, name)),
                           ignore_row_order=True)
    actual = run.tables.read("bronze.keyed").select("sId", "v", RESCUED)
    want = spark.createDataFrame(
        [("a", "a3-same-time", {}), ("b", "b1", {}), ("c", "c2", {}), ("d", "d2-tie", {}), ("e", "e3", {})],
        T.StructType([T.StructField("sId", T.StringType()), T.StructField("v", T.StringType()),
                      T.StructField(RESCUED, RESCUED_TYPE)]),
    )
    # d's two rows tie on everything but their values: the content hash decides, the same way every time
    assert_df_equality(comparable(actual.filter("sId != 'd'")), comparable(want.filter("sId != 'd'")),
                       ignore_row_order=True, ignore_nullable=True)

    versions = {n: run.tables.history(n)[0].version for n in run.tables.list_tables()}
    rerun = make_run(spark, tmp_path, tables, "run-again")
    assert run_bronze(rerun)["rows_read"] == 0
    # nothing is written again but the freshness table, which judges every store at the run's own time
    versions.pop(SOURCE_FRESHNESS)
    assert {n: rerun.tables.history(n)[0].version for n in rerun.tables.list_tables() if n != SOURCE_FRESHNESS} == versions


def test_missing_landing_is_a_user_error(spark, tmp_path):
    with pytest.raises(UserError, match="landing folder"):
        run_bronze(make_run(spark, tmp_path, {"keyed": KEYED}, "run-1"))


def test_a_resent_export_is_read_again(spark, tmp_path):
    write_exports(tmp_path / "landing", "keyed", {"e1.csv": csv("sId,v,dtUpdated\na,1,2024-03-01\n")})
    run_bronze(make_run(spark, tmp_path, {"keyed": KEYED}, "run-1"))
    shutil.rmtree(tmp_path / "landing" / "s1")
    write_exports(tmp_path / "landing", "keyed", {"e1.csv": csv("sId,v,dtUpdated\na,2,2024-03-02\n")})
    run = make_run(spark, tmp_path, {"keyed": KEYED}, "run-2")
    assert run_bronze(run)["rows_written"] == 1
    assert [r.v for r in run.tables.read("bronze.keyed").collect()] == ["2"]


def test_a_full_refresh_keeps_files_in_sequence_order_so_a_correction_rewrites_few(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(bronze_job, "MIN_FILE_ROWS", 1)
    monkeypatch.setattr(bronze_job, "FILES_PER_TASK", 8)  # 48 rows, 2 write tasks: 8 files of 3 rows per task
    days = [f"2024-03-{d:02d}T10:00:00Z" for d in range(1, 25)]
    lines = "".join(f"k{i:02d},v{i},{days[i % 24]}\n" for i in range(48))
    write_exports(tmp_path / "landing", "keyed", {"e1.csv": csv("sId,v,dtUpdated\n" + lines)})
    run = make_run(spark, tmp_path, {"keyed": KEYED}, "run-1")
    with sql_conf(spark, {"spark.sql.shuffle.partitions": "2"}):  # what an earlier test's session left set
        run_bronze(run, full_refresh=True)
    folder = tmp_path / "warehouse" / "_versions" / "bronze" / "keyed"
    files = {p.name: p for p in next(folder.glob("v000000*")).glob("*.parquet")}
    assert len(files) == 16
    for path in files.values():  # every file holds at most 3 rows, in `_sequence` order
        seq = [r._sequence for r in spark.read.parquet(str(path)).collect()]
        assert 0 < len(seq) <= 3 and seq == sorted(seq)

    # corrections of the latest day's rows: only the files holding them are rewritten
    write_exports(tmp_path / "landing", "keyed",
                  {"e2.csv": csv("sId,v,dtUpdated\nk23,fixed,2024-03-25T10:00:00Z\nk47,fixed,2024-03-25T10:00:00Z\n")})
    run = make_run(spark, tmp_path, {"keyed": KEYED}, "run-2")
    assert run_bronze(run)["rows_written"] == 2
    kept = {p.name for p in next(folder.glob("v000001*")).glob("*.parquet") if p.stat().st_nlink > 1}
    assert len(kept) >= 14  # shared with version 0, not rewritten
    fixed = run.tables.read("bronze.keyed").filter("v = 'fixed'").select("sId").collect()
    assert sorted(r.sId for r in fixed) == ["k23", "k47"]
    assert run.tables.read("bronze.keyed").count() == 48
