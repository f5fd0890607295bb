"""Read the warehouse without Spark or a JVM: which tables exist, their versions, and the committed version as Arrow.

Parquet tables are read through their version log (`lakehouse.tables.versions`): the committed
version's directory is written once and never changed, so a reader pinned to it sees one complete
version even while the pipeline publishes the next one (the table path's symlink may move under
it; the version directory does not). A Parquet version comes back as its data files and its schema
(what DuckDB's `read_parquet` needs: no pyarrow, so the read-only commands start fast); a Delta
table is read with the `deltalake` package at the version current when it is opened, as a
`pyarrow.dataset.Dataset`.
"""

from __future__ import annotations

import json
import posixpath
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakehouse.config import LAYERS, Settings
from lakehouse.fs import FileSystem, file_system, join
from lakehouse.tables.base import TableVersion, split_name
from lakehouse.tables.versions import LOG_DIR, VERSIONS_DIR, VersionLog


@dataclass(frozen=True)
class TableData:
    """One pinned version of a table: Parquet files plus their schema, or (Delta) an Arrow dataset."""

    name: str
    version: int
    files: tuple[str, ...] = ()  # Parquet: the version's data files (local paths or URIs)
    columns: tuple[tuple[str, Any], ...] = ()  # Parquet: (column, Spark type in its JSON form), in order
    partition_by: tuple[str, ...] = ()  # Parquet: Hive partition columns (in the file paths)
    dataset: Any = None  # Delta: a pyarrow dataset of `version`


_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "long": "BIGINT",
    "integer": "INTEGER",
    "short": "SMALLINT",
    "byte": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",  # Spark timestamps are instants (the session is UTC)
    "timestamp_ntz": "TIMESTAMP",
    "binary": "BLOB",
}


def duckdb_type(spark_type: Any) -> str:
    """The DuckDB type of a Spark type in its JSON form (`"long"`, `"decimal(12,2)"`, `{"type": "array", ...}`)."""
    if isinstance(spark_type, str):
        if spark_type in _DUCKDB_TYPES:
            return _DUCKDB_TYPES[spark_type]
        if spark_type.startswith("decimal("):
            return spark_type.upper()
        raise ValueError(f"Spark type {spark_type!r} has no DuckDB mapping")
    kind = spark_type.get("type")
    if kind == "array":
        return f"{duckdb_type(spark_type['elementType'])}[]"
    if kind == "map":
        return f"MAP({duckdb_type(spark_type['keyType'])}, {duckdb_type(spark_type['valueType'])})"
    if kind == "struct":
        fields = ", ".join(f'"{f["name"]}" {duckdb_type(f["type"])}' for f in spark_type["fields"])
        return f"STRUCT({fields})"
    raise ValueError(f"Spark type {spark_type!r} has no DuckDB mapping")


# ---------------------------------------------------------------- the readers


class Warehouse(ABC):
    """The tables of one warehouse, read without Spark."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def path(self, name: str) -> str:
        """Where the current version of `layer.table` is published: `<layer root>/<table>`."""
        layer, table = split_name(name)
        return join(self.settings.layer_root(layer), table)

    @abstractmethod
    def list_tables(self) -> list[str]:
        """Every table with at least one committed version, as `layer.table`, sorted."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """True when the table has a committed version."""

    @abstractmethod
    def history(self, name: str) -> list[TableVersion]:
        """The table's versions, newest first; KeyError naming it when it does not exist."""

    @abstractmethod
    def current_version(self, name: str) -> int | None:
        """The committed version number (cheap: no data is read); None when the table does not exist."""

    @abstractmethod
    def read(self, name: str) -> TableData:
        """The committed version as an Arrow dataset pinned to that version; KeyError when absent."""


