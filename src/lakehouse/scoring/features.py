"""Churn-model features: snapshot dates, point-in-time features of active memberships, labels.

Training rows are (membership, snapshot date) pairs: the memberships active at the start of each
snapshot date, with features computed only from data dated before it and the label "cancelled
within `label_horizon_days` from the snapshot date". Scoring applies the same features at
`scored_on`, the day after the latest ticket date (DOMAIN.md §4, gold.churn_risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.gold.kpis import utc_date

LOOKBACK_DAYS = 90  # history a feature looks at; days_since_last_wash is capped at this
NUMERIC_FEATURES = (
    "tenure_days",
    "washes_30d",
    "washes_90d",
    "wash_trend",
    "days_since_last_wash",
    "declines_30d",
    "declines_90d",
    "failures_30d",
    "unpaid_30d",
    "monthly_price",
    "location_churn_90d",
)
CATEGORICAL_FEATURES = ("plan",)
FEATURES = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def snapshot_dates(
    first_month: date,
    scored_on: date,
    every_months: int = 1,
    horizon_days: int = 30,
    warmup_months: int = 3,
) -> list[date]:
    """Training snapshot dates: month starts from `warmup_months` after `first_month`, every
    `every_months`, whose label window [date, date + horizon_days) ends on or before `scored_on`
    (so every label is fully observed)."""
    if every_months < 1 or horizon_days < 1 or warmup_months < 0:
        raise ValueError("every_months and horizon_days must be >= 1 and warmup_months >= 0")
    out, snap = [], add_months(first_month, warmup_months)
    while snap + timedelta(days=horizon_days) <= scored_on:
        out.append(snap)
        snap = add_months(snap, every_months)
    return out


def scoring_date(tickets: DataFrame) -> DataFrame:
    """One row (`scored_on`): the day after the latest tickets.created_at date (UTC); null without tickets."""
    return tickets.agg(F.date_add(utc_date(F.max("created_at")), 1).alias("scored_on"))


def snapshots_frame(spark: SparkSession, dates: Sequence[date]) -> DataFrame:
    """A DataFrame of snapshot dates (`snapshot_date`)."""
    return spark.createDataFrame([(d,) for d in dates], "snapshot_date date")


# ---------------------------------------------------------------- features and labels


def active_memberships(memberships: DataFrame, snapshots: DataFrame) -> DataFrame:
    """(membership, snapshot_date) for memberships active at the start of each snapshot date:
    started before it and not cancelled before it (the members_start rule of churn_retention)."""
    snap = F.col("snapshot_date")
    active = (F.col("started_on") < snap) & (F.col("cancelled_on").isNull() | (F.col("cancelled_on") >= snap))
    return memberships.join(F.broadcast(snapshots.select("snapshot_date")), active, how="inner")


def _in_lookback(day: Column, days: int) -> Column:
    snap = F.col("snapshot_date")
    return (day < snap) & (day >= F.date_sub(snap, days))


def wash_history(tickets: DataFrame, snapshots: DataFrame) -> DataFrame:
    """Per (customer_id, snapshot_date): washes in the 30 and 90 days before the snapshot date and
    the last wash day among them (customers without a wash in the 90 days have no row)."""
    snap, day = F.col("snapshot_date"), F.col("day")
    # each wash day counts for the snapshots in the LOOKBACK_DAYS after it. Clustering the tickets
    # by customer once lets both aggregations run without another shuffle and with hash maps
    # bounded by one partition's customers.
    return (
        tickets.where(F.col("customer_id").isNotNull())
        .select("customer_id", utc_date("created_at").alias("day"))
        .repartition("customer_id")
        .groupBy("customer_id", "day")
        .agg(F.count(F.lit(1)).alias("n"))
        .join(F.broadcast(snapshots.select("snapshot_date")), _in_lookback(day, LOOKBACK_DAYS), how="inner")
        .groupBy("customer_id", "snapshot_date")
        .agg(
            F.sum(F.when(day >= F.date_sub(snap, 30), F.col("n")).otherwise(0)).alias("washes_30d"),
            F.sum("n").alias("washes_90d"),
            F.max("day").alias("last_wash"),
        )
    )


def billing_history(billing_attempts: DataFrame, snapshots: DataFrame) -> DataFrame:
    """Per (membership_id, snapshot_date): declined attempts in the 30 and 90 days before the
    snapshot date, and attempts, failed attempts and successes in the 30 days before it."""
    snap, day, outcome = F.col("snapshot_date"), F.col("day"), F.col("outcome")
    recent = day >= F.date_sub(snap, 30)
    return (
        billing_attempts.select("membership_id", "outcome", utc_date("attempted_at").alias("day"))
        .repartition("membership_id")
        .join(F.broadcast(snapshots.select("snapshot_date")), _in_lookback(day, LOOKBACK_DAYS), how="inner")
        .groupBy("membership_id", "snapshot_date")
        .agg(
            F.count(F.when(recent & (outcome == "declined"), 1)).alias("declines_30d"),
            F.count(F.when(outcome == "declined", 1)).alias("declines_90d"),
            F.count(F.when(recent & (outcome != "success"), 1)).alias("failures_30d"),
            F.count(F.when(recent, 1)).alias("attempts_30d"),
            F.count(F.when(recent & (outcome == "success"), 1)).alias("successes_30d"),
        )
    )


def location_recent_churn(memberships: DataFrame, snapshots: DataFrame) -> DataFrame:
    """Per (location_id, snapshot_date): memberships cancelled in the 90 days before the snapshot
    date over the memberships active when those 90 days began (`location_churn_90d`)."""
    snap, cancelled = F.col("snapshot_date"), F.col("cancelled_on")
    window_start = F.date_sub(snap, LOOKBACK_DAYS)
    return (
        memberships.select("location_id", "started_on", "cancelled_on")
        .join(F.broadcast(snapshots.select("snapshot_date")), F.col("started_on") < window_start, how="inner")
        .groupBy("location_id", "snapshot_date")
        .agg(
            F.count(F.when(cancelled.isNull() | (cancelled >= window_start), 1)).alias("base"),
            F.count(F.when((cancelled >= window_start) & (cancelled < snap), 1)).alias("churned"),
        )
        .select(
            "location_id",
            "snapshot_date",
            F.when(F.col("base") > 0, F.col("churned") / F.col("base")).alias("location_churn_90d"),
        )
    )


def churn_features(
    memberships: DataFrame, tickets: DataFrame, billing_attempts: DataFrame, snapshots: DataFrame
) -> DataFrame:
    """Model features of every membership active at each snapshot date, from data dated strictly
    before the snapshot date only: tenure, the customer's washes in the last 30/90 days and their
    trend, days since the last wash (capped at 90), declined billing attempts in the last 30/90
    days, failed attempts in the last 30 days and whether that period went unpaid (attempts, no
    success), plan, monthly price and the location's churn over the last 90 days."""
    snap = F.col("snapshot_date")
    active = active_memberships(memberships, snapshots).select(
        "membership_id", "customer_id", "location_id", "plan", "monthly_price", "started_on", "snapshot_date"
    )
    joined = (
        active.join(wash_history(tickets, snapshots), ["customer_id", "snapshot_date"], how="left")
        .join(billing_history(billing_attempts, snapshots), ["membership_id", "snapshot_date"], how="left")
        .join(location_recent_churn(memberships, snapshots), ["location_id", "snapshot_date"], how="left")
    )

    def count(col: str) -> Column:
        return F.coalesce(F.col(col), F.lit(0)).cast("double")

    return joined.select(
        "membership_id",
        "customer_id",
        "location_id",
        "snapshot_date",
        F.datediff(snap, F.col("started_on")).cast("double").alias("tenure_days"),
        count("washes_30d").alias("washes_30d"),
        count("washes_90d").alias("washes_90d"),
        # the last 30 days against the average 30 days of the 60 before them
        (count("washes_30d") - (count("washes_90d") - count("washes_30d")) / 2).alias("wash_trend"),
        F.coalesce(F.datediff(snap, F.col("last_wash")), F.lit(LOOKBACK_DAYS)).cast("double").alias(
            "days_since_last_wash"
        ),
        count("declines_30d").alias("declines_30d"),
        count("declines_90d").alias("declines_90d"),
        count("failures_30d").alias("failures_30d"),
        # billed in the last 30 days without a success: the month went unpaid
        ((count("attempts_30d") > 0) & (count("successes_30d") == 0)).cast("double").alias("unpaid_30d"),
        F.col("monthly_price").cast("double").alias("monthly_price"),
        F.coalesce(F.col("location_churn_90d"), F.lit(0.0)).alias("location_churn_90d"),
        "plan",
    )


def churn_labels(features: DataFrame, memberships: DataFrame, horizon_days: int) -> DataFrame:
    """`features` with `label` 1.0 when the membership's cancelled_on falls within
    [snapshot_date, snapshot_date + horizon_days), else 0.0."""
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    cancel = memberships.select("membership_id", "cancelled_on")
    cancelled_on = F.col("cancelled_on")
    within = (
        cancelled_on.isNotNull()
        & (cancelled_on >= F.col("snapshot_date"))
        & (cancelled_on < F.date_add(F.col("snapshot_date"), horizon_days))
    )
    return features.join(cancel, "membership_id", how="left").select(
        *features.columns, F.when(within, 1.0).otherwise(0.0).alias("label")
    )


