"""Churn-risk model: point-in-time features, MLlib training with a time-based split, scoring.

Training rows are (membership, snapshot date) pairs: the memberships active at the start of each
snapshot date, with features computed only from data dated before it and the label "cancelled
within `label_horizon_days` from the snapshot date". Scoring applies the same features at
`scored_on`, the day after the latest ticket date (DOMAIN.md §4, gold.churn_risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pyspark import StorageLevel
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.errors import UserError
from lakehouse.gold.kpis import created_at_span, month_spine, utc_date

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
ALGORITHMS = ("logistic_regression", "gbt")
MODEL_NAME = "churn_risk"
LOW_BELOW, HIGH_FROM = 0.3, 0.6


# ---------------------------------------------------------------- snapshots


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


# ---------------------------------------------------------------- model


def churn_pipeline(algorithm: str, seed: int = 7, gbt_max_iter: int = 30) -> Pipeline:
    """The untrained MLlib pipeline: plan one-hot, feature vector, then the classifier."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    indexer = StringIndexer(
        inputCol="plan", outputCol="plan_index", handleInvalid="keep", stringOrderType="alphabetAsc"
    )
    encoder = OneHotEncoder(inputCols=["plan_index"], outputCols=["plan_vector"], handleInvalid="keep")
    assembler = VectorAssembler(inputCols=[*NUMERIC_FEATURES, "plan_vector"], outputCol="features")
    if algorithm == "logistic_regression":
        classifier = LogisticRegression(
            featuresCol="features", labelCol="label", maxIter=50, regParam=0.001, standardization=True
        )
    else:
        classifier = GBTClassifier(
            featuresCol="features",
            labelCol="label",
            maxIter=gbt_max_iter,
            maxDepth=4,
            stepSize=0.1,
            subsamplingRate=0.8,
            seed=seed,
        )
    return Pipeline(stages=[indexer, encoder, assembler, classifier])


def roc_auc(model: PipelineModel, rows: DataFrame) -> float:
    """Area under the ROC curve of `model` on labelled `rows`."""
    evaluator = BinaryClassificationEvaluator(
        labelCol="label", rawPredictionCol="rawPrediction", metricName="areaUnderROC"
    )
    return float(evaluator.evaluate(model.transform(rows)))


@dataclass(frozen=True)
class TimeSplit:
    """Snapshot dates of a time-based split; the test dates all come after the training ones."""

    train: tuple[date, ...]
    test: tuple[date, ...]


