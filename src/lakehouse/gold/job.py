"""The gold job: read silver through the table layer, build the KPI tables, write them to gold."""

from __future__ import annotations

import logging
import time
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse import faults, progress
from lakehouse.contract import (
    BILLING_HEALTH,
    BRONZE_MANIFEST,
    CHURN_RETENTION,
    DATA_COMPLETE,
    LOCATION_SCORECARD,
    LOCATION_SCORECARD_BOTTOM,
    bronze_table,
    silver_table,
)
from lakehouse.errors import UserError
from lakehouse.gold.kpis import (
    billing_health,
    churn_retention,
    created_at_span,
    latest_complete_month,
    location_month_complete,
    location_scorecard,
    location_scorecard_bottom,
    month_spine,
    serving_stores,
    with_data_complete,
)
from lakehouse.ops.freshness import export_coverage, last_exports
from lakehouse.runtime import RunContext

log = logging.getLogger("lakehouse.gold")

SILVER_INPUTS = ("locations", "memberships", "tickets", "billing_attempts")  # the entities gold reads
# the entities whose exports each KPI table is built from: its `data_complete` needs every store
# serving the location to have exported all of them through the month's end
COMPLETENESS_ENTITIES = {
    CHURN_RETENTION: ("memberships",),
    BILLING_HEALTH: ("billing_attempts",),
    LOCATION_SCORECARD: ("tickets", "memberships", "billing_attempts"),
}


def _read_inputs(run: RunContext) -> dict[str, Any]:
    names = {entity: silver_table(run.config.tables[entity]) for entity in SILVER_INPUTS}
    missing = [name for name in names.values() if not run.tables.exists(name)]
    if missing:
        raise UserError(f"gold needs {', '.join(missing)} in {run.settings.warehouse}: run `lakehouse run silver` first")
    return {entity: run.tables.read(name) for entity, name in names.items()}


def _serving_and_coverage(run: RunContext) -> tuple[DataFrame, DataFrame]:
    """Which stores serve each location (bronze lineage) and how far their exports reach (the manifest).

    Without bronze tables or a manifest (silver built some other way) both are empty: no location
    has a known store, so every month counts as complete."""
    spark = run.spark
    lineage = [run.tables.read(bronze_table(e)) for e in SILVER_INPUTS if run.tables.exists(bronze_table(e))]
    serving = (
        serving_stores(*lineage) if lineage else spark.createDataFrame([], "location_id string, store_id string")
    )
    if run.tables.exists(BRONZE_MANIFEST):
        coverage = export_coverage(last_exports(run.tables.read(BRONZE_MANIFEST)))
    else:
        coverage = spark.createDataFrame([], "store_id string, entity string, covered_until date")
    # both are small (locations x stores, stores x entities): compute them once for the three tables
    return serving.localCheckpoint(), coverage.localCheckpoint()


def run_gold(run: RunContext) -> dict[str, Any]:
    """Build gold.churn_retention, gold.billing_health, gold.location_scorecard and
    gold.location_scorecard_bottom from silver, record their counts in the run log and return a
    summary (months, locations, latest complete month, rows per table).

    The small tables are written first and read back, so the scorecard does not recompute them
    and the big silver tables are scanned as few times as possible.
    """
    src = _read_inputs(run)
    locations, memberships = src["locations"], src["memberships"]
    tickets, attempts = src["tickets"], src["billing_attempts"]
    spark = run.spark

    # the spine and the latest complete month only need the earliest and latest created_at: scan
    # the big tickets table for them once, and hand the transforms those two rows instead
    ticket_span = created_at_span(tickets).localCheckpoint()
    # the spine is a handful of rows: materialize it once instead of recomputing it per table
    spine_rows = month_spine(memberships, ticket_span, attempts, until=run.started_at.date()).collect()
    spine = spark.createDataFrame(spine_rows, "month date")
    n_locations = locations.count()

    counts: dict[str, int] = {}
    serving, coverage = _serving_and_coverage(run)

    def flagged(name: str, df: DataFrame) -> DataFrame:
        complete = location_month_complete(locations, spine, serving, coverage, COMPLETENESS_ENTITIES[name])
        return df.transform(with_data_complete(complete))

    progress.plan("tables", 4)

    def publish(name: str, df, rows_in: int):
        started = time.monotonic()
        progress.working(name)
        run.tables.overwrite(name, df)
        faults.point("gold.table_written")
        written = run.tables.read(name)
        counts[name] = written.count()
        details = {"months": len(spine_rows), "locations": n_locations}
        if DATA_COMPLETE in written.columns:
            details["incomplete"] = written.where(~F.col(DATA_COMPLETE)).count()
        run.record(name, rows_in=rows_in, rows_out=counts[name], **details)
        log.info("%s: %d rows from %d in %.1f s", name, counts[name], rows_in, time.monotonic() - started,
                 extra=progress.done(1, rows_in))
        return written

    churn = publish(
        CHURN_RETENTION, flagged(CHURN_RETENTION, churn_retention(memberships, locations, spine)), memberships.count()
    )
    billing = publish(
        BILLING_HEALTH,
        flagged(BILLING_HEALTH, billing_health(attempts, memberships, locations, spine)),
        attempts.count(),
    )
    n_tickets = tickets.count()
    scorecard = publish(
        LOCATION_SCORECARD,
        flagged(LOCATION_SCORECARD, location_scorecard(tickets, churn, billing, locations, spine)),
        n_tickets,
    )
    publish(
        LOCATION_SCORECARD_BOTTOM,
        location_scorecard_bottom(scorecard, ticket_span, n=run.settings.gold.bottom_n),
        counts[LOCATION_SCORECARD],
    )
    month = latest_complete_month(scorecard, ticket_span).first()["month"]  # also when every location is left out
    left_out = (
        scorecard.where((F.col("month") == F.lit(month)) & ~F.col(DATA_COMPLETE)).count() if month else 0
    )
    return {
        "months": len(spine_rows),
        "first_month": str(spine_rows[0]["month"]) if spine_rows else None,
        "last_month": str(spine_rows[-1]["month"]) if spine_rows else None,
        "latest_complete_month": str(month) if month else None,
        "incomplete_locations": left_out,  # of that month, left out of the bottom scorecard
        "locations": n_locations,
        "tickets": n_tickets,
        "rows": {name.split(".")[1]: n for name, n in counts.items()},
    }
