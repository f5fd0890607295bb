"""Nothing lost, nothing stale: runs killed (SIGKILL) at every named point and run again give exactly what an
uninterrupted run gives, on Parquet and on Delta; a rollback is followed by the exports it undid; an empty or
wrongly mounted landing never empties bronze.

A small landing is generated once; its latest export of every store and entity is held back as a second
batch. The reference warehouse ran batch 1 and batch 2 uninterrupted. Each fault case starts from a copy of
the warehouse after batch 1, runs batch 2 in a process of its own with `LAKEHOUSE_FAULT=<point>` (the process
kills itself there, see lakehouse.faults), runs the pipeline again, and compares a content checksum of every
table with the reference's (the columns that name a run, ids and times, left out).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import inspect, pipeline
from lakehouse.config import load_config
from lakehouse.contract import ALERTS, BRONZE_MANIFEST, DQ_RESULTS, RUN_LOG
from lakehouse.errors import UserError
from lakehouse.faults import FAULT_ENV
from lakehouse.generate.batches import hold_back_latest
from lakehouse.jvm import local_jars
from lakehouse.runtime import JobOptions
from lakehouse.scoring.store import resolve_version, saved_versions
from lakehouse.tables import open_table_store

ROOT = Path(__file__).resolve().parents[1]
RUN_COLUMNS = {"_run_id", "_ingested_at", "_silver_run_id", "_quarantined_at", "run_id", "recorded_at",
               "detected_at", "checked_at", "model_version", "trained_at", "model_path", "as_of"}
HAS_DELTA = bool(local_jars().delta)
QUIET = lambda *a, **k: None  # noqa: E731 - reports are not what these tests look at

# point -> the step the killed process runs, which is also the step run again and compared: a bronze
# point is hit by the incremental merge of batch 2, the others by the pipeline
POINTS = {
    "bronze.quarantined": "bronze",
    "bronze.merged": "bronze",
    "bronze.bad_files_recorded": "bronze",
    "parquet.committed:bronze.tickets": "bronze",
    "silver.table_written": "pipeline",
    "gold.table_written": "pipeline",
    "scoring.model_written": "pipeline",
    "scoring.model_saved": "pipeline",
}
# in the default suite: a kill between the bronze merge and its manifest rows (the case the ordering exists for);
# every other point and Delta (about 6 minutes a case here) run with the slow tests (`make test-slow`)
FAST = {("parquet", "bronze.merged")}


def _cases():
    for fmt in ("parquet", "delta"):
        for point in POINTS:
            if point.startswith("parquet.") and fmt != "parquet":
                continue
            marks = [] if (fmt, point) in FAST else [pytest.mark.slow]
            if fmt == "delta" and not HAS_DELTA:
                marks.append(pytest.mark.skip(reason="no Delta jars in the jar cache: run `make jars`"))
            yield pytest.param(fmt, point, marks=marks, id=f"{fmt}-{point}")



def _options(landing: Path, warehouse: Path, fmt: str) -> JobOptions:
    return JobOptions(env="local", profile="local", landing=str(landing), warehouse=str(warehouse), table_format=fmt)


def checksums(spark, warehouse: Path, fmt: str) -> dict[str, str]:
    """A content checksum of every table but the run log and the alerts (which rightly show the killed run and
    what the runs after it found); the columns naming a run left out; of the data-quality results, those of the
    latest silver run (each run appends its own)."""
    config = load_config("local", "local")
    store = open_table_store(spark, config.settings.model_copy(update={"warehouse": str(warehouse), "table_format": fmt}))
    out = {}
    for name in store.list_tables():
        if name in (RUN_LOG, ALERTS):
            continue
        df = store.read(name)
        if name == DQ_RESULTS:
            latest = df.agg({"run_id": "max"}).first()[0]
            df = df.where(df.run_id == latest)
        df = df.select(*sorted(c for c in df.columns if c not in RUN_COLUMNS))
        rows = sorted(repr(tuple(r)) for r in df.collect())
        out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
    return out


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """Batch 1, and batch 1 + 2; batch 2 brings a row without a merge key and a file that is not UTF-8 too."""
    from lakehouse.generate import generate

    root = tmp_path_factory.mktemp("faults")
    batch1 = root / "batch1"
    generate(out=batch1, stores=2, tickets=1500, seed=13)
    held = root / "held"
    hold_back_latest(batch1, held)
    both = root / "both"
    shutil.copytree(batch1, both)
    shutil.copytree(held, both, dirs_exist_ok=True)
    store = sorted(p.name for p in both.iterdir() if p.is_dir())[0]
    (both / store / "tickets" / "zz_late.csv").write_text("sTicketId,sLocationId,dtUpdated\n,L1,2026-09-30T10:00:00Z\n")
    (both / store / "tickets" / "zz_latin1.csv").write_bytes("sTicketId\ncaf\xe9\n".encode("latin-1"))
    return batch1, both


@pytest.fixture(scope="module")
def references(spark, batches, tmp_path_factory):
    """(format, step) -> (a warehouse after batch 1, the checksums after batch 1 then batch 2), made on first use."""
    batch1, both = batches
    made: dict[tuple[str, str], tuple[Path, dict[str, str]]] = {}

    def reference(fmt: str, step: str) -> tuple[Path, dict[str, str]]:
        if (fmt, step) not in made:
            root = tmp_path_factory.mktemp(f"reference_{fmt}_{step}")
            first, second = root / "after_batch1", root / "after_batch2"
            pipeline.run_steps(step, _options(batch1, first, fmt), report=QUIET)
            shutil.copytree(first, second, symlinks=True)
            pipeline.run_steps(step, _options(both, second, fmt), report=QUIET)
            made[(fmt, step)] = (first, checksums(spark, second, fmt))
        return made[(fmt, step)]

    return reference


@pytest.mark.parametrize(("fmt", "point"), list(_cases()))
def test_a_run_killed_at_a_point_then_run_again_gives_the_uninterrupted_result(
    spark, batches, references, tmp_path, fmt, point
):
    _, both = batches
    step = POINTS[point]
    first, reference = references(fmt, step)
    warehouse = tmp_path / "warehouse"
    shutil.copytree(first, warehouse, symlinks=True)
    killed = subprocess.run(
        [sys.executable, "-m", "lakehouse", "run", step, "--landing", str(both), "--warehouse",
         str(warehouse), "--table-format", fmt],
        capture_output=True, text=True, cwd=ROOT, timeout=1800, env={**os.environ, FAULT_ENV: point},
    )
    assert killed.returncode == -signal.SIGKILL, f"never reached {point}: {killed.stderr[-2000:]}"

    runs = inspect.latest_runs(JobOptions(env="local", warehouse=str(warehouse)), 1)
    assert runs[0]["status"] == inspect.STALE  # the killed run shows, as killed

    pipeline.run_steps(step, _options(both, warehouse, fmt), report=QUIET)
    assert checksums(spark, warehouse, fmt) == reference
    if step == "pipeline":  # `latest` names a complete model, never a partial one
        assert resolve_version(spark, str(warehouse), "latest") == saved_versions(spark, str(warehouse))[-1]


def test_rollback_of_bronze_then_an_incremental_run_reads_the_undone_exports_again(spark, batches, references, tmp_path):
    _, both = batches
    first, reference = references("parquet", "bronze")
    warehouse = tmp_path / "warehouse"
    shutil.copytree(first, warehouse, symlinks=True)
    options, plain = _options(both, warehouse, "parquet"), JobOptions(env="local", warehouse=str(warehouse))
    pipeline.run_steps("bronze", options, report=QUIET)  # batch 2 merged
    history = inspect.table_history(plain, "bronze.tickets")
    assert inspect.rollback(plain, "bronze.tickets", history[-1]["version"]) == history[0]["version"] + 1
    summary = pipeline.run_steps("bronze", options, report=QUIET)["bronze"]
    assert summary["files_read"] > 0  # the exports merged after that version are read again
    assert checksums(spark, warehouse, "parquet")["bronze.tickets"] == reference["bronze.tickets"]


def test_an_empty_landing_changes_nothing_and_a_full_refresh_from_it_is_refused(spark, references, tmp_path):
    first, _ = references("parquet", "bronze")
    warehouse, empty = tmp_path / "warehouse", tmp_path / "empty-landing"
    shutil.copytree(first, warehouse, symlinks=True)
    empty.mkdir()
    before = checksums(spark, warehouse, "parquet")
    assert pipeline.run_steps("bronze", _options(empty, warehouse, "parquet"), report=QUIET)["bronze"]["files_read"] == 0
    with pytest.raises(UserError, match=r"a full refresh from .* would drop [\d,]+ of the [\d,]+ exports merged so far "
                                        r"\(100%, more than bronze.full_refresh_max_drop 20%.*pass --force"):
        pipeline.run_steps("bronze", _options(empty, warehouse, "parquet"), report=QUIET, full_refresh=True)
    assert checksums(spark, warehouse, "parquet") == before
    settings = load_config("local", "local").settings.model_copy(update={"warehouse": str(warehouse)})
    assert open_table_store(spark, settings).read(BRONZE_MANIFEST).count() > 0
