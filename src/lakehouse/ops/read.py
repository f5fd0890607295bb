"""Read-only access to the warehouse for `lakehouse freshness`, `lakehouse alerts` and `lakehouse report`, without a JVM.

Every read goes through `Reader.table(name)`, which returns a pandas DataFrame of the table's
current version. On a local warehouse it needs no Spark: the read-only commands' reader
(`lakehouse.serve.warehouse`: a Parquet table's committed version by its version log, a Delta
table with the `deltalake` package). Elsewhere (gs://) it falls back to a quiet Spark session. The functions below it shape what each command shows; they read small tables only (ops
tables, gold KPIs per location and month), never a bronze or silver table whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from lakehouse.config import JobOptions
from lakehouse.contract import (
    ALERTS,
    BRONZE_MANIFEST,
    LOCATION_SCORECARD,
    LOCATION_SCORECARD_BOTTOM,
    MODEL_METRICS,
    OPS_SCHEMAS,
    RUN_LOG,
    SOURCE_FRESHNESS,
    silver_quarantine_table,
)
from lakehouse.errors import UserError
from lakehouse.fs import local_path
from lakehouse.serve.warehouse import TableData, open_warehouse
from lakehouse.tables.warehouse import reading_settings


class Reader:
    """Reads tables of one warehouse (the format it declares), JVM-free where it can; `close()` stops any session."""

    def __init__(self, options: JobOptions):
        self.config = options.load()
        self.settings = self.config.settings
        self.local = local_path(self.settings.warehouse) is not None
        self._warehouse = open_warehouse(reading_settings(self.settings)) if self.local else None
        self._store = None

    def _spark_store(self):
        if self._store is None:
            from lakehouse.session import build_session
            from lakehouse.tables import open_table_store

            spark = build_session(self.settings, self.config.profile, app_name="lakehouse-read", log_level="ERROR")
            self._store = open_table_store(spark, reading_settings(self.settings, spark))
        return self._store

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
        """The current version of `name` (only `columns`, when given) as pandas, None when the table does not exist."""
        if self._warehouse is None:
            store = self._spark_store()
            if not store.exists(name):
                return None
            df = store.read(name)
            return (df.select(*columns) if columns else df).toPandas()
        if not self._warehouse.exists(name):
            return None
        return _naive_utc(_pandas(self._warehouse.read(name), columns))

    def close(self) -> None:
        if self._store is not None:
            self._store.spark.stop()


def _pandas(data: TableData, columns: list[str] | None) -> pd.DataFrame:
    """A pinned table version as pandas; a column added after older files were written is null there."""
    import pyarrow.dataset as ds

    if data.dataset is not None:  # Delta
        names = [c for c in data.dataset.schema.names if columns is None or c in columns]
        return data.dataset.to_table(columns=names).to_pandas()
    names = [c for c, _ in data.columns if columns is None or c in columns]
    if not data.files:
        return pd.DataFrame(columns=names)
    base = data.files[0].split(f"/{data.partition_by[0]}=")[0] if data.partition_by else None
    dataset = ds.dataset(list(data.files), format="parquet", partitioning="hive" if base else None,
                         partition_base_dir=base)
    present = [c for c in names if c in dataset.schema.names]
    return dataset.to_table(columns=present).to_pandas().reindex(columns=names)


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as the warehouse means them: UTC without a zone (deltalake gives them zoned)."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


@contextmanager
def reader(options: JobOptions) -> Iterator[Reader]:
    """A Reader over the warehouse of `options`, closed afterwards."""
    r = Reader(options)
    try:
        yield r
    finally:
        r.close()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts: NaN/NaT as None, timestamps as Python datetimes."""
    out = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        for row in out.to_dict(orient="records")
    ]


def _required(r: Reader, name: str, hint: str) -> pd.DataFrame:
    frame = r.table(name)
    if frame is None:
        raise UserError(f"{name} does not exist under {r.settings.warehouse}: {hint}")
    return frame


def freshness(options: JobOptions, status: str | None = None) -> list[dict[str, Any]]:
    """ops.source_freshness, worst first (missing, late, ok), then by store and entity."""
    with reader(options) as r:
        frame = _required(r, SOURCE_FRESHNESS, "run `lakehouse run bronze` first")
    if status:
        frame = frame[frame["status"] == status]
    order = {"missing": 0, "late": 1, "ok": 2}
    frame = frame.assign(_o=frame["status"].map(order)).sort_values(["_o", "store_id", "entity"]).drop(columns="_o")
    return _records(frame[list(OPS_SCHEMAS[SOURCE_FRESHNESS].names)])


def alerts(options: JobOptions, run_id: str | None = None, severity: str | None = None,
           limit: int = 100) -> list[dict[str, Any]]:
    """ops.alerts, newest first (errors before warnings within a run); optionally of one run or severity."""
    with reader(options) as r:
        frame = r.table(ALERTS)
    if frame is None:
        return []  # no run has raised anything yet
    if run_id:
        frame = frame[frame["run_id"] == run_id]
    if severity:
        frame = frame[frame["severity"] == severity]
    frame = frame.assign(_s=(frame["severity"] != "error").astype(int))
    frame = frame.sort_values(["raised_at", "run_id", "_s", "check"], ascending=[False, False, True, True])
    return _records(frame.drop(columns="_s").head(limit)[list(OPS_SCHEMAS[ALERTS].names)])


def health(options: JobOptions) -> dict[str, pd.DataFrame | None]:
    """What the HTML health report shows: run log, manifest, freshness, alerts, KPI tables, model metrics,
    and silver quarantine per entity and store (one column of each quarantine table)."""
    names = (RUN_LOG, BRONZE_MANIFEST, SOURCE_FRESHNESS, ALERTS, LOCATION_SCORECARD, LOCATION_SCORECARD_BOTTOM,
             MODEL_METRICS, "gold.churn_retention", "gold.billing_health")
    with reader(options) as r:
        out = {name: r.table(name) for name in names}
        out["_settings"] = r.settings  # type: ignore[assignment]
        out["_quarantine_by_store"] = _quarantine_by_store(r)  # type: ignore[assignment]
    return out


def _quarantine_by_store(r: Reader) -> pd.DataFrame | None:
    """Rows in silver quarantine per entity and store: the `_store_id` column of each quarantine table."""
    rows = []
    for entity, spec in r.config.tables.items():
        frame = r.table(silver_quarantine_table(spec), columns=["_store_id"])
        if frame is None:
            continue
        for store, n in frame.groupby("_store_id").size().items():
            rows.append({"entity": entity, "store_id": store, "quarantined": int(n)})
    return pd.DataFrame(rows, columns=["entity", "store_id", "quarantined"])

