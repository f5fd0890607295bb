"""Read exports with their own schema, few Spark reads for many files, and isolate bad files.

Before Spark reads anything, the driver looks at every new file cheaply: a Parquet file's footer
(its schema and row count; a truncated or non-Parquet file fails here) and a CSV file's header
record (strictly UTF-8). Files are then grouped so that one Spark read covers many files:

- Parquet: files whose columns (by lower-cased name) have the same Spark type are read with one
  schema, the union of their columns (a column a file lacks reads as null);
- CSV: files with the same number of columns are read positionally (`c0`, `c1`, ...), all text,
  and a small per-file table joined on Spark's `_metadata.file_path` says which position holds
  which contract column in that file;
- JSON lines: all files in one text read, each line parsed into a map.

A file Spark still fails on (corrupt pages, a footer that lies) is found by reading the groups,
then the files of a failing group, one at a time; that only happens after a failure.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.bronze.cast import (
    CORRUPT_RECORD,
    FILE_COLUMNS,
    FILE_KEY,
    FILE_RESCUED_KEYS,
    FILE_RESCUED_POS,
    canonical_values,
    csv_layout,
    duplicate_names,
    staged_schema,
    text_csv,
    text_json_lines,
    text_typed,
)
from lakehouse.bronze.discover import ExportFile, FileSystem, local_path
from lakehouse.bronze.manifest import BadFile
from lakehouse.config import TableSpec

# reason codes of quarantine.bronze_files
UNEXPECTED_FILE = "unexpected_file"
CORRUPT_PARQUET = "corrupt_parquet"
NOT_UTF8 = "not_utf8"
DUPLICATE_COLUMNS = "duplicate_columns"
UNREADABLE = "unreadable"

HEAD_BYTES = 64 * 1024
_GLOB = re.compile(r"([\\\[\]{}*?])")


@dataclass(frozen=True)
class Layout:
    """What the driver learned about one readable file before Spark reads it."""

    export: ExportFile
    key: str  # the file's path as Spark's `_metadata.file_path` spells it (URL-encoded)
    columns: tuple[str, ...] = ()  # CSV header / Parquet field names, as written
    types: tuple[T.DataType, ...] = ()  # Parquet: the Spark type each field reads as
    empty: bool = False  # known to hold no rows: not read at all


class BadFileError(Exception):
    """A file that cannot be read; carries the reason code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def spark_path(path: str) -> str:
    """`path` with glob characters escaped, so Spark reads exactly that file."""
    return _GLOB.sub(r"\\\1", path)


def file_key(spark: SparkSession, path: str) -> str:
    """How Spark's `_metadata.file_path` spells the file at `path`."""
    return str(spark._jvm.org.apache.spark.paths.SparkPath.fromPathString(path).urlEncoded())


def literal_frame(spark: SparkSession, rows: Sequence[tuple], schema: T.StructType) -> DataFrame:
    """A small DataFrame held in the plan itself (one JSON literal), so using it needs no Python workers.

    `spark.createDataFrame(list)` ships pickled rows through Python workers on every use; the
    per-file tables bronze joins (thousands of rows) are cheaper as a literal.
    """
    if not rows:
        return spark.createDataFrame([], schema)
    text = json.dumps([dict(zip(schema.names, row, strict=True)) for row in rows])
    return spark.range(0, 1, 1, numPartitions=1).select(F.inline(F.from_json(F.lit(text), T.ArrayType(schema))))


def _first_line(message: str, limit: int = 500) -> str:
    text = " ".join(str(message).strip().split("\n")[:1]) or type(message).__name__
    return text[:limit]


# ---------------------------------------------------------------- Parquet footers


class _StreamFile(io.RawIOBase):
    """A seekable read-only file over `FileSystem.read`, for pyarrow to parse a remote footer."""

    def __init__(self, fs: FileSystem, path: str, size: int):
        self._fs, self._path, self._size, self._pos = fs, path, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        n = self._size - self._pos if n is None or n < 0 else min(n, self._size - self._pos)
        data = self._fs.read(self._path, self._pos, n) if n > 0 else b""
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _int_type(bits: int, signed: bool) -> T.DataType:
    if signed:
        return {8: T.ByteType(), 16: T.ShortType(), 32: T.IntegerType(), 64: T.LongType()}[bits]
    return {8: T.ShortType(), 16: T.IntegerType(), 32: T.LongType(), 64: T.DecimalType(20, 0)}[bits]


