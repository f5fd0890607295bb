"""Read a JSON-lines export with Arrow, giving every value the text Spark's JSON reader gives it.

Each non-blank line is one object whose member names may differ from line to line in case and
padding. Bronze's canonical text follows what Spark's `from_json` (Jackson) makes of a line:
strings as they are, numbers as Jackson prints them (`12.50` -> `12.5`, `1e2` -> `100.0`),
`true`/`false`, nested values as compact JSON, a member named twice keeps its last value. A line
that is not an object, or names one column twice in different spellings, is malformed.

The fast path is `pyarrow.json` over the whole file, taken when its result can only mean what
Spark would read: every line one flat object, one spelling per column, no number whose text Arrow
cannot tell (an integral double where the text matters). Any other file is read line by line by
`read_lines`, which follows Jackson's rules in Python; exporters rarely write such files.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from lakehouse.bronze.canonical import java_double_text
from lakehouse.bronze.raw import JSON, TEXT, RawExport, normalize_name

_TWO_POW_53 = 2.0**53
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_SPACE = " \t\n\r"


def read_json_lines(data: pa.Buffer) -> RawExport:
    """Every line's members (UTF-8 checked by the caller); the fast path when it is safe, else line by line."""
    raw = data.to_pybytes()
    if not raw.strip():
        return RawExport([], [], TEXT, 0)
    fast = _read_fast(data, raw)
    return fast if fast is not None else read_lines(raw.decode("utf-8"))


def _read_fast(data: pa.Buffer, raw: bytes) -> RawExport | None:
    """The file through `pyarrow.json`, or None when its result could differ from Spark's reading."""
    body = raw.rstrip(b"\r\n")
    if b"\n\n" in body or b"\n\r\n" in body or body.startswith((b"\n", b"\r")) or b"\n\xef\xbb\xbf" in raw:
        return None  # blank lines (Spark drops them; Arrow would too, but the row count below must match lines)
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    first = raw[: raw.find(b"\n")] if b"\n" in raw else raw
    try:
        head = json.loads(first.decode("utf-8").lstrip("\ufeff"))
    except ValueError:
        return None
    if not isinstance(head, dict):
        return None
    # strings stay strings (Arrow would infer ISO-8601 text as timestamps)
    text_members = [pa.field(k, pa.string()) for k, v in head.items() if isinstance(v, str)]
    options = pj.ParseOptions(explicit_schema=pa.schema(text_members), unexpected_field_behavior="infer")
    reading = pj.ReadOptions(use_threads=False, block_size=1 << 26)
    try:
        table = pj.read_json(pa.BufferReader(data), read_options=reading, parse_options=options)
        if any(pa.types.is_timestamp(t) or pa.types.is_date(t) for t in table.schema.types):
            explicit = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
                                  else f for f in table.schema])
            table = pj.read_json(pa.BufferReader(data), read_options=reading,
                                 parse_options=pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a member whose JSON type changes between lines (`1`, then `"x"`): read line by line
    if table.num_rows != lines:
        return None
    names = table.column_names
    if len({normalize_name(n) for n in names}) < len(names):
        return None  # a column spelled two ways: a line may name it twice
    columns = []
    for name in names:
        column = table.column(name).combine_chunks()
        kind = column.type
        if not (pa.types.is_string(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_null(kind)):
            return None  # nested values: their JSON text is read line by line
        if pa.types.is_floating(kind) and _integral_values(column):
            return None  # `7` and `7.0` both read as 7.0; Spark prints them apart
        columns.append(column)
    return RawExport(names, columns, JSON, table.num_rows)


def _integral_values(column: pa.Array) -> bool:
    x = pc.fill_null(column, 0.5).to_numpy(zero_copy_only=False)
    return bool((np.isfinite(x) & (x == np.floor(x))).any())


# ---------------------------------------------------------------- line by line, as Spark reads JSON


class _Number(str):
    """A JSON number's text as Jackson writes it back."""


class _Constant(str):
    """NaN or Infinity, which Jackson writes back as quoted text."""


def _parse_int(text: str) -> _Number:
    return _Number(str(int(text)))


def _parse_float(text: str) -> _Number | _Constant:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        return _Constant(java_double_text(pa.array([value])).to_pylist()[0])
    return _Number(java_double_text(pa.array([value])).to_pylist()[0])


def _parse_constant(text: str) -> _Constant:
    return _Constant({"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}[text])


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _fix_surrogates(text: str) -> str:
    """A lone surrogate (`\\ud800`) becomes `?`, as Spark's UTF-8 conversion of Jackson's string makes it."""
    return _SURROGATE.sub("?", text) if _SURROGATE.search(text) else text


def _quoted(text: str) -> str:
    out = []
    for ch in _fix_surrogates(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    """A parsed scalar as Jackson writes it inside a nested value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, _Constant):
        return f'"{value}"'
    if isinstance(value, _Number):
        return str(value)
    return _quoted(value)


def _nested(value: Any) -> str:
    """A parsed value as Jackson copies it: compact JSON, member order and repeated names kept."""
    if isinstance(value, _Object):
        return "{" + ",".join(f"{_quoted(k)}:{_nested(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_nested(v) for v in value) + "]"
    return _scalar(value)


def _text(value: Any) -> str | None:
    """The text `from_json(..., map<string, string>)` gives a member's value."""
    if value is None:
        return None
    if isinstance(value, (_Object, list)):
        return _nested(value)
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, _Constant):
        return f'"{value}"'
    if value is True or value is False:
        return "true" if value else "false"
    return _fix_surrogates(value)


class _Object(list):
    """A JSON object's (name, value) pairs in order, repeats kept."""


_OBJECT_DECODER = json.JSONDecoder(
    object_pairs_hook=_Object, parse_int=_parse_int, parse_float=_parse_float,
    parse_constant=_parse_constant, strict=True,
)


def parse_line(line: str) -> dict[str, str | None] | None:
    """The members of one JSON line as Spark reads them (last of repeated names wins); None when it is not an object.

    Like Jackson in Spark, what follows the first complete value on the line is ignored.
    """
    text = line.lstrip(_JSON_SPACE)
    try:
        value, _ = _OBJECT_DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, _Object):
        return None
    return {_fix_surrogates(k): _text(v) for k, v in value}


def read_lines(text: str) -> RawExport:
    """Every non-blank line parsed on its own (see `parse_line`); names normalized per line, malformed lines kept raw."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.startswith("\ufeff"):
            line = line[1:]
        if line.strip(" \t\n\x0b\f\r"):
            lines.append(line)
    n = len(lines)
    malformed = np.zeros(n, dtype=bool)
    corrupt: list[str | None] = [None] * n
    values: dict[str, list[str | None]] = {}
    for row, line in enumerate(lines):
        members = parse_line(line)
        if members is not None:
            normalized = [normalize_name(k) for k in members]
            if len(set(normalized)) < len(normalized):
                members = None
        if members is None:
            malformed[row] = True
            corrupt[row] = line
            continue
        for key, value in zip(normalized, members.values(), strict=True):
            values.setdefault(key, [None] * n)[row] = value
    names = sorted(values)  # as `cast` orders the unknown columns of JSON read by Arrow
    columns = [pa.array(values[k], pa.string()) for k in names]
    return RawExport(names, columns, TEXT, n, malformed if malformed.any() else None,
                     pa.array(corrupt, pa.string()) if malformed.any() else None)
