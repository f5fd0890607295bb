"""Every accepted encoding of DOMAIN.md §1, and every invalid form, through the shared parsers.

The canonical text bronze writes has two implementations: the Spark Column functions of
`lakehouse.encodings` (silver parses with them) and their Arrow twin `lakehouse.bronze.canonical`
(bronze stages exports with it). The tables below run against both (`canon`), and random text,
numbers and timestamps are put through both and compared value by value.
"""

import math
import random
import struct
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_type

from lakehouse import encodings as enc
from lakehouse.bronze import canonical


def parsed(spark, fn, values, in_type=T.StringType()):
    """Apply a Column -> Column function to each value; returns the results in order."""
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], T.StructType(
        [T.StructField("i", T.IntegerType()), T.StructField("v", in_type)]))
    return [r["out"] for r in df.select("i", fn(F.col("v")).alias("out")).orderBy("i").collect()]


IMPLEMENTATIONS = ("spark", "arrow")


@pytest.fixture(params=IMPLEMENTATIONS)
def canon(request, spark):
    """`canon(values, logical, enum_values=(), physical=StringType())`: canonical text of each value, by one implementation.

    Text (a string physical type) is cleaned first, as bronze cleans every text it reads.
    """

    def spark_canon(values, logical, enum_values=(), physical=T.StringType()):
        if isinstance(physical, T.StringType):
            fn = lambda c: enc.canonical_from_text(enc.clean(c), logical, enum_values)  # noqa: E731
        else:
            fn = lambda c: enc.canonical_text(c, logical, physical, enum_values)  # noqa: E731
        return parsed(spark, fn, values, physical)

    def arrow_canon(values, logical, enum_values=(), physical=T.StringType()):
        kind = to_arrow_type(physical)
        values = [bytes(v) if isinstance(v, bytearray) else v for v in values]
        array = pa.array(values, kind)
        if isinstance(physical, T.StringType):
            return canonical.canonical_from_text(canonical.clean(array), logical, enum_values).to_pylist()
        return canonical.canonical_typed(array, logical, enum_values).to_pylist()

    return {"spark": spark_canon, "arrow": arrow_canon}[request.param]


def as_canonical(value):
    """The canonical text of a parsed value (what bronze writes for text that parses to it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def canonical_expected(table):
    """(inputs, canonical text): a parsed value's canonical form, or the cleaned input when it does not parse."""
    inputs = [v for v, _ in table]
    cleaned = [None if v is None or not v.strip(enc.WHITE_SPACE) else v.strip(enc.WHITE_SPACE) for v in inputs]
    return inputs, [c if e is None else as_canonical(e) for c, (_, e) in zip(cleaned, table, strict=True)]


CLEANED = [
    (" \t a  b \r\n", "a  b"), ("x", "x"), ("", None), (" \t\n\x0b\f\r ", None), (None, None),
    ("\u00a0x\u00a0", "\u00a0x\u00a0"),  # only Java's \\s white space is trimmed, not Unicode spaces
]


def test_clean_trims_white_space_and_nulls_blank_text(spark):
    assert parsed(spark, enc.clean, [v for v, _ in CLEANED]) == [e for _, e in CLEANED]


BOOLEANS = [
    ("true", True), ("TRUE", True), (" True ", True), ("t", True), ("T", True), ("1", True),
    ("y", True), ("Yes", True), ("false", False), ("F", False), ("0", False), ("n", False),
    ("NO", False), ("", None), ("   ", None), (None, None), ("2", None), ("maybe", None), ("1.0", None),
]


def test_parse_boolean_accepts_every_encoding_and_rejects_the_rest(spark):
    assert parsed(spark, enc.parse_boolean, [v for v, _ in BOOLEANS]) == [e for _, e in BOOLEANS]


def test_canonical_boolean(canon):
    inputs, expected = canonical_expected(BOOLEANS)
    assert canon(inputs, "boolean") == expected


INTEGERS = [
    ("42", 42), ("-7", -7), ("+3", 3), ("007", 7), ("12.0", 12), ("1.2E3", 1200), (" 5 ", 5),
    ("12.5", None), ("abc", None), ("", None), ("99999999999999999999", None), ("1,000", 1000),
]


def test_parse_integer(spark):
    assert parsed(spark, enc.parse_integer, [v for v, _ in INTEGERS]) == [e for _, e in INTEGERS]


