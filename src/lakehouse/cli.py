"""The `lakehouse` command line: run jobs, generate sample data, inspect runs, tables and views."""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.errors import UserError

app = typer.Typer(
    help="Medallion lakehouse jobs for multi-location car-wash exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
views_app = typer.Typer(help="Client-facing views over the gold tables.", no_args_is_help=True)
jars_app = typer.Typer(help="Delta Lake jars for Dataproc and local Delta runs.", no_args_is_help=True)
app.add_typer(views_app, name="views")
app.add_typer(jars_app, name="jars")

# piped or logged output (make run, CI, Dataproc driver logs) is not squeezed into 80 columns
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
console = Console(width=_WIDTH)
err_console = Console(stderr=True)


class Step(StrEnum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"
    scoring = "scoring"
    pipeline = "pipeline"


EnvOpt = Annotated[str | None, typer.Option("--env", envvar="LAKEHOUSE_ENV", help="local, dev, staging or prod.")]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", envvar="LAKEHOUSE_PROFILE", help="local, small, medium, large or xl.")
]
LandingOpt = Annotated[str | None, typer.Option("--landing", help="Landing root (overrides the env's).")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="Warehouse root (overrides the env's).")]
ConfDirOpt = Annotated[str | None, typer.Option("--conf-dir", help="Folder holding base.yaml, env/ and tables/.")]


def _options(env, profile, landing, warehouse, conf_dir, run_id=None):
    from lakehouse.runtime import JobOptions

    return JobOptions(
        env=env, profile=profile, landing=landing, warehouse=warehouse, conf_dir=conf_dir, run_id=run_id
    )


def print_rows(rows: list[dict], title: str, columns: list[str] | None = None) -> None:
    """Print a list of row dicts as a rich table."""
    columns = columns or (list(rows[0].keys()) if rows else [])
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def print_df(df, title: str, limit: int = 50) -> None:
    """Print the first `limit` rows of a DataFrame as a rich table."""
    rows = [r.asDict(recursive=True) for r in df.limit(limit).collect()]
    print_rows(rows, title, df.columns)


@app.command()
def run(
    step: Annotated[Step, typer.Argument(help="Which job to run; pipeline runs all four in order.")],
    env: EnvOpt = None,
    profile: ProfileOpt = None,
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    run_id: Annotated[str | None, typer.Option(help="Use this run id instead of a new one.")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Bronze: rebuild from every export.")] = False,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Scoring: score with this saved model, no training.")
    ] = None,
) -> None:
    """Run one job (bronze, silver, gold, scoring) or the whole pipeline."""
    from lakehouse import pipeline

    pipeline.run_steps(
        step.value,
        _options(env, profile, landing, warehouse, conf_dir, run_id),
        full_refresh=full_refresh,
        model_version=model_version,
        report=console.print,
    )


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Landing root to write exports under.")] = Path("data/landing"),
    stores: Annotated[int, typer.Option("--stores", min=1, help="Number of stores (source databases).")] = 6,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Number of tickets in all.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")] = 7,
) -> None:
    """Write sample landing exports that follow DOMAIN.md, dirt included."""
    from lakehouse.generate import generate as run_generate

    stats = run_generate(out=out, stores=stores, tickets=rows, seed=seed)
    console.print(stats.summary())


@app.command()
def runs(
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
) -> None:
    """Show the latest job runs from ops.run_log."""
    from lakehouse import inspect

    rows = inspect.latest_runs(_options(env, "local", None, warehouse, conf_dir), limit)
    print_rows(rows, "ops.run_log (latest first)")


@app.command()
def dq(
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    limit: Annotated[int, typer.Option(help="How many rule results to show.")] = 100,
) -> None:
    """Show the data-quality results of the latest silver run from ops.dq_results."""
    from lakehouse import inspect

    rows = inspect.latest_dq(_options(env, "local", None, warehouse, conf_dir), limit)
    print_rows(rows, "ops.dq_results (latest silver run)")


