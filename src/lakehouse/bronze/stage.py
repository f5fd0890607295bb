"""Staging one entity's exports: Spark tasks read every file with Arrow and cast it to canonical text.

`stage_entity` is what the bronze job merges from. The files are packed into about one Spark task
per core (more for a large input), balanced by size; each task (`StageFiles`, run by
`DataFrame.mapInArrow` on the executors) reads its files one by one with pyarrow's own readers
(`read`), and every few hundred thousand rows canonicalizes what it read at once (`cast`) and
hands Spark one Arrow batch. A file that cannot be read becomes a single row carrying the reason
(`cast.error_batch`), so one bad file never stops the others and needs no second pass. Spark then
adds the merge keys (`dedup.with_merge_keys`), persists the rows and counts them per file.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.cast import (
    BAD_TEXT,
    FILE_ERROR,
    Source,
    error_batch,
    file_error,
    staged_batch,
    staged_schema,
)
from lakehouse.bronze.dedup import MALFORMED_RECORD, NULL_MERGE_KEY, with_merge_keys
from lakehouse.bronze.discover import ExportFile
from lakehouse.bronze.manifest import BadFile
from lakehouse.bronze.raw import RawExport
from lakehouse.bronze.read import (
    UNREADABLE,
    BadFileError,
    Layout,
    Storage,
    first_line,
    read_bytes,
    read_export,
)
from lakehouse.config import TableSpec
from lakehouse.contract import REASON, SOURCE_FILE, bronze_table
from lakehouse.runtime import RunContext
from lakehouse.session import sql_conf

QUARANTINE_REASONS = (NULL_MERGE_KEY, MALFORMED_RECORD)

# the staged rows are cached uncompressed: built once and read three times soon after (counts,
# quarantine, dedup + write); compressing them cost ~15 s of ~125 s staging 10M tickets
STAGE_CONF = {"spark.sql.inMemoryColumnarStorage.compressed": "false"}
# rows a task reads before it casts them and hands them to Spark (bounds a Python worker's memory)
FLUSH_ROWS = 250_000
# relative cost of a byte by format, for balancing tasks (Parquet holds ~3x the rows per byte of text)
BYTE_COST = {"parquet": 3.0, "csv": 1.0, "json": 0.8}


@dataclass(frozen=True)
class TaskFile:
    """What a staging task needs to know of one file."""

    path: str
    fmt: str
    store_id: str
    export_id: str


def pack_tasks(exports: Sequence[ExportFile], tasks: int) -> list[list[TaskFile]]:
    """Files packed into at most `tasks` groups of about equal cost (largest first onto the lightest group)."""
    groups: list[list[TaskFile]] = [[] for _ in range(max(1, min(tasks, len(exports))))]
    heap = [(0.0, i) for i in range(len(groups))]
    for export in sorted(exports, key=lambda e: (-e.size * BYTE_COST.get(e.fmt, 1.0), e.path)):
        cost, i = heapq.heappop(heap)
        groups[i].append(TaskFile(export.path, export.fmt, export.store_id, export.export_id))
        heapq.heappush(heap, (cost + max(export.size, 1) * BYTE_COST.get(export.fmt, 1.0), i))
    return [g for g in groups if g]


def task_count(spark: SparkSession, exports: Sequence[ExportFile]) -> int:
    """Staging tasks for `exports`: the session's parallelism, or one per `spark.sql.files.maxPartitionBytes` of input."""
    size = sum(e.size for e in exports)
    setting = spark.conf.get("spark.sql.files.maxPartitionBytes", "128m")
    split = spark._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(setting)  # Spark's own parser
    return max(spark.sparkContext.defaultParallelism, math.ceil(size / split))


def storage_of(spark: SparkSession) -> Storage:
    """How tasks reach gs:// files: the endpoint and authentication the session's GCS connector is set up with."""
    root = spark.conf.get("spark.hadoop.fs.gs.storage.root.url", None)
    auth = (spark.conf.get("spark.hadoop.fs.gs.auth.type", "") or "").upper()
    if not root:
        return Storage(gcs_anonymous=auth == "UNAUTHENTICATED")
    url = urlparse(root)
    return Storage(gcs_endpoint=url.netloc, gcs_scheme=url.scheme or "https", gcs_anonymous=auth == "UNAUTHENTICATED")