def test_canonical_integer(canon):
    inputs, expected = canonical_expected(INTEGERS)
    assert canon(inputs, "integer") == expected


MONEY = [
    ("12.50", "12.5"), ("$1,234.50", "1234.5"), ("(12.50)", "-12.5"), ("-12.50", "-12.5"),
    ("$-3", "-3"), ("0.00", "0"), ("-0", "0"), ("000123.4500", "123.45"), (".5", "0.5"),
    ("1.5e2", "150"), ("12.500000001", "12.500000001"), ("0.1234567890123456", "0.1234567890123456"),
    ("12,5O", None), ("abc", None), ("", None), ("(-5)", None), ("$", None),
    # plain numbers take the fast path; they must come out as the general path makes them
    ("26.99", "26.99"), ("7.00", "7"), ("1000", "1000"), ("100.000", "100"), ("-0.00", "0"), ("-5.10", "-5.1"),
    ("12345678901234567890.123456789012345678", "12345678901234567890.123456789012345678"),
    ("0.1234567890123456789", "0.123456789012345679"),  # 19 decimals: general path, rounded to 18
]


def test_decimal_text_is_canonical_and_lossless(spark):
    assert parsed(spark, enc.decimal_text, [v for v, _ in MONEY]) == [e for _, e in MONEY]


def test_canonical_decimal(canon):
    inputs, expected = canonical_expected(MONEY)
    assert canon(inputs, "decimal") == expected


def test_parse_decimal_to_money_rounds_half_up(spark):
    out = parsed(spark, lambda c: enc.parse_decimal(c, 12, 2), ["12.345", "(1,000.10)", "x"])
    assert out == [Decimal("12.35"), Decimal("-1000.10"), None]


TIMESTAMPS = [
    ("2024-03-01T14:05:09Z", datetime(2024, 3, 1, 14, 5, 9)),
    ("2024-03-01 14:05:09", datetime(2024, 3, 1, 14, 5, 9)),
    ("2024-03-01T14:05:09.123456", datetime(2024, 3, 1, 14, 5, 9, 123456)),
    ("2024-03-01T16:05:09+02:00", datetime(2024, 3, 1, 14, 5, 9)),
    ("2024-03-01T16:05:09+0200", datetime(2024, 3, 1, 14, 5, 9)),
    ("2024-03-01T09:05-05:00", datetime(2024, 3, 1, 14, 5)),
    ("03/01/2024 14:05:09", datetime(2024, 3, 1, 14, 5, 9)),
    ("3/1/2024 14:05", datetime(2024, 3, 1, 14, 5)),
    ("1709301909000", datetime(2024, 3, 1, 14, 5, 9)),
    ("2024-03-01", datetime(2024, 3, 1)),
    ("2024-13-01T00:00:00", None), ("01/32/2024 10:00", None), ("yesterday", None), ("", None), ("12", None),
    # the fast path's forms
    ("2024-03-01 14:05:09Z", datetime(2024, 3, 1, 14, 5, 9)),
    ("2024-03-01T14:05:09.5Z", datetime(2024, 3, 1, 14, 5, 9, 500000)),
    ("2024-02-30 10:00:00", None), (" 2024-03-01T14:05:09Z ", datetime(2024, 3, 1, 14, 5, 9)),
]


def test_parse_timestamp(spark):
    assert parsed(spark, enc.parse_timestamp, [v for v, _ in TIMESTAMPS]) == [e for _, e in TIMESTAMPS]


def test_canonical_timestamp(canon):
    inputs, expected = canonical_expected(TIMESTAMPS)
    assert canon(inputs, "timestamp") == expected


DATES = [
    ("2024-03-01", date(2024, 3, 1)), ("03/01/2024", date(2024, 3, 1)), ("3/1/2024", date(2024, 3, 1)),
    ("2024-03-01T23:30:00-02:00", date(2024, 3, 2)), ("2024-02-30", None), ("March 1", None), ("", None),
]


def test_parse_date(spark):
    assert parsed(spark, enc.parse_date, [v for v, _ in DATES]) == [e for _, e in DATES]


def test_canonical_date(canon):
    inputs, expected = canonical_expected(DATES)
    assert canon(inputs, "date") == expected


def test_parse_enum_is_case_insensitive(spark):
    out = parsed(spark, lambda c: enc.parse_enum(c, ["basic", "deluxe"]), ["Basic", " DELUXE ", "gold", None])
    assert out == ["basic", "deluxe", None, None]


