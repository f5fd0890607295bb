"""The table-layer interface shared by the Parquet and Delta implementations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Spark-free readers (lakehouse.serve) import TableVersion without pyspark
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

    def replace_rows(self, name: str, df: DataFrame, column: str, values: Sequence[str]) -> int:
        """Replace the table's rows whose `column` is one of `values` by `df`'s rows (append when it holds none).

        Writing the same rows again gives the same table, so a job re-run after being killed can
        re-record what it had recorded before the kill (quarantined rows by source file, bad files
        by path). Creates the table if absent; returns the new version.
        """
        from pyspark.sql import functions as F

        values = sorted(set(values))
        if self.exists(name):
            current = self.read(name)
            if column in current.columns and values and current.where(F.col(column).isin(values)).limit(1).count():
                kept = current.where(~F.col(column).isin(values) | F.col(column).isNull())
                return self.overwrite(name, kept.unionByName(df, allowMissingColumns=True))
        return self.append(name, df)

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

    @abstractmethod
    def maintain(self) -> None:
        """Housekeeping after a job's writes (removing files no kept version needs); a job calls it once at its end."""


def split_name(name: str) -> tuple[str, str]:
    """Split `layer.table`, rejecting anything else with a clear message."""
    parts = name.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"table name {name!r} must look like 'layer.table', e.g. 'bronze.tickets'")
    return parts[0], parts[1]
