"""The silver job: bronze text -> typed, validated silver tables, quarantine and ops.dq_results."""

from __future__ import annotations

import logging
import time
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from lakehouse import faults, progress
from lakehouse.config import TableSpec
from lakehouse.contract import (
    DQ_RESULTS,
    LOCATIONS_ENTITY,
    bronze_schema,
    bronze_table,
    silver_quarantine_table,
    silver_schema,
    silver_table,
)
from lakehouse.errors import UserError
from lakehouse.runtime import RunContext
from lakehouse.session import sql_conf
from lakehouse.silver.expectations import (
    KEY,
    QUARANTINED,
    REASON,
    RULES,
    ExpectationFailed,
    Rule,
    flag_rows,
    quarantine_rows,
    silver_rows,
)
from lakehouse.silver.quality import (
    ConservationError,
    TableQuality,
    check_conservation,
    count_columns,
    dq_results,
    measure,
    observed_quality,
)

__all__ = ["SILVER_CONF", "ConservationError", "ExpectationFailed", "run_silver", "silver_entity"]

log = logging.getLogger("lakehouse.silver")


# session settings silver runs with (restored afterwards). Whole-stage code generation fuses the
# parsers of every column into one Java method: past 64 KB it does not compile (Spark logs an error
# and falls back), and below that it is often too large for the JIT. Per-expression code generation
# splits the work into small methods and measured ~1.5x less CPU on the tickets (docs/silver.md).
SILVER_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    # the parsed rows are cached once and read soon after (silver write, samples, quarantine):
    # compressing them cost ~10% of silver's CPU (the encoders' dictionary statistics)
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}


def _slim(flagged: DataFrame, spec: TableSpec, bronze_columns: list[str], rules: list[Rule]) -> DataFrame:
    """What the job keeps of a flagged frame: silver columns, flags, and bronze values only where
    the row is quarantined (the only place they are written), so the cached frame stays small."""
    keep = [*silver_schema(spec).names, KEY, *[r.flag for r in rules], QUARANTINED, REASON, RULES]
    bronze = [F.when(F.col(QUARANTINED), F.col(c)).alias(c) for c in bronze_columns]
    return flagged.select(*keep, *bronze)


def silver_entity(run: RunContext, spec: TableSpec, locations: DataFrame | None) -> TableQuality:
    """Build silver.<table> and quarantine.<entity> of one entity from bronze.<entity>.

    One pass parses bronze and evaluates every rule; that frame is cached so the silver write,
    the quarantine write and the metrics do not parse twice. Metrics are observed during the
    silver write, except when the entity has `fail` rules: then they are computed first, so a
    failing run raises ExpectationFailed before anything of the entity is written. Afterwards the
    written tables are counted and checked against bronze (ConservationError on a mismatch).
    """
    bronze_name = bronze_table(spec.entity)
    silver_name = silver_table(spec)
    quarantine_name = silver_quarantine_table(spec)
    if run.tables.exists(bronze_name):
        bronze = run.tables.read(bronze_name)
        bronze_rows = _rows(run.tables, bronze_name)
    else:  # no export of this entity yet: an empty silver table keeps downstream readers working
        bronze = run.spark.createDataFrame([], bronze_schema(spec))
        bronze_rows = 0

    flagged, rules = flag_rows(bronze, spec, locations, run.started_at)
    slim = _slim(flagged, spec, bronze.columns, rules).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if any(r.action == "fail" for r in rules):
            quality = measure(slim, silver_name, rules)
            quality.raise_on_failure()
            silver_version = run.tables.overwrite(silver_name, silver_rows(slim, spec))
        else:
            observed = Observation(f"silver_dq_{spec.entity}_{id(slim)}")
            silver_version = run.tables.overwrite(
                silver_name, silver_rows(slim.observe(observed, *count_columns(rules)), spec)
            )
            counts = observed.get
            # an optimizer that proves the silver rows empty may drop the observation: measure instead
            quality = (
                observed_quality(slim, silver_name, rules, counts) if counts else measure(slim, silver_name, rules)
            )
        faults.point("silver.table_written")
        quarantine_version = run.tables.overwrite(
            quarantine_name, quarantine_rows(slim, bronze.columns, run.run_id, run.started_at)
        )
    finally:
        slim.unpersist()

    silver_count = _rows(run.tables, silver_name, silver_version)
    quarantine_count = _rows(run.tables, quarantine_name, quarantine_version)
    check_conservation(silver_name, bronze_rows, silver_count, quarantine_count)
    check_conservation(silver_name, quality.rows, silver_count, quality.quarantined)
    run.record(
        silver_name,
        rows_in=bronze_rows,
        rows_out=silver_count,
        quarantined=quarantine_count,
        warned=quality.warned,
    )
    return quality


def _rows(tables, name: str, version: int | None = None) -> int:
    """Rows of a table version as its commit recorded them (no Spark job), else counted."""
    history = tables.history(name)
    entry = history[0] if version is None else next((v for v in history if v.version == version), None)
    if entry is not None and entry.rows is not None:
        return int(entry.rows)
    return tables.read(name, version).count()


def _order(specs: dict[str, TableSpec]) -> list[TableSpec]:
    """Locations first (the referential rule reads silver.locations), then the rest in config order."""
    return sorted(specs.values(), key=lambda s: s.entity != LOCATIONS_ENTITY)


def run_silver(run: RunContext) -> dict[str, Any]:
    """Rebuild every silver table and quarantine.<entity> from bronze, and append ops.dq_results.

    Silver and quarantine are overwritten (both reflect the current bronze, so reruns are
    idempotent); ops.dq_results gets one row per table and rule, also when a `fail` rule stops
    the run (ExpectationFailed) for the tables checked so far. Returns a summary of the counts.
    """
    specs = run.config.tables
    if not any(run.tables.exists(bronze_table(e)) for e in specs):
        raise UserError(f"silver needs the bronze tables in {run.settings.warehouse}: run `lakehouse run bronze` first")
    measured: list[TableQuality] = []
    locations: DataFrame | None = None
    try:
        with sql_conf(run.spark, SILVER_CONF):
            progress.plan("tables", len(specs))
            for spec in _order(specs):
                started = time.monotonic()
                progress.working(silver_table(spec))
                measured.append(silver_entity(run, spec, locations))
                log.info(
                    "silver.%s: %d bronze rows, %d quarantined in %.1f s",
                    spec.silver_table, measured[-1].rows, measured[-1].quarantined, time.monotonic() - started,
                    extra=progress.done(1, measured[-1].rows),
                )
                if spec.entity == LOCATIONS_ENTITY:
                    locations = run.tables.read(silver_table(spec))
    except ExpectationFailed as exc:
        _append_results(run, measured + ([exc.quality] if exc.quality is not None else []))
        raise
    _append_results(run, measured)
    return {
        "tables": len(measured),
        "bronze_rows": sum(q.rows for q in measured),
        "silver_rows": sum(q.rows - q.quarantined for q in measured),
        "quarantined": sum(q.quarantined for q in measured),
        "warned": sum(q.warned for q in measured),
        "rules_failing": sum(1 for q in measured for r in q.results if r.rows_failing),
    }


def _append_results(run: RunContext, measured: list[TableQuality]) -> None:
    if measured:
        run.tables.append(DQ_RESULTS, dq_results(run.spark, measured, run.run_id, run.started_at))
