"""Silver rules: the contract's built-in rules and declared expectations as per-row flags, with actions.

A rule marks the rows that break it; its action says what happens to them:
- `warn`: the row stays in silver and is counted in ops.dq_results;
- `quarantine`: the row goes to `quarantine.<entity>` with a `_reason` naming every quarantine
  rule it broke, the column and the offending value, next to its bronze values and lineage;
- `fail`: the run stops with `ExpectationFailed` naming the rule and a sample of failing keys.

Built-in rules (DOMAIN.md §3), with their actions from the entity's `silver:` options:
`required` (a required value is missing), `parse` (a value does not parse as its type),
`plausible` (a timestamp or date before `silver.earliest`, default 2000-01-01, or more than
`silver.future_days` after the run's start, default 1: 9999-12-31 is not a real ticket), `enum` (an
unknown enumeration value), `normalize` (an email or phone that is not valid: nulled, warned by
default) and `location_exists` (location_id not in silver.locations). Declared expectations are
Spark SQL boolean expressions over the silver columns; a NULL result counts as a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse import encodings as enc
from lakehouse.config import ColumnSpec, ConfigError, Expectation, SilverSpec, TableSpec
from lakehouse.contract import (
    LOCATION_COLUMN,
    LOCATIONS_ENTITY,
    QUARANTINED_AT,
    REASON,
    RULES,
    SILVER_RUN_ID,
    silver_columns,
    silver_type,
)
from lakehouse.silver.typing import with_silver_values

BUILT_IN_RULES = ("required", "parse", "plausible", "enum", "normalize", "location_exists")

# columns the flagged frame adds next to the bronze and silver columns
KEY = "_key"  # the row's merge key as text (`a/b` for composite keys), for failing-key samples
QUARANTINED = "_quarantined"
FLAG_PREFIX = "__dq_"
_KNOWN_LOCATION = "__dq_known_location"
_VALUE_CHARS = 100  # offending values longer than this are cut in `_reason`
INLINE_LOCATIONS = 10_000  # known location ids up to this many are a set in the plan, more are joined


class ExpectationFailed(Exception):
    """Rows broke a rule whose action is `fail`: the run stops (a data problem, not a config one)."""

    def __init__(self, table: str, failures: Sequence[tuple[str, int, int, Sequence[str]]], quality=None):
        self.table = table
        self.failures = list(failures)  # (rule label, rows failing, rows checked, sample keys)
        self.quality = quality  # the table's quality.TableQuality, for ops.dq_results
        parts = [
            f"rule {label} failed on {failing:,} of {checked:,} rows (keys: {', '.join(keys) or '-'})"
            for label, failing, checked, keys in self.failures
        ]
        super().__init__(f"{table}: " + "; ".join(parts) + " [action: fail]")


@dataclass(frozen=True)
class Rule:
    """One rule of one entity: which rows break it (`failing`, never null) and why (`reason`)."""

    name: str
    columns: tuple[str, ...]
    action: str
    failing: Column
    reason: Column
    flag: str = ""  # the boolean column of the flagged frame holding `failing`

    @property
    def column(self) -> str | None:
        """The silver column(s) the rule checks, comma-joined (None when it names none)."""
        return ",".join(self.columns) or None

    @property
    def label(self) -> str:
        """`name(column)`, e.g. `parse(amount)`."""
        return f"{self.name}({self.column})" if self.columns else self.name


def breaks_any(rules: Sequence[Rule]) -> Column:
    """True on the rows that break at least one of `rules` (their flag columns must exist)."""
    broke = F.lit(False)
    for r in rules:
        broke = broke | F.col(r.flag)
    return broke


def _quoted(text: Column) -> Column:
    cut = F.when(F.length(text) > _VALUE_CHARS, F.concat(F.substring(text, 1, _VALUE_CHARS), F.lit("...")))
    return F.concat(F.lit("'"), F.coalesce(cut, text), F.lit("'"))


def _blank(text: Column) -> Column:
    return text.isNull() | enc.clean(text).isNull()


def built_in_rules(spec: TableSpec, known_location: Column | None, run_time: datetime | None = None) -> list[Rule]:
    """The contract's rules for `spec` over a frame from `typing.with_silver_values` (see module doc).

    `location_exists` is included when `known_location` is given: a condition true where the
    row's location_id is in silver.locations (see `flag_rows`). `plausible` flags timestamps and
    dates before the entity's `silver.earliest`, or (with `run_time`) more than
    `silver.future_days` after it.
    """
    opts = spec.silver
    rules: list[Rule] = []
    for col in silver_columns(spec):
        text, value, name = F.col(col.name), F.col(col.silver), col.silver
        # a null silver value is either missing in bronze or did not parse / normalize
        missing = F.when(value.isNotNull(), F.lit(False)).otherwise(_blank(text))
        invalid = F.when(value.isNotNull(), F.lit(False)).otherwise(~_blank(text))
        if col.required:
            rules.append(
                Rule("required", (name,), opts.required_action, missing, F.lit(f"required({name}): {col.name} is missing"))
            )
        if col.normalize:
            what = F.concat(F.lit(f"normalize({name}): {col.name} "), _quoted(text), F.lit(f" is not a valid {col.normalize}"))
            rules.append(Rule("normalize", (name,), opts.normalize_action, invalid, what))
        elif col.type == "enum":
            allowed = ", ".join(col.values)
            what = F.concat(F.lit(f"enum({name}): {col.name} "), _quoted(text), F.lit(f" is not one of {allowed}"))
            rules.append(Rule("enum", (name,), opts.enum_action, invalid, what))
        elif col.type != "string":
            kind = silver_type(col.type).simpleString()
            what = F.concat(F.lit(f"parse({name}): {col.name} "), _quoted(text), F.lit(f" is not a valid {col.type} ({kind})"))
            rules.append(Rule("parse", (name,), opts.parse_action, invalid, what))
            if col.type in ("timestamp", "date"):
                rules.append(_plausible(col, opts, run_time))
    if known_location is not None:
        source = next(c.name for c in silver_columns(spec) if c.silver == LOCATION_COLUMN)
        unknown = F.when(F.col(LOCATION_COLUMN).isNull(), F.lit(False)).otherwise(~F.coalesce(known_location, F.lit(False)))
        what = F.concat(
            F.lit(f"location_exists({LOCATION_COLUMN}): {source} "), _quoted(F.col(LOCATION_COLUMN)),
            F.lit(" is not in silver.locations"),
        )
        rules.append(Rule("location_exists", (LOCATION_COLUMN,), opts.location_action, unknown, what))
    return rules


def _plausible(col: ColumnSpec, opts: SilverSpec, run_time: datetime | None) -> Rule:
    """`plausible(<column>)`: a parsed timestamp or date outside [earliest, run time + future_days]."""
    value = F.col(col.silver)
    earliest = opts.earliest
    latest = (run_time.astimezone(UTC).date() + timedelta(days=opts.future_days)) if run_time else None
    if col.type == "timestamp":
        lo = F.lit(datetime.combine(earliest, time.min, tzinfo=UTC))
        hi = F.lit(datetime.combine(latest + timedelta(days=1), time.min, tzinfo=UTC)) if latest else None
        outside = (value < lo) | (value >= hi) if hi is not None else value < lo
    else:
        outside = (value < F.lit(earliest)) | (value > F.lit(latest)) if latest else value < F.lit(earliest)
    span = f"{earliest.isoformat()} .. {latest.isoformat() if latest else 'any'}"
    what = F.concat(F.lit(f"plausible({col.silver}): {col.name} "), _quoted(F.col(col.name)), F.lit(f" is outside {span}"))
    return Rule("plausible", (col.silver,), opts.plausible_action, F.coalesce(outside, F.lit(False)), what)


def expectation_rule(expectation: Expectation) -> Rule:
    """A declared expectation as a rule: failing where its SQL expression is false (NULL passes)."""
    ok = F.coalesce(F.expr(expectation.rule), F.lit(True))
    shown = [F.concat(F.lit(f"{c}="), F.coalesce(F.col(c).cast("string"), F.lit("null"))) for c in expectation.columns]
    label = f"{expectation.name}({','.join(expectation.columns)})" if expectation.columns else expectation.name
    values = [F.lit(" "), F.concat_ws(", ", *shown), F.lit(" ")] if shown else [F.lit(" ")]
    reason = F.concat(F.lit(f"{label}:"), *values, F.lit(f"breaks `{expectation.rule}`"))
    return Rule(expectation.name, tuple(expectation.columns), expectation.action, ~ok, reason)


def _check_expectations(spec: TableSpec, silver_names: Sequence[str]) -> None:
    where = f"conf/tables/{spec.entity}.yaml"
    names = [e.name for e in spec.expectations]
    for exp in spec.expectations:
        if exp.name in BUILT_IN_RULES:
            raise ConfigError(f"{where}: expectation name {exp.name!r} is a built-in rule's; choose another name")
        if names.count(exp.name) > 1:
            raise ConfigError(f"{where}: expectation name {exp.name!r} is used twice; names must be unique")
        unknown = [c for c in exp.columns if c not in silver_names]
        if unknown:
            raise ConfigError(
                f"{where}: expectation {exp.name!r} lists columns {unknown} that are not silver columns "
                f"{list(silver_names)}"
            )


def location_check_applies(spec: TableSpec) -> bool:
    """True when the entity's location_id must exist in silver.locations."""
    names = [c.silver for c in silver_columns(spec)]
    return spec.silver.check_location and spec.entity != LOCATIONS_ENTITY and LOCATION_COLUMN in names


