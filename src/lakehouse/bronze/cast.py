"""Per-file drift-safe casting: map each file's columns to the contract and bring values to canonical text.

Every source format ends in the same *staged* columns (`staged_schema(spec)`): one canonical text
column per contract column (`lakehouse.encodings.canonical_text`), `_rescued` (unknown columns,
name lower-cased and trimmed -> trimmed text), `_file_key` (Spark's path of the file the row came
from), `_malformed` (the record could not be split into columns) and `_bad_text` (the record holds
bytes that are not UTF-8). It happens in two steps. Per group of files, *before* the union, each
reader turns its columns into a text stage (`text_schema(spec)`): the text of every contract
column, not yet trimmed, and whether that text is canonical already (`encodings.physical_text`),
because the same contract column may be a string in one file and a timestamp, a double or a
binary in the next. After the union, `canonical_values` cleans every text and parses the text
that is not canonical yet: those expressions are large, and are built and compiled once per
entity rather than once per group of files. Spark SQL functions only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import TableSpec
from lakehouse.encodings import WHITE_SPACE, canonical_from_text, clean, physical_text

FILE_KEY = "_file_key"
RESCUED = "_rescued"
MALFORMED = "_malformed"
BAD_TEXT = "_bad_text"
CORRUPT_RECORD = "_corrupt_record"  # CSV: the raw record Spark could not split; JSON: the raw line
FILE_COLUMNS = "_file_columns"  # CSV: per file, 1-based position of each contract column (null if absent)
FILE_RESCUED_KEYS = "_file_rescued_keys"  # CSV: per file, normalized names of the unknown columns
FILE_RESCUED_POS = "_file_rescued_pos"  # CSV: per file, their 1-based positions

RESCUED_TYPE = T.MapType(T.StringType(), T.StringType(), True)
REPLACEMENT_CHAR = "\ufffd"  # what Spark's CSV reader puts where bytes are not UTF-8


def normalize_name(name: str) -> str:
    """A column name as the contract compares it: surrounding white space removed, lower case."""
    return name.strip(WHITE_SPACE).lower()


def _normalize_name_col(name: Column) -> Column:
    """`normalize_name` in Spark SQL (same characters trimmed), for use inside lambdas.

    Lambdas of higher-order functions run interpreted, node by node; there one `btrim` costs less
    than `clean`'s dozen prefix/suffix checks, which only pay off in generated code.
    """
    return F.lower(F.btrim(name, F.lit(WHITE_SPACE)))


def _clean_in_lambda(value: Column) -> Column:
    """`encodings.clean` for use inside lambdas (see `_normalize_name_col`)."""
    return F.nullif(F.btrim(value, F.lit(WHITE_SPACE)), F.lit(""))


def staged_schema(spec: TableSpec) -> T.StructType:
    """The columns `canonical_values` produces (and `read.staged_frame` returns), in order."""
    return T.StructType(
        [T.StructField(c.name, T.StringType(), True) for c in spec.columns]
        + [
            T.StructField(RESCUED, RESCUED_TYPE, True),
            T.StructField(FILE_KEY, T.StringType(), True),
            T.StructField(MALFORMED, T.BooleanType(), True),
            T.StructField(BAD_TEXT, T.BooleanType(), True),
        ]
    )


def text_column(i: int) -> str:
    """Text-stage column of the i-th contract column: its text, not yet cleaned (`encodings.clean`)."""
    return f"__t{i}"


def done_column(i: int) -> str:
    """Text-stage flag of the i-th contract column: the text is canonical already."""
    return f"__k{i}"


def text_schema(spec: TableSpec) -> T.StructType:
    """The columns every format's reader produces before the shared canonical cast, in order."""
    return T.StructType(
        [
            f
            for i in range(len(spec.columns))
            for f in (
                T.StructField(text_column(i), T.StringType(), True),
                T.StructField(done_column(i), T.BooleanType(), True),
            )
        ]
        + [
            T.StructField(RESCUED, RESCUED_TYPE, True),
            T.StructField(FILE_KEY, T.StringType(), True),
            T.StructField(MALFORMED, T.BooleanType(), True),
            T.StructField(BAD_TEXT, T.BooleanType(), True),
        ]
    )


