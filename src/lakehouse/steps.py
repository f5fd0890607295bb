"""The registry of the pipeline's steps: every list of steps (CLI, jobs/, Dataproc, benchmarks, docs) derives from it.

A step has one name users type everywhere (`lakehouse run bronze`, `lakehouse submit bronze`,
`make submit JOB=bronze`), the job name its runs carry in `ops.run_log` and in run ids (which is
also its spark-submit entrypoint, `jobs/<job>.py`), and the function that runs it. The old job
names are accepted wherever a step name is (`lakehouse submit gold_kpis`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakehouse.errors import UserError

PIPELINE = "pipeline"  # every step, in order, in one Spark session


@dataclass(frozen=True)
class Step:
    """One step of the pipeline."""

    name: str  # what users type
    job: str  # the job name in ops.run_log and run ids; its entrypoint is jobs/<job>.py
    target: str  # `module:function` that runs it: function(run, **options) -> summary dict
    summary: str  # one line: what it reads and writes
    options: tuple[str, ...] = ()  # the step options it takes (`full_refresh`, `model_version`)

    @property
    def entrypoint(self) -> str:
        """The spark-submit script of the step, relative to the checkout."""
        return f"jobs/{self.job}.py"

    def function(self) -> Callable[..., dict[str, Any]]:
        """The function that runs the step (imported when first asked for)."""
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    def run(self, run: Any, **options: Any) -> dict[str, Any]:
        """Run the step in `run` (a RunContext) with the options it takes; others are ignored."""
        return self.function()(run, **{k: v for k, v in options.items() if k in self.options}) or {}


STEPS: tuple[Step, ...] = (
    Step(
        "bronze",
        "bronze_merge",
        "lakehouse.bronze.job:run_bronze",
        "landing exports -> bronze.*",
        ("full_refresh", "force"),
    ),
    Step("silver", "silver_clean", "lakehouse.silver.job:run_silver", "bronze.* -> silver.*, quarantine.*, ops.dq_results"),
    Step("gold", "gold_kpis", "lakehouse.gold.job:run_gold", "silver.* -> gold.* KPI tables"),
    Step(
        "scoring",
        "churn_scoring",
        "lakehouse.scoring.job:run_scoring",
        "trains (or reuses) the churn model -> gold.churn_risk, gold.model_metrics",
        ("model_version",),
    ),
)


def names() -> list[str]:
    """The names a user may run or submit: every step, then `pipeline`."""
    return [s.name for s in STEPS] + [PIPELINE]


def entrypoint(name: str) -> str:
    """The spark-submit script of a step or of `pipeline` (jobs/<job>.py)."""
    return f"jobs/{job_name(name)}.py"


def job_name(name: str) -> str:
    """The run-log job name of a step (or `pipeline`)."""
    resolved = resolve(name)
    return PIPELINE if len(resolved) > 1 else resolved[0].job


def canonical(name: str) -> str:
    """The step name of `name`, which may be a step name, an old job name or `pipeline`."""
    resolved = resolve(name)
    return PIPELINE if len(resolved) > 1 else resolved[0].name


def resolve(name: str) -> tuple[Step, ...]:
    """The steps `name` runs: one step (by its name or job name), or all of them for `pipeline`."""
    if name == PIPELINE:
        return STEPS
    for step in STEPS:
        if name in (step.name, step.job):
            return (step,)
    raise UserError(
        f"unknown step {name!r}; choose one of {names()} (the job names "
        f"{', '.join(s.job for s in STEPS)} are accepted too)"
    )
