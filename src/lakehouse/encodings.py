"""Column -> Column parsers for every accepted encoding of DOMAIN.md §1, and bronze's canonical text.

Two kinds of function live here:

- `parse_<type>(text)` turn text in any accepted encoding into a typed value, or null when the
  text is not a valid value of that type (silver uses them, and so does bronze before formatting);
- `canonical_text(col, logical_type, physical_type)` brings a value of any physical type to the one
  canonical lossless text of its logical type (docs/architecture.md), keeping the trimmed original
  text when it does not parse, so nothing is lost and silver can say what was wrong;
  `physical_text` is its first half (text plus "already canonical"), for callers that want to
  skip re-parsing values a typed column already gives in canonical form.

Every function references its input column a bounded number of times (`clean`: 15, for its cheap
prefix/suffix checks) and never cleans the output of another `clean`: a Column built by calling
one parser on the output of another grows multiplicatively, and Spark's planner runs out of memory.

Spark SQL functions only (no Python UDFs): these run on every row of every export.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

TIMESTAMP_TEXT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
DATE_TEXT_FORMAT = "yyyy-MM-dd"

TRUE_WORDS = ("true", "t", "1", "y", "yes")
FALSE_WORDS = ("false", "f", "0", "n", "no")

# plain or scientific decimal number, after $ , ( ) and spaces are removed
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# ISO-8601: date, optional time with T or space, optional fraction, optional Z or offset
_ISO_TS = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
_US_TS = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_US_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
# fast paths: the forms most values already come in, which Spark's cast reads as they are; a value
# matching one gives exactly what the general path gives, with one regular expression instead of five
_PLAIN_NUMBER = r"^-?\d{1,20}(\.\d{1,18})?$"  # fits decimal(38, 18) without rounding
_PLAIN_NONNEGATIVE = r"^(0|[1-9]\d{0,19})(\.\d{1,18})?$"  # no leading zeros, no -0
# (group 1 without the Z: Spark's cast compiles a regular expression per value to read a zone
# id, so a UTC timestamp is cast without it; sessions run in UTC, see session.py)
_PLAIN_TS = r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z?$"
_EPOCH_MILLIS = r"^-?\d{11,13}$"

# epoch numbers in a timestamp column: the unit is told apart by magnitude, since a Parquet
# INT64 TIMESTAMP(NANOS) reads as a plain long (spark.sql.legacy.parquet.nanosAsLong)
_MICROS_ABOVE = 10**14
_NANOS_ABOVE = 10**17

_INTEGRAL_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_FRACTIONAL_TYPES = (T.FloatType, T.DoubleType)


def _lookup(mapping: dict[str, str | bool]) -> Column:
    """A literal map column, for one-reference lookups (element_at gives null for a missing key)."""
    return F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])


# what Java's `\s` matches: space, tab, line feed, vertical tab, form feed, carriage return
WHITE_SPACE = " \t\n\x0b\f\r"


def _padded(col: Column) -> Column:
    """True when the text starts or ends with a `WHITE_SPACE` character.

    Prefix and suffix comparisons only: they allocate nothing, while `btrim` with a set of
    characters copies every character it looks at, which made it the largest single cost of
    bronze's text stage (~20% of its CPU time on tickets).
    """
    padded = F.lit(False)
    for ch in WHITE_SPACE:
        padded = padded | col.startswith(ch) | col.endswith(ch)
    return padded


def clean(col: Column) -> Column:
    """Trim surrounding white space (`WHITE_SPACE`); empty or blank text becomes null.

    It runs on every value of every export. Most values have no white space around them: they
    pass through after a few prefix/suffix checks (`_padded`), ~3x cheaper than `btrim` on every
    value, which in turn measured ~3x faster than `regexp_substr(col, '\\S(?:[\\s\\S]*\\S)?')`.
    """
    return F.when(_padded(col), F.nullif(F.btrim(col, F.lit(WHITE_SPACE)), F.lit(""))).when(col != "", col)


def parse_boolean(text: Column) -> Column:
    """true/false in any case, t/f, 1/0, y/n, yes/no -> boolean; anything else -> null."""
    return _boolean_of(clean(text))


def _boolean_of(value: Column) -> Column:
    """`parse_boolean` of text already cleaned.

    The `_of` helpers let callers holding cleaned text (`canonical_from_text`) parse it without
    cleaning it again, which would multiply the size of the expression (module docstring).
    """
    words = {w: True for w in TRUE_WORDS} | {w: False for w in FALSE_WORDS}
    return F.element_at(_lookup(words), F.lower(value))


def decimal_value(text: Column) -> Column:
    """Money/number text -> decimal(38, 18), or null when it is not a number.

    Accepts `$`, thousands `,`, `-12.50` and `(12.50)` negatives, and scientific notation. Exact
    for up to 20 integer and 18 fractional digits (any real amount, or a double's shortest text).
    """
    return _decimal_of(clean(text))


def _decimal_of(value: Column) -> Column:
    """`decimal_value` of text already cleaned."""
    sign = F.when(value.rlike(r"^\(.*\)$"), F.lit("-")).otherwise(F.lit(""))
    number = F.regexp_substr(F.regexp_replace(value, r"[$,()\s]", ""), F.lit(_NUMBER))
    # "(-5)" becomes "--5", which does not cast: a negative in parentheses is not a number
    general = F.concat(sign, number)
    return F.coalesce(F.regexp_substr(value, F.lit(_PLAIN_NUMBER)), general).cast(T.DecimalType(38, 18))


def _plain(decimal: Column) -> Column:
    """A decimal(38, 18) as plain text without trailing fractional zeros (12.500 -> 12.5, 3.000 -> 3).

    format_number never uses an exponent (a decimal's own string does, for 0 and tiny values).
    """
    return _without_trailing_zeros(F.regexp_replace(F.format_number(decimal, 18), ",", ""))


def _without_trailing_zeros(digits: Column) -> Column:
    """Plain number text without trailing fractional zeros, nor a bare trailing dot."""
    return F.regexp_replace(F.regexp_replace(digits, r"(\.\d*?)0+$", "$1"), r"\.$", "")


def decimal_text(text: Column) -> Column:
    """Canonical decimal text (plain, no exponent, no trailing fractional zeros), or null if not a number."""
    return _decimal_text_of(clean(text))


def _decimal_text_of(value: Column) -> Column:
    """`decimal_text` of text already cleaned."""
    plain = _without_trailing_zeros(F.regexp_substr(value, F.lit(_PLAIN_NONNEGATIVE)))
    return F.coalesce(plain, _plain(_decimal_of(value)))


def parse_decimal(text: Column, precision: int = 38, scale: int = 10) -> Column:
    """Money text in any accepted form -> decimal(precision, scale), rounded half up; null if invalid or too large."""
    return decimal_value(text).cast(T.DecimalType(precision, scale))


def parse_integer(text: Column) -> Column:
    """Integer text, or the text of a double with an integral value ('12.0', '1.2E3') -> long; else null."""
    return _integer_of(clean(text))


def _integer_of(value: Column) -> Column:
    """`parse_integer` of text already cleaned."""
    return F.regexp_substr(_decimal_text_of(value), F.lit(r"^-?\d{1,19}$")).cast("long")


def parse_timestamp(text: Column) -> Column:
    """ISO-8601 (T or space, optional Z/offset; no offset = UTC), MM/DD/YYYY HH:MM[:SS], or epoch millis -> timestamp."""
    return _timestamp_of(clean(text))


def _timestamp_of(value: Column) -> Column:
    """`parse_timestamp` of text already cleaned."""
    iso = F.regexp_substr(value, F.lit(_ISO_TS))
    # Spark's cast wants seconds before an offset: 09:05-05:00 -> 09:05:00-05:00
    iso = F.regexp_replace(iso, r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([Zz+-].*)?$", "$1:00$2")
    iso = F.regexp_replace(iso, "z$", "Z").cast("timestamp")
    us = F.to_timestamp(F.regexp_substr(value, F.lit(_US_TS)), "M/d/yyyy H:mm[:ss]")
    millis = F.timestamp_millis(F.regexp_substr(value, F.lit(_EPOCH_MILLIS)).cast("long"))
    plain = F.regexp_extract(value, _PLAIN_TS, 1).cast("timestamp")  # no match: "", which casts to null
    return F.coalesce(plain, iso, us, millis)


def parse_date(text: Column) -> Column:
    """YYYY-MM-DD, MM/DD/YYYY, or an ISO timestamp's UTC date -> date; else null."""
    return _date_of(clean(text))


def _date_of(value: Column) -> Column:
    """`parse_date` of text already cleaned."""
    return F.coalesce(
        F.to_date(F.regexp_substr(value, F.lit(_ISO_DATE)), "yyyy-MM-dd"),
        F.to_date(F.regexp_substr(value, F.lit(_US_DATE)), "M/d/yyyy"),
        F.to_date(_timestamp_of(F.regexp_substr(value, F.lit(_ISO_TS)))),
    )


def parse_enum(text: Column, values: Sequence[str]) -> Column:
    """Case-insensitive enumeration value -> its lower-case form; unknown values -> null."""
    return _enum_of(clean(text), values)


def _enum_of(value: Column, values: Sequence[str]) -> Column:
    """`parse_enum` of text already cleaned."""
    return F.element_at(_lookup({v: v for v in values}), F.lower(value))


def parse_value(text: Column, logical_type: str, values: Sequence[str] = ()) -> Column:
    """Parse bronze text as its logical type: the typed value, or null when it does not parse."""
    if logical_type == "boolean":
        return parse_boolean(text)
    if logical_type == "integer":
        return parse_integer(text)
    if logical_type == "decimal":
        return parse_decimal(text)
    if logical_type == "timestamp":
        return parse_timestamp(text)
    if logical_type == "date":
        return parse_date(text)
    if logical_type == "enum":
        return parse_enum(text, values)
    if logical_type == "string":
        return clean(text)
    raise ValueError(f"unknown logical type {logical_type!r}")


# ---------------------------------------------------------------- bronze: physical -> canonical text


def _epoch_to_timestamp(number: Column) -> Column:
    """An epoch number in ms, µs or ns (told apart by magnitude) -> timestamp."""
    magnitude = F.abs(number)
    return (
        F.when(magnitude >= _NANOS_ABOVE, F.timestamp_micros(F.floor(number / 1000)))
        .when(magnitude >= _MICROS_ABOVE, F.timestamp_micros(number))
        .otherwise(F.timestamp_millis(number))
    )


def physical_text(
    col: Column, logical_type: str, physical: T.DataType, cleaned: bool = True
) -> tuple[Column, Column]:
    """(the value as cleaned text, whether that text is already canonical) for a physical type.

    The flag is true only where `canonical_from_text` would return the text unchanged (e.g. a
    Parquet timestamp formatted as canonical timestamp text), so callers may skip re-parsing
    those values: `when(flag, text).otherwise(canonical_from_text(text, ...))` is
    exactly `canonical_text`. With `cleaned=False` the text of a string (or binary) value is
    left as it is, for callers that `clean` all their text in one place; the text of the other
    types is clean either way, and `clean` leaves it unchanged.
    """
    yes, no = F.lit(True), F.lit(False)
    tidy = clean if cleaned else (lambda text: text)
    if isinstance(physical, T.StringType):
        return tidy(col), F.lit(logical_type == "string")
    if isinstance(physical, T.BinaryType):
        if logical_type == "boolean":
            byte = F.hex(col)
            text = F.when(byte == "01", F.lit("true")).when(byte == "00", F.lit("false")).otherwise(
                F.when(col.isNotNull(), F.concat(F.lit("0x"), F.lower(F.hex(col))))
            )
            return text, yes  # 0x.. of another byte does not parse as a boolean either: kept as it is
        return tidy(F.decode(col, "UTF-8")), F.lit(logical_type == "string")
    if isinstance(physical, T.BooleanType):
        text = F.when(col, F.lit("true")).when(~col, F.lit("false"))
        return text, F.lit(logical_type in ("boolean", "string"))
    if isinstance(physical, (T.TimestampType, T.TimestampNTZType)):
        if logical_type == "date":
            return F.date_format(col, DATE_TEXT_FORMAT), yes
        return F.date_format(col, TIMESTAMP_TEXT_FORMAT), F.lit(logical_type in ("timestamp", "string"))
    if isinstance(physical, T.DateType):
        if logical_type == "timestamp":
            return F.date_format(col.cast("timestamp"), TIMESTAMP_TEXT_FORMAT), yes
        return F.date_format(col, DATE_TEXT_FORMAT), F.lit(logical_type in ("date", "string"))
    if isinstance(physical, _INTEGRAL_TYPES):
        if logical_type == "timestamp":
            return F.date_format(_epoch_to_timestamp(col.cast("long")), TIMESTAMP_TEXT_FORMAT), yes
        if logical_type == "boolean":
            text = F.when(col == 1, F.lit("true")).when(col == 0, F.lit("false")).otherwise(col.cast("string"))
            return text, yes  # other integers are not booleans in any form: kept as they are
        return col.cast("string"), F.lit(logical_type in ("integer", "decimal", "string"))
    if isinstance(physical, _FRACTIONAL_TYPES):
        # Spark prints a double with its shortest exact repr (12.5, never 12.500000001)
        as_double = col.cast("double")
        integral = (as_double == F.floor(as_double)) & (F.abs(as_double) < 9.0e15)
        if logical_type == "timestamp":
            text = F.when(
                integral, F.date_format(_epoch_to_timestamp(as_double.cast("long")), TIMESTAMP_TEXT_FORMAT)
            ).otherwise(as_double.cast("string"))
            return text, F.coalesce(integral, no)
        if logical_type == "boolean":
            text = (
                F.when(as_double == 1, F.lit("true"))
                .when(as_double == 0, F.lit("false"))
                .when(integral, as_double.cast("long").cast("string"))
                .otherwise(as_double.cast("string"))
            )
            return text, yes
        text = F.when(integral, as_double.cast("long").cast("string")).otherwise(as_double.cast("string"))
        if logical_type == "string":
            return text, yes
        if logical_type in ("integer", "decimal"):  # plain text is final; 1.0E16 or 1.5E-5 is re-parsed
            return text, F.coalesce(integral | ~text.contains("E"), no)
        return text, no
    if isinstance(physical, T.DecimalType):
        text = col.cast("string")
        if logical_type == "decimal":  # drop trailing fractional zeros: 12.5000 -> 12.5, 3.00 -> 3
            plain = F.when(text.contains("."), F.regexp_replace(text, r"\.?0+$", "")).otherwise(text)
            return plain, F.coalesce(~text.contains("E"), no)
        return text, F.lit(logical_type == "string")
    if isinstance(physical, T.NullType):
        return F.lit(None).cast("string"), yes
    if isinstance(physical, (T.StructType, T.ArrayType, T.MapType)):
        return F.to_json(col), F.lit(logical_type == "string")
    return col.cast("string"), F.lit(logical_type == "string")


def canonical_from_text(text: Column, logical_type: str, values: Sequence[str] = ()) -> Column:
    """Canonical text of cleaned text (`clean`, or `physical_text`'s text); text that does not parse is kept as it is."""
    if logical_type == "boolean":
        canonical = F.lower(_boolean_of(text).cast("string"))
    elif logical_type == "integer":
        canonical = _integer_of(text).cast("string")
    elif logical_type == "decimal":
        canonical = _decimal_text_of(text)
    elif logical_type == "timestamp":
        canonical = F.date_format(_timestamp_of(text), TIMESTAMP_TEXT_FORMAT)
    elif logical_type == "date":
        canonical = F.date_format(_date_of(text), DATE_TEXT_FORMAT)
    elif logical_type == "enum":
        canonical = _enum_of(text, values)
    elif logical_type == "string":
        return text
    else:
        raise ValueError(f"unknown logical type {logical_type!r}")
    return F.coalesce(canonical, text)


def canonical_text(col: Column, logical_type: str, physical: T.DataType, values: Sequence[str] = ()) -> Column:
    """Bring a value of any physical type to the canonical text of its logical type (lossless).

    A value that does not parse keeps its trimmed original text; empty text becomes null.
    """
    text, done = physical_text(col, logical_type, physical)
    return F.when(done, text).otherwise(canonical_from_text(text, logical_type, values))
