"""Read one export file with Arrow, inside a Spark task: its columns as written, and what is wrong with it.

Each file is read by pyarrow's own reader with its own schema (DOMAIN.md §1):

- Parquet: `pyarrow.parquet`, every column with its own type (INT96 as microseconds);
- CSV: `pyarrow.csv`, RFC-4180 (quoted line breaks, doubled quotes, BOM dropped, blank lines
  skipped), every value as text; a record with the wrong number of fields is *malformed*: its
  first fields are kept, the missing ones are null, and its raw text is kept;
- JSON lines: `lakehouse.bronze.jsonlines`.

A file that cannot be read raises `BadFileError` with the reason bronze records for it
(`quarantine.bronze_files`); an empty file (no bytes, a header only, a Parquet file of zero
rows) is an empty export, not a bad one. `inspect` is what the bronze job asks of every file
before staging: only whether its name breaks the layout and whether it is empty; everything
else is learnt by reading it, in the Spark tasks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.bronze.discover import ExportFile
from lakehouse.bronze.manifest import BadFile
from lakehouse.bronze.raw import TEXT, TYPED, RawExport, duplicate_names, normalize_name
from lakehouse.fs import FileSystem, local_path

# reason codes of quarantine.bronze_files
UNEXPECTED_FILE = "unexpected_file"
CORRUPT_PARQUET = "corrupt_parquet"
NOT_UTF8 = "not_utf8"
DUPLICATE_COLUMNS = "duplicate_columns"
UNREADABLE = "unreadable"

_MAX_CSV_COLUMNS = 4096


@dataclass(frozen=True)
class Layout:
    """A file the job hands to staging: the export, and whether it is known to be empty (no bytes)."""

    export: ExportFile
    empty: bool = False


class BadFileError(Exception):
    """A file that cannot be read; carries the reason code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def first_line(message: str, limit: int = 500) -> str:
    """The first line of an error message, at most `limit` characters."""
    text = " ".join(str(message).strip().split("\n")[:1]) or type(message).__name__
    return text[:limit]


def layout_of(export: ExportFile) -> Layout | BadFile:
    """The layout of a listed file, or why it is bad; no I/O: the file is read (and judged) while staging."""
    if export.problem:
        return BadFile(export, UNEXPECTED_FILE, export.problem)
    return Layout(export, empty=export.size == 0)


def is_utf8(fs: FileSystem, export: ExportFile) -> bool:
    """True when the whole file decodes as UTF-8."""
    return utf8_valid(pa.py_buffer(fs.read_bytes(export.path)))


def utf8_valid(data: pa.Buffer) -> bool:
    """True when the bytes are UTF-8 text (validated by Arrow, without copying them)."""
    if not data.size:
        return True
    offsets = pa.py_buffer(np.array([0, data.size], dtype=np.int64).tobytes())
    blob = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, data])
    try:
        blob.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


# ---------------------------------------------------------------- file access


@dataclass(frozen=True)
class Storage:
    """How tasks open remote files (gs://): pyarrow's GCS client, optionally against another endpoint (tests)."""

    gcs_endpoint: str | None = None  # host:port of a GCS API server; None for Google's
    gcs_scheme: str = "https"
    gcs_anonymous: bool = False

    def file_system(self, uri: str) -> tuple[pafs.FileSystem, str]:
        """The pyarrow file system serving `uri`, and the path in it."""
        local = local_path(uri)
        if local is not None:
            return pafs.LocalFileSystem(), local
        scheme, _, rest = uri.partition("://")
        if scheme != "gs":
            raise BadFileError(UNREADABLE, f"{scheme}:// files cannot be read by the Arrow staging (local and gs:// only)")
        return _gcs(self), rest


_GCS: dict[Storage, pafs.FileSystem] = {}


def _gcs(storage: Storage) -> pafs.FileSystem:
    """One GCS client per storage setting and worker process (it holds connections and credentials)."""
    if storage not in _GCS:
        options = {"anonymous": storage.gcs_anonymous, "scheme": storage.gcs_scheme}
        if storage.gcs_endpoint:
            options["endpoint_override"] = storage.gcs_endpoint
        _GCS[storage] = pafs.GcsFileSystem(**options)
    return _GCS[storage]


def read_bytes(path: str, storage: Storage) -> pa.Buffer:
    """The whole file (memory-mapped when local); OSError when it cannot be opened or read."""
    fs, where = storage.file_system(path)
    if isinstance(fs, pafs.LocalFileSystem):
        with pa.memory_map(where, "r") as source:
            return source.read_buffer()
    with fs.open_input_file(where) as source:
        return source.read_buffer()