def flag_rows(
    bronze: DataFrame, spec: TableSpec, locations: DataFrame | None = None, run_time: datetime | None = None
) -> tuple[DataFrame, list[Rule]]:
    """Type a bronze frame and evaluate every rule of the entity on every row, in one projection chain.

    Returns the flagged frame and its rules. The frame holds the bronze columns, the silver
    columns, `_key` (merge key text), one boolean flag per rule (`Rule.flag`), `_quarantined`
    (broke at least one quarantine rule), `_reason` (every broken quarantine rule with its column
    and offending value, `; `-separated) and `_rules` (their labels), the last two null on rows
    that are not quarantined. `run_time` (the run's start) bounds the `plausible` rule's latest
    date. `locations` is silver.locations, needed when the entity's
    location_id is checked: up to `INLINE_LOCATIONS` ids are looked up in a set held in the plan
    (no join, whose output would copy every row once more), more are joined by broadcast.
    Raises ConfigError for an expectation that is not valid Spark SQL over the silver columns.
    """
    check_location = location_check_applies(spec)
    if check_location and locations is None:
        raise ValueError(f"{spec.entity}: location_id is checked, so flag_rows needs the silver.locations frame")
    typed = bronze.transform(with_silver_values(spec))
    silver_names = [c.silver for c in silver_columns(spec)]
    key_cols = (
        [spec.silver.key_column]
        if spec.silver.key_column
        else [spec.column(k).silver or k for k in spec.merge_key]
    )
    typed = typed.withColumn(KEY, F.concat_ws("/", *[F.coalesce(F.col(k).cast("string"), F.lit("null")) for k in key_cols]))
    known_location: Column | None = None
    if check_location:
        ids = (
            locations.select(F.col(LOCATION_COLUMN).alias(f"{_KNOWN_LOCATION}_id"))
            .where(F.col(f"{_KNOWN_LOCATION}_id").isNotNull())
            .distinct()
        )
        inline = ids.limit(INLINE_LOCATIONS + 1).collect()
        if len(inline) <= INLINE_LOCATIONS:
            known_location = F.col(LOCATION_COLUMN).isin([r[0] for r in inline])
        else:
            known = ids.withColumn(_KNOWN_LOCATION, F.lit(True))
            typed = typed.join(
                F.broadcast(known), typed[LOCATION_COLUMN] == known[f"{_KNOWN_LOCATION}_id"], how="left"
            ).drop(f"{_KNOWN_LOCATION}_id")
            known_location = F.col(_KNOWN_LOCATION).isNotNull()

    _check_expectations(spec, silver_names)
    try:
        rules = built_in_rules(spec, known_location, run_time) + [expectation_rule(e) for e in spec.expectations]
        rules = [Rule(r.name, r.columns, r.action, r.failing, r.reason, f"{FLAG_PREFIX}{i}") for i, r in enumerate(rules)]
        flagged = typed.withColumns({r.flag: r.failing for r in rules})
    except (AnalysisException, ParseException) as exc:
        bad = _first_bad_expectation(typed, spec)
        if bad is None:
            raise
        first_line = str(exc).strip().splitlines()[0]
        raise ConfigError(
            f"conf/tables/{spec.entity}.yaml: expectation {bad.name!r} rule `{bad.rule}` is not a valid "
            f"Spark SQL condition over the silver columns {silver_names}: {first_line}"
        ) from None

    quarantine = [r for r in rules if r.action == "quarantine"]
    reasons = F.concat_ws("; ", *[F.when(F.col(r.flag), r.reason) for r in quarantine])
    labels = F.array_compact(F.array(*[F.when(F.col(r.flag), F.lit(r.label)) for r in quarantine]))
    flagged = flagged.withColumn(QUARANTINED, breaks_any(quarantine)).withColumns(
        {
            REASON: F.when(F.col(QUARANTINED), reasons),
            RULES: F.when(F.col(QUARANTINED), labels) if quarantine else F.lit(None).cast("array<string>"),
        }
    )
    if _KNOWN_LOCATION in flagged.columns:  # joined: more ids than INLINE_LOCATIONS
        flagged = flagged.drop(_KNOWN_LOCATION)
    return flagged, rules


def _first_bad_expectation(typed: DataFrame, spec: TableSpec) -> Expectation | None:
    for exp in spec.expectations:
        try:
            typed.select(F.expr(exp.rule))
        except (AnalysisException, ParseException):
            return exp
    return None


def silver_rows(flagged: DataFrame, spec: TableSpec) -> DataFrame:
    """The rows of a flagged frame that go to silver, as the silver table (DOMAIN.md §3 order)."""
    names = ([spec.silver.key_column] if spec.silver.key_column else []) + [c.silver for c in silver_columns(spec)]
    return flagged.where(~F.col(QUARANTINED)).select(*names)


def quarantine_rows(flagged: DataFrame, bronze_columns: Sequence[str], run_id: str, run_time) -> DataFrame:
    """The quarantined rows of a flagged frame: their bronze values and lineage, `_reason`, `_rules`,
    the silver run that quarantined them (`_silver_run_id`) and its start time (`_quarantined_at`)."""
    return flagged.where(F.col(QUARANTINED)).select(
        *bronze_columns,
        REASON,
        RULES,
        F.lit(run_id).alias(SILVER_RUN_ID),
        F.lit(run_time).cast("timestamp").alias(QUARANTINED_AT),
    )
