"""How a Parquet table's path shows its committed version: a symlink swapped atomically on a local disk, or a copy.

`<layer root>/<table>` is what plain-Parquet readers (Spark SQL, DuckDB, BigQuery external tables)
open. On a local disk it is a symlink to the version's data directory, replaced with one atomic
rename. Elsewhere the version is copied next to the table path and renamed into place, with a
marker file naming the version it mirrors; on object stores that is not atomic (docs/tables.md).
"""

from __future__ import annotations

import os
import posixpath
import uuid
from abc import ABC, abstractmethod

from lakehouse.fs import HadoopFileSystem, LocalFileSystem, join, local_path

MARKER = "_lakehouse_version"  # copy publishing: names the version directory a table path mirrors


class Publisher(ABC):
    """Points a table path at a version's data directory."""

    @abstractmethod
    def publish(self, data_dir: str, table_path: str, data_name: str) -> None:
        """Make `table_path` show the files of `data_dir` (the version directory named `data_name`)."""

    @abstractmethod
    def published(self, table_path: str) -> str | None:
        """The version directory `table_path` shows now; None when it shows none of ours."""

    @abstractmethod
    def exists(self, table_path: str) -> bool:
        """True when anything is at `table_path`."""

    @abstractmethod
    def clean_leftovers(self, table_path: str) -> None:
        """Remove what a publisher killed midway left next to `table_path`."""


class SymlinkPublisher(Publisher):
    """A local table path as a symlink, swapped with one atomic rename."""

    def __init__(self) -> None:
        self._fs = LocalFileSystem()

    def publish(self, data_dir: str, table_path: str, data_name: str) -> None:
        table_path, data_dir = local_path(table_path), local_path(data_dir)
        parent, table = os.path.split(table_path)
        os.makedirs(parent, exist_ok=True)
        if os.path.isdir(table_path) and not os.path.islink(table_path):
            self._fs.delete(table_path)  # a copy left by copy publishing (settings changed): not atomic, once
        tmp = os.path.join(parent, f".{table}.publishing-{uuid.uuid4().hex}")
        os.symlink(os.path.relpath(data_dir, parent), tmp)
        os.replace(tmp, table_path)

    def published(self, table_path: str) -> str | None:
        path = local_path(table_path)
        if os.path.islink(path):
            return os.path.basename(os.readlink(path).rstrip("/"))
        marker = os.path.join(path, MARKER)
        return self._fs.read_text(marker).strip() if os.path.isfile(marker) else None

    def exists(self, table_path: str) -> bool:
        return self._fs.exists(table_path)

    def clean_leftovers(self, table_path: str) -> None:
        parent, table = os.path.split(local_path(table_path))
        for name in self._fs.list_names(parent):
            if name.startswith(f".{table}.publishing"):
                self._fs.delete(os.path.join(parent, name))


class CopyPublisher(Publisher):
    """A table path as a copy of the version (with a marker file), through Hadoop's FileSystem API."""

    def __init__(self, fs: HadoopFileSystem):
        self._fs = fs

    @staticmethod
    def _staging(table_path: str) -> str:
        parent, table = posixpath.split(table_path.rstrip("/"))
        return join(parent, f".{table}.publishing")

    def publish(self, data_dir: str, table_path: str, data_name: str) -> None:
        staging = self._staging(table_path)
        self._fs.delete(staging)
        self._fs.copy_tree(data_dir, staging)
        self._fs.write_text(join(staging, MARKER), data_name + "\n")
        self._fs.delete(table_path)
        self._fs.rename(staging, table_path)

    def published(self, table_path: str) -> str | None:
        marker = join(table_path, MARKER)
        return self._fs.read_text(marker).strip() if self._fs.exists(marker) else None

    def exists(self, table_path: str) -> bool:
        return self._fs.exists(table_path)

    def clean_leftovers(self, table_path: str) -> None:
        self._fs.delete(self._staging(table_path))
