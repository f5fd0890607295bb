"""Gold KPI transforms (DOMAIN.md §4): month spine, churn/retention, billing health, location scorecard."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.contract import DATA_COMPLETE, MONEY

MICROS_PER_DAY = 86_400_000_000


# ---------------------------------------------------------------- column helpers


def utc_date(col: str | Column) -> Column:
    """The UTC calendar date of a timestamp, whatever the session time zone is."""
    micros = F.unix_micros(F.col(col) if isinstance(col, str) else col)
    return F.date_from_unix_date(F.floor(micros / F.lit(MICROS_PER_DAY)).cast("int"))


def month_of(col: str | Column) -> Column:
    """The first day of the month of a date column."""
    return F.trunc(F.col(col) if isinstance(col, str) else col, "month")


def ratio(numerator: str | Column, denominator: str | Column) -> Column:
    """numerator / denominator as a double, null when the denominator is 0 or null."""
    num = F.col(numerator) if isinstance(numerator, str) else numerator
    den = F.col(denominator) if isinstance(denominator, str) else denominator
    return F.when(den != 0, num.cast("double") / den.cast("double"))


def _check_columns(df: DataFrame, what: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {df.columns}")


# ---------------------------------------------------------------- month spine


def month_spine(
    memberships: DataFrame, tickets: DataFrame, billing_attempts: DataFrame, until: date | None = None
) -> DataFrame:
    """One row per month (`month`, a date: the 1st) from the earliest to the latest month of any
    memberships.started_on / cancelled_on, tickets.created_at or billing_attempts.attempted_at
    (UTC), but never past the month of `until` (the run's date: a date in the future is an error
    in the data, not a month to report). Empty when all three inputs are empty."""
    _check_columns(memberships, "memberships", ("started_on", "cancelled_on"))
    _check_columns(tickets, "tickets", ("created_at",))
    _check_columns(billing_attempts, "billing_attempts", ("attempted_at",))
    bounds = [
        memberships.agg(
            F.least(F.min("started_on"), F.min("cancelled_on")).alias("lo"),
            F.greatest(F.max("started_on"), F.max("cancelled_on")).alias("hi"),
        ),
        # min/max of the timestamps first, then their dates: one cheap pass over the big tables
        tickets.agg(utc_date(F.min("created_at")).alias("lo"), utc_date(F.max("created_at")).alias("hi")),
        billing_attempts.agg(
            utc_date(F.min("attempted_at")).alias("lo"), utc_date(F.max("attempted_at")).alias("hi")
        ),
    ]
    both = bounds[0].unionByName(bounds[1]).unionByName(bounds[2])
    hi = month_of(F.max("hi"))
    if until is not None:
        hi = F.least(hi, month_of(F.lit(until)))
    span = both.agg(month_of(F.min("lo")).alias("lo"), hi.alias("hi"))
    months = F.when(F.col("lo") <= F.col("hi"), F.sequence("lo", "hi", F.expr("INTERVAL 1 MONTH")))
    return span.select(F.explode(months).alias("month"))


def created_at_span(tickets: DataFrame) -> DataFrame:
    """Two rows (`created_at`): the earliest and the latest tickets.created_at (none without
    tickets). Transforms that only use the span of ticket times (month_spine,
    latest_complete_month, scoring_date) give the same result from it as from all tickets, so a
    job can scan the big table once and pass this instead."""
    _check_columns(tickets, "tickets", ("created_at",))
    return (
        tickets.agg(F.array(F.min("created_at"), F.max("created_at")).alias("span"))
        .select(F.explode("span").alias("created_at"))
        .where(F.col("created_at").isNotNull())
    )


def location_months(locations: DataFrame, spine: DataFrame) -> DataFrame:
    """Every (location_id, month): the grid every KPI table has one row per."""
    _check_columns(locations, "locations", ("location_id",))
    _check_columns(spine, "spine", ("month",))
    return locations.select("location_id").join(spine.select("month"), how="cross")


# ---------------------------------------------------------------- churn and retention


def churn_retention(memberships: DataFrame, locations: DataFrame, spine: DataFrame) -> DataFrame:
    """gold.churn_retention: members at the start and end of each month, new and churned members,
    churn and retention rates, per location and month of the spine.

    Computed from running counts instead of memberships x months: members at a date D are the
    memberships started before D minus those both started and cancelled before D, i.e. whose
    greatest(started_on, cancelled_on) is before D. That is exact for any row, even one whose
    cancelled_on precedes started_on.
    """
    _check_columns(memberships, "memberships", ("location_id", "started_on", "cancelled_on"))
    cancelled = F.col("cancelled_on").isNotNull()
    events = memberships.select(
        "location_id",
        F.explode(
            F.array(
                F.struct(month_of("started_on").alias("month"), F.lit("started").alias("kind")),
                F.struct(
                    F.when(cancelled, month_of("cancelled_on")).alias("month"), F.lit("cancelled").alias("kind")
                ),
                F.struct(
                    F.when(cancelled, month_of(F.greatest("started_on", "cancelled_on"))).alias("month"),
                    F.lit("closed").alias("kind"),
                ),
            )
        ).alias("e"),
    ).where(F.col("e.month").isNotNull())
    counts = events.groupBy("location_id", F.col("e.month").alias("month")).agg(
        F.count(F.when(F.col("e.kind") == "started", 1)).alias("n_started"),
        F.count(F.when(F.col("e.kind") == "cancelled", 1)).alias("n_cancelled"),
        F.count(F.when(F.col("e.kind") == "closed", 1)).alias("n_closed"),
    )
    grid = location_months(locations, spine).join(counts, ["location_id", "month"], how="left")
    by_loc = Window.partitionBy("location_id").orderBy("month")
    before = by_loc.rowsBetween(Window.unboundedPreceding, -1)
    through = by_loc.rowsBetween(Window.unboundedPreceding, Window.currentRow)

    def running(col: str, frame) -> Column:
        return F.coalesce(F.sum(F.coalesce(F.col(col), F.lit(0))).over(frame), F.lit(0))

    members_start = running("n_started", before) - running("n_closed", before)
    members_end = running("n_started", through) - running("n_closed", through)
    out = grid.select(
        "location_id",
        "month",
        members_start.cast("long").alias("members_start"),
        F.coalesce("n_started", F.lit(0)).cast("long").alias("new_members"),
        F.coalesce("n_cancelled", F.lit(0)).cast("long").alias("churned_members"),
        members_end.cast("long").alias("members_end"),
    )
    churn = ratio("churned_members", "members_start")
    return out.select("*", churn.alias("churn_rate"), (F.lit(1.0) - churn).alias("retention_rate"))


# ---------------------------------------------------------------- billing health


def billing_health(
    billing_attempts: DataFrame, memberships: DataFrame, locations: DataFrame, spine: DataFrame
) -> DataFrame:
    """gold.billing_health: billing attempts of each month grouped by the attempt's location_id:
    counts by outcome, success rate, failed memberships, recoveries and the revenue at risk.

    A membership is judged within one (location, month): failed when none of its attempts there
    succeeded; recovered when its first attempt (by attempted_at, then attempt_id) was not a
    success and a later one was. at_risk_revenue sums the failed memberships' monthly_price.
    """
    _check_columns(
        billing_attempts,
        "billing_attempts",
        ("attempt_id", "membership_id", "location_id", "attempted_at", "outcome"),
    )
    _check_columns(memberships, "memberships", ("membership_id", "monthly_price"))
    outcome = F.col("outcome")
    per_membership = (
        billing_attempts.select(
            "location_id",
            month_of(utc_date("attempted_at")).alias("month"),
            "membership_id",
            "attempt_id",
            "attempted_at",
            "outcome",
        )
        .groupBy("location_id", "month", "membership_id")
        .agg(
            F.count(F.lit(1)).alias("attempts"),
            F.count(F.when(outcome == "success", 1)).alias("successes"),
            F.count(F.when(outcome == "declined", 1)).alias("declines"),
            F.count(F.when(outcome == "error", 1)).alias("errors"),
            F.min(F.struct("attempted_at", "attempt_id", "outcome")).alias("first"),
        )
    )
    prices = memberships.select("membership_id", "monthly_price")
    failed = F.col("successes") == 0
    first_not_success = F.col("first.outcome") != "success"
    # its first attempt was not a success, so any success in the month came later
    recovered = first_not_success & (F.col("successes") > 0)
    per_location = (
        per_membership.join(prices, "membership_id", how="left")
        .groupBy("location_id", "month")
        .agg(
            F.sum("attempts").alias("attempts"),
            F.sum("successes").alias("successes"),
            F.sum("declines").alias("declines"),
            F.sum("errors").alias("errors"),
            F.count(F.when(failed, 1)).alias("memberships_failed"),
            F.count(F.when(recovered, 1)).alias("recovered"),
            F.count(F.when(first_not_success, 1)).alias("first_attempt_failed"),
            F.sum(F.when(failed, F.col("monthly_price"))).alias("at_risk_revenue"),
        )
    )
    grid = location_months(locations, spine).join(per_location, ["location_id", "month"], how="left")

    def count(col: str) -> Column:
        return F.coalesce(F.col(col), F.lit(0)).cast("long").alias(col)

    out = grid.select(
        "location_id",
        "month",
        count("attempts"),
        count("successes"),
        count("declines"),
        count("errors"),
        count("memberships_failed"),
        count("recovered"),
        count("first_attempt_failed"),
        F.coalesce(F.col("at_risk_revenue"), F.lit(0)).cast(MONEY).alias("at_risk_revenue"),
    )
    return out.select(
        "location_id",
        "month",
        "attempts",
        "successes",
        "declines",
        "errors",
        ratio("successes", "attempts").alias("success_rate"),
        "memberships_failed",
        "recovered",
        ratio("recovered", "first_attempt_failed").alias("recovery_rate"),
        "at_risk_revenue",
    )


# ---------------------------------------------------------------- location scorecard


def percent_rank_in_month(col: Column) -> Column:
    """(rank - 1) / (n - 1) of `col` ascending among the rows of the same month; ties share the
    lower rank; 0 when the month has one row (Spark's percent_rank)."""
    return F.percent_rank().over(Window.partitionBy("month").orderBy(col))


def location_scorecard(
    tickets: DataFrame,
    churn: DataFrame,
    billing: DataFrame,
    locations: DataFrame,
    spine: DataFrame,
) -> DataFrame:
    """gold.location_scorecard: washes, revenue, average ticket and member share per location and
    month, with members_end and churn_rate from `churn` (gold.churn_retention), the billing success
    rate from `billing` (gold.billing_health) and the composite score

        0.4 * pr(revenue) + 0.3 * pr(-churn_rate) + 0.3 * pr(billing_success_rate)

    (pr = percent rank among the month's locations; a null churn_rate counts as 1 and a null
    success rate as 0, so missing data ranks worst). The location's name and region are carried
    along for readers.
    """
    _check_columns(tickets, "tickets", ("location_id", "created_at", "amount", "is_member"))
    _check_columns(churn, "churn", ("location_id", "month", "members_end", "churn_rate"))
    _check_columns(billing, "billing", ("location_id", "month", "success_rate"))
    _check_columns(locations, "locations", ("location_id", "name", "region"))
    per_month = tickets.groupBy("location_id", month_of(utc_date("created_at")).alias("month")).agg(
        F.count(F.lit(1)).alias("washes"),
        F.sum("amount").alias("revenue"),
        F.count(F.when(F.col("is_member"), 1)).alias("member_washes"),
    )
    grid = (
        locations.select("location_id", F.col("name").alias("location_name"), "region")
        .join(spine.select("month"), how="cross")
        .join(per_month, ["location_id", "month"], how="left")
        .join(churn.select("location_id", "month", "members_end", "churn_rate"), ["location_id", "month"], how="left")
        .join(
            billing.select("location_id", "month", F.col("success_rate").alias("billing_success_rate")),
            ["location_id", "month"],
            how="left",
        )
    )
    washes = F.coalesce(F.col("washes"), F.lit(0)).cast("long")
    revenue = F.coalesce(F.col("revenue"), F.lit(0)).cast(MONEY)
    kpis = grid.select(
        "location_id",
        "location_name",
        "region",
        "month",
        washes.alias("washes"),
        revenue.alias("revenue"),
        F.when(washes > 0, (revenue / washes).cast(MONEY)).alias("avg_ticket"),
        ratio(F.coalesce(F.col("member_washes"), F.lit(0)), washes).alias("member_wash_share"),
        "members_end",
        "churn_rate",
        "billing_success_rate",
    )
    score = (
        F.lit(0.4) * percent_rank_in_month(F.col("revenue"))
        + F.lit(0.3) * percent_rank_in_month(-F.coalesce(F.col("churn_rate"), F.lit(1.0)))
        + F.lit(0.3) * percent_rank_in_month(F.coalesce(F.col("billing_success_rate"), F.lit(0.0)))
    )
    return kpis.select("*", score.alias("score"))


def latest_complete_month(scorecard: DataFrame, tickets: DataFrame) -> DataFrame:
    """One row (`month`): the latest month of `scorecard` whose next month starts on or before
    max(tickets.created_at); the latest month when none does (or there are no tickets)."""
    last_ticket_day = tickets.agg(utc_date(F.max("created_at")).alias("last_day"))
    months = scorecard.select("month").distinct().join(last_ticket_day, how="cross")
    # the next month's start (UTC midnight) <= max(created_at)  <=>  it is <= the UTC date of the max
    complete = F.add_months("month", 1) <= F.col("last_day")
    return months.agg(F.coalesce(F.max(F.when(complete, F.col("month"))), F.max("month")).alias("month"))


def location_scorecard_bottom(scorecard: DataFrame, tickets: DataFrame, n: int = 20) -> DataFrame:
    """gold.location_scorecard_bottom: the `n` rows of the scorecard with the lowest score in the
    latest complete month, ranked 1..n by score, then location_id (`bottom_rank`).

    Locations whose data of that month is incomplete (`data_complete` false: a store serving them
    did not export the whole month) are left out: their low washes, revenue and churn would be the
    missing exports', not the location's. They keep their row in the scorecard, flagged.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    _check_columns(scorecard, "scorecard", ("location_id", "month", "score", DATA_COMPLETE))
    _check_columns(tickets, "tickets", ("created_at",))
    month = latest_complete_month(scorecard, tickets)
    rank = F.row_number().over(Window.partitionBy("month").orderBy("score", "location_id"))
    complete = scorecard.where(F.coalesce(F.col(DATA_COMPLETE), F.lit(True)))  # null: not judged, kept
    ranked = complete.join(month, "month", how="inner").select(rank.alias("bottom_rank"), *scorecard.columns)
    return ranked.where(F.col("bottom_rank") <= n).select(
        F.col("bottom_rank").cast("int").alias("bottom_rank"), *scorecard.columns
    )


# ---------------------------------------------------------------- completeness


def serving_stores(*lineage: DataFrame) -> DataFrame:
    """(location_id, store_id): the stores that exported rows of each location, from bronze lineage.

    Each input is a bronze table (or any frame) with `sLocationId` and `_store_id`; a location two
    stores exported is served by both."""
    pairs = [df.select(F.col("sLocationId").alias("location_id"), F.col("_store_id").alias("store_id")) for df in lineage]
    if not pairs:
        raise ValueError("serving_stores needs at least one bronze frame")
    union = pairs[0]
    for more in pairs[1:]:
        union = union.unionByName(more)
    return union.where(F.col("location_id").isNotNull() & F.col("store_id").isNotNull()).distinct()


def location_month_complete(
    locations: DataFrame, spine: DataFrame, serving: DataFrame, coverage: DataFrame, entities: tuple[str, ...]
) -> DataFrame:
    """(location_id, month, data_complete) for every location x month of the spine.

    A month of a location is complete when every store serving it (`serving`: location_id,
    store_id) has exports of every one of `entities` covering the whole month: its `covered_until`
    (`coverage`: store_id, entity, covered_until, the first day its exports do not cover) is on or
    after the next month's first day. A store that never exported one of them leaves the location
    incomplete; a location no store is known to serve is complete (there is nothing to miss).
    """
    _check_columns(serving, "serving", ("location_id", "store_id"))
    _check_columns(coverage, "coverage", ("store_id", "entity", "covered_until"))
    if not entities:
        raise ValueError("entities must name at least one entity")
    needed = serving.select(
        "location_id", "store_id", F.explode(F.array(*[F.lit(e) for e in entities])).alias("entity")
    ).join(coverage.select("store_id", "entity", "covered_until"), ["store_id", "entity"], how="left")
    grid = location_months(locations, spine)
    short = F.col("covered_until").isNull() | (F.col("covered_until") < F.add_months("month", 1))
    judged = grid.join(needed, "location_id", how="left").groupBy("location_id", "month").agg(
        F.max(F.when(F.col("store_id").isNotNull(), short.cast("int")).otherwise(F.lit(0))).alias("_short")
    )
    return judged.select("location_id", "month", (F.col("_short") == 0).alias(DATA_COMPLETE))


def with_data_complete(complete: DataFrame):
    """Add `data_complete` (from `location_month_complete`) to a frame with one row per location_id and month."""
    _check_columns(complete, "complete", ("location_id", "month", DATA_COMPLETE))

    def transform(df: DataFrame) -> DataFrame:
        _check_columns(df, "frame", ("location_id", "month"))
        flags = complete.select("location_id", "month", DATA_COMPLETE)
        return df.join(flags, ["location_id", "month"], how="left").select(*df.columns, DATA_COMPLETE)

    return transform
