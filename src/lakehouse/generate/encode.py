"""Encode logical frames the way real stores export them (DOMAIN.md §1) and serialize them to bytes.

A `Dialect` is one export's look: file format, CSV byte-order mark, one physical encoding per logical
type (Parquet types of any unit, epoch millis, every accepted text form), enum case, column-name case,
whitespace and order, unknown extra columns and dropped optional columns. `encode` turns a logical frame
(see `lakehouse.generate.schema`) into the physical Arrow table of that dialect; `serialize` writes it
as Parquet, CSV or JSON lines. Everything is vectorized with pyarrow.compute.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from lakehouse.civil import civil_from_days
from lakehouse.generate.schema import RAW_PREFIX, columns

FORMATS = ("parquet", "csv", "json")
EXTENSIONS = {"parquet": "parquet", "csv": "csv", "json": "json"}

# Physical styles per logical type. `pq_*` exist only in Parquet, `json_*` only in JSON lines, the
# rest are text and fit every format.
# Parquet has no seconds unit (pyarrow stores `s` as ms), so the legacy INT96 form stands in for it.
TS_PARQUET = ("pq_ms", "pq_us", "pq_ns", "pq_ms_naive", "pq_us_naive", "pq_int96", "epoch_ms")
TS_TEXT = ("iso_t_z", "iso_t", "iso_space", "iso_space_z", "iso_offset", "iso_t_frac_z", "us_hm", "us_hms")
DATE_PARQUET = ("pq_date", "pq_ts_ms", "pq_ts_us")
DATE_TEXT = ("iso", "us")
MONEY_PARQUET = ("pq_f64", "pq_dec12_2", "pq_dec18_4")
MONEY_JSON = ("json_number",)
MONEY_TEXT = ("plain", "plain_paren", "thousands", "dollar", "dollar_paren")
INT_PARQUET = ("pq_i16", "pq_i32", "pq_i64", "pq_f64")
INT_JSON = ("json_int",)
INT_TEXT = ("text",)
BOOL_PARQUET = ("pq_bool", "pq_i8", "pq_bin")
BOOL_JSON = ("json_bool", "json_int")
BOOL_TEXT = (
    "true/false",
    "TRUE/FALSE",
    "True/False",
    "t/f",
    "T/F",
    "1/0",
    "y/n",
    "Y/N",
    "yes/no",
    "Yes/No",
    "YES/NO",
)
ENUM_CASES = ("lower", "upper", "title", "mixed")
NAME_STYLES = ("exact", "lower", "upper", "padded", "mixed")
TZ_OFFSETS = ("+02:00", "-05:00", "+05:30", "-08:00", "+00:00")

STYLES: dict[str, dict[str, tuple[str, ...]]] = {
    "timestamp": {"parquet": TS_PARQUET + TS_TEXT, "csv": TS_TEXT, "json": TS_TEXT},
    "date": {"parquet": DATE_PARQUET + DATE_TEXT, "csv": DATE_TEXT, "json": DATE_TEXT},
    "decimal": {"parquet": MONEY_PARQUET + MONEY_TEXT, "csv": MONEY_TEXT, "json": MONEY_JSON + MONEY_TEXT},
    "integer": {"parquet": INT_PARQUET + INT_TEXT, "csv": INT_TEXT, "json": INT_JSON + INT_TEXT},
    "boolean": {"parquet": BOOL_PARQUET + BOOL_TEXT, "csv": BOOL_TEXT, "json": BOOL_JSON + BOOL_TEXT},
}
# The text style used when a column carries raw overrides (values that must not parse) but the
# dialect's own style for that type is not text.
TEXT_FALLBACK = {
    "timestamp": "iso_t_z",
    "date": "iso",
    "decimal": "plain",
    "integer": "text",
    "boolean": "true/false",
}

# Unknown columns some point-of-sale systems add to their exports (kept in bronze `_rescued`).
EXTRA_COLUMNS = ("sPosTerminal", "legacy_flag", "nLoyaltyPoints", "sNotes")
# Optional columns an export may leave out entirely (a missing column is null for that file).
DROPPABLE = {"locations": ("sRegion", "dClosed"), "customers": ("sHomeLocationId",)}

_TS_FORMATS = {
    "iso_t_z": "%Y-%m-%dT%H:%M:%SZ",
    "iso_t": "%Y-%m-%dT%H:%M:%S",
    "iso_space": "%Y-%m-%d %H:%M:%S",
    "iso_space_z": "%Y-%m-%d %H:%M:%SZ",
    "iso_t_frac_z": "%Y-%m-%dT%H:%M:%S.000Z",
    "us_hm": "%m/%d/%Y %H:%M",
    "us_hms": "%m/%d/%Y %H:%M:%S",
}
_DATE_FORMATS = {"iso": "%Y-%m-%d", "us": "%m/%d/%Y"}


@dataclass(frozen=True)
class Dialect:
    """How one export file is encoded: format plus one physical style per logical type and name drift."""

    fmt: str = "parquet"
    bom: bool = False
    timestamp: str = "pq_us"
    tz_offset: str = "+02:00"
    date: str = "pq_date"
    decimal: str = "pq_dec12_2"
    integer: str = "pq_i64"
    boolean: str = "pq_bool"
    enum_case: str = "lower"
    names: str = "exact"
    shuffle: bool = False
    extra: tuple[str, ...] = ()
    drop: tuple[str, ...] = field(default=())
    omit_nulls: bool = False  # JSON only: leave null members out of the object

    @property
    def ext(self) -> str:
        """File extension of this dialect's format."""
        return EXTENSIONS[self.fmt]

    def as_text(self) -> Dialect:
        """The same dialect with every non-text style replaced by its text fallback (for CSV)."""
        changes = {}
        for kind, fallback in TEXT_FALLBACK.items():
            if getattr(self, kind) not in STYLES[kind]["csv"]:
                changes[kind] = fallback
        return replace(self, **changes)

    def fits(self) -> Dialect:
        """This dialect with every style made valid for its format."""
        changes = {}
        for kind, by_fmt in STYLES.items():
            if getattr(self, kind) not in by_fmt[self.fmt]:
                changes[kind] = TEXT_FALLBACK[kind]
        if self.fmt != "csv":
            changes["bom"] = False
        if self.fmt != "json":
            changes["omit_nulls"] = False
        return replace(self, **changes)


