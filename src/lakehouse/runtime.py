"""Job runs: configuration, session and table store for one job, recorded in ops.run_log."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse.config import Config, JobOptions
from lakehouse.contract import OPS_SCHEMAS, RUN_LOG
from lakehouse.lock import note_run, warehouse_lock
from lakehouse.names import FAILED, RUNNING, SUCCEEDED
from lakehouse.session import build_session
from lakehouse.tables import TableStore, open_table_store
from lakehouse.tables.warehouse import declare_format


@dataclass
class TableCount:
    """Row counts of one table in one run."""

    table: str
    rows_in: int | None = None
    rows_out: int | None = None
    details: dict[str, int] = field(default_factory=dict)


@dataclass
class RunContext:
    """One job run: its identity, configuration, session, table store and recorded counts."""

    run_id: str
    job: str
    started_at: datetime
    git_sha: str
    config: Config
    spark: SparkSession
    tables: TableStore
    counts: list[TableCount] = field(default_factory=list)

    @property
    def settings(self):
        """The environment's settings."""
        return self.config.settings

    def record(
        self, table: str, rows_in: int | None = None, rows_out: int | None = None, **details: int
    ) -> None:
        """Record row counts (and named detail counts) of a table for the run log."""
        self.counts.append(TableCount(table, rows_in, rows_out, {k: int(v) for k, v in details.items()}))


def new_run_id(job: str, now: datetime) -> str:
    """A sortable, unique run id: `<UTC time>-<job>-<random>`."""
    return f"{now:%Y%m%dT%H%M%SZ}-{job}-{uuid.uuid4().hex[:8]}"


def git_sha() -> str:
    """The checkout's commit ($LAKEHOUSE_GIT_SHA when set, e.g. on Dataproc), or 'unknown'."""
    if os.environ.get("LAKEHOUSE_GIT_SHA"):
        return os.environ["LAKEHOUSE_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def run_log_row(run: RunContext, status: str, ended_at: datetime | None, error: str | None) -> dict[str, Any]:
    """The ops.run_log row of a run: running (no end yet), succeeded or failed."""
    return {
        "run_id": run.run_id,
        "job": run.job,
        "env": run.config.settings.env,
        "profile": run.config.profile.name,
        "git_sha": run.git_sha,
        "started_at": run.started_at.replace(tzinfo=None),
        "ended_at": ended_at.replace(tzinfo=None) if ended_at else None,
        "status": status,
        "error": error,
        "tables": [
            {"table": c.table, "rows_in": c.rows_in, "rows_out": c.rows_out, "details": c.details}
            for c in run.counts
        ],
    }


def write_run_log(run: RunContext, status: str, error: str | None) -> None:
    """Record the run in ops.run_log: a `running` row when it starts, replaced by its outcome when it ends.

    One row per run: the outcome row (with its end time) is merged over the running row by run id and
    job (the steps of a pipeline submitted with one `--run-id` share it),
    so a run killed midway stays `running` with its start time (`lakehouse runs` shows it stale once
    no process holds the warehouse lock for it).
    """
    row = run_log_row(run, status, None if status == RUNNING else datetime.now(UTC), error)
    frame = run.spark.createDataFrame([row], OPS_SCHEMAS[RUN_LOG])
    if status == RUNNING:
        run.tables.append(RUN_LOG, frame)
    else:
        run.tables.merge(RUN_LOG, frame, keys=["run_id", "job"], order_by=["ended_at"])


@contextmanager
def job_run(job: str, options: JobOptions, spark: SparkSession | None = None) -> Iterator[RunContext]:
    """Set up one job run and record it in ops.run_log, succeeded or failed.

    Loads the configuration, takes the warehouse's writer lock (unless this process holds it
    already, as a pipeline does for its steps), builds (or reuses) the session and the table store,
    records the run as `running`, and yields the run context. On an exception the run is logged as
    failed with its message and the exception propagates.
    """
    config = options.load()
    run_id = options.run_id or new_run_id(job, datetime.now(UTC))
    with warehouse_lock(config.settings.warehouse, run_id, job, wait=options.wait):
        note_run(config.settings.warehouse, run_id, job)
        with _recorded_run(job, run_id, datetime.now(UTC), config, spark) as run:
            yield run


@contextmanager
def _recorded_run(
    job: str, run_id: str, started: datetime, config: Config, spark: SparkSession | None
) -> Iterator[RunContext]:
    if spark is None:
        spark = build_session(config.settings, config.profile, app_name=f"lakehouse-{job}")
    run = RunContext(
        run_id=run_id,
        job=job,
        started_at=started,
        git_sha=git_sha(),
        config=config,
        spark=spark,
        tables=open_table_store(spark, config.settings),
    )
    declare_format(config.settings, spark)
    write_run_log(run, RUNNING, None)
    try:
        yield run
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}".strip()[:4000]
        try:
            write_run_log(run, FAILED, message)
        except Exception as log_exc:  # the original failure matters more than the log's
            print(f"warning: could not write {RUN_LOG}: {log_exc}")
        raise
    run.tables.maintain()
    write_run_log(run, SUCCEEDED, None)
