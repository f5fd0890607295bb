"""The churn model: MLlib pipelines, a time-based split, training with model choice, scoring and its metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.errors import UserError
from lakehouse.scoring.features import FEATURES, NUMERIC_FEATURES

ALGORITHMS = ("logistic_regression", "gbt")
LOW_BELOW, HIGH_FROM = 0.3, 0.6


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


# ---------------------------------------------------------------- the job


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


