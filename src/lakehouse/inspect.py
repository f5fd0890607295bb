"""Read-only views of the warehouse for the CLI: run log, data-quality results, tables, SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config import load_config
from lakehouse.errors import UserError
from lakehouse.runtime import RUN_LOG, JobOptions
from lakehouse.session import build_session
from lakehouse.tables import TableStore, open_table_store
from lakehouse.views import register_views

DQ_RESULTS = "ops.dq_results"


@contextmanager
def warehouse(options: JobOptions) -> Iterator[TableStore]:
    """A table store over the configured warehouse, with a quiet local session."""
    config = load_config(
        env=options.env,
        profile=options.profile,
        conf_dir=options.conf_dir,
        overrides={"warehouse": options.warehouse},
    )
    spark = build_session(config.settings, config.profile, app_name="lakehouse-inspect", log_level="ERROR")
    yield open_table_store(spark, config.settings)


def _require(store: TableStore, name: str, hint: str) -> None:
    if not store.exists(name):
        raise UserError(f"{name} does not exist under {store.settings.warehouse}: {hint}")


def latest_runs(options: JobOptions, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` rows of ops.run_log, with their duration and a short table summary."""
    with warehouse(options) as store:
        _require(store, RUN_LOG, "run a job first, e.g. `lakehouse run pipeline`")
        df = (
            store.read(RUN_LOG)
            .orderBy(F.col("started_at").desc())
            .limit(limit)
            .select(
                "run_id",
                "job",
                "env",
                "profile",
                "git_sha",
                F.date_format("started_at", "yyyy-MM-dd HH:mm:ss").alias("started_utc"),
                F.round(F.col("ended_at").cast("double") - F.col("started_at").cast("double"), 1).alias("seconds"),
                "status",
                F.transform(
                    "tables",
                    lambda t: F.concat_ws(
                        " ", t["table"], F.coalesce(t["rows_in"].cast("string"), F.lit("-")),
                        F.lit("->"), F.coalesce(t["rows_out"].cast("string"), F.lit("-")),
                    ),
                ).alias("tables"),
                F.substring("error", 1, 200).alias("error"),
            )
        )
        rows = [r.asDict() for r in df.collect()]
    for row in rows:
        row["tables"] = "; ".join(row["tables"] or [])
    return rows


def latest_dq(options: JobOptions, limit: int) -> list[dict[str, Any]]:
    """ops.dq_results rows of the latest silver run, failing rules first."""
    with warehouse(options) as store:
        _require(store, DQ_RESULTS, "run `lakehouse run silver` first")
        results = store.read(DQ_RESULTS)
        latest = results.agg(F.max("run_id")).first()[0]
        df = (
            results.where(F.col("run_id") == latest)
            .orderBy(F.col("rows_failing").desc(), "table", "rule")
            .limit(limit)
            .select(
                "run_id", "table", "rule", "column", "action", "rows_checked", "rows_failing",
                F.array_join(F.slice("failing_keys", 1, 3), ", ").alias("failing_keys"),
            )
        )
        return [r.asDict() for r in df.collect()]


def list_tables(options: JobOptions) -> list[dict[str, Any]]:
    """Every table with its path, current version and number of kept versions."""
    with warehouse(options) as store:
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
    with warehouse(options) as store:
        _require(store, name, "see `lakehouse tables` for the tables that exist")
        return [
            {"version": v.version, "committed_at": v.committed_at, "operation": v.operation, "rows": v.rows}
            for v in store.history(name)
        ]


def rollback(options: JobOptions, name: str, version: int) -> int:
    """Make `version` of `name` current again; returns the new version number."""
    with warehouse(options) as store:
        _require(store, name, "see `lakehouse tables` for the tables that exist")
        kept = [v.version for v in store.history(name)]
        if version not in kept:
            raise UserError(f"{name} has no version {version}; versions kept: {kept}")
        return store.rollback(name, version)


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


@contextmanager
def sql_session(options: JobOptions) -> Iterator[SparkSession]:
    """A session where warehouse tables are `layer.table` and client views are `client.<view>`."""
    with warehouse(options) as store:
        register_tables(store.spark, store)
        register_views(store.spark, store)  # the views of the gold tables built so far
        yield store.spark