def canonical_values(spec: TableSpec) -> Callable[[DataFrame], DataFrame]:
    """Text stage -> staged columns: every contract column's text cleaned, and made canonical where it is not yet.

    Applied once, above the union of all readers, so the (large) cleaning and parsing expressions
    are planned and compiled once per entity rather than once per group of files. The text is
    cleaned in a projection of its own: `clean` and the parsers each look at their input several
    times, and Spark does not merge two projections where that would repeat an expensive
    expression. A never-true `spark_partition_id() < 0` term makes each projection
    non-deterministic, which keeps Spark's optimizer from copying it into every branch of the union.
    """

    def transform(df: DataFrame) -> DataFrame:
        texts = [text_column(i) for i in range(len(spec.columns))]
        cleaned = {t: clean(F.col(t)) for t in texts}
        cleaned[texts[0]] = F.when(_barrier(), F.col(texts[0])).otherwise(cleaned[texts[0]])
        df = df.withColumns(cleaned)
        barrier = _barrier()
        out = []
        for i, col in enumerate(spec.columns):
            text, done = F.col(text_column(i)), F.col(done_column(i))
            if col.type == "string":
                value = text
            else:
                value = F.when(done | barrier, text).otherwise(
                    canonical_from_text(text, col.type, col.values)
                )
                barrier = F.lit(False)  # one non-deterministic term is enough
            out.append(value.alias(col.name))
        return df.select(*out, RESCUED, FILE_KEY, MALFORMED, BAD_TEXT)

    return transform


def _barrier() -> Column:
    """A never-true, non-deterministic condition (see `canonical_values`)."""
    return F.spark_partition_id() < 0


def duplicate_names(names: Sequence[str]) -> list[str]:
    """Names that collide once normalized (`sAmount` and ` SAMOUNT `): the file is ambiguous."""
    seen: dict[str, str] = {}
    dups = []
    for name in names:
        key = normalize_name(name)
        if key in seen:
            dups.append(f"{seen[key]!r}/{name!r}")
        else:
            seen[key] = name
    return dups


def _rescued_map(keys: Sequence[str], values: Sequence[Column]) -> Column:
    """A map of the non-null `values` by `keys` (empty when there are none)."""
    if not keys:
        return F.create_map().cast(RESCUED_TYPE)
    pairs = F.map_from_arrays(F.array(*[F.lit(k) for k in keys]), F.array(*values))
    return F.map_filter(pairs, lambda _k, v: v.isNotNull())


# ---------------------------------------------------------------- parquet: typed columns


def text_typed(spec: TableSpec, raw: DataFrame) -> DataFrame:
    """Text stage of a typed read (Parquet): every field turned to text by its own physical type.

    `raw` holds the fields of a group of files read with one schema (names as written, any case
    and padding) plus `_file_key`. A contract column may appear under several spellings in a
    group (one per file); each file has at most one of them, so they are coalesced.
    """
    contract = {c.name.lower(): i for i, c in enumerate(spec.columns)}
    fields: dict[int, list[int]] = {i: [] for i in range(len(spec.columns))}
    rescued: dict[str, list[int]] = {}
    first = []  # one text and one flag column per field
    for j, fld in enumerate(f for f in raw.schema.fields if f.name != FILE_KEY):
        key = normalize_name(fld.name)
        i = contract.get(key)
        col = raw[f"`{fld.name}`"]
        if i is not None:
            logical = spec.columns[i]
            text, done = physical_text(col, logical.type, fld.dataType, cleaned=False)  # see canonical_values
            fields[i].append(j)
        else:
            text, done = physical_text(col, "string", fld.dataType)
            rescued.setdefault(key, []).append(j)
        first += [text.alias(f"__a{j}"), done.alias(f"__d{j}")]
    staged = raw.select(*first, FILE_KEY)
    out = []
    for i, js in fields.items():
        if not js:
            text, done = F.lit(None).cast("string"), F.lit(True)
        elif len(js) == 1:
            text, done = F.col(f"__a{js[0]}"), F.col(f"__d{js[0]}")
        else:
            text = F.coalesce(*[F.col(f"__a{j}") for j in js])
            done = F.coalesce(*[F.when(F.col(f"__a{j}").isNotNull(), F.col(f"__d{j}")) for j in js], F.lit(True))
        out += [text.alias(text_column(i)), done.alias(done_column(i))]
    keys = sorted(rescued)
    values = [F.coalesce(*[F.col(f"__a{j}") for j in rescued[k]]) for k in keys]
    return staged.select(
        *out,
        _rescued_map(keys, values).alias(RESCUED),
        F.col(FILE_KEY),
        F.lit(False).alias(MALFORMED),
        F.lit(False).alias(BAD_TEXT),
    )


