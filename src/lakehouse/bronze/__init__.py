"""Bronze merge: every landing export into one text table per entity, with lineage, dedup and accounting.

`run_bronze(run, full_refresh)` is the step `lakehouse run bronze` and `jobs/bronze_merge.py` run.
Per entity of `conf/tables/*.yaml` it discovers the exports not merged before (all of them with
`full_refresh`), reads each with its own schema (`read`), casts every value to canonical text
(`cast`), adds lineage, sends rows without a merge key to `quarantine.bronze_<entity>`, keeps the
latest row per key (`dedup`) and merges it into `bronze.<entity>` through the table layer. Files
it cannot read go to `quarantine.bronze_files`; merged and bad files go to `ops.bronze_manifest`
(`manifest`). The run log gets, per entity, rows read = rows written + superseded + quarantined,
and the run fails when that does not add up. See docs/bronze.md.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.bronze.cast import BAD_TEXT, FILE_KEY
from lakehouse.bronze.dedup import (
    MALFORMED_RECORD,
    NULL_MERGE_KEY,
    ORDER_BY,
    REASON,
    SEQUENCE,
    SOURCE_FILE,
    bronze_rows,
    bronze_schema,
    latest_per_key,
    merge_keys,
    quarantine_rows,
    quarantine_schema,
    with_merge_keys,
)
from lakehouse.bronze.discover import ExportFile, FileSystem, discover, file_system, local_path, qualify
from lakehouse.bronze.manifest import (
    BAD_FILES,
    MANIFEST,
    BadFile,
    bad_files_frame,
    known_files,
    manifest_frame,
    new_files,
)
from lakehouse.bronze.read import (
    NOT_UTF8,
    UNREADABLE,
    Layout,
    evaluate_all,
    find_unreadable,
    inspect,
    is_utf8,
    literal_frame,
    plan_branches,
    staged_frame,
)
from lakehouse.config import TableSpec
from lakehouse.errors import UserError
from lakehouse.session import sql_conf

if TYPE_CHECKING:
    from lakehouse.runtime import RunContext

__all__ = ["BRONZE_CONF", "EntityResult", "run_bronze"]

log = logging.getLogger("lakehouse.bronze")

# session settings bronze needs while it runs (restored afterwards)
BRONZE_CONF = {
    "spark.sql.legacy.parquet.nanosAsLong": "true",  # INT64 TIMESTAMP(NANOS) as longs; encodings reads the unit
    "spark.sql.caseSensitive": "false",  # Parquet columns matched to the read schema in any case
    "spark.sql.files.ignoreCorruptFiles": "false",  # a bad file must be seen, not skipped
    "spark.sql.files.ignoreMissingFiles": "false",
}
# while reading, casting and caching the staged rows:
# - whole-stage code generation off: the canonical cast makes one large expression per column,
#   and whole-stage code generation puts them all into one Java method, too long for the JVM to
#   JIT-compile (it would run interpreted, ~5x slower); plain projections split it into small methods;
# - the cache uncompressed: it is built once and read three times soon after (counts, quarantine,
#   dedup + write); compressing it cost ~15 s of ~125 s staging 10M tickets (it spills to disk
#   beyond the storage memory)
STAGE_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}
# local landing: list the files in the driver (a Spark job per read costs more than the listing)
LOCAL_LISTING_CONF = {"spark.sql.sources.parallelPartitionDiscovery.threshold": str(2**31 - 1)}
QUARANTINE_REASONS = (NULL_MERGE_KEY, MALFORMED_RECORD)
FILES_PER_TASK = 4  # see file_rows
MIN_FILE_ROWS = 50_000

_LINEAGE_SCHEMA = T.StructType(
    [
        T.StructField(FILE_KEY, T.StringType(), False),
        T.StructField("_store_id", T.StringType(), True),
        T.StructField("_source_file", T.StringType(), True),
        T.StructField("_export_id", T.StringType(), True),
    ]
)


@dataclass
class EntityResult:
    """What one entity's bronze merge did, for the run log and the summary."""

    entity: str
    files_read: int = 0
    bad_files: list[BadFile] = field(default_factory=list)
    rows_read: int = 0
    rows_written: int = 0  # rows that landed in bronze (inserted + updated)
    rows_superseded: int = 0  # rows that lost the dedup (to another new row or to the table's row)
    quarantined: dict[str, int] = field(default_factory=lambda: dict.fromkeys(QUARANTINE_REASONS, 0))
    inserted: int = 0
    updated: int = 0  # bronze rows replaced by a later row of this run
    unchanged: int = 0
    merged_files: dict[ExportFile, int] = field(default_factory=dict)  # file -> rows read

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())

    def details(self) -> dict[str, int]:
        """Detail counts of the run log."""
        reasons = Counter(b.reason for b in self.bad_files)
        return {
            "files_read": self.files_read,
            "bad_files": len(self.bad_files),
            **{f"bad_files_{reason}": n for reason, n in sorted(reasons.items())},
            "rows_superseded": self.rows_superseded,
            **{f"quarantined_{reason}": n for reason, n in self.quarantined.items()},
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def _quiet_csv_header_warnings(spark: SparkSession) -> None:
    """Spark warns for every CSV file whose header differs from the read schema; ours always do."""
    try:
        jvm = spark._jvm
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            "org.apache.spark.sql.catalyst.csv.CSVHeaderChecker", jvm.org.apache.logging.log4j.Level.ERROR
        )
    except Exception:  # noqa: BLE001 - another logging backend: the warnings are only noise
        pass


