"""The table layer: the only place tables are read or written, in Parquet or Delta format (docs/tables.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.tables.base import MergeResult, TableStore, TableVersion

if TYPE_CHECKING:  # importing a submodule (tables.versions) must not import pyspark
    from pyspark.sql import SparkSession

    from lakehouse.config import Settings

__all__ = ["MergeResult", "TableStore", "TableVersion", "open_table_store"]


def open_table_store(spark: SparkSession, settings: Settings) -> TableStore:
    """The table store of the settings' table format (see `tables.warehouse` for the format a warehouse declares)."""
    if settings.table_format == "delta":
        from lakehouse.tables.delta import DeltaTableStore

        return DeltaTableStore(spark, settings)
    from lakehouse.tables.parquet import ParquetTableStore

    return ParquetTableStore(spark, settings)