# ---------------------------------------------------------------- CSV: positional text


def csv_layout(spec: TableSpec, header: Sequence[str]) -> tuple[list[int | None], list[str], list[int]]:
    """(1-based position of each contract column or None, rescued keys, their positions) of a header."""
    where = {normalize_name(name): i + 1 for i, name in enumerate(header)}
    contract = {c.name.lower() for c in spec.columns}
    positions = [where.get(c.name.lower()) for c in spec.columns]
    rescued = [
        (normalize_name(name) or f"_c{i}", i + 1)
        for i, name in enumerate(header)
        if normalize_name(name) not in contract
    ]
    return positions, [k for k, _ in rescued], [p for _, p in rescued]


def text_csv(spec: TableSpec, raw: DataFrame, width: int) -> DataFrame:
    """Text stage of a positional CSV read of files with `width` columns.

    `raw` holds `c0`..`c<width-1>` (text), `_corrupt_record`, `_file_key` and, joined per file,
    `_file_columns` (position of each contract column) and `_file_rescued_keys`/`_pos`.
    """
    staged = raw.select(
        F.array(*[F.col(f"c{i}") for i in range(width)]).alias("__v"),
        CORRUPT_RECORD,
        FILE_KEY,
        FILE_COLUMNS,
        FILE_RESCUED_KEYS,
        FILE_RESCUED_POS,
    )
    values = F.col("__v")
    # each contract column's raw value as a column of its own: the U+FFFD check below looks at it again
    picked = staged.select(
        *[F.element_at(values, F.element_at(F.col(FILE_COLUMNS), i + 1)).alias(f"__r{i}") for i in range(len(spec.columns))],
        "__v",
        CORRUPT_RECORD,
        FILE_KEY,
        FILE_RESCUED_KEYS,
        FILE_RESCUED_POS,
    )
    out = []
    for i, col in enumerate(spec.columns):  # cleaned in `canonical_values`
        out += [F.col(f"__r{i}").alias(text_column(i)), F.lit(col.type == "string").alias(done_column(i))]
    # most files have no unknown columns: the (interpreted) map building runs only for those that do
    rescued = F.when(
        F.size(F.col(FILE_RESCUED_POS)) > 0,
        F.map_filter(
            F.map_from_arrays(
                F.col(FILE_RESCUED_KEYS),
                F.transform(F.col(FILE_RESCUED_POS), lambda p: _clean_in_lambda(F.element_at(values, p))),
            ),
            lambda _k, v: v.isNotNull(),
        ),
    ).otherwise(F.create_map().cast(RESCUED_TYPE))
    malformed = F.col(CORRUPT_RECORD).isNotNull()
    rescued = F.when(
        malformed, F.map_concat(rescued, F.create_map(F.lit(CORRUPT_RECORD), F.col(CORRUPT_RECORD)))
    ).otherwise(rescued)
    texted = picked.select(*out, rescued.alias(RESCUED), F.col(FILE_KEY), malformed.alias(MALFORMED), CORRUPT_RECORD)
    # every value of a record is a contract column's text or a rescued value (white space trimmed
    # keeps U+FFFD), so looking at those finds what the reader could not decode
    bad_text = F.lit(False)
    for i in range(len(spec.columns)):
        bad_text = bad_text | F.coalesce(F.col(text_column(i)).contains(REPLACEMENT_CHAR), F.lit(False))
    bad_text = (
        bad_text
        | F.coalesce(F.col(CORRUPT_RECORD).contains(REPLACEMENT_CHAR), F.lit(False))
        | ((F.size(RESCUED) > 0) & F.exists(F.map_values(RESCUED), lambda v: v.contains(REPLACEMENT_CHAR)))
    )
    return texted.select(*text_schema(spec).names[:-1], bad_text.alias(BAD_TEXT))


