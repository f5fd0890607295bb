"""Every accepted encoding of DOMAIN.md §1, and every invalid form, through the shared parsers."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import encodings as enc


def parsed(spark, fn, values, in_type=T.StringType()):
    """Apply a Column -> Column function to each value; returns the results in order."""
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], T.StructType(
        [T.StructField("i", T.IntegerType()), T.StructField("v", in_type)]))
    return [r["out"] for r in df.select("i", fn(F.col("v")).alias("out")).orderBy("i").collect()]


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


INTEGERS = [
    ("42", 42), ("-7", -7), ("+3", 3), ("007", 7), ("12.0", 12), ("1.2E3", 1200), (" 5 ", 5),
    ("12.5", None), ("abc", None), ("", None), ("99999999999999999999", None), ("1,000", 1000),
]


def test_parse_integer(spark):
    assert parsed(spark, enc.parse_integer, [v for v, _ in INTEGERS]) == [e for _, e in INTEGERS]


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


DATES = [
    ("2024-03-01", date(2024, 3, 1)), ("03/01/2024", date(2024, 3, 1)), ("3/1/2024", date(2024, 3, 1)),
    ("2024-03-01T23:30:00-02:00", date(2024, 3, 2)), ("2024-02-30", None), ("March 1", None), ("", None),
]


def test_parse_date(spark):
    assert parsed(spark, enc.parse_date, [v for v, _ in DATES]) == [e for _, e in DATES]


def test_parse_enum_is_case_insensitive(spark):
    out = parsed(spark, lambda c: enc.parse_enum(c, ["basic", "deluxe"]), ["Basic", " DELUXE ", "gold", None])
    assert out == ["basic", "deluxe", None, None]


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
def test_canonical_text_per_physical_type(spark, logical, physical, values, expected):
    enum_values = ["basic", "deluxe"] if logical == "enum" else []
    out = parsed(spark, lambda c: enc.canonical_text(c, logical, physical, enum_values), values, physical)
    assert out == expected


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
