"""Parquet tables: every write is a new immutable version directory, committed by the version log, then published.

The format's parts: the version log (`tables.versions`), how the table path shows the current
version (`tables.publish`), and the file-system layer (`lakehouse.fs`) under both; merge planning is
shared with Delta (`tables.merge`).
"""

from __future__ import annotations

import math
import posixpath
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from urllib.parse import unquote

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import faults
from lakehouse.config import Settings
from lakehouse.errors import UserError
from lakehouse.fs import (
    FileSystem,
    HadoopFileSystem,
    LocalFileSystem,
    join,
    local_path,
    normalize,
)
from lakehouse.tables.base import MergeResult, TableStore, TableVersion, split_name
from lakehouse.tables.merge import (
    ACTION,
    GROUP_SIZE,
    TARGET_FILE,
    TARGET_FILES,
    broadcastable,
    check_merge_args,
    classify_merge_source,
    dedupe_latest,
    merge_counts,
    null_safe_match,
)
from lakehouse.tables.publish import CopyPublisher, Publisher, SymlinkPublisher
from lakehouse.tables.schema import check_partition_by, evolve, nullable, same_columns
from lakehouse.tables.versions import VERSIONS_DIR, Version, VersionLog, data_name, now
from lakehouse.tables.warehouse import check_writable

COMPACT_AFTER_FILES = 256  # append rewrites the table instead of linking files once it has this many
COMPACT_FILE_BYTES = 128 * 1024 * 1024  # ... into files of about this size


def _is_data_file(rel: str) -> bool:
    """Parquet part files, not _SUCCESS, .crc checksums or our markers."""
    base = posixpath.basename(rel)
    return not base.startswith(("_", "."))


# ---------------------------------------------------------------- the store


