"""Scoring: the churn-risk model (features, training, model store) and `gold.churn_risk` (DOMAIN.md §4).

The step is `scoring.job.run_scoring`.
"""

from lakehouse.scoring.job import run_scoring

__all__ = ["run_scoring"]
