"""Schema rules every table format follows: nullable columns, additive evolution, partition columns.

A write may add columns (null in the rows written before); it may not change a column's type
(`evolve` says which, so the caller can cast first). Both stores check with these before they
write, so a mistake reads the same whatever the format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T


def nullable(dtype: T.DataType) -> Any:
    """`dtype` with every field and element nullable, as Spark reads Parquet back."""
    if isinstance(dtype, T.StructType):
        return T.StructType(
            [T.StructField(f.name, nullable(f.dataType), True, f.metadata) for f in dtype.fields]
        )
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(nullable(dtype.elementType), True)
    if isinstance(dtype, T.MapType):
        return T.MapType(nullable(dtype.keyType), nullable(dtype.valueType), True)
    return dtype


def evolve(name: str, table: T.StructType, data: T.StructType) -> T.StructType:
    """The table's columns followed by the new columns of `data`; a column may not change type."""
    table, data = nullable(table), nullable(data)
    fields = {f.name: f for f in table.fields}
    changed = [
        f"{f.name} ({fields[f.name].dataType.simpleString()} in the table, {f.dataType.simpleString()} in the data)"
        for f in data.fields
        if f.name in fields and fields[f.name].dataType != f.dataType
    ]
    if changed:
        raise ValueError(
            f"{name}: columns change type: {', '.join(changed)}; cast them to the table's types first"
        )
    return T.StructType([*table.fields, *[f for f in data.fields if f.name not in fields]])


def same_columns(a: T.StructType, b: T.StructType) -> bool:
    """True when two schemas have the same columns and types (nullability aside)."""
    return nullable(a) == nullable(b)


def check_partition_by(df: DataFrame, partition_by: Sequence[str]) -> tuple[str, ...]:
    """`partition_by` as a tuple, checked against `df` (TypeError / ValueError naming the problem)."""
    if isinstance(partition_by, str):
        raise TypeError("partition_by must be a sequence of column names, e.g. ['month'], not a string")
    missing = [c for c in partition_by if c not in df.columns]
    if missing:
        raise ValueError(f"partition columns {missing} are not in the data columns {df.columns}")
    if partition_by and len(partition_by) == len(df.columns):
        raise ValueError("a table needs at least one column that is not a partition column")
    return tuple(partition_by)
