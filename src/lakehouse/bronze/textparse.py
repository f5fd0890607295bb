"""Fixed-layout parsing of the common text forms with numpy: the fast path of `canonical`.

Exports mostly write each column in one fixed-width form (`2024-03-01T14:05:09Z`, `03/01/2024
14:05`, `$1,234.50`). Here ASCII text is laid out as a byte matrix (one row per value, padded to
one width) and each accepted layout is recognized and decoded with a few vectorized comparisons
per character position, instead of regular expressions per value. Every function reports which
values it *handled*: those whose result (parsed or not) is certain; `canonical` sends the others
through its general regular-expression path, which accepts the same language, so both paths give
the same text (tests/test_encodings.py compares them on random text).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.civil import days_from_civil, valid_date

_ZERO, _NINE = ord("0"), ord("9")
MAX_WIDTH = 40
_ZONES = ("", "Z", "h", "hhmm", "hh:mm")
_ZONE_WIDTH = {"": 0, "Z": 1, "h": 3, "hhmm": 5, "hh:mm": 6}


@dataclass
class Matrix:
    """ASCII text as a byte matrix: `chars[i, :lengths[i]]` is value i for the rows in `usable`."""

    chars: np.ndarray  # (n, width) uint8
    lengths: np.ndarray  # (n,) int64
    usable: np.ndarray  # (n,) bool: not null, ASCII, 1..MAX_WIDTH bytes

    def rows(self, length: int) -> np.ndarray:
        """Indexes of the usable rows of exactly `length` bytes."""
        return np.flatnonzero(self.usable & (self.lengths == length))


def byte_matrix(text: pa.Array, max_width: int = MAX_WIDTH) -> Matrix:
    """Lay ASCII values of at most `max_width` bytes out as a byte matrix (others are not usable)."""
    n = len(text)
    lengths = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    ascii_ = pc.fill_null(pc.string_is_ascii(text), False).to_numpy(zero_copy_only=False)
    usable = ascii_ & (lengths > 0) & (lengths <= max_width)
    width = int(lengths[usable].max()) if usable.any() else 1
    kept = pc.if_else(pa.array(usable), text, pa.scalar("", pa.string()))
    padded = pc.utf8_rpad(kept, width, "\x00")  # every row exactly `width` bytes
    start = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset]
    chars = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=n * width, offset=int(start)).reshape(n, width)
    return Matrix(chars, lengths, usable)


def by_length(text: pa.Array, max_width: int = MAX_WIDTH) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Values of 1..`max_width` bytes grouped by length: {length: (row indexes, (rows, length) byte matrix)}.

    A file writes a column in one fixed-width form, so equal lengths come in long runs of adjacent
    values whose bytes are contiguous: each run is a reshaped view of Arrow's data buffer, and a
    group is the concatenation of its runs (no per-value work, no padding).
    """
    n = len(text)
    if n == 0 or text.null_count == n:
        return {}
    if not pa.types.is_string(text.type):
        text = text.cast(pa.string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + n + 1].astype(np.int64)
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    lengths = np.diff(offsets)
    usable = (lengths >= 1) & (lengths <= max_width)
    if text.null_count:
        usable &= text.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(usable)
    if not len(rows):
        return {}
    row_lengths = lengths[rows]
    starts = offsets[rows]
    # a run ends where the length changes or the next value's bytes do not follow on
    breaks = np.flatnonzero((np.diff(row_lengths) != 0) | (np.diff(starts) != row_lengths[:-1])) + 1
    bounds = np.concatenate([[0], breaks, [len(rows)]])
    pieces: dict[int, list[np.ndarray]] = {}
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        width = int(row_lengths[a])
        pieces.setdefault(width, []).append(data[starts[a] : starts[a] + (b - a) * width].reshape(b - a, width))
    out = {}
    for width, blocks in pieces.items():
        mask = usable & (lengths == width)
        out[width] = (np.flatnonzero(mask), blocks[0] if len(blocks) == 1 else np.concatenate(blocks))
    return out


