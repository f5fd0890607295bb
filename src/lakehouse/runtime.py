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
from pyspark.sql import types as T

from lakehouse.config import Config, load_config
from lakehouse.session import build_session
from lakehouse.tables import TableStore, open_table_store

RUN_LOG = "ops.run_log"

RUN_LOG_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("job", T.StringType(), False),
        T.StructField("env", T.StringType(), False),
        T.StructField("profile", T.StringType(), False),
        T.StructField("git_sha", T.StringType(), True),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("ended_at", T.TimestampType(), True),
        T.StructField("status", T.StringType(), False),
        T.StructField("error", T.StringType(), True),
        T.StructField(
            "tables",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("table", T.StringType(), False),
                        T.StructField("rows_in", T.LongType(), True),
                        T.StructField("rows_out", T.LongType(), True),
                        T.StructField("details", T.MapType(T.StringType(), T.LongType()), True),
                    ]
                )
            ),
            True,
        ),
    ]
)


@dataclass(frozen=True)
class JobOptions:
    """What the command line says about where and how a job runs."""

    env: str | None = None
    profile: str | None = None
    landing: str | None = None
    warehouse: str | None = None
    conf_dir: str | None = None
    run_id: str | None = None


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


def run_log_row(run: RunContext, status: str, ended_at: datetime, error: str | None) -> dict[str, Any]:
    """The ops.run_log row of a finished run."""
    return {
        "run_id": run.run_id,
        "job": run.job,
        "env": run.config.settings.env,
        "profile": run.config.profile.name,
        "git_sha": run.git_sha,
        "started_at": run.started_at.replace(tzinfo=None),
        "ended_at": ended_at.replace(tzinfo=None),
        "status": status,
        "error": error,
        "tables": [
            {"table": c.table, "rows_in": c.rows_in, "rows_out": c.rows_out, "details": c.details}
            for c in run.counts
        ],
    }


def write_run_log(run: RunContext, status: str, error: str | None) -> None:
    """Append the run's row to ops.run_log through the table layer."""
    row = run_log_row(run, status, datetime.now(UTC), error)
    run.tables.append(RUN_LOG, run.spark.createDataFrame([row], RUN_LOG_SCHEMA))


@contextmanager
def job_run(job: str, options: JobOptions, spark: SparkSession | None = None) -> Iterator[RunContext]:
    """Set up one job run and record it in ops.run_log, succeeded or failed.

    Loads the configuration, builds (or reuses) the session and the table store, and yields the
    run context. On an exception the run is logged as failed with its message and the exception
    propagates.
    """
    config = load_config(
        env=options.env,
        profile=options.profile,
        conf_dir=options.conf_dir,
        overrides={"landing": options.landing, "warehouse": options.warehouse},
    )
    started = datetime.now(UTC)
    if spark is None:
        spark = build_session(config.settings, config.profile, app_name=f"lakehouse-{job}")
    run = RunContext(
        run_id=options.run_id or new_run_id(job, started),
        job=job,
        started_at=started,
        git_sha=git_sha(),
        config=config,
        spark=spark,
        tables=open_table_store(spark, config.settings),
    )
    try:
        yield run
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}".strip()[:4000]
        try:
            write_run_log(run, "failed", message)
        except Exception as log_exc:  # the original failure matters more than the log's
            print(f"warning: could not write {RUN_LOG}: {log_exc}")
        raise
    write_run_log(run, "succeeded", None)