def test_canonical_enum(canon):
    out = canon(["Basic", " DELUXE ", "gold", None], "enum", ["basic", "deluxe"])
    assert out == ["basic", "deluxe", "gold", None]


@pytest.mark.parametrize(
    ("logical", "physical", "values", "expected"),
    [
        ("boolean", T.BinaryType(), [bytearray(b"\x01"), bytearray(b"\x00"), bytearray(b"\x02")], ["true", "false", "0x02"]),
        ("boolean", T.IntegerType(), [1, 0, 7], ["true", "false", "7"]),
        ("boolean", T.BooleanType(), [True, False, None], ["true", "false", None]),
        ("boolean", T.DoubleType(), [1.0, 0.0], ["true", "false"]),
        ("boolean", T.StringType(), ["Y", "no", "perhaps"], ["true", "false", "perhaps"]),
        ("integer", T.DoubleType(), [12.0, 12.5, -3.0], ["12", "12.5", "-3"]),
        ("integer", T.LongType(), [5, -9], ["5", "-9"]),
        ("decimal", T.DoubleType(), [12.5, 0.1, 12345678.5, -2.0], ["12.5", "0.1", "12345678.5", "-2"]),
        ("decimal", T.DecimalType(10, 4), [Decimal("12.5000"), Decimal("-0.0100")], ["12.5", "-0.01"]),
        ("decimal", T.StringType(), ["$1,234.50", "(3.00)", "n/a"], ["1234.5", "-3", "n/a"]),
        ("timestamp", T.LongType(), [1709301909000, 1709301909000000, 1709301909000000000],
         ["2024-03-01T14:05:09.000000Z"] * 3),
        ("timestamp", T.TimestampType(), [datetime(2024, 3, 1, 14, 5, 9, 7)], ["2024-03-01T14:05:09.000007Z"]),
        ("timestamp", T.StringType(), ["2024-03-01 16:05:09+02:00", "3/1/2024 14:05", "soon"],
         ["2024-03-01T14:05:09.000000Z", "2024-03-01T14:05:00.000000Z", "soon"]),
        ("timestamp", T.DateType(), [date(2024, 3, 1)], ["2024-03-01T00:00:00.000000Z"]),
        ("date", T.TimestampType(), [datetime(2024, 3, 1, 23, 59)], ["2024-03-01"]),
        ("date", T.DateType(), [date(2024, 3, 1)], ["2024-03-01"]),
        ("date", T.StringType(), ["03/01/2024", "2024-3-1x"], ["2024-03-01", "2024-3-1x"]),
        ("enum", T.StringType(), ["Deluxe", "PLATINUM"], ["deluxe", "PLATINUM"]),
        ("string", T.StringType(), ["  a b  ", "", None], ["a b", None, None]),
        ("string", T.IntegerType(), [42], ["42"]),
    ],
)
def test_canonical_text_per_physical_type(canon, logical, physical, values, expected):
    enum_values = ["basic", "deluxe"] if logical == "enum" else []
    assert canon(values, logical, enum_values, physical) == expected


@pytest.mark.parametrize("logical", ["boolean", "integer", "decimal", "timestamp", "date"])
def test_canonical_text_parses_back_to_the_same_value(spark, logical):
    samples = {
        "boolean": ["yes", "F", "1"],
        "integer": ["12.0", "-4", "1e2"],
        "decimal": ["$1,234.50", "(0.5)", "7"],
        "timestamp": ["2024-03-01T16:05:09+02:00", "3/1/2024 14:05", "1709301909000"],
        "date": ["3/1/2024", "2024-03-01", "2024-03-01T10:00:00Z"],
    }[logical]
    direct = parsed(spark, lambda c: enc.parse_value(c, logical), samples)
    via_canonical = parsed(
        spark, lambda c: enc.parse_value(enc.canonical_text(c, logical, T.StringType()), logical), samples
    )
    assert direct == via_canonical
    assert None not in direct


# ---------------------------------------------------------------- where Java's and Arrow's parsing could differ

