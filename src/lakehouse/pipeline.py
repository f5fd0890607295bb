"""Run the jobs in order (bronze -> silver -> gold -> scoring), each recorded in ops.run_log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lakehouse.runtime import JobOptions, RunContext, job_run

# step -> the job name recorded in ops.run_log (also the jobs/<name>.py entrypoint)
JOB_NAMES = {
    "bronze": "bronze_merge",
    "silver": "silver_clean",
    "gold": "gold_kpis",
    "scoring": "churn_scoring",
}
PIPELINE = ("bronze", "silver", "gold", "scoring")


def _run_step(step: str, run: RunContext, full_refresh: bool, model_version: str | None) -> dict[str, Any]:
    if step == "bronze":
        from lakehouse.bronze import run_bronze

        return run_bronze(run, full_refresh=full_refresh)
    if step == "silver":
        from lakehouse.silver import run_silver

        return run_silver(run)
    if step == "gold":
        from lakehouse.gold import run_gold

        return run_gold(run)
    if step == "scoring":
        from lakehouse.gold.scoring import run_scoring

        return run_scoring(run, model_version=model_version)
    raise ValueError(f"unknown step {step!r}; choose one of {[*PIPELINE, 'pipeline']}")


def run_steps(
    step: str,
    options: JobOptions,
    full_refresh: bool = False,
    model_version: str | None = None,
    report: Callable[..., None] = print,
) -> dict[str, dict[str, Any]]:
    """Run one step, or all of them for `pipeline`, in one Spark session; returns each step's summary.

    Every step is its own run in ops.run_log. After the pipeline (or gold/scoring) the report
    shows where the tables are, the bottom scorecard and the model's AUC.
    """
    steps = PIPELINE if step == "pipeline" else (step,)
    summaries: dict[str, dict[str, Any]] = {}
    spark = None
    last_run: RunContext | None = None
    for name in steps:
        with job_run(JOB_NAMES[name], options, spark=spark) as run:
            spark, last_run = run.spark, run
            report(f"[bold]{JOB_NAMES[name]}[/bold] run {run.run_id}")
            summaries[name] = _run_step(name, run, full_refresh, model_version) or {}
            report(_format_summary(summaries[name]))
    if last_run is not None and step in ("pipeline", "gold", "scoring"):
        from lakehouse.report import pipeline_report

        pipeline_report(last_run, report)
    return summaries


def _format_summary(summary: dict[str, Any]) -> str:
    return "  " + ", ".join(f"{k}={v}" for k, v in summary.items()) if summary else "  done"