def parquet_column_type(physical: str, logical: dict) -> T.DataType | None:
    """The Spark type a flat Parquet column reads as (nanosecond timestamps as longs); None if unsure."""
    kind = logical.get("Type", "None")
    if kind == "Decimal":
        return T.DecimalType(int(logical["precision"]), int(logical["scale"]))
    if physical == "BOOLEAN" and kind == "None":
        return T.BooleanType()
    if physical in ("INT32", "INT64"):
        if kind == "Int":
            return _int_type(int(logical["bitWidth"]), bool(logical["isSigned"]))
        if kind == "Date" and physical == "INT32":
            return T.DateType()
        if kind == "Timestamp" and physical == "INT64":
            return T.LongType() if logical.get("timeUnit") == "nanoseconds" else T.TimestampType()
        if kind == "None":
            return T.IntegerType() if physical == "INT32" else T.LongType()
        return None
    if physical == "INT96" and kind == "None":
        return T.TimestampType()
    if physical == "FLOAT" and kind == "None":
        return T.FloatType()
    if physical == "DOUBLE" and kind == "None":
        return T.DoubleType()
    if physical == "BYTE_ARRAY":
        if kind in ("String", "Enum", "JSON"):
            return T.StringType()
        if kind in ("None", "BSON"):
            return T.BinaryType()
        return None
    if physical == "FIXED_LEN_BYTE_ARRAY" and kind == "None":
        return T.BinaryType()
    return None


def parquet_read_types(meta: pq.FileMetaData) -> list[tuple[str, T.DataType]] | None:
    """(name, Spark type) of a flat Parquet file's columns, or None when Spark must be asked."""
    schema = meta.schema
    arrow = schema.to_arrow_schema()
    if len(arrow) != meta.num_columns or any(pa.types.is_nested(f.type) for f in arrow):
        return None
    out = []
    for i, fld in enumerate(arrow):
        col = schema.column(i)
        spark_type = parquet_column_type(col.physical_type, json.loads(col.logical_type.to_json()))
        if spark_type is None or col.max_repetition_level != 0:
            return None
        out.append((fld.name, spark_type))
    return out


def _widen(dtype: T.DataType) -> T.DataType:
    """Spark infers timestamp_ntz for naive Parquet timestamps; they read fine as (UTC) timestamps."""
    return T.TimestampType() if isinstance(dtype, T.TimestampNTZType) else dtype


def inspect_parquet(spark: SparkSession, fs: FileSystem, export: ExportFile) -> Layout:
    """Read a Parquet footer: the file's columns and Spark types; BadFileError when unreadable."""
    try:
        local = local_path(export.path)
        if local is not None:
            meta = pq.read_metadata(local)
        else:
            with _StreamFile(fs, export.path, export.size) as fh:
                meta = pq.read_metadata(fh)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for every kind of damage
        raise BadFileError(CORRUPT_PARQUET, _first_line(str(exc))) from None
    key = file_key(spark, export.path)
    fields = parquet_read_types(meta)
    if fields is None:  # a type we do not map ourselves (nested, TIME, ...): ask Spark (one job)
        try:
            inferred = spark.read.parquet(spark_path(export.path)).schema
        except Exception as exc:
            raise BadFileError(UNREADABLE, _first_line(str(exc))) from None
        fields = [(f.name, _widen(f.dataType)) for f in inferred.fields]
    names = [n for n, _ in fields]
    dups = duplicate_names(names)
    if dups:
        raise BadFileError(DUPLICATE_COLUMNS, f"columns that differ only in case or padding: {', '.join(dups)}")
    return Layout(export, key, tuple(names), tuple(t for _, t in fields), empty=meta.num_rows == 0)


# ---------------------------------------------------------------- CSV headers


def _record_end(data: bytes) -> int | None:
    """Offset just past the first CSV record's line break (quotes respected), None if not in `data`."""
    quoted = False
    for i, byte in enumerate(data):
        if byte == 0x22:  # "
            quoted = not quoted
        elif byte == 0x0A and not quoted:  # \n
            return i + 1
    return None