JAVA_SEMANTICS = [  # (logical type, text, canonical text): Spark's result, which the Arrow staging must give too
    ("timestamp", "2024-03-01T14:05:09.123456789Z", "2024-03-01T14:05:09.123456Z"),  # cut to µs, not rounded
    ("timestamp", "2024-03-01T16:05:09.5+02:00", "2024-03-01T14:05:09.500000Z"),
    ("timestamp", "2024-03-01T14:05:09-0530", "2024-03-01T19:35:09.000000Z"),
    ("timestamp", "2024-03-01T14:05:09+02", "2024-03-01T12:05:09.000000Z"),
    ("timestamp", "2024-03-01T14:05:09+18:00", "2024-02-29T20:05:09.000000Z"),
    ("timestamp", "2024-03-01T14:05:09+19:00", "2024-03-01T14:05:09+19:00"),  # offsets end at ±18:00
    ("timestamp", "2024-03-01T14:05:09+02:60", "2024-03-01T14:05:09+02:60"),
    ("timestamp", "2024-03-01+02:00", "2024-03-01+02:00"),  # an offset needs a time
    ("timestamp", "2024-03-01T24:00:00", "2024-03-01T24:00:00"),
    ("timestamp", "2024-03-01T14:05:60", "2024-03-01T14:05:60"),  # no leap seconds
    ("timestamp", "2024-03-01t14:05:09", "2024-03-01t14:05:09"),
    ("timestamp", "0000-01-01", "0000-01-01T00:00:00.000000Z"),  # proleptic year 0
    ("timestamp", "0001-01-01T00:00:00+01:00", "0000-12-31T23:00:00.000000Z"),
    ("timestamp", "9999-12-31T23:59:59.999999-01:00", "+10000-01-01T00:59:59.999999Z"),  # Spark's year beyond 9999
    ("timestamp", "2/29/2023 10:00", "2/29/2023 10:00"),
    ("timestamp", "2/29/2024 9:05:07", "2024-02-29T09:05:07.000000Z"),
    ("timestamp", "12/31/2024 24:00", "12/31/2024 24:00"),
    ("timestamp", "-1709301909000", "1915-11-02T09:54:51.000000Z"),
    ("timestamp", "99999999999", "1973-03-03T09:46:39.999000Z"),
    # Java's $ also matches before a final line terminator (U+0085, U+2028, U+2029 are not trimmed)
    ("timestamp", "2024-03-01T14:05:09Z\u2028", "2024-03-01T14:05:09.000000Z"),
    ("timestamp", "1709301909000\u0085", "2024-03-01T14:05:09.000000Z"),
    ("date", "2024-03-01\u2028", "2024-03-01"),
    ("date", "2024-03-01T23:30:00-02:00", "2024-03-02"),
    ("date", "03/01/2024 10:00", "03/01/2024 10:00"),
    ("decimal", "(12.50)\u2028", "-12.5"),
    ("decimal", "5\u2028)", "5"),
    ("decimal", "(12\r5)", "125"),  # Java's `.` does not match \r: no parentheses, no minus
    ("decimal", "1\u00a0000", "1\u00a0000"),  # only Java's \s is dropped from money text
    ("decimal", "12345678901234567890.1234567890123456789", "12345678901234567890.123456789012345679"),  # 19 decimals
    ("decimal", "1234567890123456789", "1234567890123456789"),  # 19 digits
    ("decimal", "99999999999999999999.9999999999999999995", "99999999999999999999.9999999999999999995"),
    ("decimal", "-0.0000000000000000005", "-0.000000000000000001"),  # HALF_UP: away from zero
    ("decimal", "1e-30", "0"),
    ("decimal", "-0e5", "0"),
    ("decimal", "00.e+27)", "0"),  # zero with an exponent is zero, up to 38 integral digits
    ("decimal", "0E61", "0E61"),
    ("decimal", "1e400", "1e400"),
    ("decimal", "-.5e1", "-5"),
    ("decimal", "(+5)", "(+5)"),
    ("integer", "9223372036854775807", "9223372036854775807"),
    ("integer", "9223372036854775808", "9223372036854775808"),  # beyond a long
    ("integer", "-9223372036854775808", "-9223372036854775808"),
    ("integer", "-9223372036854775809", "-9223372036854775809"),
    ("integer", "1e18", "1000000000000000000"),
    ("integer", "12.5e1", "125"),
    ("boolean", "Yes\u2028", "Yes\u2028"),
    ("boolean", "\ufffd", "\ufffd"),
    ("enum", "ULT\u0130MATE", "ULT\u0130MATE"),  # Java lower-cases U+0130 to i + U+0307, Arrow to i
    ("enum", "\u212aASIC", "\u212aASIC"),
    ("string", "\ufeffx", "\ufeffx"),  # a BOM inside a value is text
]


