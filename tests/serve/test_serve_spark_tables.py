"""Tables written by Spark through the Parquet table store read the same without Spark: types (INT96
timestamps, decimals, arrays of structs, maps), Hive partitions, a column added by a merge that shares
the older files, an empty version, and rollback (the log, not the newest directory, decides)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import types as T

from lakehouse.contract import GOLD_SCHEMAS, OPS_SCHEMAS, RUN_LOG
from lakehouse.serve.engine import DuckDBEngine, Result
from lakehouse.serve.warehouse import ParquetWarehouse
from lakehouse.tables.parquet import ParquetTableStore


def _rows(engine: DuckDBEngine, table: str, order: str) -> list[tuple]:
    result: Result = engine.query(f"SELECT * FROM {table} ORDER BY {order}")
    return result.rows


def _spark_rows(df, order: str) -> list[tuple]:
    return [tuple(r) for r in df.orderBy(*order.split(", ")).collect()]


def test_spark_written_tables_read_the_same_without_spark(spark, settings):
    store = ParquetTableStore(spark, settings)
    t0 = dt.datetime(2026, 10, 2, 8, 0, 5, 123456)
    run = {
        "run_id": "r1", "job": "gold_kpis", "env": "local", "profile": "local", "git_sha": None,
        "started_at": t0, "ended_at": t0 + dt.timedelta(seconds=61), "status": "succeeded", "error": None,
        "tables": [{"table": "gold.x", "rows_in": 3, "rows_out": None, "details": {"inserted": 3}}],
    }
    store.append(RUN_LOG, spark.createDataFrame([run], OPS_SCHEMAS[RUN_LOG]))
    scorecard = GOLD_SCHEMAS["gold.location_scorecard"]
    rows = [
        ("l1", "One", None, dt.date(2026, 7, 1), 10, Decimal("12.50"), Decimal("1.25"), 0.5, 4, None, 1.0, 0.3, True),
        ("l2", "Two", "east", dt.date(2026, 8, 1), 0, Decimal("0.00"), None, None, 0, 0.25, None, 0.0, False),
    ]
    store.overwrite("gold.location_scorecard", spark.createDataFrame(rows, scorecard), partition_by=["month"])
    extra = T.StructType([*scorecard.fields, T.StructField("note", T.StringType())])
    store.merge("gold.location_scorecard", spark.createDataFrame([], extra), keys=["location_id", "month"])
    store.overwrite("gold.churn_risk", spark.createDataFrame([], GOLD_SCHEMAS["gold.churn_risk"]), partition_by=["scored_on"])

    reader = ParquetWarehouse(settings)
    engine = DuckDBEngine(reader, tables=[RUN_LOG, "gold.location_scorecard", "gold.churn_risk"], views=False)
    [got] = _rows(engine, "ops.run_log", "run_id")
    assert got[:5] == ("r1", "gold_kpis", "local", "local", None)
    assert got[5] == t0.replace(tzinfo=dt.UTC)  # Spark's INT96 timestamp, as the instant it is
    assert got[9] == [{"table": "gold.x", "rows_in": 3, "rows_out": None, "details": {"inserted": 3}}]

    expected = _spark_rows(store.read("gold.location_scorecard"), "location_id")
    columns = engine.query('SELECT * FROM gold."location_scorecard" LIMIT 0').columns
    assert columns == [*scorecard.names, "note"]  # the log's schema, in its order
    read = [dict(zip(columns, r, strict=True)) for r in _rows(engine, 'gold."location_scorecard"', "location_id")]
    spark_cols = store.read("gold.location_scorecard").columns
    assert [tuple(r[c] for c in spark_cols) for r in read] == expected
    assert {r["note"] for r in read} == {None}  # the merge's new column: in the log schema, in no file
    assert _rows(engine, 'gold."churn_risk"', "membership_id") == []  # an empty version

    store.overwrite("gold.location_scorecard", spark.createDataFrame(rows[:1], scorecard), partition_by=["month"])
    store.rollback("gold.location_scorecard", 1)
    engine.refresh()
    assert engine.versions()["gold.location_scorecard"] == 3
    assert len(_rows(engine, 'gold."location_scorecard"', "location_id")) == 2
