"""Job runs: every run, succeeded or failed, appends one row to ops.run_log with its counts."""

from pathlib import Path

import pytest

from lakehouse.runtime import RUN_LOG, JobOptions, job_run
from lakehouse.tables import open_table_store

ROOT = Path(__file__).resolve().parents[1]


def options(tmp_path, run_id):
    return JobOptions(
        env="local",
        profile="local",
        conf_dir=str(ROOT / "conf"),
        warehouse=str(tmp_path / "wh"),
        landing=str(tmp_path / "landing"),
        run_id=run_id,
    )


def test_runs_are_logged_with_status_counts_and_errors(spark, tmp_path):
    with job_run("bronze_merge", options(tmp_path, "run-1"), spark=spark) as run:
        run.record("bronze.tickets", rows_in=10, rows_out=7, rows_superseded=2, quarantined_null_merge_key=1)
        settings = run.settings

    with pytest.raises(ZeroDivisionError), job_run("gold_kpis", options(tmp_path, "run-2"), spark=spark) as run:
        run.record("gold.churn_retention", rows_in=3)
        raise ZeroDivisionError("division by zero")

    log = open_table_store(spark, settings).read(RUN_LOG)
    rows = {r["run_id"]: r.asDict(recursive=True) for r in log.collect()}
    assert set(rows) == {"run-1", "run-2"}

    ok, failed = rows["run-1"], rows["run-2"]
    assert (ok["job"], ok["env"], ok["profile"], ok["status"], ok["error"]) == (
        "bronze_merge", "local", "local", "succeeded", None,
    )
    assert ok["tables"] == [
        {
            "table": "bronze.tickets",
            "rows_in": 10,
            "rows_out": 7,
            "details": {"rows_superseded": 2, "quarantined_null_merge_key": 1},
        }
    ]
    assert ok["ended_at"] >= ok["started_at"]
    assert ok["git_sha"]
    assert (failed["status"], failed["error"]) == ("failed", "ZeroDivisionError: division by zero")
    assert failed["tables"][0]["table"] == "gold.churn_retention"


def test_run_ids_are_unique_and_sortable(spark, tmp_path):
    ids = []
    for _ in range(2):
        with job_run("silver_clean", options(tmp_path, None), spark=spark) as run:
            ids.append(run.run_id)
    assert ids[0] != ids[1]
    stamps = [i.split("-")[0] for i in ids]
    assert [i.split("-")[1] for i in ids] == ["silver_clean", "silver_clean"]
    assert stamps == sorted(stamps) and all(len(s) == len("20260101T000000Z") for s in stamps)
