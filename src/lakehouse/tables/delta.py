"""Delta Lake tables: the same TableStore interface over delta-spark (the cloud default)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import LAYERS, Settings
from lakehouse.errors import UserError
from lakehouse.tables.base import MergeResult, TableStore, TableVersion
from lakehouse.tables.merge import (
    ACTION,
    GROUP_SIZE,
    broadcastable,
    check_merge_args,
    classify_merge_source,
    dedupe_latest,
    merge_counts,
    orders_later,
)
from lakehouse.tables.schema import check_partition_by, evolve

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
# Delta's exceptions when another writer committed first (io.delta.exceptions / delta.exceptions)
_CONCURRENT = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "ConcurrentWriteException",
)


def vacuum_hours(oldest_kept: datetime, now: datetime | None = None) -> int:
    """The VACUUM retention that keeps every file the version committed at `oldest_kept` (and later ones) reads.

    Those files were removed, if at all, by a later commit, so after `oldest_kept`; a retention at
    least as long as that version's age keeps them. VACUUM counts whole hours (it rounds), so the
    age is rounded up: a file only older versions read is removed once it is an hour old or more.
    """
    age = ((now or datetime.now(UTC)) - oldest_kept).total_seconds()
    return max(1, math.ceil(age / 3600))


def _concurrent_modification(exc: BaseException) -> str | None:
    """The name of Delta's concurrent-modification exception `exc` is (or wraps), None for any other."""
    text = f"{type(exc).__name__}: {exc}"
    return next((name for name in _CONCURRENT if name in text), None)
# Delta's own operation names, for commits not made by this store (no userMetadata)
_OPERATIONS = {
    "MERGE": "merge",
    "RESTORE": "rollback",
    "CREATE TABLE AS SELECT": "overwrite",
    "REPLACE TABLE AS SELECT": "overwrite",
    "CREATE OR REPLACE TABLE AS SELECT": "overwrite",
}
_HOUSEKEEPING = ("VACUUM START", "VACUUM END")  # commits that change no data (logged where vacuum logging is on)
_OUR_OPERATIONS = ("overwrite", "overwrite_partitions", "append", "merge", "rollback")


