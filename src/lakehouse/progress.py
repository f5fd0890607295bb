"""What a running job tells the person watching: plain timestamped lines in logs and CI, a live display on a terminal.

The jobs only log (logger `lakehouse.*`). Records may carry a progress event in `extra`
(`progress.plan`, `progress.working`, `progress.done`): how many files or tables a step has to go
through, which table it is on, how many it finished and the rows read. `LiveProgress` (a terminal only) keeps one
live line at the bottom of the screen (step, table, files or tables done of total, rows, elapsed,
and the running Spark stages' tasks) and prints the same lines above it. Elsewhere the `lakehouse`
command's plain handler prints the INFO lines as `HH:MM:SS message` on stderr (cli._log_progress).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

LOGGER = "lakehouse"
KEY = "progress"  # the LogRecord attribute holding an Event
log = logging.getLogger("lakehouse.progress")


@dataclass(frozen=True)
class Event:
    """A change in what the run is doing."""

    kind: str  # step | plan | working | done
    step: str | None = None
    table: str | None = None
    unit: str | None = None  # files | tables
    total: int | None = None
    done: int = 0
    rows: int = 0


def step(name: str, run_id: str) -> None:
    """A step starts (its lines are already printed by the pipeline's report: this one is for the display only)."""
    log.debug("step %s run %s", name, run_id, extra={KEY: Event("step", step=name)})


def plan(unit: str, total: int) -> None:
    """The step has `total` files or tables to go through."""
    log.debug("%d %s to do", total, unit, extra={KEY: Event("plan", unit=unit, total=total)})


def working(table: str) -> None:
    """The step starts on `table`."""
    log.debug("working on %s", table, extra={KEY: Event("working", table=table)})


def done(units: int = 0, rows: int = 0) -> dict[str, Any]:
    """`extra` for the INFO line that says a table is done: `units` files or tables more, `rows` rows read."""
    return {KEY: Event("done", done=units, rows=rows)}


def _line(record: logging.LogRecord) -> str:
    return f"{datetime.fromtimestamp(record.created):%H:%M:%S} {record.getMessage()}"


@dataclass
class State:
    """What the live line shows."""

    step: str = ""
    table: str = ""
    unit: str = "files"
    total: int | None = None
    done: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)
    step_started: float = field(default_factory=time.monotonic)

    def apply(self, event: Event) -> None:
        if event.kind == "step":
            self.step, self.table, self.total, self.done, self.rows = event.step or "", "", None, 0, 0
            self.step_started = time.monotonic()
        elif event.kind == "plan":
            self.unit, self.total, self.done = event.unit or "files", event.total, 0
        elif event.kind == "working":
            self.table = event.table or ""
        elif event.kind == "done":
            self.done += event.done
            self.rows += event.rows


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def spark_stage() -> str:
    """The running Spark stage's tasks (`stage 12: 3/8 tasks`), empty when none or no session."""
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        return ""
    try:
        tracker = sc.statusTracker()
        stages = [s for s in (tracker.getStageInfo(i) for i in tracker.getActiveStageIds()) if s is not None]
    except Exception:  # noqa: BLE001 - a session going away mid-refresh
        return ""
    if not stages:
        return ""
    tasks = sum(s.numTasks for s in stages)
    finished = sum(s.numCompletedTasks for s in stages)
    return f"spark {finished}/{tasks} tasks"


class LiveProgress(logging.Handler):
    """A live line at the bottom of a terminal, fed by the progress events; INFO lines printed above it."""

    def __init__(self, console: Console, spark_status=spark_stage, refresh_per_second: float = 4):
        super().__init__(logging.DEBUG)
        self.console = console
        self.state = State()
        self._spark_status = spark_status
        self._spark_text = ""
        self._spark_read = 0.0
        self._lock = threading.Lock()
        self._spinner = Spinner("dots")
        self.live = Live(self, console=console, refresh_per_second=refresh_per_second, transient=True)

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, KEY, None)
        with self._lock:
            if isinstance(event, Event):
                self.state.apply(event)
        if record.levelno >= logging.INFO:
            self.console.print(escape(_line(record)), highlight=False, soft_wrap=True)

    def report(self, *objects: Any, **kw: Any) -> None:
        """What the pipeline prints (step headers, summaries, tables), above the live line."""
        self.console.print(*objects, **kw)

    def __rich__(self):
        with self._lock:
            s = State(**vars(self.state))
        now = time.monotonic()
        if now - self._spark_read > 1.0:  # one status call a second is plenty
            self._spark_text, self._spark_read = self._spark_status(), now
        grid = Table.grid(padding=(0, 1))
        cells: list[Any] = [self._spinner, Text(s.step or "starting", style="bold")]
        if s.table:
            cells.append(Text(s.table, style="cyan"))
        if s.total is not None:
            cells.append(Text(f"{s.unit} {s.done}/{s.total}"))
        cells.append(Text(f"rows {s.rows:,}"))
        cells.append(Text(_clock(now - s.step_started)))
        if self._spark_text:
            cells.append(Text(self._spark_text, style="dim"))
        for _ in cells:
            grid.add_column()
        grid.add_row(*cells)
        return grid

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        self.live.stop()


def wants_live(console: Console) -> bool:
    """A live display only for a person at a terminal (stdout and stderr both terminals, not CI, not dumb)."""
    import os
    import sys

    if os.environ.get("CI") or os.environ.get("LAKEHOUSE_PROGRESS", "").lower() == "plain":
        return False
    return console.is_terminal and not console.is_dumb_terminal and sys.stderr.isatty()


@contextmanager
def live_display(console: Console) -> Iterator[LiveProgress]:
    """Show the live display while the block runs: it is the `lakehouse` logger's only handler meanwhile
    (progress events and INFO lines), and the logger's handlers come back afterwards."""
    logger = logging.getLogger(LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    handler = LiveProgress(console)
    for old in saved[0]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        with handler:
            yield handler
    finally:
        logger.removeHandler(handler)
        for old in saved[0]:
            logger.addHandler(old)
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