@pytest.mark.parametrize("logical", sorted({logical for logical, _, _ in JAVA_SEMANTICS}))
def test_canonical_text_follows_java(canon, logical):
    cases = [(text, want) for kind, text, want in JAVA_SEMANTICS if kind == logical]
    enum_values = ["basic", "ultimate"] if logical == "enum" else []
    assert canon([t for t, _ in cases], logical, enum_values) == [w for _, w in cases]


DOUBLES = [12.5, 26.99, 0.1 + 0.2, 1.5e-5, 1.2345678901234568e-5, 12345678.5, 7.0, 1e16, 1.2345e20, -0.0,
           float("nan"), 1e-20, 1e23, 790250353412256256.0]


def test_java_prints_doubles_its_own_way(canon):
    """JDK 8-18 (Spark 3.5's JVMs) do not always print the shortest digits: the Arrow staging prints Java's."""
    assert canon([1e23, 790250353412256256.0, 2.0**63 + 2.0**11], "string", (), T.DoubleType()) == [
        "9.999999999999999E22", "7.9025035341225626E17", "9.223372036854778E18"]


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("decimal", ["12.5", "26.99", "0.30000000000000004", "0.000015", "0.000012345678901235", "12345678.5", "7",
                     "10000000000000000", "1.2345E20", "0", "NaN", "0", "9.999999999999999E22", "790250353412256260"]),
        ("integer", ["12.5", "26.99", "0.30000000000000004", "1.5E-5", "1.2345678901234568E-5", "1.23456785E7",
                     "7", "10000000000000000", "1.2345E20", "0", "NaN", "0", "9.999999999999999E22", "790250353412256260"]),
        ("string", ["12.5", "26.99", "0.30000000000000004", "1.5E-5", "1.2345678901234568E-5", "1.23456785E7", "7",
                    "1.0E16", "1.2345E20", "0", "NaN", "1.0E-20", "9.999999999999999E22", "7.9025035341225626E17"]),
        ("boolean", ["12.5", "26.99", "0.30000000000000004", "1.5E-5", "1.2345678901234568E-5", "1.23456785E7", "7",
                     "1.0E16", "1.2345E20", "false", "NaN", "1.0E-20", "9.999999999999999E22", "7.9025035341225626E17"]),
    ],
)
def test_doubles_as_java_prints_them(canon, logical, expected):
    assert canon(DOUBLES, logical, (), T.DoubleType()) == expected


def test_decimals_with_large_scales_as_big_decimal_prints_them(canon):
    values = [Decimal("0.00000012300000000000"), Decimal("0E-20"), Decimal("0.12345678901234567890"),
              Decimal("-12.50000000000000000000")]
    physical = T.DecimalType(38, 20)
    assert canon(values, "decimal", (), physical) == ["0.000000123", "0", "0.1234567890123456789", "-12.5"]
    assert canon(values, "string", (), physical) == [
        "1.2300000000000E-7", "0E-20", "0.12345678901234567890", "-12.50000000000000000000"]


# ---------------------------------------------------------------- random values through both implementations


