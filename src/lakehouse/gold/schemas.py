"""Schemas gold relies on: the silver tables it reads (DOMAIN.md §3) and the tables it writes."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import types as T

MONEY = T.DecimalType(12, 2)


def _schema(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype, True) for name, dtype in fields])


S, D, TS, L, DBL = T.StringType(), T.DateType(), T.TimestampType(), T.LongType(), T.DoubleType()

SILVER = {
    "locations": _schema(("location_id", S), ("name", S), ("region", S), ("opened_on", D), ("closed_on", D)),
    "memberships": _schema(
        ("membership_id", S),
        ("customer_id", S),
        ("location_id", S),
        ("plan", S),
        ("monthly_price", MONEY),
        ("started_on", D),
        ("cancelled_on", D),
    ),
    "tickets": _schema(
        ("ticket_id", S),
        ("location_id", S),
        ("customer_id", S),
        ("created_at", TS),
        ("wash_type", S),
        ("amount", MONEY),
        ("is_member", T.BooleanType()),
        ("payment_method", S),
    ),
    "billing_attempts": _schema(
        ("attempt_id", S),
        ("membership_id", S),
        ("location_id", S),
        ("attempted_at", TS),
        ("amount", MONEY),
        ("outcome", S),
    ),
}

GOLD = {
    "churn_retention": _schema(
        ("location_id", S),
        ("month", D),
        ("members_start", L),
        ("new_members", L),
        ("churned_members", L),
        ("members_end", L),
        ("churn_rate", DBL),
        ("retention_rate", DBL),
    ),
    "billing_health": _schema(
        ("location_id", S),
        ("month", D),
        ("attempts", L),
        ("successes", L),
        ("declines", L),
        ("errors", L),
        ("success_rate", DBL),
        ("memberships_failed", L),
        ("recovered", L),
        ("recovery_rate", DBL),
        ("at_risk_revenue", MONEY),
    ),
    "location_scorecard": _schema(
        ("location_id", S),
        ("location_name", S),
        ("region", S),
        ("month", D),
        ("washes", L),
        ("revenue", MONEY),
        ("avg_ticket", MONEY),
        ("member_wash_share", DBL),
        ("members_end", L),
        ("churn_rate", DBL),
        ("billing_success_rate", DBL),
        ("score", DBL),
    ),
}
GOLD["location_scorecard_bottom"] = T.StructType(
    [T.StructField("bottom_rank", T.IntegerType(), True), *GOLD["location_scorecard"].fields]
)
GOLD["churn_risk"] = _schema(
    ("membership_id", S),
    ("customer_id", S),
    ("location_id", S),
    ("scored_on", D),
    ("risk_score", DBL),
    ("risk_band", S),
    ("model_version", S),
)


def missing_columns(df: DataFrame, entity: str) -> list[str]:
    """Columns of silver `entity` that `df` lacks (names only; types are cast by the transforms)."""
    return [f.name for f in SILVER[entity].fields if f.name not in df.columns]
