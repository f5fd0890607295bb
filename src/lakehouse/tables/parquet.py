"""Parquet tables: every write is a new immutable version directory, published atomically."""

from __future__ import annotations

import json
import math
import os
import posixpath
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.tables.base import (
    ACTION,
    GROUP_SIZE,
    TARGET_FILE,
    TARGET_FILES,
    MergeResult,
    TableStore,
    TableVersion,
    broadcastable,
    check_merge_args,
    classify_merge_source,
    dedupe_latest,
    merge_counts,
    null_safe_match,
    split_name,
)

VERSIONS_DIR = "_versions"  # <warehouse>/_versions/<layer>/<table>/{_log/, v000007/, ...}
LOG_DIR = "_log"  # one JSON file per committed version: the commit point
MARKER = "_lakehouse_version"  # copy publishing: names the version directory a table path mirrors
COMPACT_AFTER_FILES = 256  # append rewrites the table instead of linking files once it has this many
COMPACT_FILE_BYTES = 128 * 1024 * 1024  # ... into files of about this size


@dataclass(frozen=True)
class _Entry:
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
    def from_json(text: str) -> _Entry:
        data = json.loads(text)
        data["partition_by"] = tuple(data["partition_by"])
        return _Entry(**data)

    @property
    def struct(self) -> T.StructType:
        return T.StructType.fromJson(json.loads(self.schema))


def _log_name(version: int) -> str:
    return f"{version:020d}.json"


def _data_name(version: int) -> str:
    return f"v{version:06d}"


def _is_data_file(rel: str) -> bool:
    """Parquet part files, not _SUCCESS, .crc checksums or our markers."""
    base = posixpath.basename(rel)
    return not base.startswith(("_", "."))


# ---------------------------------------------------------------- file systems


