"""After every job run: gather its facts, run the health checks, record the findings in ops.alerts, print them.

`after_step(run, step, error)` is called by `lakehouse.pipeline.run_steps` when a step has run
(or failed). Every finding becomes a row of `ops.alerts` and a line on the driver's output:

    LAKEHOUSE_ALERT severity=error check=freshness entity=tickets store=store_03 message="..."

Cloud Monitoring's log-based alert policy (infra/terraform/modules/monitoring) fires on
`LAKEHOUSE_ALERT severity=error`. With `alerts.fail_on_error` an error finding then fails the run
(`raise_on_error`). Checks never fail a run by themselves going wrong: a check that cannot run is
one warning line.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import functions as F

from lakehouse.contract import (
    ALERTS,
    BRONZE_MANIFEST,
    MODEL_METRICS,
    OPS_SCHEMAS,
    RUN_LOG,
    SOURCE_FRESHNESS,
    STORE_ID,
    bronze_quarantine_table,
    bronze_table,
    silver_quarantine_table,
    silver_table,
)
from lakehouse.errors import UserError
from lakehouse.ops.checks import ERROR, Finding, RowsRead, RunFacts, Share, StoreFreshness, evaluate

log = logging.getLogger("lakehouse.ops")

ALERT_MARKER = "LAKEHOUSE_ALERT"  # Cloud Monitoring's policy filters on `LAKEHOUSE_ALERT severity=error`
FULL_LOAD = "full_load"  # bronze run-log detail: the table was written whole (compared only with its kind)
PREVIOUS_RUNS = 50  # how far back rows_drop looks for a comparable run


class AlertError(UserError):
    """An `error` finding failed the run (`alerts.fail_on_error`)."""


# ---------------------------------------------------------------- facts


def _entity_of(table: str, run: Any) -> str:
    for entity, spec in run.config.tables.items():
        if table in (bronze_table(entity), silver_table(spec), bronze_quarantine_table(entity),
                     silver_quarantine_table(spec)):
            return entity
    return table


def _per_store(df, column: str) -> dict[str, int]:
    return {r[column]: int(r["n"]) for r in df.groupBy(column).agg(F.count(F.lit(1)).alias("n")).collect()}


def quarantine_shares(run: Any) -> list[Share]:
    """Rows read and quarantined per entity (from the run's counts) and per store (from the tables):
    bronze: the run's manifest rows and its rows in quarantine.bronze_<entity>; silver: bronze.<entity>
    and quarantine.<entity>, which silver rebuilds whole every run. Entities that quarantined nothing
    need no table read (every store's share is 0)."""
    tables, specs, shares = run.tables, run.config.tables, []
    counts = {c.table: c for c in run.counts}
    per_store = run.settings.alerts.checks.quarantine_share.per_store
    manifest_rows: dict[tuple[str, str], int] | None = None
    for entity, spec in specs.items():
        if run.job == "bronze_merge" and bronze_table(entity) in counts:
            c = counts[bronze_table(entity)]
            quarantined = sum(v for k, v in c.details.items() if k.startswith("quarantined_"))
            shares.append(Share("bronze", entity, None, int(c.rows_in or 0), quarantined))
            if not (per_store and c.rows_in and quarantined):
                continue
            if manifest_rows is None:  # one read for every entity: the run's merged files per entity and store
                manifest = tables.read(BRONZE_MANIFEST).where((F.col("run_id") == run.run_id) & (F.col("status") == "merged"))
                manifest_rows = {
                    (r["entity"], r["store_id"]): int(r["n"] or 0)
                    for r in manifest.groupBy("entity", "store_id").agg(F.sum("rows").alias("n")).collect()
                }
            held = _per_store(tables.read(bronze_quarantine_table(entity)).where(F.col("_run_id") == run.run_id), STORE_ID)
            shares += [Share("bronze", entity, store, n, held.get(store, 0))
                       for (e, store), n in sorted(manifest_rows.items()) if e == entity]
        elif run.job == "silver_clean" and silver_table(spec) in counts:
            c = counts[silver_table(spec)]
            quarantined = int(c.details.get("quarantined", 0))
            shares.append(Share("silver", entity, None, int(c.rows_in or 0), quarantined))
            if not (per_store and c.rows_in and quarantined):
                continue
            # one pass over both tables: rows per store in bronze (what silver read) and in quarantine
            both = tables.read(bronze_table(entity)).select(STORE_ID, F.lit(0).alias("q")).unionByName(
                tables.read(silver_quarantine_table(spec)).select(STORE_ID, F.lit(1).alias("q"))
            )
            per = both.groupBy(STORE_ID).agg(F.count(F.when(F.col("q") == 0, 1)).alias("read"),
                                             F.sum("q").alias("held")).collect()  # one row per store
            shares += [Share("silver", entity, r[STORE_ID], int(r["read"]), int(r["held"] or 0))
                       for r in sorted(per, key=lambda r: r[STORE_ID] or "") if r[STORE_ID]]
    return shares


def rows_read(run: Any) -> list[RowsRead]:
    """Rows read per table of the run, with the rows the previous successful run of the same job read into
    that table (for bronze, the previous run of the same kind: whole-table load or incremental merge)."""
    mine = [c for c in run.counts if c.rows_in is not None]
    if not mine:
        return []
    previous: list[dict] = []
    if run.tables.exists(RUN_LOG):
        earlier = (
            run.tables.read(RUN_LOG)
            .where((F.col("job") == run.job) & (F.col("status") == "succeeded") & (F.col("run_id") != run.run_id)
                   & (F.col("started_at") < F.lit(run.started_at.replace(tzinfo=None))))
            .orderBy(F.col("started_at").desc())
            .limit(PREVIOUS_RUNS)
            .select("run_id", "tables")
        )
        previous = [r.asDict(recursive=True) for r in earlier.collect()]  # at most PREVIOUS_RUNS small rows
    out = []
    for c in mine:
        kind = c.details.get(FULL_LOAD)
        found = None
        for prior in previous:  # newest first
            match = next((t for t in prior["tables"] or [] if t["table"] == c.table and t["rows_in"] is not None
                          and (t["details"] or {}).get(FULL_LOAD) == kind), None)
            if match is not None:
                found = (int(match["rows_in"]), prior["run_id"])
                break
        out.append(RowsRead(c.table, _entity_of(c.table, run), int(c.rows_in), *(found or (None, None))))
    return out


def freshness_rows(run: Any) -> list[StoreFreshness]:
    """The ops.source_freshness rows this run wrote (bronze runs only)."""
    if run.job != "bronze_merge" or not run.tables.exists(SOURCE_FRESHNESS):
        return []
    df = run.tables.read(SOURCE_FRESHNESS).where(F.col("run_id") == run.run_id)
    out = []
    for r in df.collect():  # stores x entities
        cadence = run.settings.freshness.cadence(r["store_id"], r["entity"])
        out.append(StoreFreshness(
            r["store_id"], r["entity"], r["status"], r["last_export_id"], r["days_since_last_export"],
            r["expected_every"], cadence.warn_after.total_seconds() / 86400, cadence.error_after.total_seconds() / 86400,
        ))
    return out


def trained_model(run: Any) -> tuple[str | None, float | None]:
    """The version and test ROC AUC of the model this run trained, if it trained one."""
    if run.job != "churn_scoring" or not run.tables.exists(MODEL_METRICS):
        return None, None
    row = run.tables.read(MODEL_METRICS).where(F.col("run_id") == run.run_id).select("model_version", "roc_auc").first()
    return (row["model_version"], row["roc_auc"]) if row else (None, None)


def gather(run: Any, step: str, error: BaseException | None = None) -> RunFacts:
    """Everything the checks look at after `run` of `step` (small: per entity and store)."""
    facts = RunFacts(run.run_id, step, error=None if error is None else f"{type(error).__name__}: {error}")
    facts.shares = quarantine_shares(run)
    facts.rows_read = rows_read(run)
    facts.freshness = freshness_rows(run)
    facts.model_version, facts.model_auc = trained_model(run)
    return facts


# ---------------------------------------------------------------- record and print


def marker_line(finding: Finding) -> str:
    """The line a finding prints on the driver's output (what Cloud Monitoring's policy matches)."""
    parts = [f"{ALERT_MARKER} severity={finding.severity}", f"check={finding.check}"]
    if finding.entity:
        parts.append(f"entity={finding.entity}")
    if finding.store_id:
        parts.append(f"store={finding.store_id}")
    message = finding.message.replace('"', "'")
    return " ".join(parts) + f' message="{message}"'


def alert_rows(findings: Sequence[Finding], run_id: str, raised_at: datetime) -> list[tuple]:
    """ops.alerts rows of the findings."""
    at = raised_at.astimezone(UTC).replace(tzinfo=None) if raised_at.tzinfo else raised_at
    return [(run_id, f.check, f.severity, f.entity, f.store_id, f.value, f.threshold, f.message, at) for f in findings]


def after_step(
    run: Any, step: str, error: BaseException | None = None, emit: Callable[[str], None] | None = None
) -> list[Finding]:
    """Run the health checks on `run` of `step` (failed with `error`, if given): append the findings to
    ops.alerts, record them in the run log, print a marker line per finding; returns them.

    Never raises: a check that cannot run (a broken session after a failure, say) prints one warning.
    """
    emit = emit or (lambda line: print(line, file=sys.stdout, flush=True))
    started = time.monotonic()
    try:
        facts = gather(run, step, error)
    except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more than its checks
        log.warning("health checks of %s could not read the warehouse (%s); only the step's outcome is checked",
                    run.run_id, " ".join(str(exc).split())[:300])
        facts = RunFacts(run.run_id, step, error=None if error is None else f"{type(error).__name__}: {error}")
    findings = evaluate(facts, run.settings.alerts.checks)
    for finding in findings:
        emit(marker_line(finding))
    try:
        if findings:
            frame = run.spark.createDataFrame(alert_rows(findings, run.run_id, datetime.now(UTC)), OPS_SCHEMAS[ALERTS])
            run.tables.append(ALERTS, frame)
        by = Counter(f.severity for f in findings)
        seconds = time.monotonic() - started
        run.record(ALERTS, rows_in=len(findings), rows_out=len(findings), warn=by["warn"], error=by["error"],
                   check_ms=int(seconds * 1000))
        log.info("%s: %d findings (%d error, %d warn) in %.1f s", ALERTS, len(findings), by["error"], by["warn"], seconds)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record %d findings in %s: %s", len(findings), ALERTS, " ".join(str(exc).split())[:300])
    return findings


def raise_on_error(run: Any, findings: Sequence[Finding]) -> None:
    """AlertError when `alerts.fail_on_error` is set and a finding is an error (the run fails with it)."""
    errors = [f for f in findings if f.severity == ERROR]
    if errors and run.settings.alerts.fail_on_error:
        raise AlertError(
            f"{len(errors)} error finding(s) in run {run.run_id}, e.g. {errors[0].message} "
            "(alerts.fail_on_error is set; `lakehouse alerts` lists them)"
        )