class ParquetTableStore(TableStore):
    """Versioned Parquet tables: `<layer root>/<table>` is a plain Parquet dataset (the current version).

    Versions live in `<warehouse>/_versions/<layer>/<table>/v<NNNNNN>/`, each written once and
    never changed; the version log (`tables.versions`) commits a version (written last,
    atomically) and records its operation, time, row count, schema and partitioning. On a local
    disk the table path is a symlink swapped atomically to the committed version; on other file
    systems (`publish="copy"`, the default there) the version is copied to the table path. The log
    keeps the current and `settings.keep_versions` earlier versions. One writer per table at a time.
    """

    def __init__(self, spark: SparkSession, settings: Settings, publish: str | None = None):
        super().__init__(spark, settings)
        if publish not in (None, "symlink", "copy"):
            raise ValueError(f"publish must be 'symlink', 'copy' or None (automatic), not {publish!r}")
        self._versions_root = join(normalize(settings.warehouse), VERSIONS_DIR)
        check_writable(settings)
        local = local_path(self._versions_root) is not None
        if publish == "symlink" and not local:
            raise ValueError(
                f"publish='symlink' needs a warehouse on the local disk, not {settings.warehouse}"
            )
        self._hadoop = HadoopFileSystem(spark)
        self._files: FileSystem = LocalFileSystem() if local and publish != "copy" else self._hadoop
        self._symlinks = local and publish != "copy"

    # ------------------------------------------------------------ paths

    def _table_path(self, name: str) -> str:
        return normalize(self.path(name))

    def _log(self, name: str) -> VersionLog:
        layer, table = split_name(name)
        return VersionLog(self._files, join(self._versions_root, layer, table), name)

    def _publisher(self, name: str) -> Publisher:
        if self._symlinks and local_path(self._table_path(name)) is not None:
            return SymlinkPublisher()
        return CopyPublisher(self._hadoop)

    def _read_entry(self, name: str, entry: Version, file_column: str | None = None) -> DataFrame:
        """The rows of a version; with `file_column`, also the path of the file each row is in.

        Checks that the version's files are there before Spark is asked to read them: a folder deleted
        behind the table layer's back is one clear error, not a failed Spark job later."""
        schema = entry.struct
        path = self._log(name).data_path(entry.data)
        if not self._files.is_dir(path):
            raise UserError(
                f"{name} version {entry.version}: its files are missing ({path}); the warehouse was changed "
                f"outside lakehouse: roll back to an earlier version (`lakehouse history {name}`, `lakehouse rollback`)"
            )
        df = self.spark.read.schema(schema).parquet(path)
        located = [F.col("_metadata.file_path").alias(file_column)] if file_column else []
        return df.select(*[df[c] for c in schema.names], *located)  # partition columns back in their place

    # ------------------------------------------------------------ commit protocol

    def _begin(self, name: str) -> tuple[list[Version], int]:
        """Tidy up after any killed writer; returns the kept entries and the next version number."""
        log = self._log(name)
        entries = log.entries()
        table_path = self._table_path(name)
        publisher = self._publisher(name)
        publisher.clean_leftovers(table_path)
        if entries:
            self._publish(name, entries[-1])
        elif publisher.exists(table_path) and publisher.published(table_path) is None:
            raise ValueError(
                f"{table_path} exists but is not a table of this warehouse; move it away before writing {name}"
            )
        log.prune(self.settings.keep_versions)
        return entries, (entries[-1].version + 1 if entries else 0)

    def _commit(self, name: str, entry: Version) -> int:
        """Write the log entry (the commit point), publish the version and prune old ones."""
        log = self._log(name)
        log.commit(entry)
        faults.point(f"parquet.committed:{name}")  # committed, the table path not switched yet
        self._publish(name, entry)
        log.prune(self.settings.keep_versions)
        return entry.version

    def _repair(self, name: str, latest: Version) -> None:
        """Make the table path show the latest committed version, when a writer killed between its commit
        and its publish left it showing an older one. Only atomic publishing repairs outside a write."""
        if isinstance(self._publisher(name), SymlinkPublisher):
            self._publish(name, latest)

    def _publish(self, name: str, entry: Version) -> None:
        publisher = self._publisher(name)
        table_path = self._table_path(name)
        if publisher.published(table_path) != entry.data:
            publisher.publish(self._log(name).data_path(entry.data), table_path, entry.data)

    def _write_files(self, name: str, df: DataFrame, data: str, partition_by: Sequence[str]) -> int:
        """Write `df` as the files of the new version directory `data`; returns its row count (no extra pass)."""
        path = self._log(name).data_path(data)
        rows = Observation(f"lakehouse_rows_{uuid.uuid4().hex}")
        writer = df.observe(rows, F.count(F.lit(1)).alias("rows")).write.mode("errorifexists")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        try:
            writer.parquet(path)
        except BaseException:
            self._files.delete(path)
            raise
        return int(rows.get["rows"])

    def _data_files(self, path: str) -> list[str]:
        return self._files.data_files(path, _is_data_file)

    def _share_files(self, src: str, dst: str, skip_dirs: set[str], skip_files: frozenset[str] = frozenset()) -> int:
        """Hard-link (or copy) the data files of version directory `src` into `dst`, except those in
        `skip_dirs` and `skip_files` (paths relative to `src`)."""
        count = 0
        for rel in self._data_files(src):
            if posixpath.dirname(rel) in skip_dirs or rel in skip_files:
                continue
            self._files.share_file(join(src, rel), join(dst, rel))
            count += 1
        return count

    def _new_version(
        self,
        name: str,
        operation: str,
        build: Callable[[str], tuple[int | None, T.StructType, tuple[str, ...]]],
    ) -> int:
        """Run `build(data)` (writes the files of the new version directory `data`, returns rows, schema,
        partitioning), then commit. The directory's name is this writer's own (`data_name`), so no other
        writer ever writes into it or deletes it while it is being written."""
        _entries, version = self._begin(name)
        data = data_name(version)
        try:
            rows, schema, partition_by = build(data)
        except BaseException:
            self._files.delete(self._log(name).data_path(data))
            raise
        entry = Version(version, now(), operation, rows, data, schema.json(), partition_by)
        return self._commit(name, entry)

    # ------------------------------------------------------------ the interface

    def exists(self, name: str) -> bool:
        """True when the table has at least one committed version (its path is repaired if it shows an older one)."""
        latest = self._log(name).latest()
        if latest is not None:
            self._repair(name, latest)
        return latest is not None

    def read(self, name: str, version: int | None = None) -> DataFrame:
        """The current (or a kept earlier) version; KeyError naming the table or version if absent."""
        log = self._log(name)
        entries = log.require()
        self._repair(name, entries[-1])
        entry = entries[-1] if version is None else log.find(entries, version)
        return self._read_entry(name, entry)

    def overwrite(self, name: str, df: DataFrame, partition_by: Sequence[str] = ()) -> int:
        """Replace the table with `df` (schema and partitioning too) as a new version."""
        return self._overwrite(name, df, check_partition_by(df, partition_by), "overwrite")

    def _overwrite(self, name: str, df: DataFrame, partition_by: tuple[str, ...], operation: str) -> int:
        def build(data: str) -> tuple[int, T.StructType, tuple[str, ...]]:
            return self._write_files(name, df, data, partition_by), nullable(df.schema), partition_by

        return self._new_version(name, operation, build)

    def overwrite_partitions(self, name: str, df: DataFrame, partition_by: Sequence[str]) -> int:
        """Replace the partitions present in `df`; the other partitions' files are shared, not rewritten."""
        partition_by = check_partition_by(df, partition_by)
        if not partition_by:
            raise ValueError(
                "overwrite_partitions needs partition_by columns; use overwrite to replace the table"
            )
        entries = self._log(name).entries()
        if not entries:
            return self._overwrite(name, df, partition_by, "overwrite_partitions")
        current = entries[-1]
        if current.partition_by != partition_by:
            raise ValueError(
                f"{name} is partitioned by {list(current.partition_by)}, not {list(partition_by)}; "
                "use overwrite to change the partitioning"
            )
        schema = evolve(name, current.struct, df.schema)
        log = self._log(name)

        def build(data: str) -> tuple[int, T.StructType, tuple[str, ...]]:
            self._write_files(name, df, data, partition_by)
            target = log.data_path(data)
            replaced = {posixpath.dirname(rel) for rel in self._data_files(target)}
            self._share_files(log.data_path(current.data), target, skip_dirs=replaced)
            rows = self.spark.read.schema(schema).parquet(target).count()  # Parquet footers only
            return rows, schema, partition_by

        return self._new_version(name, "overwrite_partitions", build)

    def append(self, name: str, df: DataFrame) -> int:
        """Add `df`'s rows as a new version: new files plus links to the current ones (no rewrite)."""
        entries = self._log(name).entries()
        if not entries:
            return self._overwrite(name, df, (), "append")
        current = entries[-1]
        missing = [c for c in current.partition_by if c not in df.columns]
        if missing:
            raise ValueError(
                f"{name} is partitioned by {list(current.partition_by)}; the data lacks {missing}"
            )
        schema = evolve(name, current.struct, df.schema)
        log = self._log(name)
        current_dir = log.data_path(current.data)
        compact = len(self._data_files(current_dir)) >= COMPACT_AFTER_FILES

        def build(data: str) -> tuple[int | None, T.StructType, tuple[str, ...]]:
            if compact:  # many small appends: rewrite once into ~128 MiB files
                files = max(
                    1, math.ceil(self._files.total_bytes(current_dir, _is_data_file) / COMPACT_FILE_BYTES)
                )
                whole = (
                    self._read_entry(name, current).unionByName(df, allowMissingColumns=True).coalesce(files)
                )
                return (
                    self._write_files(name, whole, data, current.partition_by),
                    schema,
                    current.partition_by,
                )
            added = self._write_files(name, df, data, current.partition_by)
            self._share_files(current_dir, log.data_path(data), skip_dirs=set())
            rows = None if current.rows is None else current.rows + added
            return rows, schema, current.partition_by

        return self._new_version(name, "append", build)

    def merge(
        self,
        name: str,
        df: DataFrame,
        keys: Sequence[str],
        order_by: Sequence[str] = (),
    ) -> MergeResult:
        """Upsert `df` by `keys` (null-safe), keeping per key the row that orders last.

        Copy-on-write: the new version is the target without the replaced keys plus the winning
        source rows, written in one pass. The counts come from the (small) classified source, so
        the target is read once for its key and order columns (with the file each row is in), then
        the files holding updated keys once more in full. A merge that changes no row commits no
        version (unless it adds columns) and returns the current one.
        """
        keys, order_by = check_merge_args(df, keys, order_by)
        entries = self._log(name).entries()
        current = entries[-1] if entries else None
        if current is not None:
            self._repair(name, current)  # a merge that changes nothing commits nothing: repair here
        target = self._read_entry(name, current, file_column=TARGET_FILE) if current else None
        if current is not None and target is not None:
            missing = [k for k in keys if k not in target.columns]
            if missing:
                raise ValueError(f"merge keys {missing} are not columns of {name} ({target.columns})")
            schema = evolve(name, current.struct, df.schema)
        deduped = dedupe_latest(df, keys, order_by).persist(StorageLevel.MEMORY_AND_DISK)
        small = broadcastable(deduped)
        classified = classify_merge_source(
            deduped, target, keys, order_by, broadcast_source=small, target_file=TARGET_FILE if target else None
        ).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            counts = merge_counts(classified)
            deduped.unpersist()
            winners = classified.filter(F.col(ACTION).isin("insert", "update")).drop(ACTION, GROUP_SIZE, TARGET_FILES)
            if current is None or target is None:
                version = self._overwrite(name, winners, (), "merge")
            elif counts["inserted"] + counts["updated"] == 0:
                version = current.version
                if not same_columns(schema, current.struct):  # new columns only: share the files
                    _entries, next_version = self._begin(name)
                    entry = replace(
                        current,
                        version=next_version,
                        committed_at=now(),
                        operation="merge",
                        schema=schema.json(),
                        restored=None,
                    )
                    version = self._commit(name, entry)
            else:
                version = self._merge_files(name, current, schema, classified, winners, keys, counts["updated"] > 0, small)
        finally:
            classified.unpersist()
            deduped.unpersist()
        return MergeResult(version=version, **counts)

    def _merge_files(
        self,
        name: str,
        current: Version,
        schema: T.StructType,
        classified: DataFrame,
        winners: DataFrame,
        keys: Sequence[str],
        updates: bool,
        small: bool,
    ) -> int:
        """Commit a merge copy-on-write at file level, as Delta does.

        Only the files holding a key the merge updates are rewritten (without those rows); every
        other file is linked into the new version as it is, and the winning rows are added as new
        files. A merge that only inserts rewrites nothing. A table with many files (`COMPACT_AFTER_FILES`)
        is rewritten whole, which compacts it. With a `small` source, the winning keys are
        broadcast: the old files are filtered where they are read (no shuffle).
        """
        log = self._log(name)
        current_dir = log.data_path(current.data)
        rels = self._data_files(current_dir)
        if len(rels) >= COMPACT_AFTER_FILES:
            touched = set(rels)
        elif not updates:
            touched = set()
        else:  # the files classify_merge_source found holding an updated key
            paths = classified.filter(F.col(ACTION) == "update").select(F.explode(TARGET_FILES)).distinct().collect()
            marker = f"/{current.data}/"
            touched = {unquote(path[path.rindex(marker) + len(marker) :]) for (path,) in paths}
            unknown = touched - set(rels)
            if unknown:  # a path spelled in a way we do not recognize: rewrite everything rather than guess
                touched = set(rels)
        dropped: Observation | None = None  # counts the rows of the files the new version leaves out
        if touched:
            dropped = Observation(f"lakehouse_rows_{uuid.uuid4().hex}")
            old = (
                self.spark.read.schema(current.struct)
                .option("basePath", current_dir)
                .parquet(*[f"{current_dir}/{rel}" for rel in sorted(touched)])
            )
            old = old.select(*[old[c] for c in current.struct.names]).observe(dropped, F.count(F.lit(1)).alias("rows"))
            replaced = winners.select(*keys)
            if small:
                replaced = F.broadcast(replaced)
            kept = old.join(replaced, null_safe_match(old, replaced, keys, keys), how="left_anti")
            result = kept.unionByName(winners, allowMissingColumns=True)
        else:
            result = winners

        def build(data: str) -> tuple[int, T.StructType, tuple[str, ...]]:
            target = log.data_path(data)
            written = self._write_files(name, result, data, current.partition_by)
            self._share_files(current_dir, target, skip_dirs=set(), skip_files=frozenset(touched))
            if current.rows is not None:  # the kept files' rows, without a pass over their footers
                rows = current.rows - (int(dropped.get["rows"]) if dropped else 0) + written
            else:
                rows = self.spark.read.schema(schema).option("basePath", target).parquet(target).count()  # footers
            return rows, schema, current.partition_by

        return self._new_version(name, "merge", build)

    def history(self, name: str) -> list[TableVersion]:
        """Kept versions, newest first."""
        return [
            TableVersion(e.version, e.committed, e.operation, e.rows) for e in reversed(self._log(name).require())
        ]

    def rollback(self, name: str, version: int) -> int:
        """Make a kept version current again as a new version (its files are shared, not copied)."""
        log = self._log(name)
        target = log.find(log.require(), version)
        _entries, new_version = self._begin(name)
        entry = replace(
            target, version=new_version, committed_at=now(), operation="rollback", restored=version
        )
        return self._commit(name, entry)

    def maintain(self) -> None:
        """Nothing to do: every Parquet commit prunes the versions beyond `keep_versions` (`VersionLog.prune`)."""
        return None

    def list_tables(self, layer: str | None = None) -> list[str]:
        """Tables with at least one committed version, as `layer.table`, sorted."""
        root = self._versions_root
        layers = [layer] if layer else [d for d in self._files.list_names(root) if not d.startswith((".", "_"))]
        names = []
        for lyr in layers:
            for table in self._files.list_names(join(root, lyr)):
                if self._log(f"{lyr}.{table}").has_versions():
                    names.append(f"{lyr}.{table}")
        return sorted(names)
