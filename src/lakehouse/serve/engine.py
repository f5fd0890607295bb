"""Query engines behind one interface: embedded DuckDB over the warehouse, or the BigQuery client views.

Both run the client views' one SQL source (`src/lakehouse/sql/views/*.sql`, Spark SQL): DuckDB
runs it transpiled by sqlglot over the warehouse's committed table versions; BigQuery runs the
views Terraform created from the same files (`lakehouse views export --dialect bigquery`).
Callers spell a client view through `engine.relation(view)` and a parameter through
`engine.param(name)`: values are always bound as query parameters, never spliced into SQL.

`snapshot()` gives what one request reads: for DuckDB a fixed set of table versions, loaded into
memory, that a refresh replaces as a whole (a request that began on the old set finishes on it).
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lakehouse.errors import UserError
from lakehouse.tables.base import split_name

log = logging.getLogger("lakehouse.serve")

ENGINE_ENV = "LAKEHOUSE_QUERY_ENGINE"
DATASET_ENV = "LAKEHOUSE_BIGQUERY_DATASET"
PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
ENGINES = ("duckdb", "bigquery")


@dataclass(frozen=True)
class Result:
    """Rows of a query: column names and one tuple per row."""

    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts of JSON-ready values (dates as ISO text, decimals as numbers)."""
        return [{c: json_value(v) for c, v in zip(self.columns, row, strict=True)} for row in self.rows]


def json_value(value: Any) -> Any:
    """A value as JSON carries it: ISO-8601 text for dates and times, a number for a decimal."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


class Snapshot(ABC):
    """What one request reads: every query on a snapshot sees the same table versions."""

    @abstractmethod
    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        """Run one SELECT with named parameters (spelled `engine.param(name)` in `sql`)."""

    def cached(self, sql: str, params: dict[str, Any] | None = None) -> Result | None:
        """The kept result of this query, without running anything; None when there is none."""
        return None


class Engine(ABC):
    """A read-only SQL engine over the client views."""

    name: str

    @abstractmethod
    def relation(self, view: str) -> str:
        """How this engine's SQL names client view `view` (e.g. `client.location_scorecard`)."""

    @abstractmethod
    def param(self, name: str) -> str:
        """How this engine's SQL spells named parameter `name`."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The current consistent snapshot to run a request's queries on."""

    @abstractmethod
    def views(self) -> list[str]:
        """The client views (bare names) this engine can answer."""

    def refresh(self) -> bool:
        """Pick up newly committed table versions; True when the snapshot changed."""
        return False

    def versions(self) -> dict[str, int]:
        """The table versions the current snapshot reads (empty when the engine does not know)."""
        return {}

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        """One query on the current snapshot."""
        return self.snapshot().query(sql, params)

    def close(self) -> None:  # noqa: B027 - engines without connections have nothing to release
        """Release connections."""


# ---------------------------------------------------------------- DuckDB


class _DuckDBSnapshot(Snapshot):
    """One in-memory DuckDB database holding fixed versions of the tables; one cursor per thread.

    A snapshot never changes, so the result of a query with given parameters never does either:
    the latest `cache_size` results are kept and a repeated request runs no query.
    """

    def __init__(self, connection: Any, versions: dict[str, int], views: list[str], cache_size: int = 1024):
        self.connection = connection
        self.versions = versions
        self.views = views
        self._local = threading.local()
        self._cache: OrderedDict[tuple, Result] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def _cursor(self) -> Any:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._cache_lock:
                cursor = self._local.cursor = self.connection.cursor()
        return cursor

    def serving(self) -> None:
        """Tune the database for many small concurrent queries (after loading): one thread per
        query, the requests themselves being the parallelism."""
        self.connection.execute("SET threads = 1")

    def cached(self, sql: str, params: dict[str, Any] | None = None) -> Result | None:
        if not self._cache_size:
            return None
        key = (sql, tuple(sorted((params or {}).items())))
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        hit = self.cached(sql, params)
        if hit is not None:
            return hit
        key = (sql, tuple(sorted((params or {}).items())))
        cursor = self._cursor()
        cursor.execute(sql, params or {})
        result = Result([d[0] for d in cursor.description], cursor.fetchall())
        if self._cache_size:
            with self._cache_lock:
                self._cache[key] = result
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return result


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_source(data: Any) -> str:
    """A SELECT over a Parquet version's files with DuckDB's own reader: the version's schema in its
    order and types (a column older files lack is null; Hive partition values are cast back)."""
    from lakehouse.serve.warehouse import duckdb_type

    typed = [(c, duckdb_type(t)) for c, t in data.columns]
    if not data.files:  # an empty version may have no file: its columns, no rows
        return "SELECT " + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in typed) + " WHERE false"
    files = "[" + ", ".join(_literal(f) for f in data.files) + "]"
    options = "union_by_name = true" + (", hive_partitioning = true" if data.partition_by else "")
    return f"SELECT * FROM read_parquet({files}, {options})", typed