# ---------------------------------------------------------------- formats


def read_export(data: pa.Buffer, fmt: str) -> RawExport:
    """Read one export's bytes in its format; BadFileError when they cannot be read."""
    if fmt == "parquet":
        return read_parquet(data)
    if fmt in ("csv", "json") and not utf8_valid(data):
        raise BadFileError(NOT_UTF8, "holds bytes that are not UTF-8 text")
    if fmt == "csv":
        return read_csv(data)
    if fmt == "json":
        from lakehouse.bronze.jsonlines import read_json_lines

        return read_json_lines(data)
    raise BadFileError(UNEXPECTED_FILE, f"format {fmt!r} is not one of parquet, csv, json")


def _check_names(names: list[str]) -> None:
    dups = duplicate_names(names)
    if dups:
        raise BadFileError(DUPLICATE_COLUMNS, f"columns that differ only in case or padding: {', '.join(dups)}")


def read_parquet(data: pa.Buffer) -> RawExport:
    """Every column of a Parquet file with its own type; a footer that cannot be read is `corrupt_parquet`."""
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data), coerce_int96_timestamp_unit="us")
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for every kind of damage
        raise BadFileError(CORRUPT_PARQUET, first_line(str(exc))) from None
    names = list(parquet.schema_arrow.names)
    _check_names(names)
    try:
        table = parquet.read(use_threads=False)
    except Exception as exc:
        raise BadFileError(UNREADABLE, first_line(str(exc))) from None
    columns = [table.column(i).combine_chunks() for i in range(table.num_columns)]
    return RawExport(names, columns, TYPED, table.num_rows)


def _header_and_body(data: pa.Buffer) -> pa.Buffer:
    """The bytes with a final line break (Arrow cannot tell the columns of a header-only file without one)."""
    view = memoryview(data)
    if data.size and view[-1] not in (0x0A, 0x0D):
        return pa.py_buffer(bytes(view) + b"\n")
    return data


def _blank_body(columns: list[pa.Array], invalid: list[str]) -> bool:
    """True when everything after the header is white space: an empty export, not malformed records."""
    rows = len(columns[0]) if columns else 0
    if rows + len(invalid) > 64 or (rows and len(columns) > 1):
        return False
    values = [v for c in columns for v in c.to_pylist()] + invalid
    return all(not (v or "").strip() for v in values)


def read_csv(data: pa.Buffer) -> RawExport:
    """Every CSV value as text; records with the wrong number of fields are malformed (values kept, raw text kept)."""
    if not data.size:
        return RawExport([], [], TEXT, 0)
    invalid: list[str] = []

    def keep_invalid(row) -> str:
        invalid.append(row.text)
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(_header_and_body(data)),
            read_options=pcsv.ReadOptions(use_threads=False, autogenerate_column_names=True, block_size=1 << 26),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=keep_invalid),
            convert_options=pcsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(_MAX_CSV_COLUMNS)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV" in str(exc):
            return RawExport([], [], TEXT, 0)
        raise BadFileError(UNREADABLE, first_line(str(exc))) from None
    if table.num_columns > _MAX_CSV_COLUMNS:
        raise BadFileError(UNREADABLE, f"more than {_MAX_CSV_COLUMNS} columns")
    header = [table.column(i)[0].as_py() for i in range(table.num_columns)] if table.num_rows else []
    if not header:
        return RawExport([], [], TEXT, 0)
    _check_names(header)
    header = [name if normalize_name(name) else f"_c{i}" for i, name in enumerate(header)]  # as Spark names them
    body = table.slice(1)
    columns = [body.column(i).combine_chunks() for i in range(body.num_columns)]
    if _blank_body(columns, invalid):
        return RawExport(header, [pa.array([], pa.string()) for _ in header], TEXT, 0)
    if not invalid:
        return RawExport(header, columns, TEXT, body.num_rows)
    # malformed records (rare): their fields as Spark's CSV reader keeps them, then appended
    fields = [next(csv.reader(io.StringIO(text, newline="")), [text]) for text in invalid]
    width = len(header)
    extra = [pa.array([(f[i] if i < len(f) else None) for f in fields], pa.string()) for i in range(width)]
    columns = [pa.concat_arrays([c, e]) for c, e in zip(columns, extra, strict=True)]
    n = body.num_rows + len(invalid)
    malformed = np.zeros(n, dtype=bool)
    malformed[body.num_rows :] = True
    corrupt = pa.concat_arrays([pa.nulls(body.num_rows, pa.string()), pa.array(invalid, pa.string())])
    return RawExport(header, columns, TEXT, n, malformed, corrupt)
