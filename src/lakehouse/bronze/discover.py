"""Find the landing exports (`<landing>/<store_id>/<entity>/<export_id>.<ext>`) and read their bytes.

Local landing folders are listed and read with the standard library (fast, no JVM round trips);
any other URI (gs://, hdfs://) goes through Hadoop's FileSystem API of the Spark session, so the
same credentials and connectors as Spark's own reads apply.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Protocol

from pyspark.sql import SparkSession

STORE_ID = re.compile(r"[a-z0-9_]+")
FORMATS = ("csv", "parquet", "json")


@dataclass(frozen=True)
class ExportFile:
    """One file under the landing root: where it is, what it claims to be, and its size and mtime."""

    path: str  # qualified, not URL-encoded: file:/abs/path or gs://bucket/path
    store_id: str
    entity: str
    export_id: str
    fmt: str  # csv | parquet | json, or the file's own extension when it is none of them
    size: int
    mtime_ms: int
    problem: str | None = None  # why the file is not a valid export (bad store id, extension, depth)

    @property
    def name(self) -> str:
        """The file name (last path segment)."""
        return self.path.rsplit("/", 1)[-1]


class FileSystem(Protocol):
    """What bronze needs from a file system: list a tree, read bytes."""

    def list(self, root: str) -> list[tuple[str, int, int]]:
        """(qualified path, size, mtime in ms) of every file under `root`, recursively."""

    def read(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        """`length` bytes (all when None) from offset `start`."""


def local_path(uri: str) -> str | None:
    """The local path of a `file:` URI or plain path; None for any other scheme."""
    if uri.startswith("file:"):
        rest = uri[len("file:") :]
        if rest.startswith("//"):
            rest = rest[2:]
            rest = rest[rest.index("/") :] if not rest.startswith("/") and "/" in rest else rest
        return os.path.abspath(rest)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", uri):
        return None
    return os.path.abspath(uri)


class LocalFileSystem:
    """Files on the local disk (paths given as `file:/abs/path`)."""

    def list(self, root: str) -> list[tuple[str, int, int]]:
        base = local_path(root)
        assert base is not None
        out = []
        for dirpath, dirnames, names in os.walk(base, followlinks=True):
            dirnames.sort()
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                try:
                    st = os.stat(full)
                except FileNotFoundError:  # removed while listing
                    continue
                out.append((f"file:{full}", st.st_size, st.st_mtime_ns // 1_000_000))
        return out

    def read(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        local = local_path(path)
        assert local is not None
        with open(local, "rb") as fh:
            fh.seek(start)
            return fh.read() if length is None else fh.read(length)


class HadoopFileSystem:
    """Files through the session's Hadoop FileSystem (gs://, hdfs://, s3a://, also file:)."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def list(self, root: str) -> list[tuple[str, int, int]]:
        path = self._path(root)
        fs = path.getFileSystem(self._conf)
        if not fs.exists(path):
            return []
        out = []
        it = fs.listFiles(path, True)
        while it.hasNext():
            st = it.next()
            out.append((st.getPath().toString(), int(st.getLen()), int(st.getModificationTime())))
        return sorted(out)

    def read(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        p = self._path(path)
        fs = p.getFileSystem(self._conf)
        if length is None:
            length = int(fs.getFileStatus(p).getLen()) - start
        stream = fs.open(p)
        try:
            stream.seek(start)
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream, int(length)))
        finally:
            stream.close()


def file_system(spark: SparkSession, root: str) -> FileSystem:
    """The file system to list and read `root` with."""
    return LocalFileSystem() if local_path(root) is not None else HadoopFileSystem(spark)


def qualify(root: str) -> str:
    """`root` as a qualified URI without a trailing slash (local paths become `file:/abs`)."""
    local = local_path(root)
    return f"file:{local}" if local is not None else root.rstrip("/")


def parse_export(root: str, path: str, size: int, mtime_ms: int, entities: set[str]) -> ExportFile | None:
    """The export a listed file is, or None when it is not under a known entity folder.

    Hidden files (`.name`) and markers (`_name`) are skipped. A file under a known entity folder
    that does not follow the layout (store id not `[a-z0-9_]+`, a sub-folder, an unknown
    extension) is returned with `problem` set, so it is reported rather than silently ignored.
    """
    rel = path[len(root) :].lstrip("/") if path.startswith(root) else None
    if rel is None:
        return None
    parts = rel.split("/")
    if len(parts) < 3 or parts[1] not in entities:
        return None
    name = parts[-1]
    if name.startswith((".", "_")):
        return None
    store_id, entity = parts[0], parts[1]
    stem, dot, ext = name.rpartition(".")
    fmt = ext.lower() if dot else ""
    export_id = stem if dot else name
    problem = None
    if len(parts) != 3:
        problem = f"not directly in <store>/{entity}/ (sub-folders are not exports)"
    elif not STORE_ID.fullmatch(store_id):
        problem = f"store folder {store_id!r} is not a store id ([a-z0-9_]+)"
    elif fmt not in FORMATS:
        problem = f"extension {('.' + ext) if dot else '(none)'!r} is not one of .csv, .parquet, .json"
    elif not export_id:
        problem = "empty export id"
    return ExportFile(path, store_id, entity, export_id, fmt, size, mtime_ms, problem)


def discover(fs: FileSystem, landing: str, entities: set[str], formats: tuple[str, ...]) -> list[ExportFile]:
    """Every export under `landing` for `entities`, sorted by path.

    Files of a known format that is switched off in `formats` are left out (they are picked up
    once the format is switched on); files that break the layout are kept with `problem` set.
    """
    root = qualify(landing)
    out = []
    for path, size, mtime in fs.list(root):
        export = parse_export(root, path, size, mtime, entities)
        if export is None:
            continue
        if export.problem is None and export.fmt not in formats:
            continue
        out.append(export)
    return sorted(out, key=lambda e: e.path)