@app.command()
def tables(
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """List the tables in the warehouse with their paths and versions."""
    from lakehouse import inspect

    print_rows(inspect.list_tables(_options(env, "local", None, warehouse, conf_dir)), "tables")


@app.command()
def history(
    table: Annotated[str, typer.Argument(help="layer.table, e.g. bronze.tickets")],
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """Show a table's versions."""
    from lakehouse import inspect

    print_rows(inspect.table_history(_options(env, "local", None, warehouse, conf_dir), table), table)


@app.command()
def rollback(
    table: Annotated[str, typer.Argument(help="layer.table, e.g. bronze.tickets")],
    version: Annotated[int, typer.Argument(help="The version to make current again.")],
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """Make an earlier version of a table current again."""
    from lakehouse import inspect

    new_version = inspect.rollback(_options(env, "local", None, warehouse, conf_dir), table, version)
    console.print(f"{table}: version {version} is current again (as version {new_version})")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="Spark SQL; tables as layer.table, views as client.<view>.")],
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 50,
) -> None:
    """Run a SQL query over the warehouse tables and client views and print the result."""
    from lakehouse import inspect

    with inspect.sql_session(_options(env, "local", None, warehouse, conf_dir)) as spark:
        print_df(spark.sql(query), query, limit)


@views_app.command("export")
def views_export(
    dialect: Annotated[str, typer.Option(help="sqlglot dialect to write, e.g. bigquery.")] = "bigquery",
    out: Annotated[Path, typer.Option(help="Folder to write one .sql file per view into.")] = Path(
        "build/views/bigquery"
    ),
    dataset: Annotated[
        str | None, typer.Option(help="Dataset/schema that holds the gold tables in the target.")
    ] = None,
) -> None:
    """Transpile the client views to another SQL dialect (BigQuery for Terraform)."""
    from lakehouse import views

    written = views.export_views(dialect=dialect, out_dir=out, dataset=dataset)
    console.print(f"wrote {len(written)} views to {out}")


@views_app.command("docs")
def views_docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path("docs/gold_views.md"),
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """Regenerate docs/gold_views.md from the view definitions and an example row per view."""
    from lakehouse import views

    views.write_docs(out, _options(env, "local", None, warehouse, conf_dir))
    console.print(f"wrote {out}")


@app.command()
def submit(
    job: Annotated[str, typer.Argument(help="bronze_merge, silver_clean, gold_kpis, churn_scoring or pipeline.")],
    env: EnvOpt = "dev",
    profile: ProfileOpt = "small",
    cluster: Annotated[str | None, typer.Option(help="Submit to this Dataproc cluster instead of Serverless.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request without sending it.")] = False,
    conf_dir: ConfDirOpt = None,
    job_args: Annotated[list[str] | None, typer.Argument(help="Extra arguments passed to the job.")] = None,
) -> None:
    """Package the code, stage it to GCS and run a job on Dataproc (Serverless by default).

    Exit codes: 0 succeeded (or --dry-run), 2 bad job/env/profile, 3 failed, 4 cancelled,
    5 could not submit, 6 outcome unknown (still running?), 130 interrupted. See docs/dataproc.md.
    """
    from lakehouse import submit as submit_mod

    code = submit_mod.submit_job(
        job=job,
        env=env,
        profile=profile,
        cluster=cluster,
        dry_run=dry_run,
        conf_dir=conf_dir,
        job_args=job_args or [],
        console=console,
    )
    raise typer.Exit(code)


@jars_app.command("fetch")
def jars_fetch(
    out: Annotated[Path, typer.Option(help="Folder to download the jars into.")] = Path("build/jars"),
) -> None:
    """Download the delta-spark and delta-storage jars that match the installed delta-spark."""
    from lakehouse import submit as submit_mod

    for path in submit_mod.fetch_delta_jars(out):
        console.print(f"downloaded {path}")


def _log_progress() -> None:
    """Show the jobs' progress lines (logger `lakehouse`, e.g. one per table) on stderr with the time,
    unless the application configured logging itself."""
    logger = logging.getLogger("lakehouse")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; a user error becomes one line on stderr and exit code 2."""
    _log_progress()
    try:
        app(args=argv)  # standalone: usage errors print their message and exit 2
    except UserError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


def run_job(step: str, argv: list[str] | None = None) -> None:
    """Entry point of the spark-submit scripts in jobs/: `lakehouse run <step>` with their arguments."""
    main(["run", step, *(sys.argv[1:] if argv is None else argv)])
