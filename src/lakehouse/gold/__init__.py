"""The gold layer: KPI tables (`run_gold`) and the churn-risk model (`scoring.run_scoring`)."""

from lakehouse.gold.kpis import (
    billing_health,
    churn_retention,
    created_at_span,
    latest_complete_month,
    location_scorecard,
    location_scorecard_bottom,
    month_spine,
)
from lakehouse.gold.run import run_gold

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