class ParquetWarehouse(Warehouse):
    """Versioned Parquet tables (`lakehouse.tables.parquet`), read through their version logs."""

    def __init__(self, settings: Settings, fs: FileSystem | None = None):
        super().__init__(settings)
        self._root = join(settings.warehouse, VERSIONS_DIR)
        self.fs = fs or file_system(self._root)

    def _log(self, name: str) -> VersionLog:
        layer, table = split_name(name)
        return VersionLog(self.fs, join(self._root, layer, table), name)

    def list_tables(self) -> list[str]:
        names = []
        for layer in self.fs.list_names(self._root):
            if layer.startswith((".", "_")):
                continue
            for table in self.fs.list_names(join(self._root, layer)):
                if self._log(f"{layer}.{table}").has_versions():
                    names.append(f"{layer}.{table}")
        return sorted(names)

    def exists(self, name: str) -> bool:
        return self._log(name).has_versions()

    def history(self, name: str) -> list[TableVersion]:
        return [TableVersion(e.version, e.committed, e.operation, e.rows) for e in reversed(self._log(name).require())]

    def current_version(self, name: str) -> int | None:
        log = self._log(name)
        numbers = [int(n[:-5]) for n in self.fs.list_names(join(log.root, LOG_DIR)) if n.endswith(".json") and n[:-5].isdigit()]
        return max(numbers) if numbers else None

    def read(self, name: str) -> TableData:
        log = self._log(name)
        entry = log.require()[-1]
        folder = log.data_path(entry.data)
        struct = json.loads(entry.schema)
        files = self.fs.data_files(folder, lambda rel: not posixpath.basename(rel).startswith(("_", ".")))
        return TableData(
            name,
            entry.version,
            files=tuple(join(folder, rel) for rel in files),
            columns=tuple((f["name"], f["type"]) for f in struct["fields"]),
            partition_by=tuple(entry.partition_by),
        )


class DeltaWarehouse(Warehouse):
    """Delta tables at `<layer root>/<table>`, read with delta-rs (the `deltalake` package)."""

    _OPERATIONS = {"MERGE": "merge", "RESTORE": "rollback", "CREATE TABLE": "overwrite"}
    _OURS = ("overwrite", "overwrite_partitions", "append", "merge", "rollback")

    def __init__(self, settings: Settings, storage_options: dict[str, str] | None = None):
        super().__init__(settings)
        self.storage_options = storage_options

    def _table(self, name: str) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.path(name), storage_options=self.storage_options)
        except TableNotFoundError:
            raise KeyError(f"table {name} does not exist (no Delta table at {self.path(name)})") from None

    def list_tables(self) -> list[str]:
        names = []
        for layer in LAYERS:
            root = self.settings.layer_root(layer)
            fs = file_system(root)
            for table in fs.list_names(root):
                if fs.exists(join(root, table, "_delta_log")) and f"{layer}.{table}" not in names:
                    names.append(f"{layer}.{table}")
        return sorted(names)

    def exists(self, name: str) -> bool:
        from deltalake import DeltaTable

        return bool(DeltaTable.is_deltatable(self.path(name), storage_options=self.storage_options))

    def history(self, name: str) -> list[TableVersion]:
        out = []
        for commit in self._table(name).history():
            meta, op = commit.get("userMetadata"), str(commit.get("operation") or "")
            params = commit.get("operationParameters") or {}
            if meta in self._OURS:
                operation = meta
            elif op == "WRITE":
                operation = "append" if str(params.get("mode", "")).lower() == "append" else "overwrite"
            else:
                operation = self._OPERATIONS.get(op, op.lower())
            metrics = commit.get("operationMetrics") or {}
            rows = metrics.get("numOutputRows") if operation == "overwrite" else None
            committed = datetime.fromtimestamp(int(commit["timestamp"]) / 1000, tz=UTC)
            out.append(TableVersion(int(commit["version"]), committed, operation, int(rows) if rows is not None else None))
        return sorted(out, key=lambda v: -v.version)

    def current_version(self, name: str) -> int | None:
        return int(self._table(name).version()) if self.exists(name) else None

    def read(self, name: str) -> TableData:
        table = self._table(name)
        return TableData(name, int(table.version()), dataset=table.to_pyarrow_dataset())


def open_warehouse(settings: Settings) -> Warehouse:
    """The Spark-free reader of the settings' warehouse and table format."""
    if settings.table_format == "delta":
        return DeltaWarehouse(settings)
    return ParquetWarehouse(settings)