class DeltaTableStore(TableStore):
    """Delta tables at `<layer root>/<table>`: atomic commits, history and time travel from Delta's log.

    Each commit records this store's operation name as Delta `userMetadata`. As with Parquet, the
    current version and `settings.keep_versions` earlier ones are kept: `history`, `read(version=)`
    and `rollback` reach those, and `maintain` VACUUMs the files only older versions need (Delta's
    own 7-day default would keep every version of a week). A commit that loses a race with another
    writer is one UserError saying what to do. Needs a session with the Delta extension and jars
    (`lakehouse.session.build_session`).
    """

    def __init__(self, spark: SparkSession, settings: Settings):
        super().__init__(spark, settings)
        from delta.tables import DeltaTable  # imported here: parquet-only setups never need it

        self._delta = DeltaTable
        self._written: set[str] = set()

    # ------------------------------------------------------------ helpers

    def _table(self, name: str) -> Any:
        if not self.exists(name):
            raise KeyError(f"table {name} does not exist (no Delta table at {self.path(name)})")
        return self._delta.forPath(self.spark, self.path(name))

    def _latest(self, name: str) -> int:
        return int(self._delta.forPath(self.spark, self.path(name)).history(1).first()["version"])

    @contextmanager
    def _metadata(self, operation: str) -> Iterator[None]:
        """Tag commits made inside the block (merge, restore) with this store's operation name."""
        conf = self.spark.conf
        previous = conf.get(USER_METADATA, None)
        conf.set(USER_METADATA, operation)
        try:
            yield
        finally:
            if previous is None:
                conf.unset(USER_METADATA)
            else:
                conf.set(USER_METADATA, previous)

    def _writer(self, df: DataFrame, mode: str, operation: str) -> DataFrameWriter:
        return df.write.format("delta").mode(mode).option("userMetadata", operation)

    def _partition_columns(self, name: str) -> list[str]:
        return list(self._table(name).detail().first()["partitionColumns"])

    def _kept(self, name: str, version: int) -> None:
        """KeyError naming the kept versions unless `version` is one of them."""
        kept = [v.version for v in self.history(name)]
        if version not in kept:
            raise KeyError(f"table {name} has no version {version}; versions kept: {sorted(kept)}")

    @contextmanager
    def _commit(self, name: str) -> Iterator[None]:
        """Commit the block's write to `name`: a lost race with another writer becomes one UserError."""
        try:
            yield
        except Exception as exc:
            kind = _concurrent_modification(exc)
            if kind is None:
                raise
            raise UserError(
                f"{name}: another writer committed to this table while this write ran ({kind}); nothing of this "
                f"write was committed: run it again once the other writer is done (a job holds the warehouse's "
                f"lock: is something else writing {self.path(name)}?)"
            ) from None
        self._written.add(name)

    # ------------------------------------------------------------ the interface

    def exists(self, name: str) -> bool:
        """True when a Delta table (with at least one commit) is at the table path."""
        return bool(self._delta.isDeltaTable(self.spark, self.path(name)))

    def read(self, name: str, version: int | None = None) -> DataFrame:
        """The current version, or an earlier one by time travel (`versionAsOf`)."""
        table = self._table(name)
        if version is None:
            return table.toDF()
        self._kept(name, version)
        return self.spark.read.format("delta").option("versionAsOf", version).load(self.path(name))

    def overwrite(self, name: str, df: DataFrame, partition_by: Sequence[str] = ()) -> int:
        """Replace the table (schema and partitioning too) in one commit."""
        partition_by = check_partition_by(df, partition_by)
        writer = (
            self._writer(df, "overwrite", "overwrite")
            .option("overwriteSchema", "true")
            .option("partitionOverwriteMode", "static")  # the session default is dynamic
        )
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        with self._commit(name):
            writer.save(self.path(name))
        return self._latest(name)

    def overwrite_partitions(self, name: str, df: DataFrame, partition_by: Sequence[str]) -> int:
        """Replace the partitions present in `df` (dynamic partition overwrite), adding new columns."""
        partition_by = check_partition_by(df, partition_by)
        if not partition_by:
            raise ValueError(
                "overwrite_partitions needs partition_by columns; use overwrite to replace the table"
            )
        if not self.exists(name):
            writer = self._writer(df, "overwrite", "overwrite_partitions").partitionBy(*partition_by)
            with self._commit(name):
                writer.save(self.path(name))
            return self._latest(name)
        current = self._partition_columns(name)
        if current != list(partition_by):
            raise ValueError(
                f"{name} is partitioned by {current}, not {list(partition_by)}; use overwrite to change the partitioning"
            )
        evolve(name, self._table(name).toDF().schema, df.schema)
        with self._commit(name):
            (
                self._writer(df, "overwrite", "overwrite_partitions")
                .option("partitionOverwriteMode", "dynamic")
                .option("mergeSchema", "true")
                .save(self.path(name))
            )
        return self._latest(name)

    def append(self, name: str, df: DataFrame) -> int:
        """Add `df`'s rows in one commit; new columns are added (null for earlier rows)."""
        if self.exists(name):
            evolve(name, self._table(name).toDF().schema, df.schema)
        with self._commit(name):
            self._writer(df, "append", "append").option("mergeSchema", "true").save(self.path(name))
        return self._latest(name)

    def merge(
        self,
        name: str,
        df: DataFrame,
        keys: Sequence[str],
        order_by: Sequence[str] = (),
    ) -> MergeResult:
        """Deduplicate `df`, classify it against the table, then MERGE only the rows that change.

        A merge that changes no row and adds no column commits nothing and returns the current
        version.
        """
        keys, order_by = check_merge_args(df, keys, order_by)
        exists = self.exists(name)
        target = self._table(name).toDF() if exists else None
        if target is not None:
            missing = [k for k in keys if k not in target.columns]
            if missing:
                raise ValueError(f"merge keys {missing} are not columns of {name} ({target.columns})")
            evolve(name, target.schema, df.schema)
        deduped = dedupe_latest(df, keys, order_by).persist(StorageLevel.MEMORY_AND_DISK)
        classified = classify_merge_source(
            deduped, target, keys, order_by, broadcast_source=broadcastable(deduped)
        ).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            counts = merge_counts(classified)
            deduped.unpersist()
            changes = classified.filter(F.col(ACTION).isin("insert", "update")).drop(ACTION, GROUP_SIZE)
            if target is None:
                with self._commit(name):
                    self._writer(changes, "overwrite", "merge").save(self.path(name))
            elif counts["inserted"] + counts["updated"] > 0 or set(df.columns) - set(target.columns):
                # a column the source lacks is null in the rows it writes (updateAll would keep it)
                for field in target.schema.fields:
                    if field.name not in changes.columns:
                        changes = changes.withColumn(field.name, F.lit(None).cast(field.dataType))
                condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
                later = orders_later(
                    [F.col(f"s.`{c}`") for c in order_by],
                    [F.col(f"t.`{c}`") if c in target.columns else F.lit(None) for c in order_by],
                )
                with self._metadata("merge"), self._commit(name):
                    (
                        self._table(name)
                        .alias("t")
                        .merge(changes.alias("s"), condition)
                        .whenMatchedUpdateAll(condition=later)
                        .whenNotMatchedInsertAll()
                        .withSchemaEvolution()
                        .execute()
                    )
            version = self._latest(name)
        finally:
            classified.unpersist()
            deduped.unpersist()
        return MergeResult(version=version, **counts)

    def history(self, name: str) -> list[TableVersion]:
        """The kept versions (the current and `keep_versions` earlier ones), newest first (rows: the row
        count written by overwrites)."""
        rows = (
            self._table(name)
            .history()
            .where(~F.col("operation").isin(*_HOUSEKEEPING))
            .select(
                "version",
                F.expr("unix_micros(timestamp)").alias("micros"),
                "operation",
                "operationParameters",
                "operationMetrics",
                "userMetadata",
            )
            .collect()
        )
        out = []
        for row in sorted(rows, key=lambda r: -r["version"])[: self.settings.keep_versions + 1]:
            meta = row["userMetadata"]
            params = row["operationParameters"] or {}
            if meta in _OUR_OPERATIONS:
                operation = meta
            elif row["operation"] == "WRITE":
                operation = "append" if params.get("mode") == "Append" else "overwrite"
            else:
                operation = _OPERATIONS.get(row["operation"], row["operation"].lower())
            metrics = row["operationMetrics"] or {}
            rows_out = (
                int(metrics["numOutputRows"])
                if operation == "overwrite" and "numOutputRows" in metrics
                else None
            )
            committed = datetime.fromtimestamp(row["micros"] / 1_000_000, tz=UTC)
            out.append(TableVersion(int(row["version"]), committed, operation, rows_out))
        return out

    def rollback(self, name: str, version: int) -> int:
        """RESTORE the table to `version` (a new commit); returns the new version."""
        table = self._table(name)
        self._kept(name, version)
        with self._metadata("rollback"), self._commit(name):
            table.restoreToVersion(version)
        return self._latest(name)

    def maintain(self) -> None:
        """VACUUM the tables written through this store: remove the files that no kept version reads.

        The retention is the age of the oldest kept version (`history`, see `vacuum_hours`), so every
        version `rollback` may restore keeps its files, and nothing older is kept for a week as Delta's
        default would.
        """
        for name in sorted(self._written):
            kept = self.history(name)
            if len(kept) <= self.settings.keep_versions:  # fewer versions than kept: nothing is old enough
                continue
            with self._quiet_stdout():  # VACUUM prints "Deleted N files ..." to the JVM's stdout: the user's terminal
                self._delta.forPath(self.spark, self.path(name)).vacuum(vacuum_hours(kept[-1].committed_at))
        self._written.clear()

    @contextmanager
    def _quiet_stdout(self) -> Iterator[None]:
        jvm = self.spark._jvm
        system, original = jvm.java.lang.System, jvm.java.lang.System.out
        system.setOut(jvm.java.io.PrintStream(jvm.java.io.OutputStream.nullOutputStream()))
        try:
            yield
        finally:
            system.setOut(original)

    def list_tables(self, layer: str | None = None) -> list[str]:
        """Delta tables under the layer roots, as `layer.table`, sorted."""
        jvm = self.spark._jvm
        conf = self.spark._jsc.hadoopConfiguration()
        names = []
        for lyr in [layer] if layer else list(LAYERS):
            root = jvm.org.apache.hadoop.fs.Path(self.settings.layer_root(lyr))
            fs = root.getFileSystem(conf)
            if not fs.exists(root):
                continue
            for status in fs.listStatus(root):
                table = status.getPath().getName()
                if status.isDirectory() and fs.exists(
                    jvm.org.apache.hadoop.fs.Path(status.getPath(), "_delta_log")
                ):
                    names.append(f"{lyr}.{table}")
        return sorted(names)