def inspect_csv(spark: SparkSession, fs: FileSystem, export: ExportFile) -> Layout:
    """Read a CSV file's header record (UTF-8, BOM allowed); BadFileError when it is not readable."""
    key = file_key(spark, export.path)
    if export.size == 0:
        return Layout(export, key, (), empty=True)
    want = min(export.size, HEAD_BYTES)
    data = fs.read(export.path, 0, want)
    end = _record_end(data)
    while end is None and len(data) < export.size:
        want = min(export.size, want * 4)
        data = fs.read(export.path, 0, want)
        end = _record_end(data)
    head = data[: end if end is not None else len(data)]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFileError(NOT_UTF8, f"header is not UTF-8 text: {exc}") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = tuple(rows[0]) if rows else ()
    dups = duplicate_names(header)
    if dups:
        raise BadFileError(DUPLICATE_COLUMNS, f"columns that differ only in case or padding: {', '.join(dups)}")
    rest = data[end:] if end is not None else b""
    empty = not header or (len(data) == export.size and not rest.strip())
    return Layout(export, key, header, empty=empty)


def inspect_json(spark: SparkSession, export: ExportFile) -> Layout:
    """JSON lines need no look ahead: every line is parsed on its own."""
    return Layout(export, file_key(spark, export.path), empty=export.size == 0)


def inspect(spark: SparkSession, fs: FileSystem, export: ExportFile) -> Layout | BadFile:
    """The layout of a file, or why it is bad (never raises for a file's content)."""
    if export.problem:
        return BadFile(export, UNEXPECTED_FILE, export.problem)
    try:
        if export.fmt == "parquet":
            return inspect_parquet(spark, fs, export)
        if export.fmt == "csv":
            return inspect_csv(spark, fs, export)
        return inspect_json(spark, export)
    except BadFileError as exc:
        return BadFile(export, exc.reason, exc.detail)
    except OSError as exc:  # vanished or unreadable on disk
        return BadFile(export, UNREADABLE, _first_line(str(exc)))


# ---------------------------------------------------------------- grouping and Spark reads


@dataclass
class Branch:
    """A group of files one Spark read covers, and how to build its staged rows."""

    fmt: str
    layouts: list[Layout] = field(default_factory=list)
    schema: dict[str, T.DataType] = field(default_factory=dict)  # Parquet: read schema by lower name
    width: int = 0  # CSV: number of columns

    def fits(self, layout: Layout) -> bool:
        """Parquet: True when every column of `layout` has this group's type (or is new to it)."""
        return all(self.schema.get(n.lower(), t) == t for n, t in zip(layout.columns, layout.types, strict=True))

    def add(self, layout: Layout) -> None:
        self.layouts.append(layout)
        for name, dtype in zip(layout.columns, layout.types, strict=True):
            self.schema.setdefault(name.lower(), dtype)


def plan_branches(layouts: Sequence[Layout]) -> list[Branch]:
    """Group readable, non-empty files into as few Spark reads as their schemas allow."""
    branches: list[Branch] = []
    parquet: list[Branch] = []
    csv_by_width: dict[int, Branch] = {}
    json_branch: Branch | None = None
    for layout in layouts:
        if layout.empty:
            continue
        fmt = layout.export.fmt
        if fmt == "parquet":
            target = next((b for b in parquet if b.fits(layout)), None)
            if target is None:
                target = Branch("parquet")
                parquet.append(target)
                branches.append(target)
            target.add(layout)
        elif fmt == "csv":
            width = len(layout.columns)
            if width not in csv_by_width:
                csv_by_width[width] = Branch("csv", width=width)
                branches.append(csv_by_width[width])
            csv_by_width[width].layouts.append(layout)
        else:
            if json_branch is None:
                json_branch = Branch("json")
                branches.append(json_branch)
            json_branch.layouts.append(layout)
    return branches


_CSV_OPTIONS = {
    "header": "true",
    "multiLine": "true",  # RFC-4180 quoted line breaks
    "encoding": "UTF-8",
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_RECORD,
    "enforceSchema": "true",  # columns by position; each file's header was read by the driver
    "quote": '"',
    "escape": '"',  # RFC-4180: a quote inside a quoted field is doubled
}

