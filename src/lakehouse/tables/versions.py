"""The Parquet format's version log: which versions of a table are committed, and the files each one uses.

Layout of one table, beside the layers (`<warehouse>/_versions/<layer>/<table>/`):

    _log/00000000000000000007.json    one per kept version: the commit point (created atomically, never
                                      replaced), with the operation, time, rows, schema, partitioning and
                                      the data directory the version reads
    v000007-3f9a1c2e/                 the files of version 7, written once by one writer (its own
                                      directory name), never changed

A version is committed when its log file exists; a data directory no log entry names is a killed
writer's leftover (or one that lost a race) and is never read.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lakehouse.errors import UserError
from lakehouse.fs import FileSystem, join

VERSIONS_DIR = "_versions"  # <warehouse>/_versions/<layer>/<table>/
LOG_DIR = "_log"
_DATA_NAME = re.compile(r"v(\d{6,})(?:-[0-9a-f]+)?")

if TYPE_CHECKING:  # the log is read without Spark too (lakehouse.serve)
    from pyspark.sql import types as T


@dataclass(frozen=True)
class Version:
    """One committed version as stored in the table's log."""

    version: int
    committed_at: str  # ISO-8601 UTC
    operation: str
    rows: int | None
    data: str  # version directory holding the files (a rollback points at an older one)
    schema: str  # StructType JSON: the columns `read` returns, in order
    partition_by: tuple[str, ...]
    restored: int | None = None  # rollback: the version made current again

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Version:
        data = json.loads(text)
        data["partition_by"] = tuple(data["partition_by"])
        return Version(**data)

    @property
    def struct(self) -> T.StructType:
        """The schema `read` returns."""
        from pyspark.sql import types as T

        return T.StructType.fromJson(json.loads(self.schema))

    @property
    def committed(self) -> datetime:
        """The commit time (UTC)."""
        return datetime.fromisoformat(self.committed_at)


def now() -> str:
    """The commit time of a version committed now."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def log_name(version: int) -> str:
    return f"{version:020d}.json"


def data_name(version: int) -> str:
    """A new data directory for `version`, unique to the writer that asks for it."""
    return f"v{version:06d}-{uuid.uuid4().hex[:8]}"


def data_version(name: str) -> int | None:
    """The version number a data directory name was made for (`v000007`, `v000007-<token>`); None if not ours."""
    match = _DATA_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


class VersionLog:
    """The log of one table under `root` (`<warehouse>/_versions/<layer>/<table>`), on file system `fs`."""

    def __init__(self, fs: FileSystem, root: str, name: str):
        self.fs = fs
        self.root = root
        self.name = name

    def data_path(self, data: str) -> str:
        """The folder of data directory `data`."""
        return join(self.root, data)

    def entries(self) -> list[Version]:
        """Committed versions still kept, oldest first."""
        log = join(self.root, LOG_DIR)
        entries = []
        for name in self.fs.list_names(log):
            if name.endswith(".json") and name[:-5].isdigit():
                try:
                    entries.append(Version.from_json(self.fs.read_text(join(log, name))))
                except FileNotFoundError:  # pruned by a writer since the listing
                    continue
        return sorted(entries, key=lambda e: e.version)

    def has_versions(self) -> bool:
        """True when at least one version is committed (without reading the entries)."""
        return any(n.endswith(".json") and n[:-5].isdigit() for n in self.fs.list_names(join(self.root, LOG_DIR)))

    def latest(self) -> Version | None:
        """The newest committed version (reading only its entry), None when there is none."""
        versions = [int(n[:-5]) for n in self.fs.list_names(join(self.root, LOG_DIR)) if n.endswith(".json") and n[:-5].isdigit()]
        for version in sorted(versions, reverse=True):
            try:
                return Version.from_json(self.fs.read_text(join(self.root, LOG_DIR, log_name(version))))
            except FileNotFoundError:  # pruned since the listing
                continue
        return None

    def require(self) -> list[Version]:
        """The entries; KeyError naming the table when it has none."""
        entries = self.entries()
        if not entries:
            raise KeyError(f"table {self.name} does not exist (no committed version under {self.root})")
        return entries

    def find(self, entries: list[Version], version: int) -> Version:
        """The entry of `version`; KeyError naming the kept ones when it is not kept."""
        for entry in entries:
            if entry.version == version:
                return entry
        kept = [e.version for e in entries]
        raise KeyError(f"table {self.name} has no version {version}; versions kept: {kept}")

    def commit(self, entry: Version) -> None:
        """Create the entry's log file: the commit point. RuntimeError when another writer committed it first."""
        try:
            self.fs.create_new(join(self.root, LOG_DIR, log_name(entry.version)), entry.to_json())
        except FileExistsError:
            raise UserError(
                f"{self.name}: another writer committed version {entry.version} while this write ran; nothing of "
                "this write was committed: run it again once the other writer is done (jobs hold the warehouse's "
                "lock: is something else writing this warehouse?)"
            ) from None

    def prune(self, keep_versions: int) -> None:
        """Drop log entries beyond the current and `keep_versions` earlier ones, then the data directories
        no kept entry uses and that no writer can still commit, and stale temporary log files.

        A directory is deleted only when its version number is below the latest committed one:
        versions dropped from the log, and leftovers of writers that were killed or lost the race
        for their version number. A writer still writing works, in a directory of its own, on the
        version after the latest (or on the latest, when another writer just won the race for it and
        it is yet to find out), so pruning never deletes its work; a killed writer's leftover goes
        one version later. Temporary log files of commits at or below the latest version go at once.
        """
        entries = self.entries()
        if not entries:
            return
        keep = entries[-(keep_versions + 1) :]
        for entry in entries[: len(entries) - len(keep)]:
            self.fs.delete(join(self.root, LOG_DIR, log_name(entry.version)))
        used = {e.data for e in keep}
        latest = entries[-1].version
        for child in self.fs.list_names(self.root):
            version = data_version(child)
            if child not in used and version is not None and version < latest:
                self.fs.delete(join(self.root, child))
        for name in self.fs.list_names(join(self.root, LOG_DIR)):
            digits = name.split(".", 1)[0]
            if not (name.endswith(".json") and name[:-5].isdigit()) and digits.isdigit() and int(digits) <= latest:
                self.fs.delete(join(self.root, LOG_DIR, name))  # a killed commit's temporary file
