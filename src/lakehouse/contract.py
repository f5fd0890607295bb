"""The table contract: every table's name and schema, derived from `conf/tables/*.yaml` where the YAML says it.

One place answers "what is table X and what columns does it have" for every layer (DOMAIN.md §2-4):

- `bronze.<entity>` and `quarantine.bronze_<entity>`: every contract column as text, the null-key
  fallback columns, `_sequence`, `_rescued` and the lineage (`bronze_schema`);
- `silver.<table>` and `quarantine.<entity>`: the typed silver columns (`silver_schema`), and the
  bronze row with the reasons it was rejected (`silver_quarantine_schema`);
- the gold KPI tables, the churn scores and model metrics (`GOLD_SCHEMAS`);
- the operations tables: `ops.run_log`, `ops.dq_results`, `ops.bronze_manifest`,
  `ops.source_freshness`, `ops.alerts`, `quarantine.bronze_files` (`OPS_SCHEMAS`).

Jobs write these tables and tests build their fixtures from the same functions, so a column added
to an entity's YAML reaches every layer without another edit. `schema_of(name, specs)` resolves
any table name.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import types as T

from lakehouse.config import ColumnSpec, TableSpec

# ---------------------------------------------------------------- names
# defined in lakehouse.names (readers without Spark use them); part of the contract's interface
from lakehouse.names import (  # noqa: E402, F401
    ALERTS,
    BILLING_HEALTH,
    BRONZE,
    BRONZE_FILES,
    BRONZE_MANIFEST,
    CHURN_RETENTION,
    CHURN_RISK,
    DQ_RESULTS,
    GOLD,
    GOLD_KPIS,
    LOCATION_COLUMN,
    LOCATION_SCORECARD,
    LOCATION_SCORECARD_BOTTOM,
    LOCATIONS_ENTITY,
    MODEL_METRICS,
    OPS,
    QUARANTINE,
    RUN_LOG,
    SILVER,
    SOURCE_FRESHNESS,
)


def bronze_table(entity: str) -> str:
    """`bronze.<entity>`: the merged rows of an entity, as text."""
    return f"{BRONZE}.{entity}"


def bronze_quarantine_table(entity: str) -> str:
    """`quarantine.bronze_<entity>`: rows bronze could not merge (no merge key, malformed)."""
    return f"{QUARANTINE}.bronze_{entity}"


def silver_table(spec: TableSpec) -> str:
    """`silver.<table>` of an entity (the entity's name unless `silver.table` overrides it)."""
    return f"{SILVER}.{spec.silver_table}"


def silver_quarantine_table(spec: TableSpec) -> str:
    """`quarantine.<entity>`: bronze rows silver rejected, with the reasons."""
    return f"{QUARANTINE}.{spec.entity}"


def table_names(specs: Mapping[str, TableSpec]) -> list[str]:
    """Every table the pipeline writes for these entities, by layer."""
    names = [bronze_table(e) for e in specs] + [bronze_quarantine_table(e) for e in specs]
    names += [silver_table(s) for s in specs.values()] + [silver_quarantine_table(s) for s in specs.values()]
    return [*names, *GOLD_SCHEMAS, *OPS_SCHEMAS]


# ---------------------------------------------------------------- bronze

STORE_ID = "_store_id"
SOURCE_FILE = "_source_file"
EXPORT_ID = "_export_id"
RUN_ID = "_run_id"
INGESTED_AT = "_ingested_at"
LINEAGE = (STORE_ID, SOURCE_FILE, EXPORT_ID, RUN_ID, INGESTED_AT)
SEQUENCE = "_sequence"  # the sequence column parsed as a timestamp (dedup order)
RESCUED = "_rescued"  # unknown columns of a file: normalized name -> trimmed text
REASON = "_reason"  # why a row is quarantined
RESCUED_TYPE = T.MapType(T.StringType(), T.StringType(), True)


def fallback_column(name: str) -> str:
    """The bronze column holding the lower-cased fallback key value of contract column `name`."""
    return f"_fallback_{name}"


def bronze_schema(spec: TableSpec) -> T.StructType:
    """The columns of `bronze.<entity>`, in order: contract columns as text, fallback keys, then lineage."""
    fields = [T.StructField(c.name, T.StringType(), True) for c in spec.columns]
    if spec.allow_null_merge_keys:
        fields += [T.StructField(fallback_column(c), T.StringType(), True) for c in spec.null_key_fallback]
    fields += [
        T.StructField(SEQUENCE, T.TimestampType(), True),
        T.StructField(RESCUED, RESCUED_TYPE, True),
        T.StructField(STORE_ID, T.StringType(), True),
        T.StructField(SOURCE_FILE, T.StringType(), True),
        T.StructField(EXPORT_ID, T.StringType(), True),
        T.StructField(RUN_ID, T.StringType(), True),
        T.StructField(INGESTED_AT, T.TimestampType(), True),
    ]
    return T.StructType(fields)


def bronze_quarantine_schema(spec: TableSpec) -> T.StructType:
    """The columns of `quarantine.bronze_<entity>`: the bronze columns and `_reason`."""
    return T.StructType([*bronze_schema(spec).fields, T.StructField(REASON, T.StringType(), True)])


# ---------------------------------------------------------------- silver

MONEY = T.DecimalType(12, 2)  # DOMAIN.md §3: money is decimal(12,2)

# silver type of each logical type (DOMAIN.md §3: money decimal(12,2), counts int, UTC timestamps)
SILVER_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "boolean": T.BooleanType(),
    "integer": T.IntegerType(),
    "decimal": MONEY,
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
    "enum": T.StringType(),
}