def run_bronze(run: RunContext, full_refresh: bool = False) -> dict[str, Any]:
    """Merge the new landing exports (every export with `full_refresh`) into the bronze tables.

    Returns a summary (files read, bad files, rows read, written, superseded, quarantined).
    Raises UserError when the landing root does not exist, or when a file is bad and
    `bronze.fail_on_bad_files` is set; RuntimeError when the row accounting does not add up.
    """
    spark, settings, specs = run.spark, run.settings, run.config.tables
    fs = file_system(spark, settings.landing)
    if not _exists(spark, fs, settings.landing):
        raise UserError(
            f"landing folder {settings.landing} does not exist: set 'landing' in conf/env/{settings.env}.yaml "
            "or pass --landing (`lakehouse generate` writes sample exports)"
        )
    _quiet_csv_header_warnings(spark)
    conf = {**BRONZE_CONF, **(LOCAL_LISTING_CONF if local_path(settings.landing) is not None else {})}
    with sql_conf(spark, conf):
        files = discover(fs, settings.landing, set(specs), tuple(settings.bronze.formats))
        todo = files if full_refresh else new_files(files, known_files(run.tables))
        inspected: dict[str, tuple[list[Layout], list[BadFile]]] = {}
        for entity in specs:
            layouts, bad = [], []
            for export in (f for f in todo if f.entity == entity):
                found = inspect(spark, fs, export)
                (bad if isinstance(found, BadFile) else layouts).append(found)
            inspected[entity] = (layouts, bad)
        upfront_bad = [b for _, bad in inspected.values() for b in bad]
        if upfront_bad and settings.bronze.fail_on_bad_files:
            _fail_on_bad(run, upfront_bad, {e: len(bad) for e, (_, bad) in inspected.items()})

        results = []
        for entity, spec in specs.items():
            layouts, bad = inspected[entity]
            started = time.monotonic()
            result = merge_entity(run, spec, layouts, bad, fs, full_refresh)
            log.info(
                "bronze.%s: %d files, %d rows read, %d written in %.1f s",
                entity, result.files_read, result.rows_read, result.rows_written, time.monotonic() - started,
            )
            results.append(result)
            run.record(
                f"bronze.{entity}", rows_in=result.rows_read, rows_out=result.rows_written, **result.details()
            )
        if full_refresh:
            merged = {f: n for r in results for f, n in r.merged_files.items()}
            bad_all = [b for r in results for b in r.bad_files]
            run.tables.overwrite(MANIFEST, manifest_frame(spark, merged, bad_all, run.run_id, run.started_at))
            run.tables.overwrite(BAD_FILES, bad_files_frame(spark, bad_all, run.run_id, run.started_at))
    for r in results:
        for b in r.bad_files:
            log.warning("bad export %s (%s): %s", b.export.path, b.reason, b.detail)
    return {
        "mode": "full_refresh" if full_refresh else "incremental",
        "files_read": sum(r.files_read for r in results),
        "bad_files": sum(len(r.bad_files) for r in results),
        "rows_read": sum(r.rows_read for r in results),
        "rows_written": sum(r.rows_written for r in results),
        "rows_superseded": sum(r.rows_superseded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
    }


def _exists(spark: SparkSession, fs: FileSystem, landing: str) -> bool:
    local = local_path(landing)
    if local is not None:
        import os

        return os.path.isdir(local)
    path = spark._jvm.org.apache.hadoop.fs.Path(qualify(landing))
    return bool(path.getFileSystem(spark._jsc.hadoopConfiguration()).exists(path))


def _fail_on_bad(run: RunContext, bad: Sequence[BadFile], per_entity: dict[str, int]) -> None:
    """Record bad files (quarantine table and run log), then stop the run."""
    run.tables.append(BAD_FILES, bad_files_frame(run.spark, bad, run.run_id, run.started_at))
    for entity, n in per_entity.items():
        if n:
            run.record(f"bronze.{entity}", rows_in=0, rows_out=0, bad_files=n)
    first = bad[0]
    raise UserError(
        f"{len(bad)} bad export file(s), e.g. {first.export.path} ({first.reason}: {first.detail}); "
        f"they are listed in {BAD_FILES} for run {run.run_id}. Fix or remove them, or set "
        "bronze.fail_on_bad_files: false to merge the other files anyway"
    )


def _lineage(spark: SparkSession, layouts: Sequence[Layout]) -> DataFrame:
    rows = [(lo.key, lo.export.store_id, lo.export.path, lo.export.export_id) for lo in layouts]
    return literal_frame(spark, rows, _LINEAGE_SCHEMA)


def stage_entity(
    run: RunContext, spec: TableSpec, layouts: Sequence[Layout]
) -> tuple[DataFrame, dict[str, dict[str, int]], list[BadFile]]:
    """Read and cast the readable files of one entity, persisted, with per-file counts.

    Returns the persisted rows (staged columns, lineage, keys, `_reason`), counts per source file
    (`rows`, `bad_text`, one per quarantine reason) and the files Spark could not read.
    """
    spark = run.spark
    unreadable: list[BadFile] = []
    readable = list(layouts)
    while True:
        branches = plan_branches(readable)
        with sql_conf(spark, STAGE_CONF):  # the cached plan is fixed when persisted, with these settings
            rows = (
                staged_frame(spark, spec, branches)
                .join(F.broadcast(_lineage(spark, readable)), on=FILE_KEY, how="left")
                .drop(FILE_KEY)
                .transform(with_merge_keys(spec, run.run_id, run.started_at))
                .persist(StorageLevel.MEMORY_AND_DISK)
            )
        try:
            counts = (
                rows.groupBy(SOURCE_FILE)
                .agg(
                    F.count(F.lit(1)).alias("rows"),
                    F.sum(F.col(BAD_TEXT).cast("long")).alias("bad_text"),
                    *[F.sum((F.col(REASON) == r).cast("long")).alias(r) for r in QUARANTINE_REASONS],
                )
                .collect()
            )
            break
        except Exception:
            rows.unpersist()
            culprits = find_unreadable(spark, spec, branches, evaluate_all)
            if not culprits:
                raise
            for layout, detail in culprits:
                unreadable.append(BadFile(layout.export, UNREADABLE, detail))
            gone = {layout.key for layout, _ in culprits}
            readable = [lo for lo in readable if lo.key not in gone]
    stats = {r[SOURCE_FILE]: {k: int(r[k] or 0) for k in ("rows", "bad_text", *QUARANTINE_REASONS)} for r in counts}
    if None in stats:  # a row whose file is not in the lineage table: a path-spelling bug, not bad data
        rows.unpersist()
        raise RuntimeError(f"bronze.{spec.entity}: {stats[None]['rows']} rows could not be traced to their file")
    return rows, stats, unreadable


def merge_entity(
    run: RunContext,
    spec: TableSpec,
    layouts: Sequence[Layout],
    bad: Sequence[BadFile],
    fs: FileSystem,
    full_refresh: bool,
) -> EntityResult:
    """Merge one entity's new files into `bronze.<entity>`; quarantine, manifest and accounting."""
    spark, tables, entity = run.spark, run.tables, spec.entity
    bronze, quarantine = f"bronze.{entity}", f"quarantine.bronze_{entity}"
    result = EntityResult(entity, bad_files=list(bad))
    to_read = [lo for lo in layouts if not lo.empty]
    rows: DataFrame | None = None
    cached: DataFrame | None = None
    stats: dict[str, dict[str, int]] = {}
    if to_read:
        cached, stats, unreadable = stage_entity(run, spec, to_read)
        rows = cached
        result.bad_files += unreadable
        gone = {b.export.path for b in unreadable}
        for lo in to_read:  # Spark saw U+FFFD: bytes that are not UTF-8, or a real U+FFFD?
            file_stats = stats.get(lo.export.path)
            if file_stats and file_stats["bad_text"] and (lo.export.fmt == "json" or not is_utf8(fs, lo.export)):
                result.bad_files.append(BadFile(lo.export, NOT_UTF8, "holds bytes that are not UTF-8 text"))
                gone.add(lo.export.path)
        late_bad = result.bad_files[len(bad) :]
        if late_bad and run.settings.bronze.fail_on_bad_files:
            cached.unpersist()
            _fail_on_bad(run, late_bad, {entity: len(late_bad)})
        if gone:
            rows = rows.filter(~F.col(SOURCE_FILE).isin(sorted(gone)))
    try:
        good_paths = {lo.export.path for lo in layouts} - {b.export.path for b in result.bad_files}
        for lo in layouts:
            if lo.export.path in good_paths:
                result.merged_files[lo.export] = stats.get(lo.export.path, {}).get("rows", 0)
        result.files_read = len(result.merged_files)
        result.rows_read = sum(result.merged_files.values())
        for reason in QUARANTINE_REASONS:
            result.quarantined[reason] = sum(stats.get(p, {}).get(reason, 0) for p in good_paths)
        _write_entity(run, spec, rows, result, full_refresh)
    finally:
        if cached is not None:
            cached.unpersist()
    if not full_refresh and (result.merged_files or result.bad_files):
        tables.append(MANIFEST, manifest_frame(spark, result.merged_files, result.bad_files, run.run_id, run.started_at))
        if result.bad_files:
            tables.append(BAD_FILES, bad_files_frame(spark, result.bad_files, run.run_id, run.started_at))
    check_accounting(result, bronze, quarantine)
    return result


def _write_entity(
    run: RunContext, spec: TableSpec, rows: DataFrame | None, result: EntityResult, full_refresh: bool
) -> None:
    """Write quarantined rows and merge (or, on a full refresh, overwrite) the deduplicated rows."""
    spark, tables = run.spark, run.tables
    bronze, quarantine = f"bronze.{spec.entity}", f"quarantine.bronze_{spec.entity}"
    if rows is None:  # nothing to read: make sure the tables exist (empty) so later steps can read them
        if full_refresh or not tables.exists(bronze):
            tables.overwrite(bronze, spark.createDataFrame([], bronze_schema(spec)))
        if full_refresh or not tables.exists(quarantine):
            tables.overwrite(quarantine, spark.createDataFrame([], quarantine_schema(spec)))
        return
    offered, kept, held = Observation(), Observation(), Observation()
    quarantined = rows.transform(quarantine_rows(spec)).observe(held, F.count(F.lit(1)).alias("n"))
    candidates = rows.transform(bronze_rows(spec)).observe(offered, F.count(F.lit(1)).alias("n"))
    winners = candidates.transform(latest_per_key(spec)).observe(kept, F.count(F.lit(1)).alias("n"))
    if full_refresh or not tables.exists(quarantine):
        tables.overwrite(quarantine, quarantined)
        quarantine_written = held.get["n"]
    elif result.rows_quarantined:
        tables.append(quarantine, quarantined)
        quarantine_written = held.get["n"]
    else:
        quarantine_written = 0
    if result.rows_quarantined != quarantine_written:
        raise RuntimeError(
            f"{quarantine}: {quarantine_written} rows written, {result.rows_quarantined} counted for quarantine"
        )
    if full_refresh or not tables.exists(bronze):
        with sql_conf(spark, {"spark.sql.files.maxRecordsPerFile": str(file_rows(spark, result.rows_read))}):
            tables.overwrite(bronze, winners.sortWithinPartitions(SEQUENCE))
        result.inserted = result.rows_written = kept.get["n"]
        result.rows_superseded = offered.get["n"] - result.rows_written
        return
    merged = tables.merge(bronze, winners, merge_keys(spec), ORDER_BY)
    result.inserted, result.updated, result.unchanged = merged.inserted, merged.updated, merged.unchanged
    result.rows_written = merged.inserted + merged.updated
    result.rows_superseded = (offered.get["n"] - merged.source_rows) + merged.source_duplicates + merged.unchanged


def file_rows(spark: SparkSession, rows: int) -> int:
    """Most rows per bronze file on a full refresh: `FILES_PER_TASK` files per write task, each in `_sequence` order.

    Corrections mostly re-export recent rows. With every write task's rows sorted by `_sequence`
    and cut into several files, the rows a later merge replaces sit in each task's last files,
    and the merge (copy-on-write) rewrites those instead of the whole table.
    """
    tasks = int(spark.conf.get("spark.sql.shuffle.partitions", "200"))
    return max(MIN_FILE_ROWS, math.ceil(rows / (tasks * FILES_PER_TASK)))


def check_accounting(result: EntityResult, bronze: str, quarantine: str) -> None:
    """Rows read must equal rows written + superseded + quarantined; a mismatch is a bug: fail."""
    accounted = result.rows_written + result.rows_superseded + result.rows_quarantined
    if result.rows_read != accounted:
        raise RuntimeError(
            f"{bronze}: rows do not add up: read {result.rows_read} != written {result.rows_written} "
            f"+ superseded {result.rows_superseded} + quarantined {result.rows_quarantined} ({quarantine})"
        )
