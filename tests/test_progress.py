"""Progress a person can follow: the live display on a terminal, plain lines elsewhere, and no Spark start-up
chatter on the terminal while real warnings and errors still show."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from lakehouse import progress

ROOT = Path(__file__).resolve().parents[1]
CHATTER = (
    "resolves to a loopback address",
    "Set SPARK_LOCAL_IP",
    "NativeCodeLoader",
    "Setting default log level",
    "To adjust logging level",
    "Using Spark's default log4j profile",
    "dev.ludovic.netlib",
    "Failed to load implementation from",
)


def test_the_live_line_follows_the_events():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    log = logging.getLogger("lakehouse.bronze")
    with progress.live_display(console) as display:
        display._spark_status = lambda: "spark 3/8 tasks"
        progress.step("bronze", "r1")
        progress.plan("files", 12)
        progress.working("bronze.tickets")
        log.info("bronze.tickets: 5 files, 1200 rows read", extra=progress.done(5, 1200))
        progress.working("bronze.payments")
        log.info("bronze.payments: 4 files, 800 rows read", extra=progress.done(4, 800))
        console.print(display)  # what the live line shows now
    text = out.getvalue()
    line = next(ln for ln in text.splitlines() if "files 9/12" in ln)
    for part in ("bronze", "bronze.payments", "files 9/12", "rows 2,000", "0:00:0", "spark 3/8 tasks"):
        assert part in line, (part, line)
    assert " bronze.tickets: 5 files, 1200 rows read" in text  # the plain line, printed above
    assert logging.getLogger("lakehouse").handlers == [] or not any(
        isinstance(h, progress.LiveProgress) for h in logging.getLogger("lakehouse").handlers
    )


def test_the_live_display_is_for_terminals_only(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert not progress.wants_live(Console(file=io.StringIO()))  # piped: plain lines
    monkeypatch.setenv("CI", "true")
    assert not progress.wants_live(Console(file=io.StringIO(), force_terminal=True))


def test_spark_start_up_chatter_stays_off_the_terminal_but_errors_do_not(tmp_path):
    """`lakehouse run gold` on an empty warehouse starts Spark and fails: stderr has its error and the plain
    timestamped lines, none of Spark's start-up lines."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")}
    env.pop("SPARK_LOCAL_IP", None)
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse", "run", "gold", "--warehouse", str(tmp_path / "wh")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    assert result.returncode == 2
    assert "error: gold needs silver.locations" in result.stderr
    assert not [line for line in result.stderr.splitlines() if any(c in line for c in CHATTER)], result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert all(ln[:2].isdigit() and ln[2] == ":" for ln in lines[:-1]), lines  # HH:MM:SS lines, then the error
    assert "LAKEHOUSE_ALERT severity=error check=step_failed" in result.stdout


def test_a_real_spark_warning_still_reaches_stderr(tmp_path):
    probe = (
        "from lakehouse.config import load_profile, load_settings\n"
        "from lakehouse.session import build_session\n"
        "from pyspark.sql import Window, functions as F\n"
        "s = load_settings('local')\n"
        "spark = build_session(s, load_profile('local'), app_name='probe')\n"
        # a window without a partition: Spark warns that all rows go to one partition
        "spark.range(3).withColumn('r', F.row_number().over(Window.orderBy('id'))).collect()\n"
        "spark._jvm.org.apache.logging.log4j.LogManager.getLogger('probe').error('a real error')\n"
        "spark.stop()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("SPARK_LOCAL_IP", None)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "WARN WindowExec: No Partition Defined for Window operation!" in result.stderr
    assert "ERROR probe: a real error" in result.stderr
    assert not [line for line in result.stderr.splitlines() if any(c in line for c in CHATTER)], result.stderr