def _load_table(con: Any, data: Any) -> None:
    """Copy one pinned table version into the in-memory database as `layer.table`."""
    layer, table = split_name(data.name)
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
    target = f'"{layer}"."{table}"'
    if data.dataset is not None:  # Delta: an Arrow dataset
        con.register("lakehouse_source", data.dataset)
        con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM lakehouse_source")
        con.unregister("lakehouse_source")
        return
    source = parquet_source(data)
    if isinstance(source, str):
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {source}")
        return
    select, typed = source
    present = {row[0] for row in con.execute(f"DESCRIBE {select}").fetchall()}
    projection = ", ".join(
        f'CAST("{c}" AS {t}) AS "{c}"' if c in present else f'CAST(NULL AS {t}) AS "{c}"' for c, t in typed
    )
    con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT {projection} FROM ({select})")


class DuckDBEngine(Engine):
    """Embedded DuckDB over the warehouse's committed table versions (Parquet version logs or Delta).

    `tables` are loaded into memory when the snapshot is built (default: the gold tables the client
    views read; the read-only commands load the one ops table they show). With `views`, the
    client views whose tables exist are created as `client.<view>`, transpiled from their Spark
    SQL by sqlglot. `refresh()` rebuilds the snapshot when a table's committed version changed.
    """

    name = "duckdb"

    def __init__(
        self, warehouse: Any, tables: Iterable[str] | None = None, views: bool = True, cache_size: int = 1024
    ):
        self.warehouse = warehouse
        self._views = []
        if views:
            from lakehouse.views import load_views

            self._views = load_views()
        wanted = list(tables) if tables is not None else sorted({s for v in self._views for s in v.sources})
        self.tables = wanted
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._current = self._build()

    def relation(self, view: str) -> str:
        return f'client."{view}"'

    def param(self, name: str) -> str:
        return f"${name}"

    def snapshot(self) -> Snapshot:
        return self._current

    def views(self) -> list[str]:
        return list(self._current.views)

    def versions(self) -> dict[str, int]:
        return dict(self._current.versions)

    def _committed(self) -> dict[str, int]:
        out = {}
        for name in self.tables:
            version = self.warehouse.current_version(name)
            if version is not None:
                out[name] = version
        return out

    def _build(self) -> _DuckDBSnapshot:
        import duckdb

        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        remote = getattr(getattr(self.warehouse, "fs", None), "fs", None)
        if remote is not None:  # gs:// files: DuckDB reads them through the reader's fsspec file system
            con.register_filesystem(remote)
        versions: dict[str, int] = {}
        for name in self.tables:
            for attempt in (1, 2):  # a version pruned between listing and reading: read the newer one
                try:
                    data = self.warehouse.read(name)
                    _load_table(con, data)
                    versions[name] = data.version
                    break
                except KeyError:
                    break  # not built yet
                except (FileNotFoundError, duckdb.IOException):
                    if attempt == 2:
                        raise
        views = []
        for view in self._views:
            from lakehouse.views import CLIENT_DB, transpile_view

            if all(s in versions for s in view.sources):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {CLIENT_DB}")
                con.execute(f'CREATE VIEW {CLIENT_DB}."{view.name}" AS {transpile_view(view, "duckdb")}')
                views.append(view.name)
        snapshot = _DuckDBSnapshot(con, versions, views, self.cache_size)
        snapshot.serving()
        return snapshot

    def refresh(self) -> bool:
        with self._lock:
            if self._committed() == self._current.versions:
                return False
            self._current = self._build()
            log.info("snapshot refreshed: %s", self._current.versions)
            return True

    def close(self) -> None:
        self._current.connection.close()


