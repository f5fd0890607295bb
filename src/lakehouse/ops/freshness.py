"""Per-store freshness of the landing exports (`ops.source_freshness`) and the export coverage gold judges completeness by.

Both come from `ops.bronze_manifest`, which records every export bronze merged: its store, entity,
export id, modification time and rows. An export's time (`export_time`) is the timestamp its
export id starts with (`20260930T235900_0001`, `20260930`, `2026-09-30T23:59:00`): the store's own
statement of when the export was cut, which survives copies and re-uploads and is the same in every
environment. An export id without one falls back to the file's modification time (when it landed).

`source_freshness` judges each store x entity against its cadence (`conf` `freshness:`): `ok`,
`late` (older than `warn_after`) or `missing` (older than `error_after`, or never exported by a
store that exported something else). `record_freshness(run)` writes it after every bronze run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import FreshnessSettings, format_duration
from lakehouse.contract import BRONZE_MANIFEST, OPS_SCHEMAS, SOURCE_FRESHNESS

log = logging.getLogger("lakehouse.ops")

OK, LATE, MISSING = "ok", "late", "missing"
STATUSES = (OK, LATE, MISSING)
MERGED = "merged"  # bronze.manifest.MERGED (not imported: ops must not import a job's module)
_SECONDS_PER_DAY = 86400.0
# yyyy mm dd [T|_|space] [hh mm ss], with or without separators, at the start of the export id
_EXPORT_STAMP = r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T_ ]?(\d{2}):?(\d{2}):?(\d{2}))?"
CADENCE_SCHEMA = T.StructType(
    [
        T.StructField("store_id", T.StringType(), False),
        T.StructField("entity", T.StringType(), False),
        T.StructField("expected_every", T.StringType(), False),
        T.StructField("warn_after_s", T.DoubleType(), False),
        T.StructField("error_after_s", T.DoubleType(), False),
    ]
)


def export_time(export_id: str | Column, mtime_ms: str | Column) -> Column:
    """When an export was cut: the UTC timestamp its export id starts with, else its file's modification time."""
    eid = F.col(export_id) if isinstance(export_id, str) else export_id
    mtime = F.col(mtime_ms) if isinstance(mtime_ms, str) else mtime_ms

    def part(i: int) -> Column:
        return F.regexp_extract(eid, _EXPORT_STAMP, i)

    has_stamp = part(1) != ""
    clock = [F.when(part(i) != "", part(i).cast("int")).otherwise(F.lit(0)) for i in (4, 5, 6)]
    # make_timestamp with a zone is UTC whatever the session zone; an impossible date gives null
    stamp = F.make_timestamp(part(1).cast("int"), part(2).cast("int"), part(3).cast("int"), *clock, F.lit("UTC"))
    return F.coalesce(F.when(has_stamp, stamp), F.timestamp_millis(mtime))


def last_exports(manifest: DataFrame) -> DataFrame:
    """Per store x entity that merged at least one export: the last one (by export id, DOMAIN.md §1),
    when it was cut, how many exports were merged and the rows of the last one.

    Columns: store_id, entity, last_export_id, last_export_at, exports, rows_last_export.
    A file merged twice (re-sent with other bytes) counts once, with its latest rows.
    """
    merged = manifest.where((F.col("status") == MERGED) & F.col("entity").isNotNull())
    per_export = merged.groupBy("store_id", "entity", "export_id").agg(
        F.max_by("rows", "recorded_at").alias("rows"), F.max("mtime_ms").alias("mtime_ms")
    )
    latest = Window.partitionBy("store_id", "entity").orderBy(F.col("export_id").desc())
    ranked = per_export.select(
        "*",
        F.row_number().over(latest).alias("_n"),
        F.count(F.lit(1)).over(Window.partitionBy("store_id", "entity")).alias("exports"),
    )
    return ranked.where(F.col("_n") == 1).select(
        "store_id",
        "entity",
        F.col("export_id").alias("last_export_id"),
        export_time("export_id", "mtime_ms").alias("last_export_at"),
        F.col("exports").cast("long").alias("exports"),
        F.col("rows").cast("long").alias("rows_last_export"),
    )


def known_stores(manifest: DataFrame) -> DataFrame:
    """Every store the manifest has seen (`store_id`), whatever it sent: exports, bad or unexpected files."""
    return manifest.where(F.col("store_id").isNotNull()).select("store_id").distinct()


def cadence_frame(
    spark: SparkSession, settings: FreshnessSettings, stores: Iterable[str], entities: Iterable[str]
) -> DataFrame:
    """The cadence of every store x entity (`CADENCE_SCHEMA`), resolved from the `freshness:` settings."""
    rows = []
    for store in sorted(set(stores)):
        for entity in entities:
            c = settings.cadence(store, entity)
            rows.append((store, entity, format_duration(c.expected_every),
                         c.warn_after.total_seconds(), c.error_after.total_seconds()))
    return spark.createDataFrame(rows, CADENCE_SCHEMA)