class _LocalFiles:
    """Warehouse files on the local disk: hard links for shared files, a symlink swap to publish."""

    can_symlink = True

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def list(self, path: str) -> list[str]:
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def delete(self, path: str) -> None:
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)

    def read_text(self, path: str) -> str:
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def create_new(self, path: str, text: str) -> None:
        """Create `path` with `text` atomically; FileExistsError if it exists already."""
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails when `path` exists: two writers cannot both commit a version
        finally:
            os.unlink(tmp)

    def data_files(self, path: str) -> list[str]:
        """Data files under `path`, relative to it, with `/` separators."""
        out = []
        for dirpath, _dirs, names in os.walk(path):
            rel_dir = os.path.relpath(dirpath, path)
            for name in names:
                rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                if _is_data_file(rel):
                    out.append(rel)
        return sorted(out)

    def total_bytes(self, path: str) -> int:
        return sum(os.path.getsize(os.path.join(path, rel)) for rel in self.data_files(path))

    def copy_files(self, src: str, dst: str, skip_dirs: set[str], skip_files: frozenset[str] = frozenset()) -> int:
        """Hard-link (or copy, across devices) the data files of `src` into `dst`, except those in
        `skip_dirs` and `skip_files` (paths relative to `src`)."""
        count = 0
        for rel in self.data_files(src):
            if posixpath.dirname(rel) in skip_dirs or rel in skip_files:
                continue
            target = os.path.join(dst, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                os.link(os.path.join(src, rel), target)
            except OSError:  # another device or a file system without hard links
                shutil.copy2(os.path.join(src, rel), target)
            count += 1
        return count

    def publish(self, data_dir: str, table_path: str, data_name: str) -> None:
        """Point `table_path` at `data_dir` with one atomic rename of a fresh symlink."""
        parent, table = os.path.split(table_path)
        os.makedirs(parent, exist_ok=True)
        if os.path.isdir(table_path) and not os.path.islink(table_path):
            shutil.rmtree(table_path)  # a copy left by copy publishing (settings changed): not atomic, once
        tmp = os.path.join(parent, f".{table}.publishing-{uuid.uuid4().hex}")
        os.symlink(os.path.relpath(data_dir, parent), tmp)
        os.replace(tmp, table_path)

    def published(self, table_path: str) -> str | None:
        """The version directory `table_path` shows now, None when it shows none of ours."""
        if os.path.islink(table_path):
            return os.path.basename(os.readlink(table_path).rstrip("/"))
        marker = os.path.join(table_path, MARKER)
        return self.read_text(marker).strip() if os.path.isfile(marker) else None

    def clean_publish_leftovers(self, table_path: str) -> None:
        parent, table = os.path.split(table_path)
        for name in self.list(parent):
            if name.startswith(f".{table}.publishing"):
                self.delete(os.path.join(parent, name))


class _HadoopFiles:
    """Warehouse files through Hadoop's FileSystem API (gs://, hdfs://): copies, not links.

    Publishing copies the version into a staging folder, deletes the table path and renames the
    staging folder into place; on object stores that is not atomic (delta is the cloud default).
    """

    can_symlink = False

    def __init__(self, spark: SparkSession):
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def _fs(self, path: str) -> Any:
        return self._path(path).getFileSystem(self._conf)

    def exists(self, path: str) -> bool:
        return bool(self._fs(path).exists(self._path(path)))

    def list(self, path: str) -> list[str]:
        fs, p = self._fs(path), self._path(path)
        if not fs.exists(p) or not fs.getFileStatus(p).isDirectory():
            return []
        return sorted(st.getPath().getName() for st in fs.listStatus(p))

    def delete(self, path: str) -> None:
        self._fs(path).delete(self._path(path), True)

    def read_text(self, path: str) -> str:
        try:
            stream = self._fs(path).open(self._path(path))
        except Exception as exc:  # py4j wraps java.io.FileNotFoundException
            if "FileNotFoundException" in str(exc):
                raise FileNotFoundError(path) from None
            raise
        try:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def _write_text(self, path: str, text: str, overwrite: bool) -> None:
        out = self._fs(path).create(self._path(path), overwrite)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()

    def create_new(self, path: str, text: str) -> None:
        """Write a temporary file and rename it to `path` (a rename never replaces an existing file)."""
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        self._write_text(tmp, text, overwrite=False)
        if not self._fs(path).rename(self._path(tmp), self._path(path)):
            self.delete(tmp)
            raise FileExistsError(path)

    def data_files(self, path: str) -> list[str]:
        fs, p = self._fs(path), self._path(path)
        if not fs.exists(p):
            return []
        base = fs.makeQualified(p).toString().rstrip("/") + "/"
        out = []
        it = fs.listFiles(p, True)
        while it.hasNext():
            rel = it.next().getPath().toString()[len(base) :]
            if _is_data_file(rel):
                out.append(rel)
        return sorted(out)

    def total_bytes(self, path: str) -> int:
        return int(self._fs(path).getContentSummary(self._path(path)).getLength())

    def copy_files(self, src: str, dst: str, skip_dirs: set[str], skip_files: frozenset[str] = frozenset()) -> int:
        fs_src, fs_dst = self._fs(src), self._fs(dst)
        copy = self._jvm.org.apache.hadoop.fs.FileUtil.copy
        count = 0
        for rel in self.data_files(src):
            if posixpath.dirname(rel) in skip_dirs or rel in skip_files:
                continue
            copy(fs_src, self._path(f"{src}/{rel}"), fs_dst, self._path(f"{dst}/{rel}"), False, self._conf)
            count += 1
        return count

    def publish(self, data_dir: str, table_path: str, data_name: str) -> None:
        parent, table = posixpath.split(table_path.rstrip("/"))
        staging = f"{parent}/.{table}.publishing"
        self.delete(staging)
        copy = self._jvm.org.apache.hadoop.fs.FileUtil.copy
        if not copy(
            self._fs(data_dir),
            self._path(data_dir),
            self._fs(staging),
            self._path(staging),
            False,
            self._conf,
        ):
            raise OSError(f"could not copy {data_dir} to {staging}")
        self._write_text(f"{staging}/{MARKER}", data_name + "\n", overwrite=True)
        self.delete(table_path)
        if not self._fs(table_path).rename(self._path(staging), self._path(table_path)):
            raise OSError(f"could not rename {staging} to {table_path}")

    def published(self, table_path: str) -> str | None:
        marker = f"{table_path.rstrip('/')}/{MARKER}"
        return self.read_text(marker).strip() if self.exists(marker) else None

    def clean_publish_leftovers(self, table_path: str) -> None:
        parent, table = posixpath.split(table_path.rstrip("/"))
        self.delete(f"{parent}/.{table}.publishing")


# ---------------------------------------------------------------- schema helpers


def _nullable(dtype: T.DataType) -> Any:
    """`dtype` with every field and element nullable, as Spark reads Parquet back."""
    if isinstance(dtype, T.StructType):
        return T.StructType(
            [T.StructField(f.name, _nullable(f.dataType), True, f.metadata) for f in dtype.fields]
        )
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(_nullable(dtype.elementType), True)
    if isinstance(dtype, T.MapType):
        return T.MapType(_nullable(dtype.keyType), _nullable(dtype.valueType), True)
    return dtype


def _evolve(name: str, table: T.StructType, data: T.StructType) -> T.StructType:
    """The table's columns followed by the new columns of `data`; a column may not change type."""
    table, data = _nullable(table), _nullable(data)
    fields = {f.name: f for f in table.fields}
    changed = [
        f"{f.name} ({fields[f.name].dataType.simpleString()} in the table, {f.dataType.simpleString()} in the data)"
        for f in data.fields
        if f.name in fields and fields[f.name].dataType != f.dataType
    ]
    if changed:
        raise ValueError(
            f"{name}: columns change type: {', '.join(changed)}; cast them to the table's types first"
        )
    return T.StructType([*table.fields, *[f for f in data.fields if f.name not in fields]])


def _same_columns(a: T.StructType, b: T.StructType) -> bool:
    return _nullable(a) == _nullable(b)


def _check_partition_by(df: DataFrame, partition_by: Sequence[str]) -> tuple[str, ...]:
    if isinstance(partition_by, str):
        raise TypeError("partition_by must be a sequence of column names, e.g. ['month'], not a string")
    missing = [c for c in partition_by if c not in df.columns]
    if missing:
        raise ValueError(f"partition columns {missing} are not in the data columns {df.columns}")
    if partition_by and len(partition_by) == len(df.columns):
        raise ValueError("a table needs at least one column that is not a partition column")
    return tuple(partition_by)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# ---------------------------------------------------------------- the store


class ParquetTableStore(TableStore):
    """Versioned Parquet tables: `<layer root>/<table>` is a plain Parquet dataset (the current version).

    Versions live in `<warehouse>/_versions/<layer>/<table>/v<NNNNNN>/`, each written once and
    never changed; `_log/<version>.json` commits a version (written last, atomically) and records
    its operation, time, row count, schema and partitioning. On a local disk the table path is a
    symlink swapped atomically to the committed version; on other file systems (`publish="copy"`,
    the default there) the version is copied to the table path. The log keeps the current and
    `settings.keep_versions` earlier versions. One writer per table at a time.
    """

    def __init__(self, spark: SparkSession, settings: Settings, publish: str | None = None):
        super().__init__(spark, settings)
        if publish not in (None, "symlink", "copy"):
            raise ValueError(f"publish must be 'symlink', 'copy' or None (automatic), not {publish!r}")
        self._versions_root = self._absolute(f"{settings.warehouse.rstrip('/')}/{VERSIONS_DIR}")
        local = self._is_local(self._versions_root)
        if publish == "symlink" and not local:
            raise ValueError(
                f"publish='symlink' needs a warehouse on the local disk, not {settings.warehouse}"
            )
        self._files: _LocalFiles | _HadoopFiles = (
            _LocalFiles() if local and publish != "copy" else _HadoopFiles(spark)
        )
        self._hadoop = self._files if isinstance(self._files, _HadoopFiles) else _HadoopFiles(spark)

    # ------------------------------------------------------------ paths

    def _is_local(self, path: str) -> bool:
        jvm = self.spark._jvm
        fs = jvm.org.apache.hadoop.fs.Path(path).getFileSystem(self.spark._jsc.hadoopConfiguration())
        return fs.getUri().getScheme() == "file"

    def _absolute(self, path: str) -> str:
        """Local paths made absolute (as Spark resolves them); URIs unchanged."""
        if path.startswith("file:"):
            return os.path.abspath(path.removeprefix("file://").removeprefix("file:"))
        if "://" in path:
            return path
        return os.path.abspath(path) if self._is_local(path) else path

    def _table_path(self, name: str) -> str:
        return self._absolute(self.path(name))

    def _root(self, name: str) -> str:
        layer, table = split_name(name)
        return f"{self._versions_root}/{layer}/{table}"

    def _publisher(self, name: str) -> _LocalFiles | _HadoopFiles:
        if self._files.can_symlink and self._is_local(self._table_path(name)):
            return self._files
        return self._hadoop

    # ------------------------------------------------------------ log

    def _entries(self, name: str) -> list[_Entry]:
        """Committed versions still kept, oldest first."""
        log = f"{self._root(name)}/{LOG_DIR}"
        entries = []
        for n in self._files.list(log):
            if n.endswith(".json") and n[:-5].isdigit():
                try:
                    entries.append(_Entry.from_json(self._files.read_text(f"{log}/{n}")))
                except FileNotFoundError:  # pruned by a writer since the listing
                    continue
        return entries

    def _require(self, name: str) -> list[_Entry]:
        entries = self._entries(name)
        if not entries:
            raise KeyError(f"table {name} does not exist (no committed version under {self._root(name)})")
        return entries

    @staticmethod
    def _find(name: str, entries: list[_Entry], version: int) -> _Entry:
        for entry in entries:
            if entry.version == version:
                return entry
        kept = [e.version for e in entries]
        raise KeyError(f"table {name} has no version {version}; versions kept: {kept}")

    def _read_entry(self, name: str, entry: _Entry, file_column: str | None = None) -> DataFrame:
        """The rows of a version; with `file_column`, also the path of the file each row is in."""
        schema = entry.struct
        df = self.spark.read.schema(schema).parquet(f"{self._root(name)}/{entry.data}")
        located = [F.col("_metadata.file_path").alias(file_column)] if file_column else []
        return df.select(*[df[c] for c in schema.names], *located)  # partition columns back in their place

    # ------------------------------------------------------------ commit protocol

    def _begin(self, name: str) -> tuple[list[_Entry], int]:
        """Tidy up after any killed writer; returns the kept entries and the next version number."""
        entries = self._entries(name)
        table_path = self._table_path(name)
        publisher = self._publisher(name)
        publisher.clean_publish_leftovers(table_path)
        if entries:
            self._publish(name, entries[-1])
        elif publisher.exists(table_path) and publisher.published(table_path) is None:
            raise ValueError(
                f"{table_path} exists but is not a table of this warehouse; move it away before writing {name}"
            )
        self._prune(name, entries)
        return entries, (entries[-1].version + 1 if entries else 0)

    def _commit(self, name: str, entry: _Entry) -> int:
        """Write the log entry (the commit point), publish the version and prune old ones."""
        try:
            self._files.create_new(
                f"{self._root(name)}/{LOG_DIR}/{_log_name(entry.version)}", entry.to_json()
            )
        except FileExistsError:
            raise RuntimeError(
                f"{name}: another writer committed version {entry.version} meanwhile"
            ) from None
        self._publish(name, entry)
        self._prune(name, self._entries(name))
        return entry.version

    def _publish(self, name: str, entry: _Entry) -> None:
        publisher = self._publisher(name)
        table_path = self._table_path(name)
        if publisher.published(table_path) != entry.data:
            publisher.publish(f"{self._root(name)}/{entry.data}", table_path, entry.data)

    def _prune(self, name: str, entries: list[_Entry]) -> None:
        """Drop log entries beyond the kept versions, then every directory no kept entry uses."""
        root = self._root(name)
        keep = entries[-(self.settings.keep_versions + 1) :]
        for entry in entries[: len(entries) - len(keep)]:
            self._files.delete(f"{root}/{LOG_DIR}/{_log_name(entry.version)}")
        used = {e.data for e in keep}
        for child in self._files.list(root):
            if child != LOG_DIR and child not in used:  # old versions and a killed writer's leftovers
                self._files.delete(f"{root}/{child}")
        committed = {_log_name(e.version) for e in keep}
        for child in self._files.list(f"{root}/{LOG_DIR}"):
            if child not in committed:  # temporary files of a killed commit
                self._files.delete(f"{root}/{LOG_DIR}/{child}")

    def _write_files(self, name: str, df: DataFrame, version: int, partition_by: Sequence[str]) -> int:
        """Write `df` as the files of a new version directory; returns its row count (no extra pass)."""
        path = f"{self._root(name)}/{_data_name(version)}"
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

    def _new_version(
        self,
        name: str,
        operation: str,
        build: Callable[[int], tuple[int | None, T.StructType, tuple[str, ...]]],
    ) -> int:
        """Run `build(version)` (writes the version's files, returns rows, schema, partitioning), then commit."""
        _entries, version = self._begin(name)
        try:
            rows, schema, partition_by = build(version)
        except BaseException:
            self._files.delete(f"{self._root(name)}/{_data_name(version)}")
            raise
        entry = _Entry(version, _now(), operation, rows, _data_name(version), schema.json(), partition_by)
        return self._commit(name, entry)

    # ------------------------------------------------------------ the interface

    def exists(self, name: str) -> bool:
        """True when the table has at least one committed version."""
        return bool(self._entries(name))

    def read(self, name: str, version: int | None = None) -> DataFrame:
        """The current (or a kept earlier) version; KeyError naming the table or version if absent."""
        entries = self._require(name)
        entry = entries[-1] if version is None else self._find(name, entries, version)
        return self._read_entry(name, entry)

    def overwrite(self, name: str, df: DataFrame, partition_by: Sequence[str] = ()) -> int:
        """Replace the table with `df` (schema and partitioning too) as a new version."""
        return self._overwrite(name, df, _check_partition_by(df, partition_by), "overwrite")

    def _overwrite(self, name: str, df: DataFrame, partition_by: tuple[str, ...], operation: str) -> int:
        def build(version: int) -> tuple[int, T.StructType, tuple[str, ...]]:
            return self._write_files(name, df, version, partition_by), _nullable(df.schema), partition_by

        return self._new_version(name, operation, build)

    def overwrite_partitions(self, name: str, df: DataFrame, partition_by: Sequence[str]) -> int:
        """Replace the partitions present in `df`; the other partitions' files are shared, not rewritten."""
        partition_by = _check_partition_by(df, partition_by)
        if not partition_by:
            raise ValueError(
                "overwrite_partitions needs partition_by columns; use overwrite to replace the table"
            )
        entries = self._entries(name)
        if not entries:
            return self._overwrite(name, df, partition_by, "overwrite_partitions")
        current = entries[-1]
        if current.partition_by != partition_by:
            raise ValueError(
                f"{name} is partitioned by {list(current.partition_by)}, not {list(partition_by)}; "
                "use overwrite to change the partitioning"
            )
        schema = _evolve(name, current.struct, df.schema)
        root = self._root(name)

        def build(version: int) -> tuple[int, T.StructType, tuple[str, ...]]:
            self._write_files(name, df, version, partition_by)
            target = f"{root}/{_data_name(version)}"
            replaced = {posixpath.dirname(rel) for rel in self._files.data_files(target)}
            self._files.copy_files(f"{root}/{current.data}", target, skip_dirs=replaced)
            rows = self.spark.read.schema(schema).parquet(target).count()  # Parquet footers only
            return rows, schema, partition_by

        return self._new_version(name, "overwrite_partitions", build)

    def append(self, name: str, df: DataFrame) -> int:
        """Add `df`'s rows as a new version: new files plus links to the current ones (no rewrite)."""
        entries = self._entries(name)
        if not entries:
            return self._overwrite(name, df, (), "append")
        current = entries[-1]
        missing = [c for c in current.partition_by if c not in df.columns]
        if missing:
            raise ValueError(
                f"{name} is partitioned by {list(current.partition_by)}; the data lacks {missing}"
            )
        schema = _evolve(name, current.struct, df.schema)
        root = self._root(name)
        compact = len(self._files.data_files(f"{root}/{current.data}")) >= COMPACT_AFTER_FILES

        def build(version: int) -> tuple[int | None, T.StructType, tuple[str, ...]]:
            if compact:  # many small appends: rewrite once into ~128 MiB files
                files = max(
                    1, math.ceil(self._files.total_bytes(f"{root}/{current.data}") / COMPACT_FILE_BYTES)
                )
                whole = (
                    self._read_entry(name, current).unionByName(df, allowMissingColumns=True).coalesce(files)
                )
                return (
                    self._write_files(name, whole, version, current.partition_by),
                    schema,
                    current.partition_by,
                )
            added = self._write_files(name, df, version, current.partition_by)
            self._files.copy_files(f"{root}/{current.data}", f"{root}/{_data_name(version)}", skip_dirs=set())
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
        entries = self._entries(name)
        current = entries[-1] if entries else None
        target = self._read_entry(name, current, file_column=TARGET_FILE) if current else None
        if current is not None and target is not None:
            missing = [k for k in keys if k not in target.columns]
            if missing:
                raise ValueError(f"merge keys {missing} are not columns of {name} ({target.columns})")
            schema = _evolve(name, current.struct, df.schema)
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
                if not _same_columns(schema, current.struct):  # new columns only: share the files
                    _entries, next_version = self._begin(name)
                    entry = replace(
                        current,
                        version=next_version,
                        committed_at=_now(),
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
        current: _Entry,
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
        root = self._root(name)
        current_dir = f"{root}/{current.data}"
        rels = self._files.data_files(current_dir)
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
        if touched:
            old = (
                self.spark.read.schema(current.struct)
                .option("basePath", current_dir)
                .parquet(*[f"{current_dir}/{rel}" for rel in sorted(touched)])
            )
            old = old.select(*[old[c] for c in current.struct.names])
            replaced = winners.select(*keys)
            if small:
                replaced = F.broadcast(replaced)
            kept = old.join(replaced, null_safe_match(old, replaced, keys, keys), how="left_anti")
            result = kept.unionByName(winners, allowMissingColumns=True)
        else:
            result = winners

        def build(version: int) -> tuple[int, T.StructType, tuple[str, ...]]:
            target = f"{root}/{_data_name(version)}"
            self._write_files(name, result, version, current.partition_by)
            self._files.copy_files(current_dir, target, skip_dirs=set(), skip_files=frozenset(touched))
            rows = self.spark.read.schema(schema).option("basePath", target).parquet(target).count()  # footers
            return rows, schema, current.partition_by

        return self._new_version(name, "merge", build)

    def history(self, name: str) -> list[TableVersion]:
        """Kept versions, newest first."""
        return [
            TableVersion(e.version, datetime.fromisoformat(e.committed_at), e.operation, e.rows)
            for e in reversed(self._require(name))
        ]

    def rollback(self, name: str, version: int) -> int:
        """Make a kept version current again as a new version (its files are shared, not copied)."""
        target = self._find(name, self._require(name), version)
        _entries, new_version = self._begin(name)
        entry = replace(
            target, version=new_version, committed_at=_now(), operation="rollback", restored=version
        )
        return self._commit(name, entry)

    def list_tables(self, layer: str | None = None) -> list[str]:
        """Tables with at least one committed version, as `layer.table`, sorted."""
        root = self._versions_root
        layers = [layer] if layer else [d for d in self._files.list(root) if not d.startswith((".", "_"))]
        names = []
        for lyr in layers:
            for table in self._files.list(f"{root}/{lyr}"):
                log = self._files.list(f"{root}/{lyr}/{table}/{LOG_DIR}")
                if any(n.endswith(".json") and n[:-5].isdigit() for n in log):
                    names.append(f"{lyr}.{table}")
        return sorted(names)
