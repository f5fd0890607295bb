"""Read-only views of the warehouse for the CLI (run log, data-quality results, tables, SQL) and rollback.

`runs`, `dq`, `tables` and `history` read the committed table versions with the embedded engine
(DuckDB over Arrow, `lakehouse.serve`): no JVM, well under a second. `rollback` and `sql` use Spark;
`sql` is read-only (`check_read_only`), `rollback` holds the warehouse's writer lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lakehouse.config import JobOptions, load_settings
from lakehouse.errors import UserError
from lakehouse.fs import local_path
from lakehouse.lock import current_holder, warehouse_lock
from lakehouse.names import DQ_RESULTS, RUN_LOG, RUNNING
from lakehouse.tables.warehouse import reading_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.config import Settings
    from lakehouse.serve.warehouse import Warehouse
    from lakehouse.tables import TableStore


STALE = "running (stale: no process holds the warehouse lock; killed?)"


@contextmanager
def warehouse(options: JobOptions) -> Iterator[TableStore]:
    """A table store over the configured warehouse, with a quiet local session."""
    from lakehouse.session import build_session
    from lakehouse.tables import open_table_store

    config = options.load()
    settings = reading_settings(config.settings)  # the format the warehouse declares
    spark = build_session(settings, config.profile, app_name="lakehouse-inspect", log_level="ERROR")
    yield open_table_store(spark, settings)


def _require(store: TableStore | Warehouse, name: str, hint: str) -> None:
    if not store.exists(name):
        raise UserError(f"{name} does not exist under {store.settings.warehouse}: {hint}")


def settings_of(options: JobOptions) -> Settings:
    """The settings of the options' env, conf dir and warehouse (no run profile or table contracts), in the table
    format the warehouse declares (`tables.warehouse`)."""
    return reading_settings(load_settings(options.env, options.conf_dir, options.overrides()))


def reader(options: JobOptions) -> Warehouse:
    """The reader of the configured warehouse: Spark-free (`lakehouse.serve.warehouse`), but for Delta on an object
    store, which is read through Spark and the connector that wrote it (`spark_reader`)."""
    from lakehouse.serve.warehouse import open_warehouse

    settings = settings_of(options)
    if settings.table_format == "delta" and local_path(settings.warehouse) is None:
        return spark_reader(options)
    return open_warehouse(settings)


def spark_reader(options: JobOptions) -> Warehouse:
    """A `Warehouse` over the table store of a quiet Spark session: what the read-only commands use where the
    `deltalake` package cannot go the way Spark does (Delta on gs://: the connector's endpoint and credentials)."""
    import pyarrow as pa

    from lakehouse.serve.warehouse import TableData, Warehouse
    from lakehouse.session import build_session
    from lakehouse.tables import open_table_store

    config = options.load()
    settings = reading_settings(config.settings)
    spark = build_session(settings, config.profile, app_name="lakehouse-inspect", log_level="ERROR")
    store = open_table_store(spark, settings)

    class SparkWarehouse(Warehouse):
        def list_tables(self) -> list[str]:
            return store.list_tables()

        def exists(self, name: str) -> bool:
            return store.exists(name)

        def history(self, name: str):
            return store.history(name)

        def current_version(self, name: str) -> int | None:
            return store.history(name)[0].version if store.exists(name) else None

        def read(self, name: str) -> TableData:
            if not store.exists(name):
                raise KeyError(f"table {name} does not exist")
            df = store.read(name)
            batches = df._collect_as_arrow()  # Spark 3.5's Arrow collect (DataFrame.toArrow is Spark 4)
            table = pa.Table.from_batches(batches) if batches else pa.Table.from_pandas(df.limit(0).toPandas())
            return TableData(name, self.current_version(name), dataset=table)

    return SparkWarehouse(settings)


def _query(store: Warehouse, table: str, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` over the committed version of `table` (and no other), with the embedded engine.

    No query parameters: DuckDB imports pandas (~0.5 s) to check the type of any bound value, and
    these queries take none from the user but an int limit."""
    from lakehouse.serve.engine import DuckDBEngine

    engine = DuckDBEngine(store, tables=[table], views=False)
    try:
        result = engine.query(sql)
    finally:
        engine.close()
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def latest_runs(options: JobOptions, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` rows of ops.run_log, with their duration and a short table summary."""
    store = reader(options)
    _require(store, RUN_LOG, "run a job first, e.g. `lakehouse run pipeline`")
    rows = _query(
        store,
        RUN_LOG,
        f"""
        SELECT run_id, job, env, profile, git_sha,
               strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started_utc,
               round(epoch(ended_at) - epoch(started_at), 1) AS seconds,
               status,
               list_transform(tables, lambda t: concat_ws(' ', t."table",
                   coalesce(CAST(t.rows_in AS VARCHAR), '-'), '->', coalesce(CAST(t.rows_out AS VARCHAR), '-'))
               ) AS tables,
               substr(error, 1, 200) AS error
        FROM ops.run_log ORDER BY started_at DESC LIMIT {int(limit)}
        """,
    )
    holder = current_holder(store.settings.warehouse)
    for row in rows:
        row["tables"] = "; ".join(row["tables"] or [])
        if row["status"] == RUNNING and (holder is None or holder.run_id != row["run_id"]):
            row["status"] = STALE  # no process holds the warehouse lock for it: killed
    return rows


def latest_dq(options: JobOptions, limit: int) -> list[dict[str, Any]]:
    """ops.dq_results rows of the latest silver run, failing rules first."""
    store = reader(options)
    _require(store, DQ_RESULTS, "run `lakehouse run silver` first")
    return _query(
        store,
        DQ_RESULTS,
        f"""
        SELECT run_id, "table", rule, "column", action, rows_checked, rows_failing,
               array_to_string(failing_keys[1:3], ', ') AS failing_keys
        FROM ops.dq_results
        WHERE run_id = (SELECT max(run_id) FROM ops.dq_results)
        ORDER BY rows_failing DESC, "table", rule, "column" LIMIT {int(limit)}
        """,
    )


def list_tables(options: JobOptions) -> list[dict[str, Any]]:
    """Every table with its path, current version and number of kept versions."""
    store = reader(options)
    out = []
    for name in store.list_tables():
        versions = store.history(name)
        out.append(
            {
                "table": name,
                "path": store.path(name),
                "version": versions[0].version if versions else None,
                "versions_kept": len(versions),
            }
        )
    return out


def table_history(options: JobOptions, name: str) -> list[dict[str, Any]]:
    """A table's versions, newest first."""
    store = reader(options)
    _require(store, name, "see `lakehouse tables` for the tables that exist")
    return [
        {"version": v.version, "committed_at": v.committed_at, "operation": v.operation, "rows": v.rows}
        for v in store.history(name)
    ]


def rollback(options: JobOptions, name: str, version: int) -> int:
    """Make `version` of `name` current again (holding the warehouse's writer lock); returns the new version number.

    Rolling back a bronze table also forgets the exports merged into it after that version
    (`bronze.manifest.forget_merged_after`), so the next bronze run reads them again.
    """
    from lakehouse.bronze.manifest import bronze_entity, forget_merged_after
    from lakehouse.runtime import new_run_id

    config = options.load()
    run_id = new_run_id("rollback", datetime.now(UTC))
    with warehouse_lock(config.settings.warehouse, run_id, "rollback", wait=options.wait), warehouse(options) as store:
        _require(store, name, "see `lakehouse tables` for the tables that exist")
        history = {v.version: v for v in store.history(name)}
        if version not in history:
            raise UserError(f"{name} has no version {version}; versions kept: {sorted(history, reverse=True)}")
        new_version = store.rollback(name, version)
        entity = bronze_entity(name, config.tables)
        if entity is not None:
            forget_merged_after(store, entity, history[version].committed_at)
        return new_version


def register_tables(spark: SparkSession, store: TableStore) -> list[str]:
    """Register every warehouse table in the session catalog as `layer.table` (external, read-only)."""
    using = "delta" if store.settings.table_format == "delta" else "parquet"
    names = store.list_tables()
    for name in names:
        layer, table = name.split(".")
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{layer}`")
        spark.sql(f"DROP TABLE IF EXISTS `{layer}`.`{table}`")
        # the table layer's schema, not Spark's inference: an empty Parquet version has no file to infer from
        schema = store.read(name).schema if using == "parquet" else None
        spark.catalog.createTable(f"`{layer}`.`{table}`", path=store.path(name), source=using, schema=schema)
    return names


READ_ONLY_STATEMENTS = ("SELECT", "WITH", "VALUES", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "(")


def check_read_only(query: str) -> None:
    """UserError unless `query` is one statement that only reads (SELECT / WITH / SHOW / DESCRIBE / EXPLAIN).

    Tables change only through the jobs (and `lakehouse rollback`), which keep their versions,
    manifests and run log consistent; a write through `lakehouse sql` would bypass all of that.
    """
    import logging

    import sqlglot
    from sqlglot import exp

    first = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
    allowed = any(first.startswith(word) for word in READ_ONLY_STATEMENTS)
    level = logging.getLogger("sqlglot").level
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to a Command" is not news here
    try:
        statements = [s for s in sqlglot.parse(query, read="spark") if s is not None]
    except sqlglot.errors.ParseError:
        statements = []  # Spark may know syntax sqlglot does not: the first keyword decides
    finally:
        logging.getLogger("sqlglot").setLevel(level)
    writes = (exp.Insert, exp.Delete, exp.Update, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Cache, exp.Set)
    if not first:
        raise UserError("lakehouse sql needs a query, e.g. \"SELECT * FROM client.location_scorecard_bottom\"")
    if len(statements) > 1:
        raise UserError("lakehouse sql runs one statement at a time; remove the `;` and what follows it")
    if not allowed or (statements and isinstance(statements[0], writes)):
        raise UserError(
            f"lakehouse sql is read-only (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN), and {first} would change the "
            "warehouse: tables change only through `lakehouse run` and `lakehouse rollback`"
        )


@contextmanager
def sql_session(options: JobOptions) -> Iterator[SparkSession]:
    """A session where warehouse tables are `layer.table` and client views are `client.<view>`."""
    from lakehouse.views import register_views

    with warehouse(options) as store:
        register_tables(store.spark, store)
        register_views(store.spark, store)  # the views of the gold tables built so far
        yield store.spark