def source_freshness(
    exports: DataFrame, cadence: DataFrame, as_of: datetime | None, run_id: str
) -> DataFrame:
    """ops.source_freshness: one row per store x entity of `cadence`, judged at `as_of`.

    `exports` is `last_exports(manifest)`; `cadence` holds every store x entity to judge (stores
    the manifest has seen x the contract's entities, `cadence_frame`). `as_of` None means the
    latest export of any store and entity (each store measured against the network). Status:
    `missing` when the store never exported the entity or its last export is older than
    error_after, `late` when older than warn_after, else `ok`.
    """
    for what, df, cols in (
        ("exports", exports, ("store_id", "entity", "last_export_id", "last_export_at", "exports", "rows_last_export")),
        ("cadence", cadence, ("store_id", "entity", "expected_every", "warn_after_s", "error_after_s")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{what} lacks column(s) {missing}; it has {df.columns}")
    if as_of is not None:
        reference = exports.sparkSession.range(1).select(F.lit(as_of).cast("timestamp").alias("as_of"))
    else:
        reference = exports.agg(F.max("last_export_at").alias("as_of"))
    joined = cadence.join(exports, ["store_id", "entity"], how="left").crossJoin(reference)
    age = F.unix_micros("as_of") - F.unix_micros("last_export_at")
    age_s = age / F.lit(1_000_000.0)
    status = (
        F.when(F.col("last_export_at").isNull() | (age_s > F.col("error_after_s")), F.lit(MISSING))
        .when(age_s > F.col("warn_after_s"), F.lit(LATE))
        .otherwise(F.lit(OK))
    )
    return joined.select(
        "store_id",
        "entity",
        "last_export_id",
        "last_export_at",
        F.coalesce("exports", F.lit(0)).cast("long").alias("exports"),
        "rows_last_export",
        F.round(age_s / F.lit(_SECONDS_PER_DAY), 2).alias("days_since_last_export"),
        status.alias("status"),
        "expected_every",
        "as_of",
        F.lit(run_id).alias("run_id"),
    )


def export_coverage(exports: DataFrame) -> DataFrame:
    """How far each store's exports of each entity cover: `covered_until`, the day after its last export's
    UTC date (an export covers the day it was cut: stores export at the end of their business day).

    Columns: store_id, entity, covered_until (date). From `last_exports(manifest)`.
    """
    micros = F.unix_micros("last_export_at")
    day = F.date_from_unix_date(F.floor(micros / F.lit(86_400_000_000)).cast("int"))
    return exports.select("store_id", "entity", F.date_add(day, 1).alias("covered_until"))


# ---------------------------------------------------------------- the job part


def freshness_of(tables: Any, settings: FreshnessSettings, entities: Iterable[str], as_of_run: datetime,
                 run_id: str) -> DataFrame | None:
    """ops.source_freshness as of now, from the warehouse's manifest (None when there is none yet)."""
    if not tables.exists(BRONZE_MANIFEST):
        return None
    manifest = tables.read(BRONZE_MANIFEST)
    stores = [r["store_id"] for r in known_stores(manifest).collect()]  # one row per store
    cadence = cadence_frame(tables.spark, settings, stores, list(entities))
    as_of = as_of_run.replace(tzinfo=None) if settings.as_of == "run_time" else None
    return source_freshness(last_exports(manifest), cadence, as_of, run_id).select(
        *OPS_SCHEMAS[SOURCE_FRESHNESS].names
    )


def record_freshness(run: Any) -> dict[str, int]:
    """Write ops.source_freshness for the warehouse after a bronze run; returns the count per status.

    Overwritten every run (it is the state as of this run; earlier states are its kept versions,
    and late or missing stores are also findings in ops.alerts).
    """
    frame = freshness_of(run.tables, run.settings.freshness, run.config.tables, run.started_at, run.run_id)
    if frame is None:
        return {}
    run.tables.overwrite(SOURCE_FRESHNESS, frame)
    written = run.tables.read(SOURCE_FRESHNESS)
    counts = {r["status"]: int(r["n"]) for r in written.groupBy("status").agg(F.count(F.lit(1)).alias("n")).collect()}
    statuses = {s: counts.get(s, 0) for s in STATUSES}
    run.record(SOURCE_FRESHNESS, rows_in=sum(statuses.values()), rows_out=sum(statuses.values()), **statuses)
    log.info("%s: %s", SOURCE_FRESHNESS, ", ".join(f"{n} {s}" for s, n in statuses.items()))
    return statuses


def statuses_by_store(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """{store: {entity: status}} of ops.source_freshness rows (for reports and messages)."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        out.setdefault(row["store_id"], {})[row["entity"]] = row["status"]
    return out
