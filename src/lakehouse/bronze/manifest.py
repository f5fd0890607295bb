"""The manifest of exports bronze has taken in (`ops.bronze_manifest`) and the bad-file record.

A file is known by its path, size and modification time: an export re-sent under the same name
with other bytes is read again. Bad files are in the manifest too (status `bad`), so a run that
finds no new files writes nothing; they are also appended to `quarantine.bronze_files` with the
reason, for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakehouse.bronze.discover import ExportFile
from lakehouse.tables import TableStore

MANIFEST = "ops.bronze_manifest"
BAD_FILES = "quarantine.bronze_files"

MERGED = "merged"
BAD = "bad"

MANIFEST_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType(), True),
        T.StructField("entity", T.StringType(), True),
        T.StructField("store_id", T.StringType(), True),
        T.StructField("export_id", T.StringType(), True),
        T.StructField("format", T.StringType(), True),
        T.StructField("size", T.LongType(), True),
        T.StructField("mtime_ms", T.LongType(), True),
        T.StructField("status", T.StringType(), True),  # merged | bad
        T.StructField("rows", T.LongType(), True),  # rows read from the file (0 for bad files)
        T.StructField("run_id", T.StringType(), True),
        T.StructField("recorded_at", T.TimestampType(), True),
    ]
)

BAD_FILES_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType(), True),
        T.StructField("entity", T.StringType(), True),
        T.StructField("store_id", T.StringType(), True),
        T.StructField("export_id", T.StringType(), True),
        T.StructField("format", T.StringType(), True),
        T.StructField("size", T.LongType(), True),
        T.StructField("reason", T.StringType(), True),  # a code: corrupt_parquet, not_utf8, ...
        T.StructField("detail", T.StringType(), True),  # the reader's message
        T.StructField("run_id", T.StringType(), True),
        T.StructField("detected_at", T.TimestampType(), True),
    ]
)


@dataclass(frozen=True)
class BadFile:
    """An export bronze could not read, and why."""

    export: ExportFile
    reason: str
    detail: str


def known_files(tables: TableStore) -> set[tuple[str, int, int]]:
    """(path, size, mtime) of every file in the manifest (empty when there is none yet)."""
    if not tables.exists(MANIFEST):
        return set()
    rows = tables.read(MANIFEST).select("path", "size", "mtime_ms").distinct().collect()  # one row per file
    return {(r["path"], int(r["size"]), int(r["mtime_ms"])) for r in rows}


def new_files(files: Iterable[ExportFile], known: set[tuple[str, int, int]]) -> list[ExportFile]:
    """The files not in the manifest with the same size and mtime."""
    return [f for f in files if (f.path, f.size, f.mtime_ms) not in known]


def manifest_frame(
    spark: SparkSession,
    merged: dict[ExportFile, int],
    bad: Iterable[BadFile],
    run_id: str,
    recorded_at: datetime,
) -> DataFrame:
    """Manifest rows of the files a run took in: merged ones with their row counts, and bad ones."""
    at = recorded_at
    rows = [
        (f.path, f.entity, f.store_id, f.export_id, f.fmt, f.size, f.mtime_ms, MERGED, int(n), run_id, at)
        for f, n in merged.items()
    ]
    rows += [
        (b.export.path, b.export.entity, b.export.store_id, b.export.export_id, b.export.fmt, b.export.size,
         b.export.mtime_ms, BAD, 0, run_id, at)
        for b in bad
    ]
    return spark.createDataFrame(rows, MANIFEST_SCHEMA)


def bad_files_frame(spark: SparkSession, bad: Iterable[BadFile], run_id: str, detected_at: datetime) -> DataFrame:
    """`quarantine.bronze_files` rows of a run's bad files."""
    rows = [
        (b.export.path, b.export.entity, b.export.store_id, b.export.export_id, b.export.fmt, b.export.size,
         b.reason, b.detail, run_id, detected_at)
        for b in bad
    ]
    return spark.createDataFrame(rows, BAD_FILES_SCHEMA)
