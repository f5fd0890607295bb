"""Merge keys, the null-key policy and the dedup order of bronze rows (DOMAIN.md §2).

Order of rows of one key, latest first: `_sequence` (the sequence column parsed as a timestamp;
null, so lowest, when it is missing or does not parse), then `_export_id`, then `_source_file`.
Rows still tied (same file, same key, same sequence) are told apart by a hash of their values,
so the winner never depends on input order, partitioning or the run.

Entities with `allow_null_merge_keys` (house_accounts) get one `_fallback_<column>` column per
`null_key_fallback` column: the lower-cased value when the merge key is null, else null. The
table-layer merge key is then `merge_key + fallback columns`, compared null-safely, which is
"the account number when present, else (lower(name), lower(email))" without a synthetic key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import TableSpec
from lakehouse.contract import (
    EXPORT_ID,
    INGESTED_AT,
    REASON,
    RESCUED,
    RUN_ID,
    SEQUENCE,
    SOURCE_FILE,
    STORE_ID,
    bronze_quarantine_schema,
    bronze_schema,
    fallback_column,
)

ORDER_BY = (SEQUENCE, EXPORT_ID, SOURCE_FILE)

NULL_MERGE_KEY = "null_merge_key"
MALFORMED_RECORD = "malformed_record"

# the canonical timestamp text (encodings.TIMESTAMP_TEXT_FORMAT) with the Z read as an offset,
# so parsing does not depend on the session time zone
_SEQUENCE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"



def merge_keys(spec: TableSpec) -> list[str]:
    """The table-layer merge key of the entity: the contract key plus any fallback columns."""
    keys = list(spec.merge_key)
    if spec.allow_null_merge_keys:
        keys += [fallback_column(c) for c in spec.null_key_fallback]
    return keys




def sequence(spec: TableSpec) -> Column:
    """The sequence column's canonical text as a timestamp; null when absent or unparseable."""
    if not spec.sequence_column:
        return F.lit(None).cast(T.TimestampType())
    return F.try_to_timestamp(F.col(spec.sequence_column), F.lit(_SEQUENCE_FORMAT))


def key_is_null(spec: TableSpec) -> Column:
    """True when a merge-key column is null (the row has no primary identity)."""
    missing: Column = F.lit(False)
    for key in spec.merge_key:
        missing = missing | F.col(key).isNull()
    return missing


def with_merge_keys(spec: TableSpec, run_id: str, ingested_at: datetime) -> Callable[[DataFrame], DataFrame]:
    """Add fallback key columns, `_sequence`, `_reason` and the run's lineage to staged rows.

    `_reason` is `malformed_record` for records that could not be split into columns and
    `null_merge_key` for rows without an identity (no merge key and, where the entity allows
    null keys, no fallback value either); null for rows that go on to the merge.
    """

    def transform(df: DataFrame) -> DataFrame:
        missing = key_is_null(spec)
        fallbacks = []
        no_identity = missing
        if spec.allow_null_merge_keys:
            fallbacks = [F.when(missing, F.lower(F.col(c))).alias(fallback_column(c)) for c in spec.null_key_fallback]
            no_identity = missing
            for c in spec.null_key_fallback:
                no_identity = no_identity & F.col(c).isNull()
        reason = (
            F.when(F.col("_malformed"), F.lit(MALFORMED_RECORD))
            .when(no_identity, F.lit(NULL_MERGE_KEY))
            .otherwise(F.lit(None).cast("string"))
        )
        return df.select(
            "*",
            *fallbacks,
            sequence(spec).alias(SEQUENCE),
            F.lit(run_id).alias(RUN_ID),
            F.lit(ingested_at).cast(T.TimestampType()).alias(INGESTED_AT),
            reason.alias(REASON),
        )

    return transform


def _content_hash(df: DataFrame, spec: TableSpec) -> Column:
    """A hash of a row's values and origin, but not of the run that read it."""
    cols = [F.col(c.name) for c in spec.columns]
    return F.xxhash64(*cols, F.to_json(F.col(RESCUED)), F.col(STORE_ID), F.col(SOURCE_FILE), F.col(EXPORT_ID))


def latest_per_key(spec: TableSpec) -> Callable[[DataFrame], DataFrame]:
    """One row per merge key (nulls compare equal): the latest by `ORDER_BY`, then a content hash."""

    def transform(df: DataFrame) -> DataFrame:
        keys = merge_keys(spec)
        window = Window.partitionBy(*[F.col(k) for k in keys]).orderBy(
            *[F.col(c).desc_nulls_last() for c in ORDER_BY], F.col("__tie").desc()
        )
        return (
            df.withColumn("__tie", _content_hash(df, spec))
            .withColumn("__rank", F.row_number().over(window))
            .filter(F.col("__rank") == 1)
            .drop("__tie", "__rank")
        )

    return transform


def bronze_rows(spec: TableSpec) -> Callable[[DataFrame], DataFrame]:
    """Rows bound for the merge (no `_reason`), in the bronze columns."""

    def transform(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNull()).select(*bronze_schema(spec).names)

    return transform


def quarantine_rows(spec: TableSpec) -> Callable[[DataFrame], DataFrame]:
    """Rows bronze cannot merge (with a `_reason`), in the quarantine columns."""

    def transform(df: DataFrame) -> DataFrame:
        return df.filter(F.col(REASON).isNotNull()).select(*bronze_quarantine_schema(spec).names)

    return transform
