"""Canonical text in Arrow: the bronze half of `lakehouse.encodings`, vectorized with pyarrow.compute and numpy.

Bronze stages exports inside Spark tasks with Arrow (`lakehouse.bronze.stage`); this module brings
every value to the canonical text of its logical type (docs/architecture.md) exactly as the Spark
Column functions of `lakehouse.encodings` do, byte for byte, so silver (which parses with
`lakehouse.encodings`) sees the same text whichever implementation wrote it. tests/test_encodings.py
runs every table test against both.

- `clean(text)`: white space trimmed, blank text null (`encodings.clean`).
- `canonical_from_text(text, logical, values)`: cleaned text -> canonical text; text that does
  not parse is kept as it is (`encodings.canonical_from_text`).
- `canonical_typed(array, logical, values)`: a typed column (Parquet) -> canonical text
  (`encodings.canonical_text`: `physical_text`, then the text parsed where it is not final).
- `json_text(array)`: a JSON value read by Arrow -> the text Spark's JSON reader gave it.

Everything works on whole columns (many files of a Spark task at once): regular expressions of
pyarrow.compute select the values a step applies to, numpy computes dates and formats them. What
Java does differently from RE2 and C++ is emulated where it changes a result: Java's `$` also
matches before a final line terminator (U+0085, U+2028, U+2029 survive the trimming), its `.` and
`\\s` are narrower, its lower-casing keeps U+0130 apart from `i`, and it prints doubles and
decimals its own way (`java_double_text`, BigDecimal's `toString`). Values only exotic input
reaches (numbers with exponents or more than 18 decimals, doubles outside [1e-3, 1e7), decimals
with large scales) are finished one by one in Python after the vectorized steps picked them out;
realistic exports never take that path for more than a handful of values.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.bronze import textparse
from lakehouse.civil import civil_from_days, days_from_civil, valid_date
from lakehouse.encodings import FALSE_WORDS, TRUE_WORDS, WHITE_SPACE

__all__ = [
    "canonical_from_text",
    "canonical_typed",
    "clean",
    "format_dates",
    "format_timestamps",
    "java_double_text",
    "json_text",
]

STRING = pa.string()
# Java's line terminators: its `$` matches before one of them at the very end of the input, and
# `.` never matches them. `clean` removes \n and \r, so only these three can end cleaned text.
_FINAL_TERMINATOR = "[\u0085\u2028\u2029]$"
_NOT_TERMINATOR = "[^\n\r\u0085\u2028\u2029]"

# encodings' patterns, in RE2 syntax; each is matched against text without a final terminator
_PLAIN_NONNEGATIVE_CANONICAL = r"^(0|[1-9]\d{0,19})(\.\d{0,17}[1-9])?$"  # canonical decimal already
_PLAIN_NUMBER = r"^-?\d{1,20}(\.\d{1,18})?$"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_PARENTHESIZED = rf"^\({_NOT_TERMINATOR}*\)$"
_MONEY_NOISE = r"[$,() \t\n\x0b\f\r]"  # encodings' [$,()\s] with Java's \s
_ISO_TS = (
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?)?"
    r"(?P<z>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_US_TS = r"^(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}) (?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?$"
_EPOCH_MILLIS = r"^-?\d{11,13}$"
_ISO_DATE = r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})$"
_US_DATE = r"^(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})$"

_LONG_MAX = "9223372036854775807"
_LONG_MIN_ABS = "9223372036854775808"
_MICROS_PER_DAY = 86_400_000_000
# epoch numbers in a timestamp column: ms, µs or ns told apart by magnitude (encodings._epoch_to_timestamp)
_MICROS_ABOVE = 10**14
_NANOS_ABOVE = 10**17
_DECIMAL_CONTEXT = Context(prec=80)


# ---------------------------------------------------------------- small helpers


def _bool_mask(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array as a numpy mask, null as False."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _scatter(base: pa.Array, mask: np.ndarray, values: pa.Array) -> pa.Array:
    """`base` with the positions of `mask` replaced by `values` (in order)."""
    if not mask.any():
        return base
    return pc.replace_with_mask(base, pa.array(mask), values.cast(base.type))


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    return _bool_mask(pc.match_substring_regex(text, pattern))


def _java_subject(text: pa.Array) -> pa.Array:
    """Text as Java's anchored patterns see it: without one final line terminator (see module docstring)."""
    if not _matches(text, _FINAL_TERMINATOR).any():
        return text
    return pc.replace_substring_regex(text, _FINAL_TERMINATOR, "")


def _where_parsed(canonical: pa.Array, text: pa.Array) -> pa.Array:
    """The canonical text where there is one, else the text as it is (`coalesce(canonical, text)`)."""
    return pc.coalesce(canonical, text)


def _ints(array: pa.Array, fill: int = 0) -> np.ndarray:
    """Digit text (or null) -> int64 numpy values, null as `fill`."""
    return pc.fill_null(pc.cast(array, pa.int64()), fill).to_numpy(zero_copy_only=False)