def time_split(dates: Sequence[date], test_fraction: float, horizon_days: int) -> TimeSplit:
    """Hold out the latest `test_fraction` of the snapshot dates (at least one) for the test set;
    the training dates are the earlier ones whose label window ends by the first test date, so no
    training label looks into the test period."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    ordered = sorted(set(dates))
    n_test = max(1, round(len(ordered) * test_fraction))
    test = ordered[len(ordered) - n_test :]
    train = [d for d in ordered[: len(ordered) - n_test] if test and d + timedelta(days=horizon_days) <= test[0]]
    if not train or not test:
        raise UserError(
            f"not enough history to train the churn model: {len(ordered)} snapshot date(s) "
            f"({', '.join(map(str, ordered)) or 'none'}); need at least two months with "
            f"{horizon_days} days of data after them (lower scoring.warmup_months or load more data)"
        )
    return TimeSplit(tuple(train), tuple(test))


def risk_band(score: Column) -> Column:
    """low below 0.3, medium from 0.3 to below 0.6, high from 0.6."""
    return F.when(score < LOW_BELOW, "low").when(score < HIGH_FROM, "medium").otherwise("high")


def churn_risk(model: PipelineModel, features: DataFrame, model_version: str) -> DataFrame:
    """gold.churn_risk: each membership's probability of cancelling within the horizon, its risk
    band and the model version, from features computed at the scoring date."""
    scored = model.transform(features)
    risk = vector_to_array(F.col("probability")).getItem(1)
    return scored.select(
        "membership_id",
        "customer_id",
        "location_id",
        F.col("snapshot_date").alias("scored_on"),
        risk.alias("risk_score"),
        risk_band(risk).alias("risk_band"),
        F.lit(model_version).alias("model_version"),
    )


# ---------------------------------------------------------------- model store


def model_root(warehouse: str) -> str:
    """Where saved churn models live: `<warehouse>/models/churn_risk`."""
    return f"{warehouse.rstrip('/')}/models/{MODEL_NAME}"


def new_model_version(started_at: datetime, run_id: str) -> str:
    """`v<UTC time of the run>-<run id suffix>`: sortable by training time, unique per run."""
    return f"v{started_at:%Y%m%dT%H%M%SZ}-{run_id.rsplit('-', 1)[-1]}"


def _hadoop_fs(spark: SparkSession, path: str):
    jvm = spark._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark._jsc.hadoopConfiguration()), p


def saved_versions(spark: SparkSession, warehouse: str) -> list[str]:
    """Model versions saved under the warehouse (complete saves only), oldest first."""
    fs, root = _hadoop_fs(spark, model_root(warehouse))
    if not fs.exists(root):
        return []
    out = []
    for status in fs.listStatus(root):
        name = status.getPath().getName()
        if status.isDirectory() and fs.exists(status.getPath().suffix("/metadata")):
            out.append(name)
    return sorted(out)


def resolve_version(spark: SparkSession, warehouse: str, requested: str) -> str:
    """`requested` itself, or the newest saved version for `latest`; UserError when not saved."""
    versions = saved_versions(spark, warehouse)
    if requested == "latest":
        if not versions:
            raise UserError(
                f"no saved churn model under {model_root(warehouse)}: run `lakehouse run scoring` "
                "without --model-version to train one"
            )
        return versions[-1]
    if requested not in versions:
        known = ", ".join(versions[-5:]) or "none"
        raise UserError(
            f"--model-version {requested!r} is not saved under {model_root(warehouse)} "
            f"(latest saved: {known}); pass one of them or 'latest'"
        )
    return requested


# ---------------------------------------------------------------- the job


METRICS_SCHEMA = T.StructType(
    [
        T.StructField("model_version", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("trained_at", T.TimestampType(), False),
        T.StructField("algorithm", T.StringType(), False),
        T.StructField("train_rows", T.LongType(), False),
        T.StructField("test_rows", T.LongType(), False),
        T.StructField("train_positives", T.LongType(), False),
        T.StructField("test_positives", T.LongType(), False),
        T.StructField("train_from", T.DateType(), False),
        T.StructField("train_to", T.DateType(), False),
        T.StructField("test_from", T.DateType(), False),
        T.StructField("test_to", T.DateType(), False),
        T.StructField("label_horizon_days", T.IntegerType(), False),
        T.StructField("features", T.ArrayType(T.StringType(), False), False),
        T.StructField("roc_auc", T.DoubleType(), False),
        T.StructField("candidate_auc", T.MapType(T.StringType(), T.DoubleType(), False), True),
        T.StructField("model_path", T.StringType(), False),
    ]
)


@dataclass(frozen=True)
class TrainedModel:
    """A fitted churn model with what model_metrics records about it."""

    model: PipelineModel
    algorithm: str
    auc: float
    candidate_auc: dict[str, float]
    split: TimeSplit
    counts: dict[str, int]


def _label_counts(rows: DataFrame) -> tuple[int, int]:
    row = rows.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("pos")).first()
    return int(row["n"]), int(row["pos"] or 0)


ROWS_PER_FIT_PARTITION = 50_000


def sample_rows(rows: DataFrame, n_rows: int, max_rows: int, seed: int) -> DataFrame:
    """`rows` (of which there are `n_rows`), or a seeded random sample of about `max_rows` of them,
    in one partition per 50,000 rows: the fits run one job per iteration, so fewer tasks per job
    is what makes small fits fast."""
    sampled = rows if n_rows <= max_rows else rows.sample(fraction=max_rows / n_rows, seed=seed)
    return sampled.coalesce(max(1, min(n_rows, max_rows) // ROWS_PER_FIT_PARTITION))


def train_churn_model(
    labelled: DataFrame,
    split: TimeSplit,
    algorithm: str,
    horizon_days: int,
    seed: int = 7,
    max_train_rows: int = 200_000,
    gbt_max_iter: int = 30,
) -> TrainedModel:
    """Fit on the training snapshots and measure ROC AUC on the later test snapshots.

    With `algorithm="auto"` both logistic regression and gradient-boosted trees are fitted on the
    earlier part of the training snapshots and compared on its later part (a validation split
    that never touches the test set); the better one is refitted on all training snapshots.
    Fits use a random sample of at most `max_train_rows` rows; the AUCs use every row.
    """
    snap = F.col("snapshot_date")
    train = labelled.where(snap.isin(list(split.train)))
    test = labelled.where(snap.isin(list(split.test)))
    n_train, pos_train = _label_counts(train)
    n_test, pos_test = _label_counts(test)
    for name, n, pos in (("training", n_train, pos_train), ("test", n_test, pos_test)):
        if pos == 0 or pos == n:
            raise UserError(
                f"the {name} snapshots have {pos} cancellation(s) among {n} rows: both classes are "
                "needed to train and measure the churn model; load more history"
            )
    candidates: dict[str, float] = {}
    chosen = algorithm
    if algorithm == "auto":
        try:
            inner = time_split(split.train, 0.25, horizon_days)
        except UserError:  # too few training snapshots to hold some out: take the simpler model
            inner = None
        if inner is None:
            chosen = "logistic_regression"
        else:
            fit_rows = labelled.where(snap.isin(list(inner.train)))
            # candidates compete on a smaller sample: only their ranking matters here
            fit_rows = sample_rows(fit_rows, fit_rows.count(), max(1_000, max_train_rows // 4), seed)
            check_rows = labelled.where(snap.isin(list(inner.test)))
            check_rows = sample_rows(check_rows, check_rows.count(), max_train_rows, seed)
            for name in ALGORITHMS:
                candidates[name] = roc_auc(churn_pipeline(name, seed, gbt_max_iter).fit(fit_rows), check_rows)
            chosen = max(ALGORITHMS, key=lambda a: (candidates[a], a == "logistic_regression"))
    elif algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be 'auto' or one of {ALGORITHMS}, got {algorithm!r}")
    model = churn_pipeline(chosen, seed, gbt_max_iter).fit(sample_rows(train, n_train, max_train_rows, seed))
    return TrainedModel(
        model=model,
        algorithm=chosen,
        auc=roc_auc(model, test),
        candidate_auc=candidates,
        split=split,
        counts={"train_rows": n_train, "test_rows": n_test, "train_positives": pos_train, "test_positives": pos_test},
    )


def metrics_row(trained: TrainedModel, model_version: str, run_id: str, trained_at: datetime, path: str,
                horizon_days: int) -> dict[str, Any]:
    """The gold.model_metrics row of a trained model."""
    return {
        "model_version": model_version,
        "run_id": run_id,
        "trained_at": trained_at.replace(tzinfo=None),
        "algorithm": trained.algorithm,
        **trained.counts,
        "train_from": trained.split.train[0],
        "train_to": trained.split.train[-1],
        "test_from": trained.split.test[0],
        "test_to": trained.split.test[-1],
        "label_horizon_days": horizon_days,
        "features": list(FEATURES),
        "roc_auc": trained.auc,
        "candidate_auc": trained.candidate_auc or None,
        "model_path": path,
    }


def _scalar(df: DataFrame, column: str):
    return df.first()[column]


def run_scoring(run, model_version: str | None = None) -> dict[str, Any]:
    """Train the churn model (model_version None) or load a saved one ('latest' or a version),
    then score the memberships active on scored_on into gold.churn_risk.

    Training appends a row to gold.model_metrics and saves the Spark ML pipeline under
    `<warehouse>/models/churn_risk/<model_version>`. Returns a summary with 'model_version',
    'auc' (the test ROC AUC, from model_metrics when a saved model is reused), 'scored_on' and
    the number of memberships per risk band.
    """
    settings = run.settings.scoring
    spark = run.spark
    for name in ("silver.memberships", "silver.tickets", "silver.billing_attempts"):
        if not run.tables.exists(name):
            raise UserError(f"scoring needs {name} in {run.settings.warehouse}: run `lakehouse run silver` first")
    memberships = run.tables.read("silver.memberships")
    tickets = run.tables.read("silver.tickets")
    attempts = run.tables.read("silver.billing_attempts")
    ticket_span = created_at_span(tickets).localCheckpoint()  # one scan of tickets for both dates
    scored_on = _scalar(scoring_date(ticket_span), "scored_on")
    if scored_on is None:
        raise UserError("silver.tickets is empty: nothing to date the churn scores by")
    scoring_rows = F.col("snapshot_date") == F.lit(scored_on)

    summary: dict[str, Any] = {"scored_on": str(scored_on)}
    if model_version is None:
        first_month = _scalar(month_spine(memberships, ticket_span, attempts).agg(F.min("month").alias("m")), "m")
        dates = snapshot_dates(
            first_month,
            scored_on,
            settings.snapshot_every_months,
            settings.label_horizon_days,
            settings.warmup_months,
        )
        split = time_split(dates, settings.test_fraction, settings.label_horizon_days)
        # training, test and scoring rows in one pass over tickets and billing attempts
        used = snapshots_frame(spark, [*split.train, *split.test, scored_on])
        rows = churn_labels(
            churn_features(memberships, tickets, attempts, used), memberships, settings.label_horizon_days
        ).persist(StorageLevel.MEMORY_AND_DISK)
    else:
        rows = churn_features(memberships, tickets, attempts, snapshots_frame(spark, [scored_on]))
    try:
        if model_version is None:
            trained = train_churn_model(
                rows.where(~scoring_rows),
                split,
                settings.algorithm,
                settings.label_horizon_days,
                settings.seed,
                settings.max_train_rows,
                settings.gbt_max_iter,
            )
            if trained.auc < settings.min_auc:
                raise UserError(
                    f"churn model test ROC AUC {trained.auc:.4f} is below scoring.min_auc "
                    f"{settings.min_auc}: model not saved"
                )
            version = new_model_version(run.started_at, run.run_id)
            path = f"{model_root(run.settings.warehouse)}/{version}"
            trained.model.write().save(path)
            row = metrics_row(trained, version, run.run_id, run.started_at, path, settings.label_horizon_days)
            run.tables.append("gold.model_metrics", spark.createDataFrame([row], METRICS_SCHEMA))
            run.record(
                "gold.model_metrics",
                rows_in=trained.counts["train_rows"] + trained.counts["test_rows"],
                rows_out=1,
                **trained.counts,
            )
            model, auc = trained.model, trained.auc
            summary.update(
                algorithm=trained.algorithm,
                candidate_auc={k: round(v, 4) for k, v in trained.candidate_auc.items()},
                train_rows=trained.counts["train_rows"],
                test_rows=trained.counts["test_rows"],
                train_snapshots=f"{split.train[0]}..{split.train[-1]}",
                test_snapshots=f"{split.test[0]}..{split.test[-1]}",
            )
        else:
            version = resolve_version(spark, run.settings.warehouse, model_version)
            model = PipelineModel.load(f"{model_root(run.settings.warehouse)}/{version}")
            auc = None
            if run.tables.exists("gold.model_metrics"):
                found = run.tables.read("gold.model_metrics").where(F.col("model_version") == version)
                auc = _scalar(found.agg(F.max("roc_auc").alias("auc")), "auc")
        run.tables.overwrite("gold.churn_risk", churn_risk(model, rows.where(scoring_rows), version))
    finally:
        rows.unpersist()
    bands = {
        r["risk_band"]: int(r["n"])
        for r in run.tables.read("gold.churn_risk").groupBy("risk_band").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    scored = sum(bands.values())
    run.record("gold.churn_risk", rows_in=scored, rows_out=scored, **{f"band_{k}": v for k, v in bands.items()})
    summary.update(
        model_version=version,
        auc=round(auc, 4) if auc is not None else None,
        memberships_scored=scored,
        risk_bands={b: bands.get(b, 0) for b in ("low", "medium", "high")},
    )
    return summary
