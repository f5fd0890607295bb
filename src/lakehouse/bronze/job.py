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
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from lakehouse import faults, progress
from lakehouse.bronze.dedup import (
    ORDER_BY,
    bronze_rows,
    latest_per_key,
    merge_keys,
    quarantine_rows,
)
from lakehouse.bronze.discover import ExportFile, discover
from lakehouse.bronze.manifest import (
    BadFile,
    bad_files_frame,
    known_files,
    manifest_frame,
    merged_paths,
    new_files,
)
from lakehouse.bronze.read import NOT_UTF8, Layout, is_utf8, layout_of
from lakehouse.bronze.stage import QUARANTINE_REASONS, stage_entity
from lakehouse.config import TableSpec
from lakehouse.contract import (
    BRONZE_FILES,
    BRONZE_MANIFEST,
    SEQUENCE,
    SOURCE_FILE,
    bronze_quarantine_schema,
    bronze_quarantine_table,
    bronze_schema,
    bronze_table,
)
from lakehouse.errors import UserError
from lakehouse.fs import FileSystem, file_system, local_path
from lakehouse.ops.freshness import record_freshness
from lakehouse.runtime import RunContext
from lakehouse.session import sql_conf

__all__ = ["BRONZE_CONF", "EntityResult", "run_bronze"]

log = logging.getLogger("lakehouse.bronze")

# session settings bronze needs while it runs (restored afterwards)
BRONZE_CONF = {
    "spark.sql.legacy.parquet.nanosAsLong": "true",  # INT64 TIMESTAMP(NANOS) as longs; encodings reads the unit
    "spark.sql.caseSensitive": "false",  # Parquet columns matched to the read schema in any case
    "spark.sql.files.ignoreCorruptFiles": "false",  # a bad file must be seen, not skipped
    "spark.sql.files.ignoreMissingFiles": "false",
}
# local landing: list the files in the driver (a Spark job per read costs more than the listing)
LOCAL_LISTING_CONF = {"spark.sql.sources.parallelPartitionDiscovery.threshold": str(2**31 - 1)}
FILES_PER_TASK = 16  # see file_rows
MIN_FILE_ROWS = 50_000

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
    full_load: bool = False  # the table was written whole (full refresh or first load), not merged into

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
            "full_load": int(self.full_load),  # runs compare rows read with runs of the same kind (ops checks)
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