# ---------------------------------------------------------------- BigQuery


class BigQueryEngine(Engine, Snapshot):
    """The client views in BigQuery (`<project>.<dataset>.<view>`, created by Terraform), through
    google-cloud-bigquery with named query parameters. BigQuery reads each view's tables as of the
    query, so a snapshot is the engine itself."""

    name = "bigquery"

    def __init__(self, project: str, dataset: str, client: Any = None):
        from google.cloud import bigquery

        self.project = project
        self.dataset = dataset
        self._bq = bigquery
        self.client = client or bigquery.Client(project=project)
        self._view_names: list[str] | None = None

    def relation(self, view: str) -> str:
        return f"`{self.project}.{self.dataset}.{view}`"

    def param(self, name: str) -> str:
        return f"@{name}"

    def snapshot(self) -> Snapshot:
        return self

    def views(self) -> list[str]:
        from lakehouse.views import load_views

        if self._view_names is None:
            self._view_names = [v.name for v in load_views()]
        return list(self._view_names)

    def _parameter(self, name: str, value: Any) -> Any:
        kinds = [(bool, "BOOL"), (int, "INT64"), (float, "FLOAT64"), (dt.datetime, "TIMESTAMP"), (dt.date, "DATE")]
        for kind, type_name in kinds:
            if isinstance(value, kind):
                return self._bq.ScalarQueryParameter(name, type_name, value)
        return self._bq.ScalarQueryParameter(name, "STRING", None if value is None else str(value))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        config = self._bq.QueryJobConfig(
            query_parameters=[self._parameter(k, v) for k, v in (params or {}).items()], use_legacy_sql=False
        )
        rows = self.client.query_and_wait(sql, job_config=config)
        columns = [field.name for field in rows.schema]
        return Result(columns, [tuple(row.values()) for row in rows])

    def close(self) -> None:
        self.client.close()


def engine_kind(kind: str | None = None) -> str:
    """The engine to use: `kind`, else $LAKEHOUSE_QUERY_ENGINE, else duckdb."""
    kind = (kind or os.environ.get(ENGINE_ENV) or "duckdb").lower()
    if kind not in ENGINES:
        raise UserError(f"query engine {kind!r} is unknown ({ENGINE_ENV} or --engine); choose one of {list(ENGINES)}")
    return kind


def bigquery_target(settings: Any) -> tuple[str, str]:
    """The project and dataset of the BigQuery client views: $GOOGLE_CLOUD_PROJECT or the env's
    `gcp_project`, and $LAKEHOUSE_BIGQUERY_DATASET or the env's `bigquery_dataset`."""
    project = os.environ.get(PROJECT_ENV) or settings.gcp_project
    dataset = os.environ.get(DATASET_ENV) or settings.bigquery_dataset
    if not project or not dataset:
        raise UserError(
            f"the bigquery engine needs a project and a dataset: set {PROJECT_ENV} and {DATASET_ENV} "
            f"(or gcp_project and bigquery_dataset in conf/env/{settings.env}.yaml)"
        )
    return project, dataset


def open_engine(
    settings: Any, kind: str | None = None, tables: Iterable[str] | None = None, cache_size: int = 1024
) -> Engine:
    """The engine of `kind` (see `engine_kind`): DuckDB over the settings' warehouse (keeping the
    latest `cache_size` results of each snapshot), or the BigQuery client views (see `bigquery_target`)."""
    if engine_kind(kind) == "bigquery":
        return BigQueryEngine(*bigquery_target(settings))
    from lakehouse.serve.warehouse import open_warehouse

    return DuckDBEngine(open_warehouse(settings), tables=tables, cache_size=cache_size)
