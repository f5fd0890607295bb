"""Merge planning shared by both formats: validate arguments, deduplicate the source, classify it against the table.

`merge(name, df, keys, order_by)` of either store first keeps one row per key of the source
(`dedupe_latest`), then marks each kept row `insert`, `update` or `unchanged` against the table's
key and order columns (`classify_merge_source`), and takes its counts from that small frame
(`merge_counts`). Each format then applies the rows that change its own way.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

# internal column names; user columns must not start with this prefix
INTERNAL_PREFIX = "__lh_"
ACTION = f"{INTERNAL_PREFIX}action"  # insert | update | unchanged, per deduplicated source row
GROUP_SIZE = f"{INTERNAL_PREFIX}n"  # source rows offered for the row's key (1 = no duplicates)
TARGET_FILE = f"{INTERNAL_PREFIX}file"  # the file a target row was read from (classify_merge_source)
TARGET_FILES = f"{INTERNAL_PREFIX}files"  # classify_merge_source(target_file=...): target files holding the key
# a deduplicated merge source up to this many rows is broadcast to the target's scan: the target's
# rows are then matched where they are read, not shuffled (an incremental merge's usual case)
BROADCAST_SOURCE_ROWS = 1_000_000


def check_merge_args(
    df: DataFrame, keys: Sequence[str], order_by: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Validate merge keys and order columns against `df`; returns them as lists."""
    if isinstance(keys, str) or isinstance(order_by, str):
        raise TypeError(
            "keys and order_by must be sequences of column names, e.g. ['sTicketId'], not a string"
        )
    keys, order_by = list(keys), list(order_by)
    if not keys:
        raise ValueError("merge needs at least one key column")
    if len(set(keys)) != len(keys):
        raise ValueError(f"merge keys {keys} repeat a column")
    missing = [c for c in (*keys, *order_by) if c not in df.columns]
    if missing:
        raise ValueError(f"merge columns {missing} are not in the source columns {df.columns}")
    internal = [c for c in df.columns if c.startswith(INTERNAL_PREFIX)]
    if internal:
        raise ValueError(
            f"source columns {internal} use the reserved prefix {INTERNAL_PREFIX!r}; rename them"
        )
    return keys, order_by


def orders_later(source: Sequence[Column], target: Sequence[Column]) -> Column:
    """True when the `source` values order strictly after the `target` values.

    Compares left to right, nulls lowest; never null. Empty sequences compare equal (False).
    """
    later: Column = F.lit(False)
    for src, tgt in reversed(list(zip(source, target, strict=True))):
        greater = (src.isNotNull() & tgt.isNull()) | F.coalesce(src > tgt, F.lit(False))
        later = greater | (src.eqNullSafe(tgt) & later)
    return later


def null_safe_match(
    left: DataFrame, right: DataFrame, left_cols: Sequence[str], right_cols: Sequence[str]
) -> Column:
    """Join condition `left.a <=> right.b AND ...` (nulls compare equal)."""
    cond: Column | None = None
    for lcol, rcol in zip(left_cols, right_cols, strict=True):
        term = left[lcol].eqNullSafe(right[rcol])
        cond = term if cond is None else cond & term
    assert cond is not None
    return cond


def _hashable(df: DataFrame) -> list[Column]:
    """Every column as an expression xxhash64 accepts (maps, which it rejects, as JSON text)."""

    def has_map(dtype: T.DataType) -> bool:
        if isinstance(dtype, T.MapType):
            return True
        if isinstance(dtype, T.ArrayType):
            return has_map(dtype.elementType)
        if isinstance(dtype, T.StructType):
            return any(has_map(f.dataType) for f in dtype.fields)
        return False

    return [F.to_json(df[f.name]) if has_map(f.dataType) else df[f.name] for f in df.schema.fields]


def dedupe_latest(df: DataFrame, keys: Sequence[str], order_by: Sequence[str]) -> DataFrame:
    """One row per key (nulls compare equal): the row ordering last by `order_by`, nulls lowest.

    Rows tied on `order_by` are broken by a hash of the whole row, so the winner does not depend
    on input order or partitioning. Adds `GROUP_SIZE`: how many rows the key had.
    """
    tie = f"{INTERNAL_PREFIX}tie"
    rank = f"{INTERNAL_PREFIX}rank"
    by_key = Window.partitionBy(*[df[k] for k in keys])
    latest_first = by_key.orderBy(*[df[c].desc_nulls_last() for c in order_by], F.col(tie).desc())
    return (
        df.withColumn(tie, F.xxhash64(*_hashable(df)))
        .withColumn(rank, F.row_number().over(latest_first))
        .withColumn(GROUP_SIZE, F.count(F.lit(1)).over(by_key))
        .filter(F.col(rank) == 1)
        .drop(tie, rank)
    )