# ---------------------------------------------------------------- JSON lines: one map per line


def text_json_lines(spec: TableSpec, raw: DataFrame) -> DataFrame:
    """Text stage of JSON lines read as text (`value`, `_file_key`); blank lines are dropped.

    Each line is parsed into a map of member -> text (numbers, booleans and nested values as
    their JSON text), so member names may differ in case and padding per line. A line that is
    not a JSON object, or names one column twice, is `_malformed` and keeps its text in
    `_rescued['_corrupt_record']`.
    """
    line = F.col("value")
    line = F.when(line.startswith("\ufeff"), F.expr("substring(value, 2)")).otherwise(line)
    parsed = (
        raw.select(line.alias("value"), F.col(FILE_KEY))
        .filter(clean(F.col("value")).isNotNull())
        .select("value", FILE_KEY, F.from_json(F.col("value"), T.MapType(T.StringType(), T.StringType())).alias("_m"))
        .select(
            "value",
            FILE_KEY,
            "_m",
            F.transform(F.map_keys("_m"), _normalize_name_col).alias("_k"),
            F.map_values("_m").alias("_v"),
        )
    )
    keys, vals = F.col("_k"), F.col("_v")
    malformed = F.col("_m").isNull() | (F.size(F.array_distinct(keys)) < F.size(keys))
    positions = [F.array_position(keys, c.name.lower()) for c in spec.columns]
    # each contract column's raw value as a column of its own (cleaned in `canonical_values`)
    parsed = parsed.select(
        "value",
        FILE_KEY,
        "_m",
        "_k",
        malformed.alias("_malformed_line"),
        *[F.when(pos > 0, F.element_at(vals, pos.cast("int"))).alias(f"__r{i}") for i, pos in enumerate(positions)],
        sum((pos > 0).cast("int") for pos in positions).alias("_known"),
    )
    malformed = F.col("_malformed_line")
    out = []
    for i, col in enumerate(spec.columns):  # cleaned in `canonical_values`
        text = F.when(~malformed, F.col(f"__r{i}"))
        out += [text.alias(text_column(i)), F.lit(col.type == "string").alias(done_column(i))]
    contract = F.array(*[F.lit(c.name.lower()) for c in spec.columns])
    unknown = F.map_filter(
        F.col("_m"), lambda k, v: ~F.array_contains(contract, _normalize_name_col(k)) & _clean_in_lambda(v).isNotNull()
    )
    rescued = F.transform_values(
        F.transform_keys(unknown, lambda k, _v: _normalize_name_col(k)), lambda _k, v: _clean_in_lambda(v)
    )
    # most lines name only contract columns: the (interpreted) map building runs only for those that do not
    rescued = F.when(F.size(keys) > F.col("_known"), rescued).otherwise(F.create_map().cast(RESCUED_TYPE))
    rescued = F.when(malformed, F.create_map(F.lit(CORRUPT_RECORD), F.col("value"))).otherwise(rescued)
    bad_text = F.encode(F.col("value"), "UTF-8") != F.col("value").cast("binary")
    return parsed.select(*out, rescued.alias(RESCUED), F.col(FILE_KEY), malformed.alias(MALFORMED), bad_text.alias(BAD_TEXT))
