"""Data-quality metrics of silver: per rule rows checked and failing with a few failing keys (ops.dq_results),
and the conservation check (bronze rows = silver rows + quarantined rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from lakehouse.contract import DQ_RESULTS, OPS_SCHEMAS
from lakehouse.silver.expectations import KEY, QUARANTINED, ExpectationFailed, Rule, breaks_any

SAMPLE_KEYS = 3  # failing keys kept per rule: the smallest, the largest and one hash-picked key

_ROWS = "__dq_rows"
_QUARANTINED = "__dq_quarantined"
_WARNED = "__dq_warned"
_KEY_SEPARATOR = "\u001f"


class ConservationError(Exception):
    """Silver lost or invented rows: bronze rows != silver rows + quarantined rows (a bug, not bad data)."""


@dataclass(frozen=True)
class RuleResult:
    """How one rule did on one table in one run."""

    rule: str
    column: str | None
    action: str
    rows_checked: int
    rows_failing: int
    failing_keys: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """`rule(column)` as in `_reason`."""
        return f"{self.rule}({self.column})" if self.column else self.rule


@dataclass(frozen=True)
class TableQuality:
    """The metrics of one flagged frame: rows, quarantined and warned rows, and each rule's result."""

    table: str
    rows: int
    quarantined: int
    warned: int
    results: tuple[RuleResult, ...] = field(default_factory=tuple)

    def failed(self) -> list[RuleResult]:
        """Results of `fail` rules that some row broke."""
        return [r for r in self.results if r.action == "fail" and r.rows_failing > 0]

    def raise_on_failure(self) -> None:
        """Raise ExpectationFailed naming every `fail` rule some row broke, with sample keys."""
        failed = self.failed()
        if failed:
            raise ExpectationFailed(
                self.table, [(r.label, r.rows_failing, r.rows_checked, r.failing_keys) for r in failed], self
            )


def _flag_sum(flag: str) -> Column:
    return F.sum(F.col(flag).cast("long"))


def count_columns(rules: Sequence[Rule]) -> list[Column]:
    """Aggregate columns over a flagged frame: rows, quarantined and warned rows, and per rule the
    failing rows (`<flag>_n`). Cheap enough to observe while the silver table is written."""
    warned = breaks_any([r for r in rules if r.action == "warn"])
    return [
        F.count(F.lit(1)).alias(_ROWS),
        _flag_sum(QUARANTINED).alias(_QUARANTINED),
        F.sum(warned.cast("long")).alias(_WARNED),
        *[_flag_sum(r.flag).alias(f"{r.flag}_n") for r in rules],
    ]


def sample_columns(rules: Sequence[Rule]) -> list[Column]:
    """Aggregate columns over a flagged frame: per rule up to SAMPLE_KEYS failing keys (`<flag>_k`).

    Only rows that break a rule matter, so callers may aggregate the frame filtered by `breaks_any`.
    """
    cols = []
    for r in rules:
        key = F.when(F.col(r.flag), F.col(KEY))
        sample = F.array(F.min(key), F.max(key), F.min_by(key, F.when(F.col(r.flag), F.xxhash64(F.col(KEY)))))
        # joined into one text: an Observation hands arrays back as Java objects
        cols.append(F.array_join(F.array_distinct(F.array_compact(sample)), _KEY_SEPARATOR).alias(f"{r.flag}_k"))
    return cols


def metric_columns(rules: Sequence[Rule]) -> list[Column]:
    """`count_columns` and `sample_columns` together: every metric in one pass."""
    return count_columns(rules) + sample_columns(rules)


def table_quality(
    table: str, rules: Sequence[Rule], metrics: Row | dict[str, Any], samples: Row | dict[str, Any] | None = None
) -> TableQuality:
    """Read the values of `metric_columns` (a collected row or an Observation's dict), or of
    `count_columns` plus `sample_columns` in `samples`, into a TableQuality."""
    get = metrics.asDict() if isinstance(metrics, Row) else dict(metrics)
    if samples is not None:
        get.update(samples.asDict() if isinstance(samples, Row) else samples)
    rows = int(get[_ROWS] or 0)
    results = tuple(
        RuleResult(
            rule=r.name,
            column=r.column,
            action=r.action,
            rows_checked=rows,
            rows_failing=int(get[f"{r.flag}_n"] or 0),
            failing_keys=tuple(sorted(k for k in (get.get(f"{r.flag}_k") or "").split(_KEY_SEPARATOR) if k))[
                :SAMPLE_KEYS
            ],
        )
        for r in rules
    )
    return TableQuality(table, rows, int(get[_QUARANTINED] or 0), int(get[_WARNED] or 0), results)


def observed_quality(flagged: DataFrame, table: str, rules: Sequence[Rule], counts: dict[str, Any]) -> TableQuality:
    """A TableQuality from observed `count_columns`, with the failing keys sampled from the rows
    of `flagged` that break a rule (a second, filtered pass; skipped when no rule failed)."""
    failing = [r for r in rules if counts.get(f"{r.flag}_n")]
    samples = None
    if failing:
        samples = flagged.where(breaks_any(failing)).agg(*sample_columns(failing)).first()
    return table_quality(table, rules, counts, samples)


def measure(flagged: DataFrame, table: str, rules: Sequence[Rule]) -> TableQuality:
    """Compute a flagged frame's metrics with one aggregation (one pass over the frame)."""
    return table_quality(table, rules, flagged.agg(*metric_columns(rules)).first())


def dq_results(spark: SparkSession, tables: Sequence[TableQuality], run_id: str, checked_at: datetime) -> DataFrame:
    """The ops.dq_results rows of a run: one per table and rule (OPS_SCHEMAS[DQ_RESULTS])."""
    # an aware datetime converts to the same instant whatever the process's time zone; naive is UTC
    checked = checked_at if checked_at.tzinfo else checked_at.replace(tzinfo=UTC)
    rows = [
        (run_id, checked, t.table, r.rule, r.column, r.action, r.rows_checked, r.rows_failing, list(r.failing_keys))
        for t in tables
        for r in t.results
    ]
    return spark.createDataFrame(rows, OPS_SCHEMAS[DQ_RESULTS])


def check_conservation(table: str, bronze_rows: int, silver_rows: int, quarantined_rows: int) -> None:
    """Raise ConservationError unless bronze rows = silver rows + quarantined rows."""
    if bronze_rows != silver_rows + quarantined_rows:
        raise ConservationError(
            f"{table}: bronze has {bronze_rows:,} rows but silver has {silver_rows:,} and quarantine "
            f"{quarantined_rows:,} ({silver_rows + quarantined_rows:,}); rows were lost or duplicated"
        )
