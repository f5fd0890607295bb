"""One writer per warehouse: a lock a job holds from its start to its end.

Two jobs writing one warehouse at once can lose data (a failing writer's cleanup removing the
other's version, a manifest holding files twice). Every command that writes takes the warehouse's
lock first; a second writer fails at once with one line naming the holder, or waits (`--wait`).

- On a local disk the lock is an OS file lock (`flock`) on `<warehouse>/_lock`: the kernel
  releases it when its process ends, however it ends, so a killed run never leaves a stale lock.
  The file also says who holds it (run id, job, start time, host, pid), for the message.
- On `gs://` it is an object, `<warehouse>/_lock`, created with the precondition "does not exist"
  (`ifGenerationMatch=0`), refreshed every `HEARTBEAT_SECONDS` with the precondition "still my
  generation", and deleted the same way. A lock whose heartbeat is older than `STALE_SECONDS` was
  left by a killed run: the next writer deletes that exact generation and takes the lock; of two
  writers racing for it, the preconditions let one win.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from lakehouse.errors import UserError
from lakehouse.fs import join, local_path, normalize, scheme

LOCK_NAME = "_lock"
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 300.0  # a gs:// lock not refreshed for this long belongs to a killed run
WAIT_POLL_SECONDS = 5.0

log = logging.getLogger("lakehouse.lock")


@dataclass(frozen=True)
class Holder:
    """Who holds a warehouse lock."""

    run_id: str
    job: str
    started_at: str  # ISO-8601 UTC
    host: str
    pid: int
    heartbeat_at: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Holder | None:
        try:
            return Holder(**json.loads(text))
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        return f"run {self.run_id} ({self.job}, started {self.started_at} on {self.host}, pid {self.pid})"


class WarehouseLocked(UserError):
    """Another job holds the warehouse's lock."""

    def __init__(self, warehouse: str, holder: Holder | None):
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(
            f"warehouse {warehouse} is being written by {who}; wait for it to finish, or pass --wait to wait for it"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _FileLock:
    """`flock` on a local file: released by the kernel when the process ends."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None

    def try_acquire(self, holder: Holder) -> Holder | None:
        """Take the lock and write `holder` into it; the current holder instead when it is taken."""
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = Holder.from_json(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
            os.close(fd)
            return other or Holder("unknown", "unknown", "unknown", "unknown", 0)
        self._fd = fd
        self.update(holder)
        return None

    def update(self, holder: Holder) -> None:
        assert self._fd is not None
        data = holder.to_json().encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def current(self) -> Holder | None:
        """The holder, or None when nobody holds the lock (a kernel lock test, no waiting)."""
        import fcntl

        if not os.path.exists(self.path):
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return Holder.from_json(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


class _GcsLock:
    """A lock object on Cloud Storage, made safe by generation preconditions (see the module docstring)."""

    def __init__(self, uri: str):
        from google.cloud import storage

        bucket, _, name = uri.removeprefix("gs://").partition("/")
        self.uri = uri
        self._blob_name = name
        self._bucket = storage.Client().bucket(bucket)  # STORAGE_EMULATOR_HOST points it at a test server
        self._generation: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def _read(self) -> tuple[Holder | None, int | None]:
        blob = self._bucket.get_blob(self._blob_name)
        if blob is None:
            return None, None
        return Holder.from_json(blob.download_as_bytes(if_generation_match=blob.generation).decode()), blob.generation

    def try_acquire(self, holder: Holder) -> Holder | None:
        from google.api_core import exceptions as gexc

        holder = replace(holder, heartbeat_at=_now())
        for _ in range(3):
            blob = self._bucket.blob(self._blob_name)
            try:
                blob.upload_from_string(holder.to_json(), if_generation_match=0, content_type="application/json")
            except gexc.PreconditionFailed:
                try:
                    other, generation = self._read()
                except (gexc.PreconditionFailed, gexc.NotFound):
                    continue  # changed while we looked: look again
                if other is None or generation is None or not _stale(other):
                    return other or Holder("unknown", "unknown", "unknown", "unknown", 0)
                log.warning("taking over the lock of %s: no heartbeat since %s", other.describe(), other.heartbeat_at)
                try:
                    self._bucket.blob(self._blob_name).delete(if_generation_match=generation)
                except (gexc.PreconditionFailed, gexc.NotFound):
                    pass  # someone else took it over first: try again
                continue
            self._generation = blob.generation
            self._holder = holder
            self._thread = threading.Thread(target=self._beat, name="lakehouse-lock-heartbeat", daemon=True)
            self._thread.start()
            return None
        other, _ = self._read()
        return other or Holder("unknown", "unknown", "unknown", "unknown", 0)

    def update(self, holder: Holder) -> None:
        from google.api_core import exceptions as gexc

        holder = replace(holder, heartbeat_at=_now())
        blob = self._bucket.blob(self._blob_name)
        try:
            blob.upload_from_string(holder.to_json(), if_generation_match=self._generation, content_type="application/json")
        except gexc.PreconditionFailed:
            self.lost = True
            log.error("the warehouse lock %s was taken over by another writer", self.uri)
            return
        self._generation = blob.generation
        self._holder = holder

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.update(self._holder)
            except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried at the next one
                log.warning("lock heartbeat failed: %s", exc)
            if self.lost:
                return

    def release(self) -> None:
        from google.api_core import exceptions as gexc

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._generation is not None and not self.lost:
            try:
                self._bucket.blob(self._blob_name).delete(if_generation_match=self._generation)
            except (gexc.PreconditionFailed, gexc.NotFound):
                pass
        self._generation = None

    def current(self) -> Holder | None:
        from google.api_core import exceptions as gexc

        try:
            other, _ = self._read()
        except (gexc.PreconditionFailed, gexc.NotFound):
            return None
        return None if other is None or _stale(other) else other


def _stale(holder: Holder) -> bool:
    if not holder.heartbeat_at:
        return True
    try:
        beat = datetime.fromisoformat(holder.heartbeat_at)
    except ValueError:
        return True
    return (datetime.now(UTC) - beat).total_seconds() > STALE_SECONDS


def _lock_for(warehouse: str) -> _FileLock | _GcsLock:
    path = join(normalize(warehouse), LOCK_NAME)
    local = local_path(path)
    if local is not None:
        return _FileLock(local)
    if scheme(path) == "gs":
        return _GcsLock(path)
    raise UserError(f"warehouse {warehouse}: writing is supported on a local disk or gs://, not {scheme(path)}://")


# warehouse -> (lock, depth): a job that holds the lock may enter nested writers (steps of a pipeline)
_held: dict[str, tuple[_FileLock | _GcsLock, int]] = {}
_held_guard = threading.Lock()


@contextmanager
def warehouse_lock(warehouse: str, run_id: str, job: str, wait: bool = False) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block (re-entrant within this process).

    Raises WarehouseLocked (one line naming the holder) when another job holds it, unless `wait`,
    which polls until it is free.
    """
    key = normalize(warehouse)
    with _held_guard:
        if key in _held:
            lock, depth = _held[key]
            _held[key] = (lock, depth + 1)
            nested = True
        else:
            nested = False
    if not nested:
        lock = _lock_for(key)
        holder = Holder(run_id, job, _now(), socket.gethostname(), os.getpid())
        announced = False
        while (other := lock.try_acquire(holder)) is not None:
            if not wait:
                raise WarehouseLocked(warehouse, other)
            if not announced:
                log.info("waiting for the warehouse lock: %s holds it", other.describe())
                announced = True
            time.sleep(WAIT_POLL_SECONDS)
        with _held_guard:
            _held[key] = (lock, 1)
    try:
        yield
    finally:
        with _held_guard:
            lock, depth = _held[key]
            if depth > 1:
                _held[key] = (lock, depth - 1)
                release = False
            else:
                del _held[key]
                release = True
        if release:
            lock.release()


def note_run(warehouse: str, run_id: str, job: str) -> None:
    """Record in the held lock which run is going on now (a pipeline runs one step after another)."""
    with _held_guard:
        held = _held.get(normalize(warehouse))
    if held is not None:
        held[0].update(Holder(run_id, job, _now(), socket.gethostname(), os.getpid()))


def current_holder(warehouse: str) -> Holder | None:
    """Who holds the warehouse's lock now; None when nobody does (no JVM, no waiting)."""
    try:
        return _lock_for(warehouse).current()
    except UserError:
        return None
