"""The gold job: read silver through the table layer, build the KPI tables, write them to gold."""

from __future__ import annotations

from typing import Any

from lakehouse.gold.kpis import (
    billing_health,
    churn_retention,
    created_at_span,
    location_scorecard,
    location_scorecard_bottom,
    month_spine,
)

SILVER_INPUTS = ("silver.locations", "silver.memberships", "silver.tickets", "silver.billing_attempts")
GOLD_TABLES = (
    "gold.churn_retention",
    "gold.billing_health",
    "gold.location_scorecard",
    "gold.location_scorecard_bottom",
)


def _read_inputs(run) -> dict[str, Any]:
    from lakehouse.errors import UserError

    missing = [name for name in SILVER_INPUTS if not run.tables.exists(name)]
    if missing:
        raise UserError(f"gold needs {', '.join(missing)} in {run.settings.warehouse}: run `lakehouse run silver` first")
    return {name.split(".")[1]: run.tables.read(name) for name in SILVER_INPUTS}


def run_gold(run) -> dict[str, Any]:
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
    spine_rows = month_spine(memberships, ticket_span, attempts).collect()
    spine = spark.createDataFrame(spine_rows, "month date")
    n_locations = locations.count()

    counts: dict[str, int] = {}

    def publish(name: str, df, rows_in: int):
        run.tables.overwrite(name, df)
        written = run.tables.read(name)
        counts[name] = written.count()
        run.record(name, rows_in=rows_in, rows_out=counts[name], months=len(spine_rows), locations=n_locations)
        return written

    churn = publish("gold.churn_retention", churn_retention(memberships, locations, spine), memberships.count())
    billing = publish(
        "gold.billing_health", billing_health(attempts, memberships, locations, spine), attempts.count()
    )
    n_tickets = tickets.count()
    scorecard = publish(
        "gold.location_scorecard", location_scorecard(tickets, churn, billing, locations, spine), n_tickets
    )
    bottom = publish(
        "gold.location_scorecard_bottom",
        location_scorecard_bottom(scorecard, ticket_span, n=run.settings.gold.bottom_n),
        counts["gold.location_scorecard"],
    )
    first = bottom.select("month").first()
    month = first["month"] if first else None
    return {
        "months": len(spine_rows),
        "first_month": str(spine_rows[0]["month"]) if spine_rows else None,
        "last_month": str(spine_rows[-1]["month"]) if spine_rows else None,
        "latest_complete_month": str(month) if month else None,
        "locations": n_locations,
        "tickets": n_tickets,
        "rows": {name.split(".")[1]: n for name, n in counts.items()},
    }
