"""The health checks run after every job run: a registry of named checks over a run's facts, giving findings.

Each check is a pure function of `RunFacts` (small, plain values gathered from the run and the
warehouse by `lakehouse.ops.alerts`) and its settings (`conf` `alerts.checks.<name>`), returning
`Finding`s. The registry `CHECKS` is the one list of checks: the settings model, `lakehouse alerts`
and the docs follow it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakehouse.config import ChecksSettings, format_duration, parse_duration

WARN, ERROR = "warn", "error"
_RANK = {WARN: 1, ERROR: 2}


def at_least(severity: str, minimum: str) -> bool:
    """True when `severity` is `minimum` or worse (warn < error)."""
    return _RANK[severity] >= _RANK[minimum]


@dataclass(frozen=True)
class Finding:
    """One thing a check found wrong with a run: a row of ops.alerts (with the run id and time added)."""

    check: str
    severity: str  # warn | error
    message: str
    entity: str | None = None  # the entity, or the table for tables that are not an entity's
    store_id: str | None = None
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Share:
    """Rows a run read of one entity (of one store, or all stores when `store_id` is None) and how many it quarantined."""

    layer: str  # bronze | silver
    entity: str
    store_id: str | None
    rows: int
    quarantined: int


@dataclass(frozen=True)
class RowsRead:
    """Rows a run read into one table, and what the previous comparable run of the same job read."""

    table: str
    entity: str
    rows: int
    previous: int | None
    previous_run: str | None = None


@dataclass(frozen=True)
class StoreFreshness:
    """One row of ops.source_freshness as the bronze run judged it."""

    store_id: str
    entity: str
    status: str  # ok | late | missing
    last_export_id: str | None
    days_since_last_export: float | None
    expected_every: str
    warn_after_days: float | None = None  # the cadence's thresholds, in days
    error_after_days: float | None = None


@dataclass
class RunFacts:
    """What the checks look at after a run (everything small: per entity and store, never per row)."""

    run_id: str
    step: str
    shares: list[Share] = field(default_factory=list)
    rows_read: list[RowsRead] = field(default_factory=list)
    freshness: list[StoreFreshness] = field(default_factory=list)
    model_version: str | None = None
    model_auc: float | None = None
    error: str | None = None  # the failure of the step, when it failed


# ---------------------------------------------------------------- the checks


def _above(value: float, warn: float, error: float) -> tuple[str, float] | None:
    if value > error:
        return ERROR, error
    if value > warn:
        return WARN, warn
    return None


def quarantine_share(facts: RunFacts, cfg: Any) -> list[Finding]:
    """Share of the rows read that went to quarantine above `warn_above`/`error_above`, per entity and
    (with `per_store`) per store; shares over fewer than `min_rows` rows are not judged."""
    out = []
    for s in facts.shares:
        if s.rows < max(cfg.min_rows, 1) or (s.store_id is not None and not cfg.per_store):
            continue
        share = s.quarantined / s.rows
        hit = _above(share, cfg.warn_above, cfg.error_above)
        if hit:
            where = f"{s.layer} {s.entity}" + (f" of {s.store_id}" if s.store_id else "")
            out.append(Finding(
                "quarantine_share", hit[0],
                f"{where}: {s.quarantined:,} of {s.rows:,} rows quarantined ({share:.1%}, above {hit[1]:.0%})",
                s.entity, s.store_id, round(share, 6), hit[1],
            ))
    return out


def rows_drop(facts: RunFacts, cfg: Any) -> list[Finding]:
    """Rows read into a table fell by more than `warn_above`/`error_above` against the previous comparable
    run of the same job (baselines under `min_previous_rows` are not judged)."""
    out = []
    for r in facts.rows_read:
        if r.previous is None or r.previous < max(cfg.min_previous_rows, 1):
            continue
        drop = (r.previous - r.rows) / r.previous
        hit = _above(drop, cfg.warn_above, cfg.error_above)
        if hit:
            out.append(Finding(
                "rows_drop", hit[0],
                f"{r.table}: {r.rows:,} rows read, {drop:.0%} fewer than the previous run's {r.previous:,} "
                f"(more than {hit[1]:.0%})",
                r.entity, None, round(drop, 6), hit[1],
            ))
    return out


def freshness(facts: RunFacts, cfg: Any) -> list[Finding]:
    """A store's exports of an entity that are late (severity `late`) or missing (severity `missing`)."""
    out = []
    for f in facts.freshness:
        if f.status not in ("late", "missing"):
            continue
        severity = cfg.late if f.status == "late" else cfg.missing
        every = parse_duration(f.expected_every)
        threshold = f.warn_after_days if f.status == "late" else f.error_after_days
        limits = f"expected every {format_duration(every)}"
        if f.warn_after_days is not None and f.error_after_days is not None:
            limits += f", late after {f.warn_after_days:g}d, missing after {f.error_after_days:g}d"
        if f.last_export_id is None:
            message = f"{f.store_id} never exported {f.entity} ({limits})"
        else:
            message = (
                f"{f.store_id} {f.entity}: {f.status}, last export {f.last_export_id} is "
                f"{f.days_since_last_export:.1f} days old ({limits})"
            )
        out.append(Finding("freshness", severity, message, f.entity, f.store_id, f.days_since_last_export, threshold))
    return out


def step_failed(facts: RunFacts, cfg: Any) -> list[Finding]:
    """The step failed."""
    if facts.error is None:
        return []
    first = " ".join(facts.error.split())[:500]
    return [Finding("step_failed", cfg.severity, f"step {facts.step} failed: {first}")]


def model_auc(facts: RunFacts, cfg: Any) -> list[Finding]:
    """The churn model the run trained has a test ROC AUC below `warn_below`/`error_below`."""
    if facts.model_auc is None:
        return []
    auc = facts.model_auc
    severity, floor = (ERROR, cfg.error_below) if auc < cfg.error_below else (WARN, cfg.warn_below)
    if auc >= cfg.warn_below:
        return []
    return [Finding("model_auc", severity,
                    f"churn model {facts.model_version}: test ROC AUC {auc:.3f} is below {floor}",
                    "gold.model_metrics", None, round(auc, 6), floor)]


@dataclass(frozen=True)
class Check:
    """A named health check: what it looks at, and the function that judges a run's facts."""

    name: str
    description: str
    evaluate: Callable[[RunFacts, Any], list[Finding]]


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check("quarantine_share", "share of rows read that were quarantined, per entity and store", quarantine_share),
        Check("rows_drop", "rows read against the previous comparable run of the same job", rows_drop),
        Check("freshness", "stores whose exports are late or missing (ops.source_freshness)", freshness),
        Check("step_failed", "a step that failed", step_failed),
        Check("model_auc", "the test ROC AUC of a churn model the run trained", model_auc),
    )
}
if set(CHECKS) != set(ChecksSettings.model_fields):  # the settings are the registry's, name for name
    raise RuntimeError(f"checks {sorted(CHECKS)} differ from alerts.checks settings {sorted(ChecksSettings.model_fields)}")


def evaluate(facts: RunFacts, settings: ChecksSettings) -> list[Finding]:
    """Every enabled check's findings on `facts`, errors first."""
    found: list[Finding] = []
    for name, check in CHECKS.items():
        cfg = getattr(settings, name)
        if cfg.enabled:
            found += check.evaluate(facts, cfg)
    return sorted(found, key=lambda f: -_RANK[f.severity])


def worst(findings: Sequence[Finding]) -> str | None:
    """The worst severity among `findings` (None when there are none)."""
    return max((f.severity for f in findings), key=_RANK.__getitem__, default=None)