# ---------------------------------------------------------------- clean


def clean(text: pa.Array) -> pa.Array:
    """Trim `WHITE_SPACE` (Java's \\s) from both ends; empty or blank text becomes null (`encodings.clean`)."""
    if text.type != STRING:
        text = text.cast(STRING)
    trimmed = pc.utf8_trim(text, WHITE_SPACE)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, STRING), trimmed)


# ---------------------------------------------------------------- booleans and enumerations


def _lookup(text: pa.Array, words: Sequence[str]) -> np.ndarray:
    """Index of lower(text) in `words`, -1 when absent. Java lower-cases U+0130 to two characters, never `i`."""
    index = pc.index_in(pc.utf8_lower(text), value_set=pa.array(list(words), STRING))
    found = pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    if found.max(initial=-1) >= 0:
        dotted = _bool_mask(pc.match_substring(text, "\u0130"))
        found[dotted] = -1
    return found


def _boolean_text(text: pa.Array) -> pa.Array:
    words = (*TRUE_WORDS, *FALSE_WORDS)
    found = _lookup(text, words)
    canonical = np.where(found < len(TRUE_WORDS), "true", "false").astype(object)
    return _where_parsed(pa.array(canonical, STRING, mask=found < 0), text)


def _enum_text(text: pa.Array, values: Sequence[str]) -> pa.Array:
    if not len(values):
        return text
    found = _lookup(text, values)
    canonical = np.array(list(values), dtype=object)[np.maximum(found, 0)]
    return _where_parsed(pa.array(canonical, STRING, mask=found < 0), text)


# ---------------------------------------------------------------- decimals and integers


def _plain_number(number: str) -> str | None:
    """Canonical text of a number Java's BigDecimal reads: decimal(38, 18), HALF_UP; None when it is not one or too large."""
    try:
        mantissa, _, exponent = number.lower().partition("e")
        if exponent and abs(int(exponent)) > 1_000_000_000:  # BigDecimal's scale is an int; such text is no number
            return None
        value = Decimal(number)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    _, digits, exponent = value.as_tuple()
    if len(digits) + exponent > 38:  # Spark gives up on more than 38 integral digits (precision - scale), zero included
        return None
    rounded = value.quantize(Decimal("1e-18"), rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)
    if abs(rounded) >= Decimal(10) ** 20:
        return None
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _normalized_numbers(numbers: pa.Array) -> pa.Array:
    """Canonical decimal text of number text (`_NUMBER`, maybe with a leading `-` added); null when not a number.

    Plain numbers are normalized with regular expressions; numbers with an exponent, more than 18
    decimals or more than 20 integer digits go through `_plain_number`.
    """
    simple = _matches(numbers, r"^[+-]?(\d+\.?\d*|\.\d+)$")
    text = pc.replace_substring_regex(numbers, r"^\+", "")
    text = pc.replace_substring_regex(text, r"^(-?)0+(\d)", r"\1\2")
    text = pc.replace_substring_regex(text, r"^(-?)\.", r"\10.")  # group 1, then "0."
    text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    text = pc.replace_substring_regex(text, r"\.$", "")
    text = pc.replace_substring_regex(text, r"^-0$", "0")
    fits = simple & _matches(text, r"^-?(0|[1-9]\d{0,19})(\.\d{1,18})?$")
    rest = ~fits & _bool_mask(pc.is_valid(numbers))
    out = pc.if_else(pa.array(fits), text, pa.scalar(None, STRING))
    if rest.any():
        slow = [_plain_number(v) for v in numbers.filter(pa.array(rest)).to_pylist()]
        out = _scatter(out, rest, pa.array(slow, STRING))
    return out


def _decimal_canonical(text: pa.Array) -> pa.Array:
    """Canonical decimal text of cleaned text (`encodings._decimal_text_of`); null where it is not a number.

    Money text the byte-matrix parser handles (`textparse.numbers`) is done with numpy; the rest
    takes the general path.
    """
    value, scale, number, handled = textparse.numbers(text)
    out = textparse.plain_decimals(value, scale, number)
    rest = ~handled & _bool_mask(pc.is_valid(text))
    if rest.any():
        out = _scatter(out, rest, _decimal_canonical_general(text.filter(pa.array(rest))))
    return out