RULES = "_rules"  # silver quarantine: every rule the row broke
SILVER_RUN_ID = "_silver_run_id"
QUARANTINED_AT = "_quarantined_at"


def silver_type(logical_type: str) -> T.DataType:
    """The silver Spark type of a logical type (ValueError for an unknown one)."""
    if logical_type not in SILVER_TYPES:
        raise ValueError(f"unknown logical type {logical_type!r}; expected one of {sorted(SILVER_TYPES)}")
    return SILVER_TYPES[logical_type]


def silver_columns(spec: TableSpec) -> list[ColumnSpec]:
    """The contract columns that have a silver name, in contract order."""
    return [c for c in spec.columns if c.silver]


def silver_schema(spec: TableSpec) -> T.StructType:
    """The silver table's schema (DOMAIN.md §3): the key column if any, then the silver columns."""
    fields = [T.StructField(spec.silver.key_column, T.StringType(), True)] if spec.silver.key_column else []
    fields += [T.StructField(c.silver, silver_type(c.type), True) for c in silver_columns(spec)]
    return T.StructType(fields)


def silver_quarantine_schema(spec: TableSpec) -> T.StructType:
    """The columns of `quarantine.<entity>`: the bronze row, `_reason`, `_rules`, the silver run and its time."""
    return T.StructType(
        [
            *bronze_schema(spec).fields,
            T.StructField(REASON, T.StringType(), True),
            T.StructField(RULES, T.ArrayType(T.StringType(), True), True),
            T.StructField(SILVER_RUN_ID, T.StringType(), True),
            T.StructField(QUARANTINED_AT, T.TimestampType(), True),
        ]
    )


# ---------------------------------------------------------------- gold


def _nullable(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype, True) for name, dtype in fields])


def _required(*fields: tuple[str, T.DataType] | tuple[str, T.DataType, bool]) -> T.StructType:
    return T.StructType([T.StructField(f[0], f[1], f[2] if len(f) > 2 else False) for f in fields])


_S, _D, _TS, _L, _DBL = T.StringType(), T.DateType(), T.TimestampType(), T.LongType(), T.DoubleType()

_B = T.BooleanType()
DATA_COMPLETE = "data_complete"  # every store serving the location has an export covering the whole month

_SCORECARD = _nullable(
    ("location_id", _S),
    ("location_name", _S),
    ("region", _S),
    ("month", _D),
    ("washes", _L),
    ("revenue", MONEY),
    ("avg_ticket", MONEY),
    ("member_wash_share", _DBL),
    ("members_end", _L),
    ("churn_rate", _DBL),
    ("billing_success_rate", _DBL),
    ("score", _DBL),
    (DATA_COMPLETE, _B),
)

