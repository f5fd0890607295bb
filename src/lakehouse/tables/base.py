"""The table-layer interface shared by the Parquet and Delta implementations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Settings


@dataclass(frozen=True)
class TableVersion:
    """One committed version of a table."""

    version: int
    committed_at: datetime
    operation: str  # overwrite | overwrite_partitions | append | merge | rollback
    rows: int | None = None


@dataclass(frozen=True)
class MergeResult:
    """What a merge did: the new version and how many source rows went where."""

    version: int
    source_rows: int  # rows offered to the merge
    source_duplicates: int  # source rows dropped because another source row of the key won
    inserted: int  # keys new to the table
    updated: int  # target rows replaced by a source row that orders later
    unchanged: int  # source rows not applied: the target row orders the same or later


class TableStore(ABC):
    """Read and write `<layer>.<table>` tables under the warehouse, with versions.

    Names are `layer.table` (e.g. `bronze.tickets`, `ops.run_log`); a layer's root is
    `settings.layer_root(layer)`. Every write publishes atomically: a reader sees either the
    previous complete version or the new one, and a writer killed midway leaves the previous
    version intact. Writing the same input twice gives the same table.
    """

    def __init__(self, spark: SparkSession, settings: Settings):
        self.spark = spark
        self.settings = settings

    def path(self, name: str) -> str:
        """Where the current version of `layer.table` lives: `<layer root>/<table>`."""
        layer, table = split_name(name)
        return f"{self.settings.layer_root(layer).rstrip('/')}/{table}"

    @abstractmethod
    def exists(self, name: str) -> bool:
        """True when the table has at least one committed version."""

    @abstractmethod
    def read(self, name: str, version: int | None = None) -> DataFrame:
        """The current (or a given earlier) version of the table; raises KeyError naming it if absent."""

    @abstractmethod
    def overwrite(self, name: str, df: DataFrame, partition_by: Sequence[str] = ()) -> int:
        """Replace the table's contents with `df`; returns the new version number."""

    @abstractmethod
    def overwrite_partitions(self, name: str, df: DataFrame, partition_by: Sequence[str]) -> int:
        """Replace only the partitions present in `df` (creates the table if absent)."""

    @abstractmethod
    def append(self, name: str, df: DataFrame) -> int:
        """Add `df`'s rows to the table (creates it if absent); new columns are added as null."""

    @abstractmethod
    def merge(
        self,
        name: str,
        df: DataFrame,
        keys: Sequence[str],
        order_by: Sequence[str] = (),
    ) -> MergeResult:
        """Upsert `df` by `keys` (compared null-safely), keeping per key the row that orders last.

        Rows order by the `order_by` columns compared left to right, nulls lowest. `df` is first
        deduplicated to one row per key. A source row replaces the target row only when it orders
        strictly later, so merging the same rows again changes nothing. Creates the table if absent.
        """

    @abstractmethod
    def history(self, name: str) -> list[TableVersion]:
        """Committed versions still available, newest first."""

    @abstractmethod
    def rollback(self, name: str, version: int) -> int:
        """Make an earlier version current again (as a new version); returns the new version."""

    @abstractmethod
    def list_tables(self, layer: str | None = None) -> list[str]:
        """Names (`layer.table`) of the tables that exist, optionally of one layer."""


def split_name(name: str) -> tuple[str, str]:
    """Split `layer.table`, rejecting anything else with a clear message."""
    parts = name.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"table name {name!r} must look like 'layer.table', e.g. 'bronze.tickets'")
    return parts[0], parts[1]


def open_table_store(spark: SparkSession, settings: Settings) -> TableStore:
    """The table store for the settings' table format."""
    if settings.table_format == "delta":
        from lakehouse.tables.delta import DeltaTableStore

        return DeltaTableStore(spark, settings)
    from lakehouse.tables.parquet import ParquetTableStore

    return ParquetTableStore(spark, settings)