class StageFiles:
    """The function `mapInArrow` runs: read the files of the task's group(s) and yield staged Arrow batches.

    Its input holds the indexes of the groups the task stages (one per task: `spark.range`); the
    groups travel with the function (Spark broadcasts a large function once per executor).
    """

    def __init__(self, spec: TableSpec, groups: Sequence[Sequence[TaskFile]], storage: Storage,
                 flush_rows: int = FLUSH_ROWS):
        self.spec = spec
        self.groups = [list(g) for g in groups]
        self.storage = storage
        self.flush_rows = flush_rows

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for index in batch.column(0).to_pylist():
                yield from self.stage(self.groups[index])

    def stage(self, files: Sequence[TaskFile]) -> Iterator[pa.RecordBatch]:
        """Staged batches of `files`: every `flush_rows` rows, then the rows standing for unreadable files."""
        read: list[tuple[Source, RawExport]] = []
        failed: list[tuple[Source, str, str]] = []
        pending = 0
        for file in files:
            source = Source(file.path, file.store_id, file.export_id)
            try:
                raw = read_export(read_bytes(file.path, self.storage), file.fmt)
            except BadFileError as exc:
                failed.append((source, exc.reason, exc.detail))
                continue
            except OSError as exc:  # vanished, or the storage failed on it
                failed.append((source, UNREADABLE, first_line(str(exc))))
                continue
            if raw.num_rows:
                read.append((source, raw))
                pending += raw.num_rows
            if pending >= self.flush_rows:
                yield staged_batch(self.spec, read)
                read, pending = [], 0
        if read:
            yield staged_batch(self.spec, read)
        if failed:
            yield error_batch(self.spec, failed)


def staged_rows(spark: SparkSession, spec: TableSpec, exports: Sequence[ExportFile]) -> DataFrame:
    """The staged rows of `exports` (`cast.staged_schema`), read and cast by Spark tasks (not persisted)."""
    groups = pack_tasks(exports, task_count(spark, exports))
    stage = StageFiles(spec, groups, storage_of(spark))
    ids = spark.range(0, len(groups), 1, numPartitions=max(1, len(groups)))
    return ids.mapInArrow(stage, staged_schema(spec))


def stage_entity(
    run: RunContext, spec: TableSpec, layouts: Sequence[Layout]
) -> tuple[DataFrame, dict[str, dict[str, int]], list[BadFile]]:
    """Read and cast the files of one entity, persisted, with per-file counts.

    Returns the persisted rows (staged columns, lineage, keys, `_reason`; a file that could not be
    read is one row with `_file_error` set), counts per source file (`rows`, `bad_text`, one per
    quarantine reason) and the files that could not be read, with their reasons.
    """
    spark = run.spark
    exports = {lo.export.path: lo.export for lo in layouts}
    with sql_conf(spark, STAGE_CONF):  # the cached plan is fixed when persisted, with these settings
        rows = (
            staged_rows(spark, spec, list(exports.values()))
            .transform(with_merge_keys(spec, run.run_id, run.started_at))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
    readable = F.col(FILE_ERROR).isNull()
    counts = (
        rows.groupBy(SOURCE_FILE)
        .agg(
            F.count(F.when(readable, F.lit(1))).alias("rows"),
            F.sum(F.when(readable, F.col(BAD_TEXT).cast("long"))).alias("bad_text"),
            *[F.sum(F.when(readable, (F.col(REASON) == r).cast("long"))).alias(r) for r in QUARANTINE_REASONS],
            F.max(FILE_ERROR).alias(FILE_ERROR),
        )
        .collect()
    )
    stats, unreadable = {}, []
    for r in counts:
        path = r[SOURCE_FILE]
        if path not in exports:  # a row whose file is not in the lineage: a path-spelling bug, not bad data
            rows.unpersist()
            raise RuntimeError(f"{bronze_table(spec.entity)}: rows of {path!r}, which was not staged")
        if r[FILE_ERROR] is not None:
            reason, detail = file_error(r[FILE_ERROR])
            unreadable.append(BadFile(exports[path], reason, detail))
            continue
        stats[path] = {k: int(r[k] or 0) for k in ("rows", "bad_text", *QUARANTINE_REASONS)}
    return rows, stats, sorted(unreadable, key=lambda b: b.export.path)