GOLD_SCHEMAS: dict[str, T.StructType] = {
    CHURN_RETENTION: _nullable(
        ("location_id", _S),
        ("month", _D),
        ("members_start", _L),
        ("new_members", _L),
        ("churned_members", _L),
        ("members_end", _L),
        ("churn_rate", _DBL),
        ("retention_rate", _DBL),
        (DATA_COMPLETE, _B),
    ),
    BILLING_HEALTH: _nullable(
        ("location_id", _S),
        ("month", _D),
        ("attempts", _L),
        ("successes", _L),
        ("declines", _L),
        ("errors", _L),
        ("success_rate", _DBL),
        ("memberships_failed", _L),
        ("recovered", _L),
        ("recovery_rate", _DBL),
        ("at_risk_revenue", MONEY),
        (DATA_COMPLETE, _B),
    ),
    LOCATION_SCORECARD: _SCORECARD,
    LOCATION_SCORECARD_BOTTOM: T.StructType(
        [T.StructField("bottom_rank", T.IntegerType(), True), *_SCORECARD.fields]
    ),
    CHURN_RISK: _nullable(
        ("membership_id", _S),
        ("customer_id", _S),
        ("location_id", _S),
        ("scored_on", _D),
        ("risk_score", _DBL),
        ("risk_band", _S),
        ("model_version", _S),
    ),
    MODEL_METRICS: _required(
        ("model_version", _S),
        ("run_id", _S),
        ("trained_at", _TS),
        ("algorithm", _S),
        ("train_rows", _L),
        ("test_rows", _L),
        ("train_positives", _L),
        ("test_positives", _L),
        ("train_from", _D),
        ("train_to", _D),
        ("test_from", _D),
        ("test_to", _D),
        ("label_horizon_days", T.IntegerType()),
        ("features", T.ArrayType(_S, False)),
        ("roc_auc", _DBL),
        ("candidate_auc", T.MapType(_S, _DBL, False), True),
        ("model_path", _S),
    ),
}

# ---------------------------------------------------------------- operations

OPS_SCHEMAS: dict[str, T.StructType] = {
    RUN_LOG: _required(
        ("run_id", _S),
        ("job", _S),
        ("env", _S),
        ("profile", _S),
        ("git_sha", _S, True),
        ("started_at", _TS),
        ("ended_at", _TS, True),
        ("status", _S),
        ("error", _S, True),
        (
            "tables",
            T.ArrayType(
                _required(
                    ("table", _S),
                    ("rows_in", _L, True),
                    ("rows_out", _L, True),
                    ("details", T.MapType(_S, _L), True),
                )
            ),
            True,
        ),
    ),
    DQ_RESULTS: _required(
        ("run_id", _S),
        ("checked_at", _TS),
        ("table", _S),
        ("rule", _S),
        ("column", _S, True),
        ("action", _S),
        ("rows_checked", _L),
        ("rows_failing", _L),
        ("failing_keys", T.ArrayType(_S)),
    ),
    BRONZE_MANIFEST: _nullable(
        ("path", _S),
        ("entity", _S),
        ("store_id", _S),
        ("export_id", _S),
        ("format", _S),
        ("size", _L),
        ("mtime_ms", _L),
        ("status", _S),  # merged | bad
        ("rows", _L),  # rows read from the file (0 for bad files)
        ("run_id", _S),
        ("recorded_at", _TS),
    ),
    SOURCE_FRESHNESS: _nullable(
        ("store_id", _S),
        ("entity", _S),
        ("last_export_id", _S),  # null: the store never exported the entity
        ("last_export_at", _TS),  # from the export id's leading timestamp, else the file's modification time
        ("exports", _L),  # exports merged so far
        ("rows_last_export", _L),
        ("days_since_last_export", _DBL),  # at as_of
        ("status", _S),  # ok | late | missing
        ("expected_every", _S),  # the cadence judged against (`1d`, `31d`)
        ("as_of", _TS),
        ("run_id", _S),
    ),
    ALERTS: _nullable(
        ("run_id", _S),
        ("check", _S),  # a name of lakehouse.ops.checks.CHECKS
        ("severity", _S),  # warn | error
        ("entity", _S),  # the entity (or table) the finding is about; null for the run as a whole
        ("store_id", _S),
        ("value", _DBL),
        ("threshold", _DBL),
        ("message", _S),
        ("raised_at", _TS),
    ),
    BRONZE_FILES: _nullable(
        ("path", _S),
        ("entity", _S),
        ("store_id", _S),
        ("export_id", _S),
        ("format", _S),
        ("size", _L),
        ("reason", _S),  # a code: corrupt_parquet, not_utf8, ...
        ("detail", _S),  # the reader's message
        ("run_id", _S),
        ("detected_at", _TS),
    ),
}


def schema_of(name: str, specs: Mapping[str, TableSpec]) -> T.StructType:
    """The schema of any table of the contract (`layer.table`); KeyError naming it when unknown."""
    fixed = GOLD_SCHEMAS.get(name) or OPS_SCHEMAS.get(name)
    if fixed is not None:
        return fixed
    for spec in specs.values():
        for table, schema in (
            (bronze_table(spec.entity), bronze_schema),
            (bronze_quarantine_table(spec.entity), bronze_quarantine_schema),
            (silver_table(spec), silver_schema),
            (silver_quarantine_table(spec), silver_quarantine_schema),
        ):
            if table == name:
                return schema(spec)
    raise KeyError(f"{name} is not a table of the contract")