_CSV_FILES_SCHEMA = T.StructType(
    [
        T.StructField(FILE_KEY, T.StringType(), False),
        T.StructField(FILE_COLUMNS, T.ArrayType(T.IntegerType(), True), True),
        T.StructField(FILE_RESCUED_KEYS, T.ArrayType(T.StringType(), False), True),
        T.StructField(FILE_RESCUED_POS, T.ArrayType(T.IntegerType(), False), True),
    ]
)


def branch_frame(spark: SparkSession, spec: TableSpec, branch: Branch, layouts: Sequence[Layout]) -> DataFrame:
    """Text-stage rows (`cast.text_schema`) of `layouts`, files of `branch`, in one Spark read."""
    paths = [spark_path(layout.export.path) for layout in layouts]
    if branch.fmt == "parquet":
        schema = T.StructType([T.StructField(n, t, True) for n, t in sorted(branch.schema.items())])
        raw = spark.read.schema(schema).parquet(*paths)
        return text_typed(spec, raw.withColumn(FILE_KEY, F.col("_metadata.file_path")))
    if branch.fmt == "csv":
        schema = T.StructType(
            [T.StructField(f"c{i}", T.StringType(), True) for i in range(branch.width)]
            + [T.StructField(CORRUPT_RECORD, T.StringType(), True)]
        )
        raw = spark.read.schema(schema).options(**_CSV_OPTIONS).csv(paths)
        files = []
        for layout in layouts:
            positions, keys, pos = csv_layout(spec, layout.columns)
            files.append((layout.key, positions, keys, pos))
        files_df = literal_frame(spark, files, _CSV_FILES_SCHEMA)
        raw = raw.withColumn(FILE_KEY, F.col("_metadata.file_path")).join(
            F.broadcast(files_df), on=FILE_KEY, how="left"
        )
        return text_csv(spec, raw, branch.width)
    raw = spark.read.text(paths).withColumn(FILE_KEY, F.col("_metadata.file_path"))
    return text_json_lines(spec, raw)


def read_tasks(spark: SparkSession, branches: Sequence[Branch]) -> int:
    """How many tasks the staged rows of `branches` are computed in: the session's parallelism,
    or more for a large input (one task per `spark.sql.files.maxPartitionBytes` of files)."""
    size = sum(layout.export.size for b in branches for layout in b.layouts)
    setting = spark.conf.get("spark.sql.files.maxPartitionBytes", "128m")
    split = spark._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(setting)  # Spark's own parser
    return max(spark.sparkContext.defaultParallelism, math.ceil(size / split))


def staged_frame(spark: SparkSession, spec: TableSpec, branches: Sequence[Branch]) -> DataFrame:
    """Staged rows (`cast.staged_schema`) of every branch: their union, cast to canonical text once.

    Each branch is read in at least `spark.sql.files.minPartitionNum` partitions, so an entity
    whose files fall into many schema groups would run many small tasks, each deserializing the
    whole plan and generating its code; the union is coalesced to `read_tasks` tasks first.
    """
    frames = [branch_frame(spark, spec, b, b.layouts) for b in branches if b.layouts]
    if not frames:
        return spark.createDataFrame([], staged_schema(spec))
    return reduce(DataFrame.union, frames).coalesce(read_tasks(spark, branches)).transform(canonical_values(spec))


def find_unreadable(
    spark: SparkSession, spec: TableSpec, branches: Sequence[Branch], evaluate: Callable[[DataFrame], None]
) -> list[tuple[Layout, str]]:
    """Files Spark fails to read: each failing branch is read again one file at a time."""
    culprits = []
    for branch in branches:
        try:
            evaluate(branch_frame(spark, spec, branch, branch.layouts).transform(canonical_values(spec)))
            continue
        except Exception:  # noqa: BLE001 - any failure: look at the files one by one
            pass
        for layout in branch.layouts:
            try:
                evaluate(branch_frame(spark, spec, branch, [layout]).transform(canonical_values(spec)))
            except Exception as exc:  # noqa: BLE001
                culprits.append((layout, _first_line(str(exc))))
    return culprits


def evaluate_all(df: DataFrame) -> None:
    """Compute every column of every row and throw the result away (finds read failures)."""
    df.write.format("noop").mode("overwrite").save()


def is_utf8(fs: FileSystem, export: ExportFile) -> bool:
    """True when the whole file decodes as UTF-8 (checked only for files Spark saw U+FFFD in)."""
    try:
        fs.read(export.path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