# --------------------------------------------------------------------------------------------------
# column encoders: logical Arrow array -> physical Arrow array


def _null_mask(arr: pa.Array) -> np.ndarray:
    return pc.is_null(arr).to_numpy(zero_copy_only=False)


def _secs_to_ts(secs: pa.Array) -> pa.Array:
    return secs.cast(pa.int64()).cast(pa.timestamp("s"))


def _ints(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values with nulls as 0, null mask) of an integer array."""
    return pc.fill_null(arr.cast(pa.int64()), 0).to_numpy().astype(np.int64, copy=False), _null_mask(arr)


def _string_array(chars: np.ndarray, keep: np.ndarray | None, nulls: np.ndarray) -> pa.Array:
    """A string array from a (rows, width) uint8 matrix of ASCII characters, keeping `keep` cells."""
    n, width = chars.shape
    if keep is None:
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        data = chars.tobytes()
    else:
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(keep.sum(axis=1), out=offsets[1:])
        data = chars[keep].tobytes()
    validity = pa.array(~nulls).buffers()[1] if nulls.any() else None
    return pa.Array.from_buffers(
        pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], int(nulls.sum())
    )


def render_time(secs: np.ndarray, nulls: np.ndarray, template: str) -> pa.Array:
    """Format epoch seconds with a fixed-width strftime-like template (%Y %m %d %H %M %S and literals)."""
    days = np.floor_divide(secs, 86400)
    sod = secs - days * 86400
    year, month, day = civil_from_days(days)
    fields = {
        "Y": (year, 4),
        "m": (month, 2),
        "d": (day, 2),
        "H": (sod // 3600, 2),
        "M": (sod // 60 % 60, 2),
        "S": (sod % 60, 2),
    }
    parts: list[tuple[str, object]] = []
    i = 0
    while i < len(template):
        if template[i] == "%":
            parts.append(("field", template[i + 1]))
            i += 2
        else:
            parts.append(("lit", template[i]))
            i += 1
    width = sum(fields[v][1] if kind == "field" else 1 for kind, v in parts)
    chars = np.empty((len(secs), width), dtype=np.uint8)
    pos = 0
    for kind, v in parts:
        if kind == "lit":
            chars[:, pos] = ord(v)
            pos += 1
            continue
        values, w = fields[v]
        for digit in range(w):
            chars[:, pos + w - 1 - digit] = 48 + (values // 10**digit) % 10
        pos += w
    return _string_array(chars, None, nulls)


def encode_timestamp(secs: pa.Array, style: str, tz_offset: str = "+00:00") -> pa.Array:
    """Epoch seconds -> a timestamp in `style` (Parquet unit, epoch millis or text)."""
    if style == "epoch_ms":
        return pc.multiply(secs.cast(pa.int64()), 1000)
    if style == "pq_int96":  # written as legacy INT96 by `serialize`
        return _secs_to_ts(secs).cast(pa.timestamp("ns"))
    if style.startswith("pq_"):
        unit = style.split("_")[1]
        tz = None if style.endswith("_naive") else "UTC"
        return _secs_to_ts(secs).cast(pa.timestamp("s", tz)).cast(pa.timestamp(unit, tz))
    values, nulls = _ints(secs)
    if style == "iso_offset":
        sign = -1 if tz_offset.startswith("-") else 1
        hours, minutes = tz_offset[1:].split(":")
        shift = sign * (int(hours) * 3600 + int(minutes) * 60)
        return render_time(values + shift, nulls, "%Y-%m-%dT%H:%M:%S" + tz_offset)
    return render_time(values, nulls, _TS_FORMATS[style])


def encode_date(days: pa.Array, style: str) -> pa.Array:
    """Epoch days -> a date in `style` (Parquet date or timestamp, ISO or US text)."""
    if style == "pq_date":
        return days.cast(pa.int32()).cast(pa.date32())
    secs = pc.multiply(days.cast(pa.int64()), 86400)
    if style.startswith("pq_ts_"):
        return _secs_to_ts(secs).cast(pa.timestamp(style.split("_")[2], "UTC"))
    values, nulls = _ints(secs)
    return render_time(values, nulls, _DATE_FORMATS[style])


def _decimal_from_cents(cents: pa.Array, precision: int, scale: int) -> pa.Array:
    """Build a decimal128 array from integer cents without going through floats."""
    mask = _null_mask(cents)
    unscaled = pc.fill_null(cents.cast(pa.int64()), 0).to_numpy().astype(np.int64) * (10 ** (scale - 2))
    words = np.empty(2 * len(unscaled), dtype=np.int64)
    words[0::2] = unscaled
    words[1::2] = np.where(unscaled < 0, -1, 0)
    validity = pa.array(~mask).buffers()[1] if mask.any() else None
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale),
        len(unscaled),
        [validity, pa.py_buffer(words.tobytes())],
        int(mask.sum()),
    )


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _money_text(cents: pa.Array, style: str) -> pa.Array:
    """Integer cents -> money text: plain, thousands separators, `$`, negatives as `-x` or `(x)`."""
    values, nulls = _ints(cents)
    negative = values < 0
    absolute = np.abs(values)
    dollars = absolute // 100
    thousands = style in ("thousands", "dollar", "dollar_paren")
    paren = style.endswith("paren")
    slots: list[tuple[np.ndarray, np.ndarray]] = []  # (character per row, keep per row)
    n = len(values)

    def fixed(ch: str, keep) -> None:
        slots.append((np.full(n, ord(ch), dtype=np.uint8), np.broadcast_to(keep, (n,))))

    fixed("(" if paren else "-", negative)
    fixed("$", style.startswith("dollar"))
    for p in range(11, -1, -1):
        digit = (48 + (dollars // 10**p) % 10).astype(np.uint8)
        slots.append((digit, (dollars >= 10**p) | (p == 0)))
        if p in (3, 6, 9):
            fixed(",", thousands & (dollars >= 10**p))
    fixed(".", True)
    cc = absolute % 100
    slots.append(((48 + cc // 10).astype(np.uint8), np.ones(n, dtype=bool)))
    slots.append(((48 + cc % 10).astype(np.uint8), np.ones(n, dtype=bool)))
    fixed(")", paren & negative)
    chars = np.stack([c for c, _ in slots], axis=1)
    keep = np.stack([k for _, k in slots], axis=1)
    return _string_array(chars, keep, nulls)


def encode_money(cents: pa.Array, style: str) -> pa.Array:
    """Integer cents -> money in `style` (double, decimal, JSON number or text)."""
    if style in ("pq_f64", "json_number"):
        return pc.divide(cents.cast(pa.float64()), 100.0)
    if style == "pq_dec12_2":
        return _decimal_from_cents(cents, 12, 2)
    if style == "pq_dec18_4":
        return _decimal_from_cents(cents, 18, 4)
    return _money_text(cents, style)


def encode_integer(values: pa.Array, style: str) -> pa.Array:
    """Integers -> an integer in `style` (int16/32/64, integral double or decimal text)."""
    if style in ("pq_i64", "json_int"):
        return values.cast(pa.int64())
    if style == "pq_i32":
        return values.cast(pa.int32())
    if style == "pq_i16":
        return values.cast(pa.int16())
    if style == "pq_f64":
        return values.cast(pa.float64())
    return values.cast(pa.string())


def encode_boolean(values: pa.Array, style: str) -> pa.Array:
    """Booleans -> `style`: Parquet bool, 0/1 integers, one-byte binary or a text pair like `yes/no`."""
    if style in ("pq_bool", "json_bool"):
        return values
    if style in ("pq_i8", "json_int"):
        return values.cast(pa.int8())
    if style == "pq_bin":
        return pc.if_else(values, pa.scalar(b"\x01", pa.binary()), pa.scalar(b"\x00", pa.binary()))
    true_text, false_text = style.split("/")
    return pc.if_else(values, pa.scalar(true_text), pa.scalar(false_text))


def encode_enum(values: pa.Array, case: str, rng: np.random.Generator) -> pa.Array:
    """Lower-case enum text -> `case` (lower, UPPER, Title or a per-row mix)."""
    if case == "lower":
        return values
    if case == "upper":
        return pc.utf8_upper(values)
    if case == "title":
        return pc.utf8_title(values)
    pick = pa.array(rng.integers(0, 3, size=len(values)).astype(np.int8))
    return pc.choose(pick, values, pc.utf8_upper(values), pc.utf8_title(values))


def _rename(name: str, style: str, rng: np.random.Generator) -> str:
    if style == "mixed":
        style = NAME_STYLES[int(rng.integers(0, 4))]
        if style == "exact":
            style = "padded"
    if style == "lower":
        return name.lower()
    if style == "upper":
        return name.upper()
    if style == "padded":
        return f" {name.upper() if rng.random() < 0.5 else name} "
    return name


def _extra_column(name: str, n: int, dialect: Dialect, rng: np.random.Generator) -> pa.Array:
    if name == "sPosTerminal":
        return pc.binary_join_element_wise("POS-", pa.array(rng.integers(1, 9, n)).cast(pa.string()), "")
    if name == "legacy_flag":
        return pa.array(np.where(rng.random(n) < 0.5, "Y", "N"), type=pa.string(), mask=rng.random(n) < 0.3)
    if name == "nLoyaltyPoints":
        points = pa.array(rng.integers(0, 5000, n))
        return points if dialect.fmt != "csv" else points.cast(pa.string())
    notes = np.array(["", 'said "great wash", will return', "coupon, 10% off", "re-wash"], dtype=object)
    return pa.array(notes[rng.integers(0, len(notes), n)], type=pa.string(), mask=rng.random(n) < 0.6)


def encode(frame: pa.Table, entity: str, dialect: Dialect, rng: np.random.Generator) -> pa.Table:
    """Encode a logical frame of `entity` into the physical table `dialect` describes.

    A column that carries raw overrides (hidden `__raw__<name>` columns with values that must not parse)
    is written as text, with the override replacing the encoded value where present.
    """
    if dialect.fmt == "csv":
        dialect = dialect.as_text()
    arrays: list[pa.Array] = []
    names: list[str] = []
    for col in columns(entity):
        if col.name in dialect.drop:
            continue
        values = frame.column(col.name).combine_chunks()
        raw_name = RAW_PREFIX + col.name
        raw = frame.column(raw_name).combine_chunks() if raw_name in frame.column_names else None
        has_raw = raw is not None and raw.null_count < len(raw)
        if col.type in STYLES:
            style = getattr(dialect, col.type)
            if has_raw and style not in STYLES[col.type]["csv"]:
                style = TEXT_FALLBACK[col.type]
            encoder = {
                "timestamp": lambda v, s: encode_timestamp(v, s, dialect.tz_offset),
                "date": encode_date,
                "decimal": encode_money,
                "integer": encode_integer,
                "boolean": encode_boolean,
            }[col.type]
            physical = encoder(values, style)
        elif col.type == "enum":
            physical = encode_enum(values, dialect.enum_case, rng)
        else:
            physical = values
        if has_raw:
            physical = pc.if_else(pc.is_valid(raw), raw, physical)
        arrays.append(physical)
        names.append(_rename(col.name, dialect.names, rng))
    for extra in dialect.extra:
        arrays.append(_extra_column(extra, frame.num_rows, dialect, rng))
        names.append(_rename(extra, dialect.names, rng))
    order = rng.permutation(len(names)) if dialect.shuffle else np.arange(len(names))
    return pa.Table.from_arrays([arrays[i] for i in order], names=[names[i] for i in order])


# --------------------------------------------------------------------------------------------------
# serialization


def parquet_bytes(table: pa.Table, int96: bool = False) -> bytes:
    """Parquet bytes of `table` (snappy; no writer timestamps, so the bytes are deterministic).

    With `int96`, timestamps are written in the legacy INT96 form older Hive/Impala/Spark writers use.
    """
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy", use_deprecated_int96_timestamps=int96)
    return sink.getvalue()


def csv_bytes(table: pa.Table, bom: bool = False, encoding: str = "utf-8") -> bytes:
    """RFC-4180 CSV bytes of a text-only table (header row, quoting where needed, null = empty field)."""
    sink = io.BytesIO()
    pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=True, quoting_style="needed"))
    data = sink.getvalue()
    if encoding != "utf-8":
        data = data.decode("utf-8").encode(encoding, errors="replace")
    return (b"\xef\xbb\xbf" if bom else b"") + data


def _json_values(column: pa.Array) -> pa.Array:
    """JSON text of each value of an Arrow column (strings quoted and escaped, null as `null`)."""
    kind = column.type
    if pa.types.is_string(kind):
        escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', escaped, '"', "")
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, pa.scalar("true"), pa.scalar("false"))
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        text = column.cast(pa.string())
    elif pa.types.is_null(kind):
        text = pa.nulls(len(column), pa.string())
    else:
        raise TypeError(f"no JSON encoding for Arrow type {kind}")
    return pc.fill_null(text, "null")


def json_bytes(table: pa.Table, omit_nulls: bool = False) -> bytes:
    """JSON lines, one object per row; an empty table gives an empty file.

    Null values are written as `null`, or with `omit_nulls` left out of the object (as many exporters
    do, so a column can be missing from single lines or from a whole file).
    """
    if table.num_rows == 0:
        return b""
    members: list[pa.Array] = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        column = column.combine_chunks()
        member = pc.binary_join_element_wise(
            "," + json.dumps(name, ensure_ascii=False) + ":", _json_values(column), ""
        )
        if omit_nulls:
            member = pc.if_else(pc.is_valid(column), member, pa.scalar(""))
        members.append(member)
    body = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*members, ""), 1)  # drop the leading comma
    lines = pc.binary_join_element_wise("{", body, "}\n", "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2].to_pybytes()[first:last]


def serialize(table: pa.Table, dialect: Dialect) -> bytes:
    """The bytes of an export file of `table` in `dialect`'s format."""
    if dialect.fmt == "parquet":
        return parquet_bytes(table, int96=dialect.timestamp == "pq_int96")
    if dialect.fmt == "csv":
        return csv_bytes(table, bom=dialect.bom)
    return json_bytes(table, omit_nulls=dialect.omit_nulls)
