"""Run the jobs in order (bronze -> silver -> gold -> scoring), each recorded in ops.run_log."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from lakehouse.config import load_config
from lakehouse.errors import UserError
from lakehouse.runtime import JobOptions, RunContext, job_run

# step -> the job name recorded in ops.run_log (also the jobs/<name>.py entrypoint)
JOB_NAMES = {
    "bronze": "bronze_merge",
    "silver": "silver_clean",
    "gold": "gold_kpis",
    "scoring": "churn_scoring",
}
PIPELINE = ("bronze", "silver", "gold", "scoring")
# the module each step's code lives in
STEP_MODULES = {
    "bronze": "lakehouse.bronze",
    "silver": "lakehouse.silver",
    "gold": "lakehouse.gold",
    "scoring": "lakehouse.gold.scoring",
}


def available(step: str) -> bool:
    """True when this build of the package contains the step's code."""
    module = STEP_MODULES[step]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is absent
        return False


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
    # configuration mistakes come first, before anything else is said or run
    load_config(
        env=options.env,
        profile=options.profile,
        conf_dir=options.conf_dir,
        overrides={"landing": options.landing, "warehouse": options.warehouse},
    )
    if step == "pipeline":
        steps = tuple(s for s in PIPELINE if available(s))
        for missing in (s for s in PIPELINE if s not in steps):
            report(f"{JOB_NAMES[missing]}: not part of this build yet ({STEP_MODULES[missing]}), skipped")
    else:
        if step not in JOB_NAMES:
            raise UserError(f"unknown step {step!r}; choose one of {[*PIPELINE, 'pipeline']}")
        if not available(step):
            raise UserError(f"{JOB_NAMES[step]} is not part of this build yet ({STEP_MODULES[step]} is missing)")
        steps = (step,)
    summaries: dict[str, dict[str, Any]] = {}
    spark = None
    last_run: RunContext | None = None
    for name in steps:
        with job_run(JOB_NAMES[name], options, spark=spark) as run:
            spark, last_run = run.spark, run
            report(f"[bold]{JOB_NAMES[name]}[/bold] run {run.run_id}")
            summaries[name] = _run_step(name, run, full_refresh, model_version) or {}
            report(_format_summary(summaries[name]))
    if step == "pipeline" and last_run is None:
        report("no pipeline step is available in this build")
    if last_run is not None and step in ("pipeline", "gold", "scoring"):
        from lakehouse.report import pipeline_report

        pipeline_report(last_run, report)
    return summaries


def _format_summary(summary: dict[str, Any]) -> str:
    return "  " + ", ".join(f"{k}={v}" for k, v in summary.items()) if summary else "  done"
