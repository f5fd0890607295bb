"""Silver typing: bronze text -> the contract's types (DOMAIN.md §3), and email / phone normalization.

Every function here is a `Column -> Column` helper built from Spark SQL functions only. Parsing
goes through `lakehouse.encodings`, with a fast path for bronze's canonical text
(docs/architecture.md): the canonical form is tried first with one cheap, strict conversion, and
anything else (non-canonical but accepted encodings, or invalid text) falls back to the full
parser, so the result is always the one `encodings.parse_value` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse import encodings as enc
from lakehouse.config import ColumnSpec, SilverSpec, TableSpec
from lakehouse.contract import MONEY, SILVER_TYPES, silver_columns, silver_schema

INT_MIN, INT_MAX = -(2**31), 2**31 - 1

# A pragmatic address check (not RFC 5322): an unquoted local part of the usual characters
# without leading, trailing or double dots, one `@`, and a domain of dot-separated labels
# (letters, digits, inner hyphens) ending in a top-level label of at least two letters.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}$"
EMAIL_MAX_LENGTH = 254

# a phone is digits and the usual separators, optionally led by `+`; letters make it invalid
_PHONE_TEXT = r"^\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*$"
E164_MIN_DIGITS, E164_MAX_DIGITS = 8, 15

_CANONICAL_INTEGER = r"^-?[1-9][0-9]{0,17}$|^0$"  # at most 18 digits: always fits a long
_CANONICAL_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
_CANONICAL_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
_CANONICAL_DATE = r"^\d{4}-\d{2}-\d{2}$"



def parse_money(text: Column) -> Column:
    """Money text in any accepted encoding -> decimal(12,2), rounded half up; null if invalid or too large."""
    fast = F.when(text.rlike(_CANONICAL_DECIMAL), text.cast(MONEY))
    return F.coalesce(fast, enc.parse_decimal(text, MONEY.precision, MONEY.scale))


def integer_text(text: Column) -> Column:
    """Integer text in any accepted encoding -> plain decimal text (see `encodings.decimal_text`); null if invalid.

    The first half of `parse_int`: `int_from_text` finishes it. The job runs them in two
    projections so the large decimal parser is generated once per column, not once per use.
    """
    return F.coalesce(F.when(text.rlike(_CANONICAL_INTEGER), text), enc.decimal_text(text))


def int_from_text(number: Column) -> Column:
    """Plain decimal text -> int when it is integral and within the int range, else null."""
    return F.when(number.rlike(r"^-?[0-9]+$"), number.cast("int"))  # a string -> int cast overflows to null


def parse_int(text: Column) -> Column:
    """Integer text in any accepted encoding -> int; null if invalid or outside the int range."""
    return int_from_text(integer_text(text))


def parse_bool(text: Column) -> Column:
    """Boolean text in any accepted encoding -> boolean; null if invalid."""
    return (
        F.when(text == "true", F.lit(True))
        .when(text == "false", F.lit(False))
        .otherwise(enc.parse_boolean(text))
    )


def parse_utc_timestamp(text: Column) -> Column:
    """Timestamp text in any accepted encoding -> timestamp (UTC); null if invalid."""
    # canonical text is UTC: cast without its `Z` (sessions run in UTC, see session.py), since
    # Spark's cast compiles two regular expressions per value to read a zone id
    fast = F.when(text.rlike(_CANONICAL_TIMESTAMP), F.substring(text, 1, 26).cast("timestamp"))
    return F.coalesce(fast, enc.parse_timestamp(text))


def parse_day(text: Column) -> Column:
    """Date text in any accepted encoding -> date; null if invalid."""
    fast = F.when(text.rlike(_CANONICAL_DATE), text.cast("date"))
    return F.coalesce(fast, enc.parse_date(text))


def parse_choice(text: Column, values: Sequence[str]) -> Column:
    """Enumeration text (any case) -> its lower-case value; unknown values -> null."""
    if not values:
        raise ValueError("an enumeration needs at least one allowed value")
    return F.when(text.isin(*values), text).otherwise(enc.parse_enum(text, values))


def parse_text(text: Column) -> Column:
    """Free text -> trimmed text; empty or blank text -> null."""
    # already trimmed (first and last characters above the ASCII space): no regex needed
    trimmed = (F.ascii(text) > 32) & (F.ascii(F.substring(text, -1, 1)) > 32)
    return F.when(trimmed, text).otherwise(enc.clean(text))


def parse_silver(text: Column, logical_type: str, values: Sequence[str] = ()) -> Column:
    """Bronze text -> the silver type of `logical_type` (see SILVER_TYPES); null when it does not parse."""
    if logical_type == "string":
        return parse_text(text)
    if logical_type == "boolean":
        return parse_bool(text)
    if logical_type == "integer":
        return parse_int(text)
    if logical_type == "decimal":
        return parse_money(text)
    if logical_type == "timestamp":
        return parse_utc_timestamp(text)
    if logical_type == "date":
        return parse_day(text)
    if logical_type == "enum":
        return parse_choice(text, values)
    raise ValueError(f"unknown logical type {logical_type!r}; expected one of {sorted(SILVER_TYPES)}")


def normalize_email(text: Column) -> Column:
    """Email text -> trimmed, lower-cased address; null when it is not a valid address (EMAIL_PATTERN)."""
    email = F.lower(enc.clean(text))
    return F.when(email.rlike(EMAIL_PATTERN) & (F.length(email) <= EMAIL_MAX_LENGTH), email)


def normalize_phone(text: Column, country_code: str | None = "1", national_digits: int = 10) -> Column:
    """Phone text -> digits with a leading `+` and country code where one is known; null when invalid.

    The text may hold digits and the separators space ( ) . - / only, optionally led by `+`.
    - `+` or `00` first: an international number, `+` and its 8 to 15 digits (E.164);
    - otherwise, with a default `country_code`: exactly `national_digits` digits get `+<code>`
      (`(201) 555-0123` -> `+12015550123`), and the code followed by `national_digits` digits
      gets a `+` (`1-201-555-0123` -> `+12015550123`), and a trunk `0` followed by
      `national_digits` digits gets it replaced by `+<code>` (code 44: `020 7946 0958` ->
      `+442079460958`); any other length is invalid;
    - without a default country code: 8 to 15 digits are kept as digits only (no `+`).
    """
    if country_code is not None and not (country_code.isdigit() and not country_code.startswith("0")):
        raise ValueError(f"country_code must be digits without a leading 0, e.g. '1', not {country_code!r}")
    if not 4 <= national_digits <= 14:
        raise ValueError(f"national_digits must be within 4..14, not {national_digits}")
    value = enc.clean(text)
    digits = F.regexp_replace(value, r"[^0-9]", "")
    n_digits = F.length(digits)
    with_plus = value.startswith("+")
    with_00 = ~with_plus & digits.startswith("00")
    international = F.when(with_plus, digits).when(with_00, F.substring(digits, 3, 64))
    e164 = F.when(
        F.length(international).between(E164_MIN_DIGITS, E164_MAX_DIGITS) & ~international.startswith("0"),
        F.concat(F.lit("+"), international),
    )
    if country_code is None:
        national = F.when(n_digits.between(E164_MIN_DIGITS, E164_MAX_DIGITS), digits)
    else:
        national = (
            F.when(n_digits == national_digits, F.concat(F.lit(f"+{country_code}"), digits))
            .when(
                (n_digits == national_digits + len(country_code)) & digits.startswith(country_code),
                F.concat(F.lit("+"), digits),
            )
            .when(
                (n_digits == national_digits + 1) & digits.startswith("0"),  # trunk prefix: 020 7946 0958
                F.concat(F.lit(f"+{country_code}"), F.substring(digits, 2, 64)),
            )
        )
    return F.when(value.rlike(_PHONE_TEXT), F.when(with_plus | with_00, e164).otherwise(national))


def derived_key(key: Column, fallback: Sequence[Column]) -> Column:
    """`key` when present, else `~` and 20 hex digits of SHA-256 over the lower-cased, trimmed
    `fallback` values (null-safe: a null and an empty value differ from any text).

    House accounts without an account number are told apart by lower(account name) and
    lower(email), as bronze deduplicates them; the `~` prefix keeps the derived keys apart from
    account numbers.
    """
    if not fallback:
        raise ValueError("derived_key needs at least one fallback column")
    parts = [F.coalesce(F.concat(F.lit("v"), F.lower(enc.clean(c))), F.lit("n")) for c in fallback]
    digest = F.substring(F.sha2(F.concat_ws("\u001f", *parts), 256), 1, 20)
    return F.coalesce(enc.clean(key), F.concat(F.lit("~"), digest))


# ---------------------------------------------------------------- DataFrame transforms




def silver_value(text: Column, column: ColumnSpec, silver: SilverSpec) -> Column:
    """One bronze text column -> its silver value: parsed as its logical type, then normalized."""
    if column.normalize == "email":
        return normalize_email(text)
    if column.normalize == "phone":
        return normalize_phone(text, silver.phone_country_code, silver.phone_national_digits)
    return parse_silver(text, column.type, column.values)


def with_silver_values(spec: TableSpec) -> Callable[[DataFrame], DataFrame]:
    """Transform adding the typed, normalized silver columns (and the derived key column) to bronze.

    Bronze columns are kept under their source names; a contract column missing from `bronze`
    reads as null. The silver names must not collide with bronze column names.
    """

    def transform(bronze: DataFrame) -> DataFrame:
        present = set(bronze.columns)
        clash = [n for n in silver_schema(spec).names if n in present]
        if clash:
            raise ValueError(f"{spec.entity}: silver column names {clash} are also bronze column names")

        def text(name: str) -> Column:
            return F.col(name) if name in present else F.lit(None).cast("string")

        def value(c: ColumnSpec) -> Column:
            # integers in two steps (see integer_text); the second step is in the select below
            return integer_text(text(c.name)) if c.type == "integer" and not c.normalize else silver_value(
                text(c.name), c, spec.silver
            )

        values = [value(c).alias(c.silver) for c in silver_columns(spec)]
        if spec.silver.key_column:
            if len(spec.merge_key) != 1:
                raise ValueError(f"{spec.entity}: key_column needs a single-column merge_key, not {spec.merge_key}")
            fallback = [text(n) for n in spec.null_key_fallback] or [text(spec.merge_key[0])]
            key = derived_key(text(spec.merge_key[0]), fallback).alias(spec.silver.key_column)
            values.insert(0, key)
        typed = bronze.select("*", *values)
        integers = {c.silver: int_from_text(F.col(c.silver)) for c in silver_columns(spec) if c.type == "integer"}
        return typed.withColumns(integers) if integers else typed

    return transform
