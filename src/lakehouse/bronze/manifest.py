"""The manifest of exports bronze has taken in (`ops.bronze_manifest`) and the bad-file record.

A file is known by its path, size and modification time: an export re-sent under the same name
with other bytes is read again. Bad files are in the manifest too (status `bad`), so a run that
finds no new files writes nothing; they are also appended to `quarantine.bronze_files` with the
reason, for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.discover import ExportFile
from lakehouse.config import TableSpec
from lakehouse.contract import BRONZE_FILES, BRONZE_MANIFEST, OPS_SCHEMAS, bronze_table
from lakehouse.tables import TableStore

MERGED = "merged"
BAD = "bad"


@dataclass(frozen=True)
class BadFile:
    """An export bronze could not read, and why."""

    export: ExportFile
    reason: str
    detail: str


def known_files(tables: TableStore) -> set[tuple[str, int, int]]:
    """(path, size, mtime) of every file in the manifest (empty when there is none yet)."""
    if not tables.exists(BRONZE_MANIFEST):
        return set()
    rows = tables.read(BRONZE_MANIFEST).select("path", "size", "mtime_ms").collect()  # the set dedups: no shuffle
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
    return spark.createDataFrame(rows, OPS_SCHEMAS[BRONZE_MANIFEST])


def bad_files_frame(spark: SparkSession, bad: Iterable[BadFile], run_id: str, detected_at: datetime) -> DataFrame:
    """`quarantine.bronze_files` rows of a run's bad files."""
    rows = [
        (b.export.path, b.export.entity, b.export.store_id, b.export.export_id, b.export.fmt, b.export.size,
         b.reason, b.detail, run_id, detected_at)
        for b in bad
    ]
    return spark.createDataFrame(rows, OPS_SCHEMAS[BRONZE_FILES])


def merged_paths(tables: TableStore) -> set[str]:
    """Paths of the exports the manifest records as merged (what a full refresh would read again)."""
    if not tables.exists(BRONZE_MANIFEST):
        return set()
    rows = tables.read(BRONZE_MANIFEST).where(F.col("status") == MERGED).select("path").distinct().collect()
    return {r["path"] for r in rows}


def bronze_entity(name: str, specs: Mapping[str, TableSpec]) -> str | None:
    """The entity whose bronze table `name` is, None for any other table."""
    return next((entity for entity in specs if bronze_table(entity) == name), None)


def forget_merged_after(tables: TableStore, entity: str, committed_at: datetime) -> int:
    """Drop the manifest rows of `entity` recorded after `committed_at`; returns how many.

    After `bronze.<entity>` is rolled back to a version committed at `committed_at`, the exports
    merged by later runs are no longer in it: forgetting them makes the next bronze run read them
    again (runs hold the warehouse lock one after another, so a later run started after that
    version was committed).
    """
    if not tables.exists(BRONZE_MANIFEST):
        return 0
    manifest = tables.read(BRONZE_MANIFEST)
    later = (F.col("entity") == entity) & (F.col("recorded_at") > F.lit(committed_at).cast("timestamp"))
    forgotten = manifest.where(later).count()
    if forgotten:
        tables.overwrite(BRONZE_MANIFEST, manifest.where(~later))
    return forgotten