def broadcastable(deduped: DataFrame) -> bool:
    """True when a (persisted) deduplicated merge source is small enough to broadcast (`BROADCAST_SOURCE_ROWS`)."""
    return deduped.count() <= BROADCAST_SOURCE_ROWS


def classify_merge_source(
    deduped: DataFrame,
    target: DataFrame | None,
    keys: Sequence[str],
    order_by: Sequence[str],
    broadcast_source: bool = False,
    target_file: str | None = None,
) -> DataFrame:
    """Mark each row of a `dedupe_latest` source with `ACTION` against `target`.

    `insert`: the key is not in the target; `update`: the row orders strictly later than every
    target row of its key; `unchanged`: it does not. Only the key and order columns of the target
    are read, and the target side of the join only keeps keys present in the source. `deduped`
    is used twice: persist it first when it is expensive to compute. With `broadcast_source` the
    source's keys are broadcast, so the target is matched where it is read instead of shuffled.
    With `target_file` (a column of `target` naming the file each row was read from), each row
    also gets `TARGET_FILES`: the files holding its key (null for an insert), so a copy-on-write
    merge knows which files to rewrite without reading the target's keys a second time.
    """
    if target is None:
        return deduped.withColumn(ACTION, F.lit("insert"))
    tgt_names = [f"{INTERNAL_PREFIX}t{i}" for i in range(len(keys) + len(order_by))]
    tgt_cols = []
    for col, alias in zip((*keys, *order_by), tgt_names, strict=True):
        if col in target.columns:
            tgt_cols.append(target[col].alias(alias))
        else:  # an order column the target does not have yet: null, so it orders lowest
            tgt_cols.append(F.lit(None).cast(deduped.schema[col].dataType).alias(alias))
    tgt = target.select(*tgt_cols, *([target[target_file].alias(TARGET_FILE)] if target_file else []))
    src = deduped.select(*keys, *order_by) if order_by else deduped.select(*keys)
    src = src.toDF(*[f"{INTERNAL_PREFIX}s{i}" for i in range(len(src.columns))])
    src_keys = src.columns[: len(keys)]
    src_order = [src[c] for c in src.columns[len(keys) :]] if order_by else []
    if broadcast_source:
        src = F.broadcast(src)
    # source keys that are in the target, and whether the source row orders later than all their rows
    later = f"{INTERNAL_PREFIX}later"
    matched = (
        src.join(tgt, null_safe_match(src, tgt, src_keys, tgt_names[: len(keys)]), how="inner")
        .withColumn(later, orders_later(src_order, [tgt[c] for c in tgt_names[len(keys) :]]).cast("int"))
        .groupBy(*src_keys)
        .agg(F.min(later).alias(later), *([F.collect_set(TARGET_FILE).alias(TARGET_FILES)] if target_file else []))
    )
    return (
        deduped.join(matched, null_safe_match(deduped, matched, keys, src_keys), how="left")
        .withColumn(
            ACTION,
            F.when(F.col(later).isNull(), F.lit("insert"))
            .when(F.col(later) == 1, F.lit("update"))
            .otherwise(F.lit("unchanged")),
        )
        .drop(later, *src_keys)
    )


def merge_counts(classified: DataFrame) -> dict[str, int]:
    """Source rows, duplicates and insert/update/unchanged counts of a classified source (one action)."""
    row = classified.agg(
        F.count(F.lit(1)).alias("kept"),
        F.sum(GROUP_SIZE).alias("source_rows"),
        F.sum((F.col(ACTION) == "insert").cast("long")).alias("inserted"),
        F.sum((F.col(ACTION) == "update").cast("long")).alias("updated"),
        F.sum((F.col(ACTION) == "unchanged").cast("long")).alias("unchanged"),
    ).first()
    kept = int(row["kept"])
    source_rows = int(row["source_rows"] or 0)
    return {
        "source_rows": source_rows,
        "source_duplicates": source_rows - kept,
        "inserted": int(row["inserted"] or 0),
        "updated": int(row["updated"] or 0),
        "unchanged": int(row["unchanged"] or 0),
    }