def _random_text(rnd: random.Random, logical: str) -> str:
    def digits(lo, hi):
        return "".join(rnd.choice("0123456789") for _ in range(rnd.randint(lo, hi)))

    def pick(*options):
        return rnd.choice(options)

    noise = list("0123456789-:T ./Z+$,()eE") + ["\u2028", "\u0085", "\t", "\x0b", "\u0130", "a", "\u00a0"]
    if rnd.random() < 0.15:
        return "".join(rnd.choice(noise) for _ in range(rnd.randint(0, 16)))
    if logical in ("decimal", "integer"):
        text = (pick("", "-", "+", "(") + pick("", "$") + digits(0, 22) + pick("", ".", "." + digits(0, 21))
                + pick("", "", "e" + pick("", "-", "+") + digits(1, 3)) + pick("", ")"))
        return text.replace("0", ",", 1) if rnd.random() < 0.2 else text
    if logical in ("timestamp", "date"):
        if rnd.random() < 0.2:
            return (f"{pick(digits(1, 2), '2', '12')}/{pick(digits(1, 2), '29', '31')}/{pick('2024', '2023', digits(4, 4))}"
                    + pick("", f" {pick(digits(1, 2), '23', '24')}:{digits(2, 2)}" + pick("", ":" + digits(2, 2))))
        if rnd.random() < 0.1:
            return pick("", "-") + digits(10, 14)
        text = f"{pick('2024', '0000', '9999', digits(4, 4))}-{pick('01', '02', '12', '13', digits(2, 2))}-" \
               f"{pick('01', '28', '29', '30', '31', digits(2, 2))}"
        if rnd.random() < 0.8:
            text += pick("T", " ") + pick("00", "23", "24", digits(2, 2)) + ":" + pick("00", "59", "60", digits(2, 2))
            if rnd.random() < 0.8:
                text += ":" + pick("00", "59", "60", digits(2, 2)) + pick("", ".", "." + digits(1, 10))
        return text + pick("", "Z", "z", "+02:00", "-05:30", "+0200", "+02", "+18:00", "+18:01", "+02:60", "UTC")
    words = {"boolean": ["true", "t", "1", "y", "yes", "false", "f", "0", "n", "no"], "enum": ["basic", "ultimate"]}
    word = rnd.choice(words[logical])
    return "".join(c.upper() if rnd.random() < 0.5 else c for c in word) + pick("", "", " ", "\u2028", "x")


@pytest.mark.parametrize("logical", ["boolean", "integer", "decimal", "timestamp", "date", "enum"])
def test_random_text_is_canonical_alike_in_spark_and_arrow(spark, logical):
    rnd = random.Random(f"text-{logical}")
    values = [_random_text(rnd, logical) for _ in range(3000)] + [None, "", " \t "]
    enum_values = ["basic", "ultimate"] if logical == "enum" else []
    want = parsed(spark, lambda c: enc.canonical_from_text(enc.clean(c), logical, enum_values), values)
    got = canonical.canonical_from_text(canonical.clean(pa.array(values, pa.string())), logical, enum_values).to_pylist()
    assert [(v, w, g) for v, w, g in zip(values, want, got, strict=True) if w != g] == []
    assert sum(w != v for v, w in zip(values, want, strict=True)) > 300  # most values parse: the test can fail


def _any_double(rnd: random.Random) -> float:
    """A double of any magnitude (random bits), finite."""
    while True:
        value = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            return value


def _random_typed(rnd: random.Random, physical: T.DataType):
    if isinstance(physical, T.DoubleType):
        scale = 10 ** rnd.randint(-25, 25)
        return rnd.choice([rnd.randint(-10**9, 10**9) / 100, rnd.random() * scale, float(rnd.randint(-10**6, 10**6)),
                           -rnd.random() * scale, float(rnd.getrandbits(rnd.randint(50, 90))), _any_double(rnd)])
    if isinstance(physical, T.LongType):
        return rnd.choice([rnd.randint(-10**15, 10**15), rnd.randint(0, 2), rnd.randint(10**11, 10**13),
                           rnd.randint(10**14, 10**17), rnd.randint(10**17, 2**63 - 1), -rnd.randint(0, 2**63)])
    if isinstance(physical, T.DecimalType):
        return Decimal(rnd.randint(-10**20, 10**20)).scaleb(-physical.scale) if rnd.random() < 0.9 else Decimal(0)
    if isinstance(physical, T.TimestampType):
        return datetime(1, 1, 1) + (datetime(9999, 12, 31) - datetime(1, 1, 1)) * rnd.random()
    return date.fromordinal(rnd.randint(1, date(9999, 12, 31).toordinal()))


TYPED = [T.DoubleType(), T.LongType(), T.DecimalType(38, 2), T.DecimalType(38, 12), T.DecimalType(20, 0),
         T.TimestampType(), T.DateType()]


@pytest.mark.parametrize("physical", TYPED, ids=str)
def test_random_typed_values_are_canonical_alike_in_spark_and_arrow(spark, physical):
    rnd = random.Random(f"typed-{physical}")
    values = [_random_typed(rnd, physical) for _ in range(1500)] + [None]
    for logical in ("string", "boolean", "integer", "decimal", "timestamp", "date"):
        want = parsed(spark, lambda c: enc.canonical_text(c, logical, physical), values, physical)  # noqa: B023
        got = canonical.canonical_typed(pa.array(values, to_arrow_type(physical)), logical).to_pylist()
        assert [(v, w, g) for v, w, g in zip(values, want, got, strict=True) if w != g] == [], logical
