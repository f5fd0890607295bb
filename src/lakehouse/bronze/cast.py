"""Drift-safe casting in Arrow: map each file's columns to the contract and bring values to canonical text.

`staged_batch` turns the exports a Spark task read (`raw.RawExport`, each with its own names and
types) into one Arrow batch of *staged* columns (`staged_schema(spec)`): one canonical text column
per contract column (`canonical`), `_rescued` (unknown columns, name lower-cased and trimmed ->
their text as the `string` type gives it), lineage (`_store_id`, `_source_file`, `_export_id`),
`_malformed` (the record could not be split into columns), `_bad_text` (kept for the job's
interface: files that are not UTF-8 are rejected whole) and `_file_error` (set only on the single
row standing for a file that could not be read, see `error_batch`).

Names match the contract case-insensitively and trimmed; a missing column is null. The values of
one contract column are canonicalized per (reader kind, Arrow type) over all files of the batch
at once, so the cost follows the number of values, not of files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import types as T

from lakehouse.bronze import canonical
from lakehouse.bronze.raw import JSON, TYPED, RawExport, normalize_name
from lakehouse.config import ColumnSpec, TableSpec
from lakehouse.contract import EXPORT_ID, RESCUED, RESCUED_TYPE, SOURCE_FILE, STORE_ID

MALFORMED = "_malformed"
BAD_TEXT = "_bad_text"
FILE_ERROR = "_file_error"  # "<reason>: <detail>" on the row standing for a file that could not be read
CORRUPT_RECORD = "_corrupt_record"  # `_rescued` key of a malformed record's raw text


STRING = pa.string()
RESCUED_ARROW = pa.map_(pa.string(), pa.string())




def staged_schema(spec: TableSpec) -> T.StructType:
    """The Spark schema of the staged rows, in order (what the staging tasks return)."""
    return T.StructType(
        [T.StructField(c.name, T.StringType(), True) for c in spec.columns]
        + [
            T.StructField(RESCUED, RESCUED_TYPE, True),
            T.StructField(STORE_ID, T.StringType(), True),
            T.StructField(SOURCE_FILE, T.StringType(), True),
            T.StructField(EXPORT_ID, T.StringType(), True),
            T.StructField(MALFORMED, T.BooleanType(), True),
            T.StructField(BAD_TEXT, T.BooleanType(), True),
            T.StructField(FILE_ERROR, T.StringType(), True),
        ]
    )


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """`staged_schema` in Arrow types."""
    return pa.schema(
        [pa.field(c.name, STRING) for c in spec.columns]
        + [
            pa.field(RESCUED, RESCUED_ARROW),
            pa.field(STORE_ID, STRING),
            pa.field(SOURCE_FILE, STRING),
            pa.field(EXPORT_ID, STRING),
            pa.field(MALFORMED, pa.bool_()),
            pa.field(BAD_TEXT, pa.bool_()),
            pa.field(FILE_ERROR, STRING),
        ]
    )


@dataclass(frozen=True)
class Source:
    """Where a file's rows come from (their lineage)."""

    path: str  # `_source_file`: the qualified path
    store_id: str
    export_id: str


# ---------------------------------------------------------------- values


def _text_of(values: pa.Array, kind: str) -> pa.Array:
    """The (cleaned) text of values read by a reader of `kind`, as the `string` type keeps them."""
    if kind == TYPED:
        return canonical.canonical_typed(values, "string")
    if kind == JSON:
        return canonical.clean(canonical.json_text(values))
    return canonical.clean(values)


def canonical_values(values: pa.Array, kind: str, column: ColumnSpec) -> pa.Array:
    """Canonical text of one contract column's values read by a reader of `kind`."""
    if kind == TYPED:
        return canonical.canonical_typed(values, column.type, column.values)
    return canonical.canonical_from_text(_text_of(values, kind), column.type, column.values)


# logical types whose values repeat (prices, flags, plans, days): canonicalized once per distinct value
_REPEATING = ("boolean", "integer", "decimal", "date", "enum")
_DISTINCT_SHARE = 0.25  # ... when at most this share of the values is distinct


def _canonical_distinct(values: pa.Array, kind: str, column: ColumnSpec) -> pa.Array:
    """`canonical_values`, computed once per distinct value where values repeat (the result is per value)."""
    if column.type in _REPEATING and len(values) >= 1024 and not pa.types.is_null(values.type):
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) <= _DISTINCT_SHARE * len(values):
            return canonical_values(encoded.dictionary, kind, column).take(encoded.indices)
    return canonical_values(values, kind, column)


def _staged_column(column: ColumnSpec, pieces: list[tuple[int, pa.Array, str]], sizes: np.ndarray) -> pa.Array:
    """One contract column over the batch, in file order.

    The files' values are canonicalized per (reader kind, Arrow type) group at once; each file's
    slice of its group's result is then laid back in file order (files without the column: null).
    """
    by_file = {f: (values, kind) for f, values, kind in pieces}
    groups: dict[tuple[str, pa.DataType], list[pa.Array]] = defaultdict(list)
    runs: list[tuple[tuple[str, pa.DataType] | None, int]] = []  # (group or None for nulls, rows), in file order
    for f, size in enumerate(sizes):
        key = None
        if f in by_file:
            values, kind = by_file[f]
            key = (kind, values.type)
            groups[key].append(values)
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1] + int(size))
        else:
            runs.append((key, int(size)))
    results = {
        key: _canonical_distinct(members[0] if len(members) == 1 else pa.concat_arrays(members), key[0], column)
        for key, members in groups.items()
    }
    if len(runs) == 1:
        key, size = runs[0]
        return results[key].cast(STRING) if key is not None else pa.nulls(size, STRING)
    used = dict.fromkeys(results, 0)
    parts = []
    for key, size in runs:
        if key is None:
            parts.append(pa.nulls(size, STRING))
        else:
            parts.append(results[key].slice(used[key], size).cast(STRING))
            used[key] += size
    return pa.concat_arrays(parts)


