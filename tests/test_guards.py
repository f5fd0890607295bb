"""Guards that stop a user's mistake with one line before anything is written, without Spark: `lakehouse sql` is
read-only, a warehouse path that is a file, Parquet asked to keep a warehouse on an object store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.errors import UserError
from lakehouse.inspect import check_read_only
from lakehouse.tables.warehouse import check_folders, check_writable

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("query", [
    "SELECT * FROM gold.location_scorecard",
    "  with x AS (SELECT 1 AS n) SELECT n FROM x",
    "SHOW TABLES IN gold",
    "DESCRIBE gold.location_scorecard",
    "EXPLAIN SELECT 1",
])
def test_sql_that_only_reads_is_allowed(query):
    check_read_only(query)


@pytest.mark.parametrize("query", [
    "INSERT INTO gold.location_scorecard SELECT * FROM gold.location_scorecard",
    "DROP TABLE gold.location_scorecard",
    "DELETE FROM bronze.tickets WHERE true",
    "UPDATE silver.tickets SET amount = 0",
    "CREATE TABLE x AS SELECT 1",
    "SELECT 1; DROP TABLE gold.location_scorecard",
    "",
])
def test_sql_that_writes_is_refused_in_one_line(query):
    with pytest.raises(UserError) as caught:
        check_read_only(query)
    assert "\n" not in str(caught.value)


def test_a_warehouse_path_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "wh").write_text("not a folder")
    settings = load_settings("local", overrides={"warehouse": str(tmp_path / "wh")})
    with pytest.raises(UserError, match="is a file"):
        check_folders(settings, None)


def test_parquet_cannot_be_written_to_an_object_store_but_it_can_be_read():
    parquet = load_settings("local", overrides={"warehouse": "gs://bucket/wh", "table_format": "parquet"})
    with pytest.raises(UserError, match="table_format parquet cannot keep a warehouse on gs://"):
        check_writable(parquet)
    check_writable(parquet.model_copy(update={"table_format": "delta"}))
    check_writable(load_settings("local", overrides={"warehouse": "/tmp/wh"}))


def test_the_refusal_comes_before_spark_starts():
    run = subprocess.run(
        [sys.executable, "-m", "lakehouse", "run", "bronze", "--warehouse", "gs://bucket/wh", "--table-format",
         "parquet"], capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0, run.stderr  # one line: no JVM start-up lines before it
    assert "table_format parquet cannot keep a warehouse on gs://" in run.stderr