def run_bronze(run: RunContext, full_refresh: bool = False, force: bool = False) -> dict[str, Any]:
    """Merge the new landing exports (every export with `full_refresh`) into the bronze tables.

    Returns a summary (files read, bad files, rows read, written, superseded, quarantined, and
    files under the landing root that are not exports). Raises UserError when the landing root
    does not exist, when a file is bad and `bronze.fail_on_bad_files` is set, or when a full
    refresh would drop more than `bronze.full_refresh_max_drop` of the exports merged so far
    (a wrongly mounted landing; `force` overrides); RuntimeError when the row accounting does not
    add up.

    What an entity's merge records moves with it: its bad files and quarantined rows are
    re-recorded by path (`TableStore.replace_rows`) before its bronze merge, and its manifest
    rows are appended last, so a run killed at any point and run again gives what one
    uninterrupted run gives.
    """
    spark, settings, specs = run.spark, run.settings, run.config.tables
    fs = file_system(settings.landing, spark)
    if not fs.is_dir(settings.landing):
        raise UserError(
            f"landing folder {settings.landing} does not exist: set 'landing' in conf/env/{settings.env}.yaml "
            "or pass --landing (`lakehouse generate` writes sample exports)"
        )
    _quiet_csv_header_warnings(spark)
    conf = {**BRONZE_CONF, **(LOCAL_LISTING_CONF if local_path(settings.landing) is not None else {})}
    with sql_conf(spark, conf):
        files = discover(fs, settings.landing, set(specs), tuple(settings.bronze.formats))
        if full_refresh and not force:
            check_full_refresh(run, files)
        todo = files if full_refresh else new_files(files, known_files(run.tables))
        unexpected = [layout_of(export) for export in todo if export.entity is None]
        inspected: dict[str, tuple[list[Layout], list[BadFile]]] = {}
        for entity in specs:
            layouts, bad = [], []
            for export in (f for f in todo if f.entity == entity):
                found = layout_of(export)
                (bad if isinstance(found, BadFile) else layouts).append(found)
            inspected[entity] = (layouts, bad)
        upfront_bad = [*unexpected, *(b for _, bad in inspected.values() for b in bad)]
        if upfront_bad and settings.bronze.fail_on_bad_files:
            _fail_on_bad(run, upfront_bad, {e: len(bad) for e, (_, bad) in inspected.items()})
        if unexpected:  # every one is also logged below, with its reason
            run.record(BRONZE_FILES, rows_in=len(unexpected), rows_out=len(unexpected), unexpected_files=len(unexpected))
            if not full_refresh:
                record_files(run, {}, unexpected)

        results = []
        progress.plan("files", sum(len(layouts) + len(bad) for layouts, bad in inspected.values()))
        for entity, spec in specs.items():
            layouts, bad = inspected[entity]
            started = time.monotonic()
            progress.working(bronze_table(entity))
            result = merge_entity(run, spec, layouts, bad, fs, full_refresh)
            log.info(
                "bronze.%s: %d files, %d rows read, %d written in %.1f s",
                entity, result.files_read, result.rows_read, result.rows_written, time.monotonic() - started,
                extra=progress.done(len(layouts) + len(bad), result.rows_read),
            )
            results.append(result)
            run.record(
                bronze_table(entity), rows_in=result.rows_read, rows_out=result.rows_written, **result.details()
            )
        if full_refresh:  # the manifest last: it is what the next incremental run trusts
            merged = {f: n for r in results for f, n in r.merged_files.items()}
            bad_all = [*unexpected, *(b for r in results for b in r.bad_files)]
            run.tables.overwrite(BRONZE_FILES, bad_files_frame(spark, bad_all, run.run_id, run.started_at))
            faults.point("bronze.refresh_before_manifest")
            run.tables.overwrite(BRONZE_MANIFEST, manifest_frame(spark, merged, bad_all, run.run_id, run.started_at))
    for b in [*unexpected, *(b for r in results for b in r.bad_files)]:
        log.warning("bad export %s (%s): %s", b.export.path, b.reason, b.detail)
    freshness = record_freshness(run)  # every store x entity judged against its cadence (ops.source_freshness)
    return {
        "mode": "full_refresh" if full_refresh else "incremental",
        "files_read": sum(r.files_read for r in results),
        "bad_files": sum(len(r.bad_files) for r in results),
        "rows_read": sum(r.rows_read for r in results),
        "rows_written": sum(r.rows_written for r in results),
        "rows_superseded": sum(r.rows_superseded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "unexpected_files": len(unexpected),
        "freshness": freshness,
    }


def check_full_refresh(run: RunContext, files: Sequence[ExportFile]) -> None:
    """Refuse a full refresh that would drop more than `bronze.full_refresh_max_drop` of the merged exports.

    A full refresh rebuilds bronze from the exports it finds; an empty or wrongly mounted landing
    root would silently empty it. UserError naming how many exports would go and how to go on.
    """
    merged = merged_paths(run.tables)
    if not merged:
        return
    missing = merged - {f.path for f in files}
    share = len(missing) / len(merged)
    limit = run.settings.bronze.full_refresh_max_drop
    if share > limit:
        example = min(missing)
        raise UserError(
            f"a full refresh from {run.settings.landing} would drop {len(missing):,} of the {len(merged):,} exports "
            f"merged so far ({share:.0%}, more than bronze.full_refresh_max_drop {limit:.0%}; e.g. {example} is gone): "
            "check --landing, or pass --force to rebuild from what is there"
        )


def record_files(run: RunContext, merged: dict[ExportFile, int], bad: Sequence[BadFile]) -> None:
    """Record files taken in by an incremental run: bad files (by path, so a re-run records them once), then
    the manifest, last, which commits them as done."""
    if bad:
        run.tables.replace_rows(
            BRONZE_FILES,
            bad_files_frame(run.spark, bad, run.run_id, run.started_at),
            "path",
            [b.export.path for b in bad],
        )
        faults.point("bronze.bad_files_recorded")
    if merged or bad:
        run.tables.append(BRONZE_MANIFEST, manifest_frame(run.spark, merged, bad, run.run_id, run.started_at))


def _fail_on_bad(run: RunContext, bad: Sequence[BadFile], per_entity: dict[str, int]) -> None:
    """Record bad files (quarantine table and run log), then stop the run."""
    run.tables.replace_rows(
        BRONZE_FILES, bad_files_frame(run.spark, bad, run.run_id, run.started_at), "path", [b.export.path for b in bad]
    )
    for entity, n in per_entity.items():
        if n:
            run.record(bronze_table(entity), rows_in=0, rows_out=0, bad_files=n)
    first = bad[0]
    raise UserError(
        f"{len(bad)} bad export file(s), e.g. {first.export.path} ({first.reason}: {first.detail}); "
        f"they are listed in {BRONZE_FILES} for run {run.run_id}. Fix or remove them, or set "
        "bronze.fail_on_bad_files: false to merge the other files anyway"
    )


def merge_entity(
    run: RunContext,
    spec: TableSpec,
    layouts: Sequence[Layout],
    bad: Sequence[BadFile],
    fs: FileSystem,
    full_refresh: bool,
) -> EntityResult:
    """Merge one entity's new files into `bronze.<entity>`; quarantine, manifest and accounting."""
    entity = spec.entity
    bronze, quarantine = bronze_table(entity), bronze_quarantine_table(entity)
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
    check_accounting(result, bronze, quarantine)
    if not full_refresh:
        record_files(run, result.merged_files, result.bad_files)
    return result


def _write_entity(
    run: RunContext, spec: TableSpec, rows: DataFrame | None, result: EntityResult, full_refresh: bool
) -> None:
    """Write quarantined rows and merge (or, on a full refresh, overwrite) the deduplicated rows."""
    spark, tables = run.spark, run.tables
    bronze, quarantine = bronze_table(spec.entity), bronze_quarantine_table(spec.entity)
    if rows is None:  # nothing to read: make sure the tables exist (empty) so later steps can read them
        if full_refresh or not tables.exists(bronze):
            tables.overwrite(bronze, spark.createDataFrame([], bronze_schema(spec)))
        if full_refresh or not tables.exists(quarantine):
            tables.overwrite(quarantine, spark.createDataFrame([], bronze_quarantine_schema(spec)))
        return
    offered, kept, held = Observation(), Observation(), Observation()
    quarantined = rows.transform(quarantine_rows(spec)).observe(held, F.count(F.lit(1)).alias("n"))
    candidates = rows.transform(bronze_rows(spec)).observe(offered, F.count(F.lit(1)).alias("n"))
    winners = candidates.transform(latest_per_key(spec)).observe(kept, F.count(F.lit(1)).alias("n"))
    if full_refresh or not tables.exists(quarantine):
        tables.overwrite(quarantine, quarantined)
        quarantine_written = held.get["n"]
    elif result.rows_quarantined:  # by source file: a re-run after a kill does not add them twice
        tables.replace_rows(quarantine, quarantined, SOURCE_FILE, [f.path for f in result.merged_files])
        quarantine_written = held.get["n"]
        faults.point("bronze.quarantined")
    else:
        quarantine_written = 0
    if result.rows_quarantined != quarantine_written:
        raise RuntimeError(
            f"{quarantine}: {quarantine_written} rows written, {result.rows_quarantined} counted for quarantine"
        )
    if full_refresh or not tables.exists(bronze):
        result.full_load = True
        with sql_conf(spark, {"spark.sql.files.maxRecordsPerFile": str(file_rows(spark, result.rows_read))}):
            tables.overwrite(bronze, winners.sortWithinPartitions(SEQUENCE))
        result.inserted = result.rows_written = kept.get["n"]
        result.rows_superseded = offered.get["n"] - result.rows_written
        return
    merged = tables.merge(bronze, winners, merge_keys(spec), ORDER_BY)
    faults.point("bronze.merged")
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
