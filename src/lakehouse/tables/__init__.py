"""The table layer: the only place tables are read or written, in Parquet or Delta format."""

from lakehouse.tables.base import MergeResult, TableStore, TableVersion, open_table_store

__all__ = ["MergeResult", "TableStore", "TableVersion", "open_table_store"]