def _decimal_canonical_general(text: pa.Array) -> pa.Array:
    """`_decimal_canonical` with regular expressions, for any text."""
    subject = _java_subject(text)
    done = _matches(subject, _PLAIN_NONNEGATIVE_CANONICAL)
    out = pc.if_else(pa.array(done), subject, pa.scalar(None, STRING))
    todo = ~done & _bool_mask(pc.is_valid(text))
    if not todo.any():
        return out
    value = text.filter(pa.array(todo))
    value_subject = subject.filter(pa.array(todo))
    plain = _matches(value_subject, _PLAIN_NUMBER)
    negative = _matches(value_subject, _PARENTHESIZED)
    stripped = _java_subject(pc.replace_substring_regex(value, _MONEY_NOISE, ""))
    number = _matches(stripped, _NUMBER)
    signed = _matches(stripped, r"^[+-]")
    # "(12.50)" is -12.50; "(-5)" and "(+5)" become "--5" and "-+5", which are no numbers
    general = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", stripped, ""), stripped)
    general_ok = number & ~(negative & signed)
    candidate = pc.if_else(
        pa.array(plain), value_subject, pc.if_else(pa.array(general_ok), general, pa.scalar(None, STRING))
    )
    return _scatter(out, todo, _normalized_numbers(candidate))


def _decimal_text(text: pa.Array) -> pa.Array:
    return _where_parsed(_decimal_canonical(text), text)


def _integer_text(text: pa.Array) -> pa.Array:
    """Canonical integer text: the decimal's text when it is integral and fits a long (`encodings._integer_of`)."""
    decimal = _decimal_canonical(text)
    integral = _matches(decimal, r"^-?\d{1,19}$")
    long19 = _matches(decimal, r"^\d{19}$") & _bool_mask(pc.greater(decimal, _LONG_MAX))
    negative19 = _matches(decimal, r"^-\d{19}$") & _bool_mask(
        pc.greater(pc.utf8_slice_codeunits(decimal, 1), _LONG_MIN_ABS)
    )
    ok = integral & ~long19 & ~negative19
    return _where_parsed(pc.if_else(pa.array(ok), decimal, pa.scalar(None, STRING)), text)


# ---------------------------------------------------------------- dates and timestamps


def _fixed_width(layout: str, fields: list[tuple[int, np.ndarray, int]]) -> np.ndarray:
    """(n, len(layout)) characters: `layout` with each (position, values, width) field written in zero-padded digits.

    Built one character position at a time in a transposed matrix (contiguous writes), then turned.
    """
    n = len(fields[0][1])
    out = np.empty((len(layout), n), dtype=np.uint8)
    out[:] = np.frombuffer(layout.encode(), dtype=np.uint8)[:, None]
    for position, values, width in fields:
        values = values.astype(np.int32)
        for k in range(width - 1, -1, -1):
            out[position + k] = values % 10 + 48
            values = values // 10
    return np.ascontiguousarray(out.T)


def _formatted(y: np.ndarray, layout: str, fields: list[tuple[int, np.ndarray, int]], valid: np.ndarray) -> pa.Array:
    """`layout` (the year in its first 4 characters) with its fields, and Spark's year rules.

    Four-digit years (all there are in practice) keep the fixed width; a year beyond 9999 gets a
    `+` and all its digits, a year below 0 a `-` (`uuuu`), one value at a time.
    """
    ordinary = (y >= 0) & (y <= 9999) | ~valid
    chars = _fixed_width(layout, [(0, np.where(ordinary, y, 0), 4), *fields])
    text = textparse.string_array(chars, None, valid & ordinary)
    if ordinary.all():
        return text
    odd = np.flatnonzero(~ordinary)
    fixed = [f"{'-' if y[i] < 0 else '+'}{abs(int(y[i])):04d}" + chars[i, 4:].tobytes().decode() for i in odd]
    return _scatter(text, ~ordinary, pa.array(fixed, STRING))


