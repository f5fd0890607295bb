"""The scoring step: train the churn model (or load a saved one) and score the active memberships into gold.churn_risk."""

from __future__ import annotations

from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse import faults, progress
from lakehouse.contract import CHURN_RISK, GOLD_SCHEMAS, MODEL_METRICS, silver_table
from lakehouse.errors import UserError
from lakehouse.gold.kpis import created_at_span, month_spine
from lakehouse.runtime import RunContext
from lakehouse.scoring.features import (
    churn_features,
    churn_labels,
    scoring_date,
    snapshot_dates,
    snapshots_frame,
)
from lakehouse.scoring.model import churn_risk, metrics_row, time_split, train_churn_model
from lakehouse.scoring.store import load_model, new_model_version, resolve_version, save_model

SCORING_INPUTS = ("memberships", "tickets", "billing_attempts")  # the entities scoring reads


def _scalar(df: DataFrame, column: str):
    return df.first()[column]


def run_scoring(run: RunContext, model_version: str | None = None) -> dict[str, Any]:
    """Train the churn model (model_version None) or load a saved one ('latest' or a version),
    then score the memberships active on scored_on into gold.churn_risk.

    Training appends a row to gold.model_metrics and saves the Spark ML pipeline under
    `<warehouse>/models/churn_risk/<model_version>`. Returns a summary with 'model_version',
    'auc' (the test ROC AUC, from model_metrics when a saved model is reused), 'scored_on' and
    the number of memberships per risk band.
    """
    settings = run.settings.scoring
    spark = run.spark
    names = {entity: silver_table(run.config.tables[entity]) for entity in SCORING_INPUTS}
    for name in names.values():
        if not run.tables.exists(name):
            raise UserError(f"scoring needs {name} in {run.settings.warehouse}: run `lakehouse run silver` first")
    memberships, tickets, attempts = (run.tables.read(names[e]) for e in SCORING_INPUTS)
    ticket_span = created_at_span(tickets).localCheckpoint()  # one scan of tickets for both dates
    scored_on = _scalar(scoring_date(ticket_span), "scored_on")
    if scored_on is None:
        raise UserError("silver.tickets is empty: nothing to date the churn scores by")
    scoring_rows = F.col("snapshot_date") == F.lit(scored_on)

    summary: dict[str, Any] = {"scored_on": str(scored_on)}
    progress.plan("tables", 2 if model_version is None else 1)
    progress.working(MODEL_METRICS if model_version is None else CHURN_RISK)
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
            path = save_model(spark, trained.model, run.settings.warehouse, version)
            row = metrics_row(trained, version, run.run_id, run.started_at, path, settings.label_horizon_days)
            faults.point("scoring.model_saved")
            run.tables.append(MODEL_METRICS, spark.createDataFrame([row], GOLD_SCHEMAS[MODEL_METRICS]))
            run.record(
                MODEL_METRICS,
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
            model = load_model(run.settings.warehouse, version)
            auc = None
            if run.tables.exists(MODEL_METRICS):
                found = run.tables.read(MODEL_METRICS).where(F.col("model_version") == version)
                auc = _scalar(found.agg(F.max("roc_auc").alias("auc")), "auc")
        progress.working(CHURN_RISK)
        run.tables.overwrite(CHURN_RISK, churn_risk(model, rows.where(scoring_rows), version))
    finally:
        rows.unpersist()
    bands = {
        r["risk_band"]: int(r["n"])
        for r in run.tables.read(CHURN_RISK).groupBy("risk_band").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    scored = sum(bands.values())
    run.record(CHURN_RISK, rows_in=scored, rows_out=scored, **{f"band_{k}": v for k, v in bands.items()})
    summary.update(
        model_version=version,
        auc=round(auc, 4) if auc is not None else None,
        memberships_scored=scored,
        risk_bands={b: bands.get(b, 0) for b in ("low", "medium", "high")},
    )
    return summary
