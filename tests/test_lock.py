"""One writer per warehouse: a second writer fails at once naming the holder (or waits), a killed holder frees
the lock, and on gs:// a lock left by a killed run is taken over once its heartbeat is stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fakes.gcs_server import available, create_bucket, gcs_server

from lakehouse import lock
from lakehouse.lock import Holder, WarehouseLocked, current_holder, warehouse_lock

ROOT = Path(__file__).resolve().parents[1]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from lakehouse.lock import warehouse_lock
    with warehouse_lock(sys.argv[1], "run-held", "bronze_merge"):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold(warehouse: str, seconds: float) -> subprocess.Popen:
    """Another process holding the warehouse's lock for `seconds`."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, warehouse, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    warehouse = str(tmp_path / "wh")
    holder = hold(warehouse, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLocked, match=r"is being written by run run-held \(bronze_merge, started .* pid"):
            with warehouse_lock(warehouse, "run-2", "silver_clean"):
                pass
        assert time.monotonic() - started < 2
        assert current_holder(warehouse).run_id == "run-held"
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    warehouse = str(tmp_path / "wh")
    holder = hold(warehouse, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert current_holder(warehouse) is None
    with warehouse_lock(warehouse, "run-2", "silver_clean"):
        assert current_holder(warehouse).run_id == "run-2"
    assert current_holder(warehouse) is None


def test_wait_takes_the_lock_once_the_holder_is_done(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, "WAIT_POLL_SECONDS", 0.2)
    warehouse = str(tmp_path / "wh")
    holder = hold(warehouse, 2)
    started = time.monotonic()
    with warehouse_lock(warehouse, "run-2", "silver_clean", wait=True):
        assert time.monotonic() - started >= 1
    holder.wait()


def test_the_lock_is_reentrant_within_a_job(tmp_path):
    warehouse = str(tmp_path / "wh")
    with warehouse_lock(warehouse, "run-1", "pipeline"):
        with warehouse_lock(warehouse, "run-1b", "bronze_merge"):
            lock.note_run(warehouse, "run-1b", "bronze_merge")
            assert current_holder(warehouse).run_id == "run-1b"
        assert current_holder(warehouse) is not None  # the outer job still holds it
    assert current_holder(warehouse) is None


def test_a_second_lakehouse_run_is_one_line_and_exit_code_2(tmp_path):
    warehouse = str(tmp_path / "wh")
    holder = hold(warehouse, 120)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "lakehouse", "run", "bronze", "--warehouse", warehouse,
             "--landing", str(tmp_path / "landing")],
            capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "COLUMNS": "200"},
        )
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "is being written by run run-held (bronze_merge" in run.stderr and "--wait" in run.stderr


@pytest.mark.skipif(available() is not None, reason=str(available()))
def test_on_gcs_a_stale_lock_is_taken_over_and_a_live_one_is_not(monkeypatch):
    with gcs_server() as address:
        create_bucket(address, "locks")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", address)
        warehouse = "gs://locks/wh"
        with warehouse_lock(warehouse, "run-1", "bronze_merge"):
            with pytest.raises(WarehouseLocked, match="is being written by run run-1"), _other_process(warehouse):
                pass

        # a lock object a killed run left: its heartbeat stops; once stale, the next writer takes over
        from google.cloud import storage

        stale = Holder("run-dead", "bronze_merge", "2020-01-01T00:00:00+00:00", "host", 1, "2020-01-01T00:00:00+00:00")
        storage.Client().bucket("locks").blob("wh/_lock").upload_from_string(stale.to_json(), if_generation_match=0)
        assert current_holder(warehouse) is None  # stale: nobody really holds it
        with warehouse_lock(warehouse, "run-3", "silver_clean"):
            assert current_holder(warehouse).run_id == "run-3"
        assert current_holder(warehouse) is None


class _other_process:  # noqa: N801 - a context manager named for what it stands for
    """The lock taken as a second writer would take it (a fresh lock object, not this process's held one)."""

    def __init__(self, warehouse: str):
        self.warehouse = warehouse

    def __enter__(self):
        other = lock._lock_for(self.warehouse)
        holder = other.try_acquire(Holder("run-2", "silver_clean", "now", "host", 2))
        if holder is not None:
            raise WarehouseLocked(self.warehouse, holder)
        other.release()
        return self

    def __exit__(self, *exc):
        return False


def test_heartbeats_keep_a_gcs_lock_alive(monkeypatch):
    if available() is not None:
        pytest.skip(available())
    monkeypatch.setattr(lock, "HEARTBEAT_SECONDS", 0.3)
    with gcs_server() as address:
        create_bucket(address, "beats")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", address)
        with warehouse_lock("gs://beats/wh", "run-1", "bronze_merge"):
            first = current_holder("gs://beats/wh").heartbeat_at
            deadline = time.monotonic() + 10
            while current_holder("gs://beats/wh").heartbeat_at == first:
                assert time.monotonic() < deadline, "no heartbeat"
                time.sleep(0.2)
        assert current_holder("gs://beats/wh") is None