def format_dates(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Epoch days -> `yyyy-MM-dd` text (Spark's year rules); null where not `valid`."""
    days = np.where(valid, days, 0)
    y, m, d = civil_from_days(days)
    return _formatted(y, "0000-00-00", [(5, m, 2), (8, d, 2)], valid)


def format_timestamps(micros: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Epoch microseconds -> `yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'` text (UTC); null where not `valid`."""
    micros = np.where(valid, micros, 0)
    days = np.floor_divide(micros, _MICROS_PER_DAY)
    of_day = micros - days * _MICROS_PER_DAY
    y, m, d = civil_from_days(days)
    seconds, fraction = of_day // 1_000_000, of_day % 1_000_000
    fields = [(5, m, 2), (8, d, 2), (11, seconds // 3600, 2), (14, seconds // 60 % 60, 2), (17, seconds % 60, 2),
              (20, fraction, 6)]
    return _formatted(y, "0000-00-00T00:00:00.000000Z", fields, valid)


def _groups(text: pa.Array, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """(rows that match, each named group's text, null where the row does not match or the group took no part)."""
    parts = pc.extract_regex(text, pattern)
    names = [parts.type.field(i).name for i in range(parts.type.num_fields)]
    groups = {}
    for name in names:
        group = pc.struct_field(parts, name)
        groups[name] = pc.if_else(pc.equal(group, ""), pa.scalar(None, STRING), group)
    return _bool_mask(pc.is_valid(parts)), groups


def _iso_micros(subject: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(epoch µs, parsed) of ISO-8601 text as Spark's cast reads what `encodings._ISO_TS` lets through.

    Seconds may be missing (`09:05`), fractions beyond 6 digits are cut off, offsets may be `Z`,
    `±hh`, `±hhmm` or `±hh:mm` up to ±18:00; a date alone is midnight UTC, a date with an offset and
    no time is not a timestamp.
    """
    matched, parts = _groups(subject, _ISO_TS)
    y, mo, d, h, mi, s = (_ints(parts[k]) for k in ("y", "mo", "d", "h", "mi", "s"))
    has_time = _bool_mask(pc.is_valid(parts["h"]))
    fraction = pc.fill_null(parts["f"], "")
    frac = _ints(pc.utf8_rpad(pc.utf8_slice_codeunits(fraction, 0, 6), 6, "0"))
    zone = parts["z"]
    has_zone = _bool_mask(pc.is_valid(zone))
    _, offset_parts = _groups(zone, r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?$")
    oh, om = _ints(offset_parts["hh"]), _ints(offset_parts["mm"])
    west = _bool_mask(pc.equal(offset_parts["sign"], "-"))
    offset = np.where(west, -1, 1) * (oh * 3600 + om * 60)
    zone_ok = (oh < 18) & (om < 60) | (oh == 18) & (om == 0)
    ok = (
        matched
        & valid_date(y, mo, d)
        & (h < 24) & (mi < 60) & (s < 60)
        & zone_ok
        & (has_time | ~has_zone)
    )
    seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset
    return seconds * 1_000_000 + frac, ok


def _us_micros(subject: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(epoch µs, parsed) of `M/d/yyyy H:mm[:ss]` text (strict: no Feb 30, no 24:00)."""
    matched, parts = _groups(subject, _US_TS)
    y, mo, d, h, mi, s = (_ints(parts[k]) for k in ("y", "mo", "d", "h", "mi", "s"))
    ok = matched & valid_date(y, mo, d) & (h < 24) & (mi < 60) & (s < 60)
    return (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1_000_000, ok


def _timestamp_micros(subject: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(epoch µs, parsed) of text without a final terminator: ISO-8601, US, or epoch milliseconds.

    The fixed-width forms are decoded by `textparse.timestamps`; the rest by regular expressions.
    """
    micros, ok, handled = textparse.timestamps(subject)
    rest = ~handled & _bool_mask(pc.is_valid(subject))
    if rest.any():
        rest_micros, rest_ok = _timestamp_micros_general(subject.filter(pa.array(rest)))
        micros[rest], ok[rest] = rest_micros, rest_ok
    return micros, ok


def _timestamp_micros_general(subject: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """`_timestamp_micros` with regular expressions, for any text."""
    micros, ok = _iso_micros(subject)
    todo = ~ok & _bool_mask(pc.is_valid(subject))
    if todo.any():
        us, us_ok = _us_micros(subject)
        micros, ok = np.where(us_ok, us, micros), ok | us_ok
        todo &= ~us_ok
    if todo.any():
        millis = _matches(subject, _EPOCH_MILLIS)
        if millis.any():
            value = _ints(pc.if_else(pa.array(millis), subject, pa.scalar(None, STRING)))
            micros, ok = np.where(millis, value * 1000, micros), ok | millis
    return micros, ok


def _timestamp_text(text: pa.Array) -> pa.Array:
    micros, ok = _timestamp_micros(_java_subject(text))
    return _where_parsed(format_timestamps(micros, ok), text)


def _date_text(text: pa.Array) -> pa.Array:
    """Canonical date text: ISO or US dates, else the UTC date of an ISO timestamp (`encodings._date_of`)."""
    subject = _java_subject(text)
    days, ok, handled = textparse.dates(subject)
    valid = _bool_mask(pc.is_valid(subject))
    rest = ~handled & valid
    if rest.any():
        micros, ts_ok, ts_handled = textparse.timestamps(subject.filter(pa.array(rest)), iso_only=True)
        where = np.flatnonzero(rest)
        days[where] = np.floor_divide(micros, _MICROS_PER_DAY)
        ok[where] = ts_ok
        handled[where] = ts_handled
        rest = ~handled & valid
    if rest.any():
        rest_text = _date_text_general(text.filter(pa.array(rest)))
        return _scatter(_where_parsed(format_dates(days, ok), text), rest, rest_text)
    return _where_parsed(format_dates(days, ok), text)


def _date_text_general(text: pa.Array) -> pa.Array:
    """`_date_text` with regular expressions, for any text."""
    subject = _java_subject(text)
    matched, iso = _groups(subject, _ISO_DATE)
    y, mo, d = (_ints(iso[k]) for k in ("y", "mo", "d"))
    ok = matched & valid_date(y, mo, d)
    days = days_from_civil(y, mo, d)
    todo = ~ok & _bool_mask(pc.is_valid(subject))
    if todo.any():
        us_matched, us = _groups(subject, _US_DATE)
        y, mo, d = (_ints(us[k]) for k in ("y", "mo", "d"))
        us_ok = us_matched & valid_date(y, mo, d)
        days, ok = np.where(us_ok, days_from_civil(y, mo, d), days), ok | us_ok
        todo &= ~us_ok
    if todo.any():
        micros, ts_ok = _iso_micros(subject)
        ts_ok &= todo
        days, ok = np.where(ts_ok, np.floor_divide(micros, _MICROS_PER_DAY), days), ok | ts_ok
    return _where_parsed(format_dates(days, ok), text)


# ---------------------------------------------------------------- text -> canonical text


def canonical_from_text(text: pa.Array, logical: str, values: Sequence[str] = ()) -> pa.Array:
    """Canonical text of cleaned text (`clean`); text that does not parse is kept as it is.

    The Arrow twin of `encodings.canonical_from_text`: the same result for every value.
    """
    if text.type != STRING:
        text = text.cast(STRING)
    if logical == "string":
        return text
    if text.null_count == len(text):
        return text
    if logical == "boolean":
        return _boolean_text(text)
    if logical == "integer":
        return _integer_text(text)
    if logical == "decimal":
        return _decimal_text(text)
    if logical == "timestamp":
        return _timestamp_text(text)
    if logical == "date":
        return _date_text(text)
    if logical == "enum":
        return _enum_text(text, values)
    raise ValueError(f"unknown logical type {logical!r}")


# ---------------------------------------------------------------- Java's text of numbers


# ---- Java 8-18's `FloatingDecimal.dtoa` (what `Double.toString` runs on the JVMs Spark 3.5 supports),
# ported from the JDK with exact integers. It is not always the shortest text: integral values of
# 2**53..2**63 keep digits below the double's precision (7.9025035341225626E17, not
# 7.902503534122563E17), and its digit loop stops and rounds its own way (1.0E23 prints as
# 9.999999999999999E22). Only the values `java_double_text` cannot print vectorized come here.

_N_5_BITS = (0, 3, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33, 35, 38, 40, 42, 45, 47, 49, 52, 54, 56, 59, 61)
_INSIGNIFICANT_DIGITS = (0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8,
                         9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15, 15,
                         16, 16, 16, 17, 17, 17, 18, 18, 18, 19)
_EXP_SHIFT = 52
_SIGNIFICAND = (1 << 52) - 1


def _wrap(value: int, bits: int) -> int:
    """`value` as a Java int (32) or long (64) holds it, overflow wrapping around."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _long_digits(value: int, insignificant: int) -> tuple[str, int]:
    """`developLongDigits`: the digits of an integer, rounding away `insignificant` low digits."""
    exponent = 0
    if insignificant:
        power = 10**insignificant
        value, residue = divmod(value, power)
        exponent += insignificant
        value += residue >= power >> 1
    text = str(value)
    stripped = text.rstrip("0")
    return stripped, len(text) + exponent


def _java_digits(x: float) -> tuple[str, int]:
    """(digits, decimal exponent) Java prints for a finite, non-zero double: |x| ~ 0.<digits> * 10**exponent."""
    bits = struct.unpack("<q", struct.pack("<d", abs(x)))[0]
    fract, bin_exp = bits & _SIGNIFICAND, bits >> _EXP_SHIFT
    if bin_exp == 0:  # subnormal: normalize
        leading = 64 - fract.bit_length()
        shift = leading - (63 - _EXP_SHIFT)
        fract <<= shift
        bin_exp = 1 - shift
        significant_bits = 64 - leading
    else:
        fract |= 1 << _EXP_SHIFT
        significant_bits = _EXP_SHIFT + 1
    bin_exp -= 1023
    tail_zeros = (fract & -fract).bit_length() - 1
    fract_bits = _EXP_SHIFT + 1 - tail_zeros
    tiny_bits = max(0, fract_bits - bin_exp - 1)
    if -21 <= bin_exp <= 62 and tiny_bits < 27 and fract_bits + _N_5_BITS[tiny_bits] < 64 and tiny_bits == 0:
        insignificant = 0
        if bin_exp > significant_bits and 1 < bin_exp - significant_bits - 1 < len(_INSIGNIFICANT_DIGITS):
            insignificant = _INSIGNIFICANT_DIGITS[bin_exp - significant_bits - 1]
        value = fract << (bin_exp - _EXP_SHIFT) if bin_exp >= _EXP_SHIFT else fract >> (_EXP_SHIFT - bin_exp)
        return _long_digits(value, insignificant)
    # estimateDecExp: floor of an estimate of log10(x), in doubles
    mantissa = struct.unpack("<d", struct.pack("<q", 0x3FF0000000000000 | (fract & _SIGNIFICAND)))[0]
    dec_exp = math.floor((mantissa - 1.5) * 0.289529654 + 0.176091259 + bin_exp * 0.301029995663981)
    b5 = max(0, -dec_exp)
    b2 = b5 + tiny_bits + bin_exp
    s5 = max(0, dec_exp)
    s2 = s5 + tiny_bits
    m5, m2 = b5, b2 - significant_bits
    fract >>= tail_zeros
    b2 -= fract_bits - 1
    common = min(b2, s2)
    b2, s2, m2 = b2 - common, s2 - common, m2 - common
    if fract_bits == 1:  # a power of two: the next smaller double is half as far
        m2 -= 1
    if m2 < 0:
        b2, s2, m2 = b2 - m2, s2 - m2, 0
    b_bits = fract_bits + b2 + (_N_5_BITS[b5] if b5 < len(_N_5_BITS) else b5 * 3)
    ten_s_bits = s2 + 1 + (_N_5_BITS[s5 + 1] if s5 + 1 < len(_N_5_BITS) else (s5 + 1) * 3)
    b = fract * 5**b5 << b2
    s = 5**s5 << s2
    m = 5**m5 << m2
    tens = s * 10
    digits = []
    if b_bits < 64 and ten_s_bits < 64:  # Java's int or long arithmetic, overflow included
        width = 32 if b_bits < 32 and ten_s_bits < 32 else 64
        q, b = b // s, _wrap(10 * (b % s), width)
        m = _wrap(m * 10, width)
        low, high = b < m, _wrap(b + m, width) > tens
        if q == 0 and not high:
            dec_exp -= 1
        else:
            digits.append(q)
        if dec_exp < -3 or dec_exp >= 8:
            high = low = False
        while not low and not high:
            q, b = b // s, _wrap(10 * (b % s), width)
            m = _wrap(m * 10, width)
            if m > 0:
                low, high = b < m, _wrap(b + m, width) > tens
            else:
                low = high = True
            digits.append(q)
        low_difference = _wrap(_wrap(b << 1, width) - tens, width) if width == 32 else _wrap((b << 1) - tens, 64)
    else:  # FDBigInteger arithmetic (its `high` test is not strict)
        m *= 10
        q, b = b // s, (b % s) * 10
        low, high = b < m, b + m >= tens
        if q == 0 and not high:
            dec_exp -= 1
        else:
            digits.append(q)
        if dec_exp < -3 or dec_exp >= 8:
            high = low = False
        while not low and not high:
            q, b = b // s, (b % s) * 10
            m *= 10
            low, high = b < m, b + m >= tens
            digits.append(q)
        low_difference = (b << 1) - tens if high and low else 0
        low_difference = -1 if low_difference < 0 else (1 if low_difference > 0 else 0)
    exponent = dec_exp + 1
    if high and (not low or low_difference > 0 or (low_difference == 0 and digits[-1] & 1)):
        i = len(digits) - 1  # roundup
        while digits[i] == 9 and i > 0:
            digits[i] = 0
            i -= 1
        if digits[i] == 9:
            digits[0] = 1
            exponent += 1
        else:
            digits[i] += 1
    return "".join(map(str, digits)), exponent


def _java_double(x: float) -> str:
    """`Double.toString(x)` as Java 8-18 prints it (`_java_digits`, laid out by `FloatingDecimal.getChars`)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    text, point = _java_digits(x)
    head = "-" if x < 0 else ""
    if 0 < point < 8:
        if point >= len(text):
            return f"{head}{text}{'0' * (point - len(text))}.0"
        return f"{head}{text[:point]}.{text[point:]}"
    if -3 < point <= 0:
        return f"{head}0.{'0' * -point}{text}"
    return f"{head}{text[0]}.{text[1:] or '0'}E{point - 1}"


def java_double_text(values: pa.Array) -> pa.Array:
    """Doubles as Java's `Double.toString` prints them (`12.5`, `100.0`, `1.0E16`, `1.5E-5`).

    Arrow prints the same shortest digits; in [1e-3, 1e7) its text is Java's once an integral
    value gets its `.0`, the rest is printed one value at a time.
    """
    values = values.cast(pa.float64())
    text = values.cast(STRING)
    magnitude = pc.abs(values)
    plain_range = _bool_mask(pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)))
    plain = plain_range & _matches(text, r"^-?\d+(\.\d+)?$")
    integral = plain & ~_matches(text, r"\.")
    out = pc.if_else(pa.array(integral), pc.binary_join_element_wise(text, ".0", ""), text)
    rest = ~plain & _bool_mask(pc.is_valid(values))
    if rest.any():
        slow = [_java_double(v) for v in values.filter(pa.array(rest)).to_pylist()]
        out = _scatter(out, rest, pa.array(slow, STRING))
    return out


def _java_big_decimal(array: pa.Array) -> pa.Array:
    """Decimals as Java's `BigDecimal.toString` prints them: plain, or `1.23E-7` when the exponent is below -6."""
    text = array.cast(STRING)
    scale = array.type.scale
    if scale <= 6:  # the adjusted exponent is at least -scale: always plain
        return text
    digits = pc.replace_substring_regex(pc.replace_substring_regex(text, r"[-.]", ""), r"^0+", "")
    significant = pc.fill_null(pc.utf8_length(digits), 1).to_numpy(zero_copy_only=False).astype(np.int64)
    significant = np.where(significant == 0, 1, significant)  # zero has one digit
    scientific = (significant - 1 - scale < -6) & _bool_mask(pc.is_valid(array))
    if not scientific.any():
        return text
    slow = []
    for value in array.filter(pa.array(scientific)).to_pylist():
        sign, digits_tuple, exponent = value.as_tuple()
        unscaled = "".join(map(str, digits_tuple)).lstrip("0") or "0"
        adjusted = len(unscaled) - 1 + exponent
        mantissa = unscaled[0] + ("." + unscaled[1:] if len(unscaled) > 1 else "")
        slow.append(f"{'-' if sign else ''}{mantissa}E{adjusted}")
    return _scatter(text, scientific, pa.array(slow, STRING))


# ---------------------------------------------------------------- typed values -> text


def _without_trailing_zeros(text: pa.Array) -> pa.Array:
    stripped = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    stripped = pc.replace_substring_regex(stripped, r"\.$", "")
    return pc.if_else(_matches_array(text, r"\."), stripped, text)


def _matches_array(text: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(text, pattern), False)


def _epoch_micros(numbers: np.ndarray) -> np.ndarray:
    """Epoch ms, µs or ns (told apart by magnitude) -> µs (`encodings._epoch_to_timestamp`).

    Nanoseconds are divided as Spark divides them: in doubles, then floored.
    """
    magnitude = np.abs(numbers)
    with np.errstate(over="ignore", invalid="ignore"):
        nanos = np.floor(numbers.astype(np.float64) / 1000.0)
        nanos = np.where(np.abs(nanos) < 2.0**63, nanos, 0).astype(np.int64)
        return np.where(magnitude >= _NANOS_ABOVE, nanos, np.where(magnitude >= _MICROS_ABOVE, numbers, numbers * 1000))


def _timestamp_array_micros(array: pa.Array) -> np.ndarray:
    """Epoch µs of a timestamp array of any unit.

    Spark reads a Parquet TIMESTAMP(NANOS) as a plain long (`spark.sql.legacy.parquet.nanosAsLong`)
    and tells its unit by magnitude (`_epoch_micros`); nanoseconds are read the same way here, so
    both give the same text (also for the rare instants before 1973 that the magnitude misreads).
    """
    unit = array.type.unit
    raw = pc.fill_null(array.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    if unit == "s":
        return raw * 1_000_000
    if unit == "ms":
        return raw * 1000
    if unit == "ns":
        return _epoch_micros(raw)
    return raw


def physical_text(array: pa.Array, logical: str) -> tuple[pa.Array, np.ndarray]:
    """(text of each value, whether that text is already canonical) by the array's Arrow type.

    The Arrow twin of `encodings.physical_text` (its `cleaned=False` form): string and binary text
    is left uncleaned, every other type's text is clean. Types Spark reads Parquet columns as:
    unsigned 64-bit integers as decimals, INT96 and every timestamp unit as timestamps.
    """
    n = len(array)
    yes, no = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    kind = array.type
    valid = _bool_mask(pc.is_valid(array))
    if pa.types.is_dictionary(kind):
        return physical_text(array.dictionary_decode(), logical)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return array.cast(STRING), (yes if logical == "string" else no)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return _binary_text(array.cast(pa.binary()), logical, valid)
    if pa.types.is_null(kind):
        return pa.nulls(n, STRING), yes
    if pa.types.is_boolean(kind):
        text = pc.if_else(array, pa.scalar("true"), pa.scalar("false"))
        return text, (yes if logical in ("boolean", "string") else no)
    if pa.types.is_timestamp(kind) or pa.types.is_date64(kind):
        micros = _timestamp_array_micros(array.cast(pa.timestamp("ms")) if pa.types.is_date64(kind) else array)
        if logical == "date":
            return format_dates(np.floor_divide(micros, _MICROS_PER_DAY), valid), yes
        return format_timestamps(micros, valid), (yes if logical in ("timestamp", "string") else no)
    if pa.types.is_date32(kind):
        days = pc.fill_null(array.cast(pa.int32()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        if logical == "timestamp":
            return format_timestamps(days * _MICROS_PER_DAY, valid), yes
        return format_dates(days, valid), (yes if logical in ("date", "string") else no)
    if pa.types.is_uint64(kind):  # Spark: decimal(20, 0)
        return physical_text(array.cast(pa.decimal128(20, 0)), logical)
    if pa.types.is_integer(kind):
        if logical == "timestamp":
            numbers = pc.fill_null(array.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            return format_timestamps(_epoch_micros(numbers), valid), yes
        text = array.cast(STRING)
        if logical == "boolean":
            flag = pc.if_else(pc.equal(array, 1), pa.scalar("true"), pc.if_else(pc.equal(array, 0), pa.scalar("false"), text))
            return flag, yes
        return text, (yes if logical in ("integer", "decimal", "string") else no)
    if pa.types.is_floating(kind):
        return _double_text(array.cast(pa.float64()), logical, valid)
    if pa.types.is_decimal(kind):
        text = _java_big_decimal(array)
        if logical == "decimal":
            scientific = _matches(text, "E")
            return _without_trailing_zeros(text), ~scientific
        return text, (yes if logical == "string" else no)
    if pa.types.is_nested(kind):
        return _json_of_nested(array), (yes if logical == "string" else no)
    return array.cast(STRING), (yes if logical == "string" else no)


def _binary_text(array: pa.Array, logical: str, valid: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    n = len(array)
    if logical == "boolean":
        one = _bool_mask(pc.equal(array, pa.scalar(b"\x01", pa.binary())))
        zero = _bool_mask(pc.equal(array, pa.scalar(b"\x00", pa.binary())))
        other = valid & ~one & ~zero
        words = np.where(one, "true", "false").astype(object)
        text = pa.array(words, STRING, mask=~(one | zero))
        if other.any():
            hexed = ["0x" + v.hex() for v in array.filter(pa.array(other)).to_pylist()]
            text = _scatter(text, other, pa.array(hexed, STRING))
        return text, np.ones(n, dtype=bool)
    try:
        text = array.cast(STRING)
    except pa.ArrowInvalid:  # bytes that are not UTF-8: replaced, as Java's decoder does
        text = pa.array([None if v is None else v.decode("utf-8", "replace") for v in array.to_pylist()], STRING)
    return text, np.full(n, logical == "string")


def _double_text(values: pa.Array, logical: str, valid: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """`encodings.physical_text` of a double: integral values below 9e15 as integers, others as Java prints them."""
    n = len(values)
    x = pc.fill_null(values, 0.0).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        integral = valid & np.isfinite(x) & (x == np.floor(x)) & (np.abs(x) < 9.0e15)
    as_long = pa.array(np.where(integral, x, 0).astype(np.int64)).cast(STRING)
    if logical == "timestamp":
        micros = _epoch_micros(np.where(integral, x, 0).astype(np.int64))
        formatted = format_timestamps(micros, integral)
        text = pc.if_else(pa.array(integral), formatted, java_double_text(values))
        return text, integral
    java = java_double_text(values)
    text = pc.if_else(pa.array(integral), as_long, java)
    if logical == "boolean":
        one, zero = valid & (x == 1), valid & (x == 0)
        text = pc.if_else(pa.array(one), pa.scalar("true"), pc.if_else(pa.array(zero), pa.scalar("false"), text))
        return text, np.ones(n, dtype=bool)
    if logical == "string":
        return text, np.ones(n, dtype=bool)
    if logical in ("integer", "decimal"):  # plain text is final; 1.0E16 or 1.5E-5 is parsed again
        return text, integral | ~_matches(text, "E")
    return text, np.zeros(n, dtype=bool)


def _json_of_nested(array: pa.Array) -> pa.Array:
    """Nested values as compact JSON text (Spark's `to_json`: null struct fields left out)."""
    import json

    def strip_nulls(value):
        if isinstance(value, dict):
            return {k: strip_nulls(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip_nulls(v) for v in value]
        return value

    out = []
    for value in array.to_pylist():
        if value is None:
            out.append(None)
        else:
            if isinstance(value, list) and value and isinstance(value[0], tuple):  # a map
                value = dict(value)
            out.append(json.dumps(strip_nulls(value), separators=(",", ":"), ensure_ascii=False, default=str))
    return pa.array(out, STRING)


def canonical_typed(array: pa.Array, logical: str, values: Sequence[str] = ()) -> pa.Array:
    """Canonical text of a typed column (`encodings.canonical_text`): its physical text, parsed where not final."""
    text, done = physical_text(array, logical)
    if done.all():
        return clean(text) if logical == "string" or pa.types.is_string(array.type) else text
    cleaned = clean(text)
    if not done.any():
        return canonical_from_text(cleaned, logical, values)
    todo = ~done & _bool_mask(pc.is_valid(cleaned))
    return _scatter(cleaned, todo, canonical_from_text(cleaned.filter(pa.array(todo)), logical, values))


# ---------------------------------------------------------------- JSON values


def json_text(array: pa.Array) -> pa.Array:
    """The text Spark's JSON reader gives a value Arrow read (strings as they are, numbers as Jackson prints them)."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array.cast(STRING)
    if pa.types.is_null(kind):
        return pa.nulls(len(array), STRING)
    if pa.types.is_boolean(kind):
        return pc.if_else(array, pa.scalar("true"), pa.scalar("false"))
    if pa.types.is_integer(kind):
        return array.cast(STRING)
    if pa.types.is_floating(kind):
        return java_double_text(array)
    raise TypeError(f"no JSON text for Arrow type {kind}")