def _digits(block: np.ndarray, positions: range | list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(all positions hold digits, their number) per row of `block`."""
    ok = np.ones(len(block), dtype=bool)
    value = np.zeros(len(block), dtype=np.int64)
    for p in positions:
        d = block[:, p].astype(np.int64) - _ZERO
        ok &= (d >= 0) & (d <= 9)
        value = value * 10 + d
    return ok, value


def _is(block: np.ndarray, position: int, *chars: str) -> np.ndarray:
    column = block[:, position]
    ok = column == ord(chars[0])
    for ch in chars[1:]:
        ok |= column == ord(ch)
    return ok


def _layouts() -> dict[int, list[tuple[int, int, str]]]:
    """ISO-8601 layouts by length: (time part: 10 date, 16 hh:mm, 19 hh:mm:ss, 20+k fraction of k digits; zone)."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    times = [(10, 0), (16, 0), (19, 0)] + [(20 + k, k) for k in range(1, 10)]
    for width, fraction in times:
        for zone in _ZONES:
            if width == 10 and zone:
                continue  # a date with an offset is not a timestamp: left to the general path
            out.setdefault(width + _ZONE_WIDTH[zone], []).append((width, fraction, zone))
    return out


_ISO_LAYOUTS = _layouts()


def _iso_block(block: np.ndarray, width: int, fraction: int, zone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matches the layout, valid, epoch µs) of ISO-8601 rows of one layout."""
    ok, y = _digits(block, range(0, 4))
    m_ok, mo = _digits(block, (5, 6))
    d_ok, d = _digits(block, (8, 9))
    ok &= m_ok & d_ok & _is(block, 4, "-") & _is(block, 7, "-")
    n = len(block)
    h = mi = s = micros = np.zeros(n, dtype=np.int64)
    if width >= 16:
        h_ok, h = _digits(block, (11, 12))
        mi_ok, mi = _digits(block, (14, 15))
        ok &= _is(block, 10, "T", " ") & h_ok & _is(block, 13, ":") & mi_ok
    if width >= 19:
        s_ok, s = _digits(block, (17, 18))
        ok &= _is(block, 16, ":") & s_ok
    if fraction:
        f_ok, value = _digits(block, range(20, 20 + min(fraction, 6)))
        ok &= _is(block, 19, ".") & f_ok
        if fraction > 6:
            ok &= _digits(block, range(26, 20 + fraction))[0]
        micros = value * 10 ** (6 - min(fraction, 6))  # digits beyond µs are cut off
    offset = np.zeros(n, dtype=np.int64)
    zone_ok = np.ones(n, dtype=bool)
    if zone == "Z":
        ok &= _is(block, width, "Z", "z")
    elif zone:
        hh_ok, hh = _digits(block, (width + 1, width + 2))
        mm = np.zeros(n, dtype=np.int64)
        ok &= _is(block, width, "+", "-") & hh_ok
        if zone == "hhmm":
            mm_ok, mm = _digits(block, (width + 3, width + 4))
            ok &= mm_ok
        elif zone == "hh:mm":
            mm_ok, mm = _digits(block, (width + 4, width + 5))
            ok &= _is(block, width + 3, ":") & mm_ok
        sign = np.where(_is(block, width, "-"), -1, 1)
        offset = sign * (hh * 3600 + mm * 60)
        zone_ok = (hh < 18) & (mm < 60) | (hh == 18) & (mm == 0)
    valid = ok & valid_date(y, mo, d) & (h < 24) & (mi < 60) & (s < 60) & zone_ok
    seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset
    return ok, valid, np.where(valid, seconds * 1_000_000 + micros, 0)


def _us_block(block: np.ndarray, seconds: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matches `MM/DD/YYYY HH:MM[:SS]`, valid, epoch µs)."""
    m_ok, mo = _digits(block, (0, 1))
    d_ok, d = _digits(block, (3, 4))
    y_ok, y = _digits(block, range(6, 10))
    h_ok, h = _digits(block, (11, 12))
    mi_ok, mi = _digits(block, (14, 15))
    ok = m_ok & d_ok & y_ok & h_ok & mi_ok & _is(block, 2, "/") & _is(block, 5, "/") & _is(block, 10, " ")
    ok &= _is(block, 13, ":")
    s = np.zeros(len(block), dtype=np.int64)
    if seconds:
        s_ok, s = _digits(block, (17, 18))
        ok &= _is(block, 16, ":") & s_ok
    valid = ok & valid_date(y, mo, d) & (h < 24) & (mi < 60) & (s < 60)
    micros = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1_000_000
    return ok, valid, np.where(valid, micros, 0)


def timestamps(text: pa.Array, iso_only: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch µs, parsed, handled) of ISO-8601, `MM/DD/YYYY HH:MM[:SS]` and epoch-millisecond text.

    `iso_only`: ISO-8601 forms only (what a date column accepts as a timestamp).
    """
    n = len(text)
    micros = np.zeros(n, dtype=np.int64)
    parsed = np.zeros(n, dtype=bool)
    handled = np.zeros(n, dtype=bool)
    for length, (rows, block) in by_length(text).items():
        block = np.ascontiguousarray(block.T).T  # column-major: each character position contiguous
        todo = np.ones(len(rows), dtype=bool)
        candidates = [("iso", layout) for layout in _ISO_LAYOUTS.get(int(length), [])]
        if not iso_only and length in (16, 19):
            candidates.append(("us", length == 19))
        if not iso_only and 11 <= length <= 14:
            candidates.append(("millis", None))
        for kind, layout in candidates:
            if not todo.any():
                break
            if kind == "iso":
                ok, valid, value = _iso_block(block, *layout)
            elif kind == "us":
                ok, valid, value = _us_block(block, layout)
            else:
                signed = _is(block, 0, "-")
                ok_signed, number_signed = _digits(block, range(1, int(length)))
                ok_plain, number_plain = _digits(block, range(0, int(length)))
                ok = (signed & ok_signed & (length >= 12)) | (~signed & ok_plain & (length <= 13))
                number = np.where(signed, -number_signed, number_plain)
                valid, value = ok, number * 1000
            take = ok & todo
            where = rows[take]
            handled[where] = True
            parsed[where] = valid[take]
            micros[where] = value[take]
            todo &= ~ok
    return micros, parsed, handled


def dates(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch days, parsed, handled) of `YYYY-MM-DD` and `MM/DD/YYYY` text (other forms: not handled)."""
    n = len(text)
    days = np.zeros(n, dtype=np.int64)
    parsed = np.zeros(n, dtype=bool)
    handled = np.zeros(n, dtype=bool)
    groups = by_length(text, 10)
    if 10 in groups:
        rows, block = groups[10]
        block = np.ascontiguousarray(block.T).T
        iso = _is(block, 4, "-") & _is(block, 7, "-")
        y_ok, y = _digits(block, range(0, 4))
        m_ok, mo = _digits(block, (5, 6))
        d_ok, d = _digits(block, (8, 9))
        iso &= y_ok & m_ok & d_ok
        us = _is(block, 2, "/") & _is(block, 5, "/")
        um_ok, umo = _digits(block, (0, 1))
        ud_ok, ud = _digits(block, (3, 4))
        uy_ok, uy = _digits(block, range(6, 10))
        us &= um_ok & ud_ok & uy_ok
        y, mo, d = np.where(iso, y, uy), np.where(iso, mo, umo), np.where(iso, d, ud)
        ok = iso | us
        valid = ok & valid_date(y, mo, d)
        # an ISO date that does not exist is no timestamp either: certain. A US one is left to the general path.
        take = iso | (us & valid)
        handled[rows[take]] = True
        parsed[rows[take]] = valid[take]
        days[rows[take]] = np.where(valid, days_from_civil(y, mo, d), 0)[take]
    return days, parsed, handled


# ---------------------------------------------------------------- money and numbers

_NOISE = [ord(c) for c in "$,() \t\n\x0b\f\r"]
_MAX_DIGITS = 18  # exact in int64 and never more than 18 decimals: no rounding needed


def numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(value, scale, is a number, handled) of money text: value / 10**scale, as `encodings.decimal_text` reads it.

    `$`, `,`, parentheses and white space are dropped; `(x)` is -x; the rest must be an optional
    sign, digits and at most one point. Handled: ASCII text without an exponent and with at most 18
    digits (anything else is left to the general path).
    """
    n = len(text)
    value = np.zeros(n, dtype=np.int64)
    scale = np.zeros(n, dtype=np.int64)
    number = np.zeros(n, dtype=bool)
    handled = np.zeros(n, dtype=bool)
    matrix = byte_matrix(text)
    rows = np.flatnonzero(matrix.usable)
    if not len(rows):
        return value, scale, number, handled
    block = matrix.chars[rows]
    lengths = matrix.lengths[rows]
    inside = np.arange(block.shape[1])[None, :] < lengths[:, None]
    digit = (block >= _ZERO) & (block <= _NINE)
    dot = block == ord(".")
    sign = (block == ord("-")) | (block == ord("+"))
    noise = np.isin(block, _NOISE) & inside
    exponent = (block == ord("e")) | (block == ord("E"))
    other = inside & ~digit & ~dot & ~sign & ~noise
    kept = inside & ~noise
    n_digits = digit.sum(axis=1)
    first = np.argmax(kept, axis=1)
    first_is_sign = sign[np.arange(len(rows)), first] & kept.any(axis=1)
    shape_ok = (n_digits >= 1) & (dot.sum(axis=1) <= 1) & (sign.sum(axis=1) == first_is_sign)
    last = block[np.arange(len(rows)), lengths - 1]
    breaks = ((block == ord("\n")) | (block == ord("\r"))).any(axis=1)
    parenthesized = (block[:, 0] == ord("(")) & (last == ord(")")) & ~breaks
    negative_sign = first_is_sign & (block[np.arange(len(rows)), first] == ord("-"))
    is_number = shape_ok & ~other.any(axis=1) & ~(parenthesized & first_is_sign)
    # decide: text with an exponent or too many digits goes the general way
    certain = ~exponent.any(axis=1) & (n_digits <= _MAX_DIGITS)
    right = np.cumsum(digit[:, ::-1], axis=1)[:, ::-1]  # digits at or right of each position
    weights = np.where(digit, 10 ** np.clip(right - 1, 0, _MAX_DIGITS), 0)
    magnitude = ((block.astype(np.int64) - _ZERO) * weights).sum(axis=1)
    dot_at = np.argmax(dot, axis=1)
    after_dot = np.where(dot.any(axis=1), right[np.arange(len(rows)), np.minimum(dot_at, block.shape[1] - 1)], 0)
    negative = parenthesized ^ negative_sign
    value[rows] = np.where(negative, -magnitude, magnitude)
    scale[rows] = after_dot
    number[rows] = is_number & certain
    handled[rows] = certain
    number[rows] &= certain
    return value, scale, number, handled


def plain_decimals(value: np.ndarray, scale: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Canonical decimal text of value / 10**scale (no trailing fractional zeros, no -0); null where not valid."""
    value, scale = value.copy(), scale.copy()
    for _ in range(_MAX_DIGITS):
        strip = (scale > 0) & (value % 10 == 0)
        if not strip.any():
            break
        value[strip] //= 10
        scale[strip] -= 1
    n = len(value)
    magnitude = np.abs(value)
    whole = magnitude // 10**scale
    fraction = magnitude % 10**scale
    chars, keep = [np.full(n, ord("-"), dtype=np.uint8)], [value < 0]
    for p in range(_MAX_DIGITS, -1, -1):
        chars.append((_ZERO + whole // 10**p % 10).astype(np.uint8))
        keep.append((whole >= 10**p) | (p == 0))
    chars.append(np.full(n, ord("."), dtype=np.uint8))
    keep.append(scale > 0)
    for p in range(_MAX_DIGITS - 1, -1, -1):
        chars.append((_ZERO + fraction // 10**p % 10).astype(np.uint8))
        keep.append(p < scale)
    return string_array(np.stack(chars, axis=1), np.stack(keep, axis=1), valid)


def string_array(chars: np.ndarray, keep: np.ndarray | None, valid: np.ndarray) -> pa.Array:
    """Strings from a (rows, width) uint8 matrix, keeping the `keep` cells of each row; rows not `valid` are null."""
    n, width = chars.shape
    nulls = ~valid
    if keep is None and not nulls.any():  # every row the full width: the matrix is the data, as it is
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
        if offsets[-1] < 2**31:
            return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)),
                                                           pa.py_buffer(np.ascontiguousarray(chars))])
    if keep is None:
        lengths = np.where(valid, width, 0)
        data = chars[valid].tobytes()
    else:
        keep = keep & valid[:, None]
        lengths = keep.sum(axis=1)
        data = chars[keep].tobytes()
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    validity = pa.array(valid).buffers()[1] if nulls.any() else None
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], int(nulls.sum()))
