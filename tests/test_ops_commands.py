"""`lakehouse freshness`, `lakehouse alerts` and `lakehouse report` on a warehouse of either format: the rows
they show (also as JSON), their mistakes, and that they start no JVM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.contract import ALERTS, OPS_SCHEMAS, SOURCE_FRESHNESS
from lakehouse.jvm import local_jars
from lakehouse.tables import open_table_store

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 9, 30, 23, 59)
FRESHNESS = [
    ("store_01", "tickets", "20260930T235900_0001", AS_OF, 24, 120, 0.0, "ok", "31d", AS_OF, "r1"),
    ("store_03", "tickets", "20260731T235900_0001", datetime(2026, 7, 31, 23, 59), 22, 95, 61.0, "late", "31d", AS_OF, "r1"),
    ("store_03", "payments", None, None, 0, None, None, "missing", "31d", AS_OF, "r1"),
]
ALERT_ROWS = [
    ("r1", "freshness", "warn", "tickets", "store_03", 61.0, 31.0, "store_03 tickets: late", datetime(2026, 12, 4, 3, 1)),
    ("r1", "freshness", "error", "payments", "store_03", None, 31.0, "store_03 never exported payments",
     datetime(2026, 12, 4, 3, 1)),
    ("r2", "step_failed", "error", None, None, None, None, "step gold failed: boom", datetime(2026, 12, 4, 3, 9)),
]


def lakehouse(*args, warehouse: Path):
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "lakehouse", *args, "--warehouse", str(warehouse)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.fixture(params=["parquet", "delta"])
def warehouse(request, spark, tmp_path):
    if request.param == "delta" and not local_jars().delta:
        pytest.skip("no Delta jars in the jar cache: run `make jars`")
    from lakehouse.tables.warehouse import declare_format

    settings = load_settings("local", overrides={"warehouse": str(tmp_path / "wh"), "table_format": request.param})
    declare_format(settings, spark)
    store = open_table_store(spark, settings)
    store.overwrite(SOURCE_FRESHNESS, spark.createDataFrame(FRESHNESS, OPS_SCHEMAS[SOURCE_FRESHNESS]))
    store.append(ALERTS, spark.createDataFrame(ALERT_ROWS, OPS_SCHEMAS[ALERTS]))
    return tmp_path / "wh"


def test_freshness_and_alerts_as_json_and_tables(warehouse):
    fresh = lakehouse("freshness", "--json", warehouse=warehouse)
    assert fresh.returncode == 0, fresh.stderr
    rows = json.loads(fresh.stdout)
    assert [(r["store_id"], r["entity"], r["status"]) for r in rows] == [
        ("store_03", "payments", "missing"), ("store_03", "tickets", "late"), ("store_01", "tickets", "ok"),
    ]
    assert rows[1]["last_export_at"] == "2026-07-31T23:59:00" and rows[1]["days_since_last_export"] == 61.0
    assert rows[0]["last_export_id"] is None and list(rows[0]) == OPS_SCHEMAS[SOURCE_FRESHNESS].names
    late = json.loads(lakehouse("freshness", "--json", "--status", "late", warehouse=warehouse).stdout)
    assert [r["entity"] for r in late] == ["tickets"]
    table = lakehouse("freshness", warehouse=warehouse)
    assert "ops.source_freshness (as of 2026-09-30 23:59:00)" in table.stdout and "20260731T235900_0001" in table.stdout

    alerts = json.loads(lakehouse("alerts", "--json", warehouse=warehouse).stdout)
    assert [(a["run_id"], a["check"], a["severity"]) for a in alerts] == [
        ("r2", "step_failed", "error"), ("r1", "freshness", "error"), ("r1", "freshness", "warn"),
    ]
    only = json.loads(lakehouse("alerts", "--json", "--run-id", "r1", "--severity", "warn", warehouse=warehouse).stdout)
    assert [a["message"] for a in only] == ["store_03 tickets: late"]
    shown = lakehouse("alerts", warehouse=warehouse)
    assert "step gold failed: boom" in shown.stdout
    for result in (fresh, shown):  # JVM-free: no Spark ever logs here
        assert "WARN" not in result.stderr and "SparkContext" not in result.stderr


def test_the_report_from_a_warehouse(warehouse, tmp_path):
    out = tmp_path / "report" / "health.html"
    result = lakehouse("report", "--html", str(out), warehouse=warehouse)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "store_03 never exported payments" in page and "<h2>Freshness</h2>" in page
    assert "No runs yet" in page  # no run log in this warehouse


def test_reading_starts_no_jvm(warehouse):
    probe = (
        "import sys\n"
        "from lakehouse.ops import read\n"
        "from lakehouse.runtime import JobOptions\n"
        f"rows = read.freshness(JobOptions(env='local', warehouse={str(warehouse)!r}))\n"
        "from pyspark import SparkContext\n"
        "assert SparkContext._active_spark_context is None and SparkContext._gateway is None\n"
        "print(len(rows))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "3"


def test_mistakes_are_one_line(tmp_path):
    empty = lakehouse("freshness", warehouse=tmp_path / "nothing")
    assert empty.returncode == 2 and "ops.source_freshness does not exist" in empty.stderr
    assert "run `lakehouse run bronze` first" in empty.stderr and "Traceback" not in empty.stderr
    bad = lakehouse("alerts", "--severity", "fatal", warehouse=tmp_path)
    assert bad.returncode == 2 and "--severity 'fatal': choose warn or error" in bad.stderr
    none = lakehouse("alerts", "--json", warehouse=tmp_path / "nothing")
    assert none.returncode == 0 and json.loads(none.stdout) == []
