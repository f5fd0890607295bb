"""The benchmarks' measuring helper (benchmarks/measure.py): what it counts as resident memory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

GIB = 1024**3


@pytest.fixture(scope="module")
def measure():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "measure.py"
    spec = importlib.util.spec_from_file_location("measure", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    del sys.modules["measure"]


def test_a_fork_that_still_holds_its_parents_pages_is_not_counted_again(measure):
    jvm = 6 * GIB
    assert measure._forked(int(6 * GIB * 0.98), jvm)  # forked, not yet running its command
    assert not measure._forked(8 * 1024**2, jvm)  # the helper command running
    assert not measure._forked(6 * GIB, 4 * 1024**2)  # the JVM under its launcher script (bash)
    assert not measure._forked(6 * GIB, None)  # the root of the tree


def test_a_measured_run_reports_its_exit_time_and_memory(measure, tmp_path):
    log = tmp_path / "step.log"
    run = measure.run_measured("step", [sys.executable, "-c", "import time; print('x=1'); time.sleep(0.5)"], log)
    assert run.exit == 0
    assert run.seconds >= 0.5
    assert 0 < run.peak_rss_gib < 1
    assert "x=1" in log.read_text()
