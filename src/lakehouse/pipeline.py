"""Run one step, or the whole pipeline in the registry's order, each recorded in ops.run_log and health-checked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lakehouse import progress, steps
from lakehouse.lock import warehouse_lock
from lakehouse.ops.alerts import AlertError, after_step, raise_on_error
from lakehouse.ops.checks import Finding
from lakehouse.ops.notify import RunOutcome, notify
from lakehouse.runtime import JobOptions, RunContext, job_run, new_run_id
from lakehouse.tables.warehouse import check_writable


def run_steps(
    step: str,
    options: JobOptions,
    report: Callable[..., None] = print,
    **step_options: Any,
) -> dict[str, dict[str, Any]]:
    """Run `step` (a step name, an old job name, or `pipeline` for all of them) in one Spark session.

    `step_options` (`full_refresh`, `model_version`) go to the steps that take them. Every step
    is its own run in ops.run_log. After each step (also a failed one) the health checks run
    (`lakehouse.ops.alerts`: findings in ops.alerts and as `LAKEHOUSE_ALERT` lines); with
    `alerts.fail_on_error` an error finding fails that step's run and stops the pipeline. At the
    end, the findings go to the environment's channels in one message. After the pipeline (or
    gold/scoring) the report shows where the tables are, the bottom scorecard and the model's AUC.
    Returns each step's summary by name.
    """
    to_run = steps.resolve(step)
    config = options.load()  # configuration mistakes come first, before anything else is said or run
    check_writable(config.settings)
    summaries: dict[str, dict[str, Any]] = {}
    run_ids: dict[str, str] = {}
    findings: list[tuple[str, Finding]] = []
    spark = None
    last_run: RunContext | None = None
    job = steps.job_name(step)
    failure: BaseException | None = None
    try:
        # one writer per warehouse: the lock is held from the first step to the last
        with warehouse_lock(config.settings.warehouse, options.run_id or new_run_id(job, datetime.now(UTC)), job,
                            wait=options.wait):
            for current in to_run:
                with job_run(current.job, options, spark=spark) as run:
                    spark, last_run = run.spark, run
                    run_ids[current.name] = run.run_id
                    report(f"[bold]{current.name}[/bold] run {run.run_id}")
                    progress.step(current.name, run.run_id)
                    try:
                        summaries[current.name] = current.run(run, **step_options)
                    except Exception as exc:
                        findings.extend((current.name, f) for f in after_step(run, current.name, exc))
                        raise
                    report(_format_summary(summaries[current.name]))
                    found = after_step(run, current.name)
                    findings.extend((current.name, f) for f in found)
                    raise_on_error(run, found)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if findings:
            error = None if failure is None else f"{type(failure).__name__}: {failure}"
            outcome = RunOutcome(config.settings.env, steps.canonical(step), run_ids, summaries, findings, error)
            for channel, result in notify(config.settings, outcome).items():
                report(f"alerts: {channel} {result}")
    if last_run is not None and to_run[-1].name in ("gold", "scoring"):
        from lakehouse.report import pipeline_report

        pipeline_report(last_run, report)
    return summaries


__all__ = ["AlertError", "run_steps"]


def _format_summary(summary: dict[str, Any]) -> str:
    return "  " + ", ".join(f"{k}={v}" for k, v in summary.items()) if summary else "  done"
