"""The `lakehouse` command line: run jobs, generate sample data, inspect runs, tables and views."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakehouse import steps
from lakehouse.errors import UserError

app = typer.Typer(
    help="Medallion lakehouse jobs for multi-location car-wash exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
views_app = typer.Typer(help="Client-facing views over the gold tables.", no_args_is_help=True)
jars_app = typer.Typer(help="The JVM jars of the production path: Delta Lake, the Cloud Storage connector.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the query service (`lakehouse serve`).", no_args_is_help=True)
app.add_typer(views_app, name="views")
app.add_typer(jars_app, name="jars")
app.add_typer(keys_app, name="keys")
schedule_app = typer.Typer(help="The pipeline on Cloud Scheduler: the batch body Terraform posts.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")

# piped or logged output (make run, CI, Dataproc driver logs) is not squeezed into 80 columns
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
console = Console(width=_WIDTH)
err_console = Console(stderr=True)


EnvOpt = Annotated[str | None, typer.Option("--env", envvar="LAKEHOUSE_ENV", help="local, dev, staging or prod.")]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", envvar="LAKEHOUSE_PROFILE", help="local, small, medium, large or xl.")
]
LandingOpt = Annotated[str | None, typer.Option("--landing", help="Landing root (overrides the env's).")]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", help="Warehouse root (overrides the env's).")]
ConfDirOpt = Annotated[str | None, typer.Option("--conf-dir", help="Folder holding base.yaml, env/ and tables/.")]
TableFormatOpt = Annotated[
    str | None,
    typer.Option("--table-format", envvar="LAKEHOUSE_TABLE_FORMAT", help="parquet or delta (overrides the env's)."),
]
WaitOpt = Annotated[
    bool, typer.Option("--wait", help="Wait while another job writes the warehouse instead of failing.")
]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", envvar="LAKEHOUSE_QUERY_ENGINE", help="duckdb (the warehouse, embedded) or bigquery."),
]


def _options(env, profile, landing, warehouse, conf_dir, run_id=None, table_format=None, wait=False):
    from lakehouse.config import JobOptions

    return JobOptions(
        env=env,
        profile=profile,
        landing=landing,
        warehouse=warehouse,
        conf_dir=conf_dir,
        run_id=run_id,
        table_format=table_format,
        wait=wait,
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


def print_json(rows: list[dict]) -> None:
    """Print rows as a JSON array on stdout (dates and times as ISO text), for scripts."""
    import json
    from datetime import date, datetime

    def plain(value):
        return value.isoformat() if isinstance(value, date | datetime) else str(value)

    sys.stdout.write(json.dumps(rows, default=plain, indent=1) + "\n")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the rows as JSON (for scripts).")]


def print_df(df, title: str, limit: int = 50) -> None:
    """Print the first `limit` rows of a DataFrame as a rich table."""
    rows = [r.asDict(recursive=True) for r in df.limit(limit).collect()]
    print_rows(rows, title, df.columns)


@app.command()
def run(
    step: Annotated[str, typer.Argument(help=f"{', '.join(steps.names())}: the step to run ({steps.PIPELINE}: all in order).")],
    env: EnvOpt = None,
    profile: ProfileOpt = None,
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    table_format: TableFormatOpt = None,
    wait: WaitOpt = False,
    run_id: Annotated[str | None, typer.Option(help="Use this run id instead of a new one.")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Bronze: rebuild from every export.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Bronze: a full refresh even when it would drop many merged exports.")
    ] = False,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Scoring: score with this saved model, no training.")
    ] = None,
) -> None:
    """Run one step of the pipeline, or all of them.

    On a terminal a live line shows the step, table, files (or tables) done of total, rows and
    elapsed time; in logs and CI (or with LAKEHOUSE_PROGRESS=plain) the plain timestamped lines.
    """
    from contextlib import nullcontext

    from lakehouse import pipeline, progress

    options = _options(env, profile, landing, warehouse, conf_dir, run_id, table_format, wait)
    live = progress.live_display(console) if progress.wants_live(console) else nullcontext()
    with live as display:
        pipeline.run_steps(
            step,
            options,
            report=display.report if display is not None else console.print,
            full_refresh=full_refresh,
            force=force,
            model_version=model_version,
        )


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Landing root to write exports under.")] = Path("data/landing"),
    stores: Annotated[int, typer.Option("--stores", min=1, help="Number of stores (source databases).")] = 6,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Number of tickets in all.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")] = 7,
    cadence: Annotated[
        str, typer.Option("--cadence", help="How often stores export: monthly, weekly or daily (more, smaller files).")
    ] = "monthly",
) -> None:
    """Write sample landing exports that follow DOMAIN.md, dirt included."""
    from lakehouse.generate import generate as run_generate
    from lakehouse.generate.core import CADENCES

    if cadence not in CADENCES:
        raise UserError(f"--cadence {cadence!r}: allowed: {', '.join(CADENCES)}")
    stats = run_generate(out=out, stores=stores, tickets=rows, seed=seed, cadence=cadence)
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
    wait: WaitOpt = False,
) -> None:
    """Make an earlier version of a table current again (a bronze table's later exports are read again next run)."""
    from lakehouse import inspect

    new_version = inspect.rollback(_options(env, "local", None, warehouse, conf_dir, wait=wait), table, version)
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

    inspect.check_read_only(query)
    with inspect.sql_session(_options(env, "local", None, warehouse, conf_dir)) as spark:
        print_df(spark.sql(query), query, limit)


@app.command()
def freshness(
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    status: Annotated[str | None, typer.Option(help="Only rows of this status: ok, late or missing.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show ops.source_freshness: each store's last export of each entity, judged against its cadence."""
    from lakehouse.ops import read

    if status not in (None, "ok", "late", "missing"):
        raise UserError(f"--status {status!r}: choose ok, late or missing")
    rows = read.freshness(_options(env, "local", None, warehouse, conf_dir), status)
    if as_json:
        print_json(rows)
        return
    columns = ["store_id", "entity", "status", "last_export_id", "last_export_at", "exports", "rows_last_export",
               "days_since_last_export", "expected_every"]
    as_of = rows[0]["as_of"] if rows else None
    print_rows(rows, f"ops.source_freshness (as of {as_of})", columns)


@app.command()
def alerts(
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Only the findings of this run.")] = None,
    severity: Annotated[str | None, typer.Option(help="Only findings of this severity: warn or error.")] = None,
    limit: Annotated[int, typer.Option(help="How many findings to show.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Show the health checks' findings (ops.alerts), newest first."""
    from lakehouse.ops import read

    if severity not in (None, "warn", "error"):
        raise UserError(f"--severity {severity!r}: choose warn or error")
    rows = read.alerts(_options(env, "local", None, warehouse, conf_dir), run_id, severity, limit)
    if as_json:
        print_json(rows)
        return
    columns = ["raised_at", "run_id", "check", "severity", "entity", "store_id", "value", "threshold", "message"]
    print_rows(rows, "ops.alerts (newest first)", columns)


@app.command()
def report(
    html: Annotated[Path, typer.Option("--html", help="Write the health report to this HTML file.")],
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """Write a self-contained HTML health report: runs, quarantine, freshness, KPI trends, bottom scorecard, model."""
    from lakehouse.ops.health_report import write_report

    path = write_report(_options(env, "local", None, warehouse, conf_dir), str(html))
    console.print(f"wrote {path}", highlight=False, soft_wrap=True)


@schedule_app.command("render")
def schedule_render(
    env: EnvOpt = "dev",
    profile: ProfileOpt = "small",
    conf_dir: ConfDirOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="File to write (default: build/schedule/<env>.json in the checkout).")
    ] = None,
    stage: Annotated[
        bool, typer.Option("--stage", help="Upload the release to the staging bucket's releases/ (kept, never expires).")
    ] = False,
) -> None:
    """Write the Dataproc batch body Cloud Scheduler posts (build/schedule/<env>.json) for `make tf-apply`."""
    from lakehouse import schedule

    result = schedule.render(env=env, profile=profile, conf_dir=conf_dir, out=out, stage=stage, console=console)
    console.print(f"wrote {result}", highlight=False, soft_wrap=True)


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


def _serve_settings(env, warehouse, conf_dir):
    from lakehouse.config import load_settings

    return load_settings(env, conf_dir, {"warehouse": warehouse})


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question in your words, e.g. \"Which sites need attention?\"")],
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    engine: EngineOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
) -> None:
    """Answer a question from the client views: the view, the filters and the rows it resolved to."""
    import json

    from lakehouse.serve.ask import answer
    from lakehouse.serve.engine import open_engine

    query_engine = open_engine(_serve_settings(env, warehouse, conf_dir), engine)
    try:
        result = answer(question, query_engine)
    finally:
        query_engine.close()
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        return
    console.print(f"[bold]view[/bold]        {result['view'] or '(none)'}", highlight=False)
    console.print(f"[bold]filters[/bold]     {result['filters']}", highlight=False)
    console.print(f"[bold]confidence[/bold]  {result['confidence']}", highlight=False)
    console.print(f"[bold]matched[/bold]     {', '.join(result['matched_terms']) or '-'}", highlight=False)
    console.print(f"[bold]why[/bold]         {result['explanation']}", highlight=False)
    candidates = ", ".join(f"{c['view']} {c['score']}" for c in result["candidates"]) or "-"
    console.print(f"[bold]candidates[/bold]  {candidates}", highlight=False)
    if result["view"]:
        print_rows(result["rows"], f"{result['view']} ({len(result['rows'])} rows)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
    engine: EngineOpt = None,
    rate_limit: Annotated[
        int, typer.Option(envvar="LAKEHOUSE_RATE_LIMIT", help="Requests per minute per API key (0: no limit).")
    ] = 600,
    refresh_seconds: Annotated[
        float, typer.Option(help="How often to pick up new table versions and key changes (0: never).")
    ] = 30.0,
    cache_size: Annotated[
        int, typer.Option(help="DuckDB: results kept per table snapshot (a snapshot never changes; 0: none).")
    ] = 1024,
) -> None:
    """Serve the client views over HTTP behind API keys (FastAPI on uvicorn; OpenAPI at /docs)."""
    import uvicorn

    from lakehouse.serve.api import create_app
    from lakehouse.serve.engine import open_engine
    from lakehouse.serve.keys import Authenticator, KeyStore

    settings = _serve_settings(env, warehouse, conf_dir)
    store = KeyStore.for_settings(settings)
    query_engine = open_engine(settings, engine, cache_size=cache_size)
    keys = Authenticator(store)
    err_console.print(
        f"serving {len(query_engine.views())} client views ({query_engine.name}) on http://{host}:{port} "
        f"(OpenAPI: /docs); {len(keys.store.load())} API keys in {store.path}",
        highlight=False,
    )
    application = create_app(query_engine, keys, rate_limit_per_minute=rate_limit, refresh_seconds=refresh_seconds)
    uvicorn.run(application, host=host, port=port, access_log=False, log_level="warning")


def _key_store(env, warehouse, conf_dir):
    from lakehouse.serve.keys import KeyStore

    return KeyStore.for_settings(_serve_settings(env, warehouse, conf_dir))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who the key is for (unique).")],
    views: Annotated[
        str | None, typer.Option("--views", help="Comma-separated views the key may read (default: all).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day the key works (YYYY-MM-DD, UTC).")
    ] = None,
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """Create an API key and print it once: only its salted hash is stored."""
    import datetime as dt

    last_day = None
    if expires is not None:
        try:
            last_day = dt.date.fromisoformat(expires)
        except ValueError:
            raise UserError(f"--expires {expires!r} is not a date: write YYYY-MM-DD, e.g. 2026-12-31") from None
    store = _key_store(env, warehouse, conf_dir)
    scope = [v.strip() for v in views.split(",") if v.strip()] if views is not None else None
    key, token = store.create(name, scope, last_day)
    err_console.print(
        f"created key {key.name!r} (views: {', '.join(key.views) if key.views else 'all'}; "
        f"expires: {key.expires or 'never'}) in {store.path}. It is shown once: keep it now.",
        highlight=False,
    )
    sys.stdout.write(token + "\n")


@keys_app.command("list")
def keys_list(env: EnvOpt = None, warehouse: WarehouseOpt = None, conf_dir: ConfDirOpt = None) -> None:
    """List the API keys (names, scope, expiry, revoked; never the keys)."""
    store = _key_store(env, warehouse, conf_dir)
    rows = [
        {
            "name": k.name,
            "views": ", ".join(k.views) if k.views is not None else "all",
            "expires": k.expires or "never",
            "revoked": "yes" if k.revoked else "no",
            "created_at": k.created_at,
        }
        for k in store.load()
    ]
    print_rows(rows, f"API keys ({store.path})", ["name", "views", "expires", "revoked", "created_at"])


@keys_app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    env: EnvOpt = None,
    warehouse: WarehouseOpt = None,
    conf_dir: ConfDirOpt = None,
) -> None:
    """Revoke an API key (a running server refuses it after its next key refresh)."""
    store = _key_store(env, warehouse, conf_dir)
    store.revoke(name)
    console.print(f"revoked key {name!r} in {store.path}")


@keys_app.command("export")
def keys_export(env: EnvOpt = None, warehouse: WarehouseOpt = None, conf_dir: ConfDirOpt = None) -> None:
    """Print the key document (hashes only) for Secret Manager:
    `lakehouse keys export --env dev | gcloud secrets versions add SECRET --data-file=-`."""
    from lakehouse.serve.keys import render_document

    sys.stdout.write(render_document(_key_store(env, warehouse, conf_dir).load()))


@app.command()
def submit(
    job: Annotated[str, typer.Argument(help=f"{', '.join(steps.names())}: the step to run on Dataproc.")],
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
    out: Annotated[
        Path | None, typer.Option(help="Folder to put the jars in (default: $LAKEHOUSE_JARS or .cache/jars).")
    ] = None,
    maven_settings: Annotated[
        Path | None, typer.Option("--maven-settings", help="A Maven settings.xml (mirrors, proxies) for mvn.")
    ] = None,
    fallback: Annotated[
        Path | None, typer.Option(help="A folder with Delta jars to copy when Maven cannot get them.")
    ] = None,
) -> None:
    """Get the Delta Lake and Cloud Storage connector jars with Maven (local sessions, tests, Dataproc staging)."""
    from lakehouse import jvm

    for path in jvm.fetch(out, maven_settings, fallback):
        console.print(f"{path}")


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


def run_job(entrypoint: str, argv: list[str] | None = None) -> None:
    """Entry point of the spark-submit scripts in jobs/: `lakehouse run <step>` with their arguments,
    the step being the one whose entrypoint `entrypoint` (the script's path) is."""
    main(["run", Path(entrypoint).stem, *(sys.argv[1:] if argv is None else argv)])