def _entries(n: int, keys: list[str], texts: list[pa.Array]) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """(entries per row, keys, values) of one file's `_rescued` maps: its non-null texts by key, in column order."""
    if not texts:
        return np.zeros(n, dtype=np.int64), pa.array([], STRING), pa.array([], STRING)
    valid = np.stack([c.is_valid().to_numpy(zero_copy_only=False) for c in texts], axis=1)
    rows, which = np.nonzero(valid)  # row-major: each row's entries in column order
    stacked = pa.concat_arrays(texts)
    items = stacked.take(pa.array(which * n + rows))
    return valid.sum(axis=1), pa.array(keys, STRING).take(pa.array(which)), items


def repeated(values: Sequence[str], counts: np.ndarray) -> pa.Array:
    """A string array holding `values[i]` `counts[i]` times, in order (built from bytes, not per row)."""
    encoded = [v.encode("utf-8") for v in values]
    data = b"".join(e * int(c) for e, c in zip(encoded, counts, strict=True))
    lengths = np.repeat(np.array([len(e) for e in encoded], dtype=np.int64), counts)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        return pa.Array.from_buffers(pa.large_string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]).cast(STRING)
    return pa.Array.from_buffers(STRING, len(lengths), [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)])


def _lineage(sources: Sequence[Source], sizes: np.ndarray) -> list[pa.Array]:
    return [repeated([getattr(s, attr) for s in sources], sizes) for attr in ("store_id", "path", "export_id")]


def staged_batch(spec: TableSpec, files: Sequence[tuple[Source, RawExport]]) -> pa.RecordBatch:
    """The staged rows of the files a task read (`arrow_schema(spec)`), in file order."""
    contract = {c.name.lower(): i for i, c in enumerate(spec.columns)}
    sizes = np.array([raw.num_rows for _, raw in files], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    total = int(starts[-1])
    pieces: list[list[tuple[int, pa.Array, str]]] = [[] for _ in spec.columns]
    counts, keys, items = [], [], []
    malformed = np.zeros(total, dtype=bool)
    for f, (_, raw) in enumerate(files):
        rescued_keys, rescued_texts = [], []
        for name, values in zip(raw.names, raw.columns, strict=True):
            key = normalize_name(name)
            i = contract.get(key)
            if i is not None:
                pieces[i].append((f, values, raw.kind))
            else:
                rescued_keys.append(key)
                rescued_texts.append(_text_of(values, raw.kind))
        if raw.kind in (TYPED, JSON):  # Parquet and JSON (any path): unknown columns in name order; CSV: header order
            order = sorted(range(len(rescued_keys)), key=lambda j: rescued_keys[j])
            rescued_keys, rescued_texts = [rescued_keys[j] for j in order], [rescued_texts[j] for j in order]
        if raw.malformed is not None:
            malformed[starts[f] : starts[f + 1]] = raw.malformed
            if raw.corrupt is not None:
                rescued_keys.append(CORRUPT_RECORD)
                rescued_texts.append(raw.corrupt)
        n, k, v = _entries(raw.num_rows, rescued_keys, rescued_texts)
        counts.append(n)
        keys.append(k)
        items.append(v)
    columns = [_staged_column(col, pieces[i], sizes) for i, col in enumerate(spec.columns)]
    offsets = np.zeros(total + 1, dtype=np.int32)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    rescued = pa.MapArray.from_arrays(
        pa.array(offsets), pa.concat_arrays(keys) if keys else pa.array([], STRING),
        pa.concat_arrays(items) if items else pa.array([], STRING),
    ).cast(RESCUED_ARROW)
    store, path, export = _lineage([s for s, _ in files], sizes)
    flags = [pa.array(malformed), pa.array(np.zeros(total, dtype=bool)), pa.nulls(total, STRING)]
    return pa.RecordBatch.from_arrays([*columns, rescued, store, path, export, *flags], schema=arrow_schema(spec))


def error_batch(spec: TableSpec, failures: Sequence[tuple[Source, str, str]]) -> pa.RecordBatch:
    """One row per file that could not be read: its lineage and `_file_error` = "<reason>: <detail>"."""
    n = len(failures)
    sources = [s for s, _, _ in failures]
    store, path, export = _lineage(sources, np.ones(n, dtype=np.int64))
    empty = pa.MapArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], STRING), pa.array([], STRING))
    errors = pa.array([f"{reason}: {detail}" for _, reason, detail in failures], STRING)
    no = pa.array(np.zeros(n, dtype=bool))
    columns = [pa.nulls(n, STRING) for _ in spec.columns]
    return pa.RecordBatch.from_arrays(
        [*columns, empty.cast(RESCUED_ARROW), store, path, export, no, no, errors], schema=arrow_schema(spec)
    )


def file_error(text: str) -> tuple[str, str]:
    """(reason, detail) of a `_file_error` value."""
    reason, _, detail = text.partition(": ")
    return reason, detail

