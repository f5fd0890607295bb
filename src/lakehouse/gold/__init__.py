"""Gold: the KPI tables of DOMAIN.md §4 (`kpis`), built by the step `gold.job.run_gold`."""

from lakehouse.gold.job import run_gold
from lakehouse.gold.kpis import (
    billing_health,
    churn_retention,
    created_at_span,
    latest_complete_month,
    location_scorecard,
    location_scorecard_bottom,
    month_spine,
)

__all__ = [
    "billing_health",
    "churn_retention",
    "created_at_span",
    "latest_complete_month",
    "location_scorecard",
    "location_scorecard_bottom",
    "month_spine",
    "run_gold",
]
