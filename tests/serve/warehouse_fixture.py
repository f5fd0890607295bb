"""A small warehouse for the service tests, written without Spark: the gold tables of the contract with
deterministic values, committed through the Parquet version log exactly as the table store lays them out.

The 31 locations and their names are the sample data's (`make run`), so the question set reads like
questions about it: months 2024-10 .. 2026-09, the latest complete month 2026-08.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.fs import LocalFileSystem, join
from lakehouse.tables.publish import SymlinkPublisher
from lakehouse.tables.versions import VERSIONS_DIR, Version, VersionLog, data_name, log_name, now

LOCATIONS = [
    ("store_01_l01", "Suds & Shine, Montréal St", "east"),
    ("store_01_l02", "Suds & Shine - Fairview #2", "east"),
    ("store_01_l03", "Suds & Shine - Franklin #3", "east"),
    ("store_01_l04", "Suds & Shine Oxford (Remodeled)", "west"),
    ("store_01_l05", "Suds & Shine - Lexington #5", "east"),
    ("store_01_l06", "Suds & Shine Newport (Remodeled)", "east"),
    ("store_01_l07", "Suds & Shine Bristol (Remodeled)", "east"),
    ("store_01_l08", "Suds & Shine - Clinton #8", "west"),
    ("store_02_l01", "Sparkle Express, Oxford", "east"),
    ("store_02_l02", "Sparkle Express - Lexington #2", "east"),
    ("store_02_l03", "Sparkle Express - Newport #3", "east"),
    ("store_02_l04", "Sparkle Express, Bristol", "west"),
    ("store_02_l05", "Sparkle Express - Clinton #5", "east"),
    ("store_02_l06", "Sparkle Express Dover (Remodeled)", "east"),
    ("store_02_l07", "Sparkle Express Main St, Suite 4 (Remodeled)", "east"),
    ("store_03_l01", 'Mister "Clean" Car, Bristol', "west"),
    ("store_03_l02", 'Mister "Clean" Car Clinton (Remodeled)', "west"),
    ("store_03_l03", 'Mister "Clean" Car - Dover #3', "west"),
    ("store_03_l04", 'Mister "Clean" Car, Main St, Suite 4', "central"),
    ("store_03_l05", 'Mister "Clean" Car - Milton #5', None),
    ("store_03_l06", 'Mister "Clean" Car - São Paulo Ave #6', "west"),
    ("store_03_l07", 'Mister "Clean" Car, Auburn', "west"),
    ("store_03_l08", 'Mister "Clean" Car Greenville (Remodeled)', "central"),
    ("store_04_l01", "Glo Auto Spa Main St, Suite 4 (Remodeled)", "west"),
    ("store_04_l02", "Glo Auto Spa - Milton #2", "west"),
    ("store_05_l01", "Foam Factory, Auburn", "central"),
    ("store_05_l02", "Foam Factory - Greenville #2", "central"),
    ("store_05_l03", "Foam Factory - Madison #3", "central"),
    ("store_06_l01", "Bubbles, Inc., Riverside", "north"),
    ("store_06_l02", "Bubbles, Inc. - Ashland #2", None),
    ("store_06_l03", "Bubbles, Inc. - Burlington #3", "north"),
]
MONTHS = [dt.date(2024 + (9 + i) // 12, (9 + i) % 12 + 1, 1) for i in range(24)]  # 2024-10 .. 2026-09
LATEST_COMPLETE = dt.date(2026, 8, 1)


_ARROW = {
    "string": pa.string(), "long": pa.int64(), "integer": pa.int32(), "double": pa.float64(),
    "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_type(spark_type) -> pa.DataType:
    """The Arrow type Spark writes for a Spark type in its JSON form."""
    if isinstance(spark_type, str):
        if spark_type.startswith("decimal("):
            precision, scale = spark_type[8:-1].split(",")
            return pa.decimal128(int(precision), int(scale))
        return _ARROW[spark_type]
    if spark_type["type"] == "array":
        return pa.list_(arrow_type(spark_type["elementType"]))
    if spark_type["type"] == "map":
        return pa.map_(arrow_type(spark_type["keyType"]), arrow_type(spark_type["valueType"]))
    return pa.struct([pa.field(f["name"], arrow_type(f["type"])) for f in spark_type["fields"]])


def arrow_schema(struct: dict) -> pa.Schema:
    """The Arrow schema of a Spark StructType in its JSON form."""
    return pa.schema([pa.field(f["name"], arrow_type(f["type"])) for f in struct["fields"]])


def write_version(warehouse: str, name: str, rows: list[dict], operation: str = "overwrite", publish: bool = True) -> int:
    """Commit `rows` as a new version of `name` (contract schema) the way the Parquet table store does:
    files in a new version directory, then the log entry (the commit), then the table path's symlink."""
    from lakehouse.contract import GOLD_SCHEMAS, OPS_SCHEMAS

    struct = (GOLD_SCHEMAS.get(name) or OPS_SCHEMAS[name]).json()
    layer, table = name.split(".")
    fs = LocalFileSystem()
    log = VersionLog(fs, join(warehouse, VERSIONS_DIR, layer, table), name)
    entries = log.entries()
    version = entries[-1].version + 1 if entries else 0
    data_dir = data_name(version)  # a directory of this writer's own
    folder = log.data_path(data_dir)
    os.makedirs(folder, exist_ok=True)
    data = pa.Table.from_pylist(rows, schema=arrow_schema(json.loads(struct)))
    pq.write_table(data, os.path.join(folder, "part-00000.parquet"))
    entry = Version(version, now(), operation, len(rows), data_dir, struct, ())
    log.commit(entry)
    if publish:
        SymlinkPublisher().publish(folder, join(warehouse, layer, table), data_dir)
    return version


def _ratio(i: int, j: int, spread: int) -> float:
    return round(((i * 37 + j * 11) % spread) / spread, 4)


def gold_rows(mark: int = 0) -> dict[str, list[dict]]:
    """Deterministic rows of the six gold tables; `mark` shifts every count (tells versions apart)."""
    scorecard, churn, billing = [], [], []
    for j, month in enumerate(MONTHS):
        month_rows = []
        for i, (loc, name, region) in enumerate(LOCATIONS):
            washes = 40 + (i * 13 + j * 7) % 160 + mark
            revenue = Decimal(washes * 4 + i).quantize(Decimal("0.01"))
            members_start = 20 + (i * 5 + j) % 90
            cancelled = (i + j) % 9
            new = (i * 3 + j) % 11
            members_end = members_start + new - cancelled
            churn_rate = round(cancelled / members_start, 4)
            attempts = members_start
            declines = (i * 2 + j) % 7
            errors = (i + 2 * j) % 3
            successes = attempts - declines - errors
            success_rate = round(successes / attempts, 4)
            month_rows.append(
                {
                    "location_id": loc, "location_name": name, "region": region, "month": month,
                    "washes": washes, "revenue": revenue,
                    "avg_ticket": (revenue / washes).quantize(Decimal("0.01")),
                    "member_wash_share": _ratio(i, j, 97), "members_end": members_end,
                    "churn_rate": churn_rate, "billing_success_rate": success_rate, "score": 0.0,
                }
            )
            churn.append(
                {
                    "location_id": loc, "month": month, "members_start": members_start, "new_members": new,
                    "churned_members": cancelled, "members_end": members_end, "churn_rate": churn_rate,
                    "retention_rate": round(1 - churn_rate, 4),
                }
            )
            billing.append(
                {
                    "location_id": loc, "month": month, "attempts": attempts, "successes": successes,
                    "declines": declines, "errors": errors, "success_rate": success_rate,
                    "memberships_failed": declines, "recovered": errors, "recovery_rate": 0.5,
                    "at_risk_revenue": Decimal(declines * 30).quantize(Decimal("0.01")),
                }
            )
        ordered = sorted(month_rows, key=lambda r: (r["washes"], r["location_id"]))
        for rank, row in enumerate(ordered):
            row["score"] = round(rank / (len(ordered) - 1), 4)
        scorecard += month_rows
    latest = sorted((r for r in scorecard if r["month"] == LATEST_COMPLETE), key=lambda r: (r["score"], r["location_id"]))
    bottom = [{"bottom_rank": k + 1, **r} for k, r in enumerate(latest[:20])]
    risk = [
        {
            "membership_id": f"{loc[:8]}_m{i:03d}{k}", "customer_id": f"{loc[:8]}_c{i:04d}{k}", "location_id": loc,
            "scored_on": dt.date(2026, 10, 1), "risk_score": round(0.05 + 0.9 * _ratio(i, k, 89), 4),
            "risk_band": "high", "model_version": "v20261001T000000Z-fixture",
        }
        for i, (loc, _n, _r) in enumerate(LOCATIONS)
        for k in range(3)
    ]
    for row in risk:
        row["risk_band"] = "low" if row["risk_score"] < 0.3 else "medium" if row["risk_score"] < 0.6 else "high"
    metrics = [
        {
            "model_version": "v20261001T000000Z-fixture", "run_id": "20261001T000000Z-churn_scoring-fixture",
            "trained_at": dt.datetime(2026, 10, 1, tzinfo=dt.UTC), "algorithm": "gbt", "train_rows": 19535,
            "test_rows": 11472, "train_positives": 700, "test_positives": 400, "train_from": dt.date(2025, 1, 1),
            "train_to": dt.date(2026, 4, 1), "test_from": dt.date(2026, 5, 1), "test_to": dt.date(2026, 9, 1),
            "label_horizon_days": 30, "features": ["tenure_days", "washes_30d"], "roc_auc": 0.85,
            "candidate_auc": [("gbt", 0.85), ("logistic_regression", 0.8)], "model_path": "/models/fixture",
        }
    ]
    return {
        "gold.location_scorecard": scorecard,
        "gold.location_scorecard_bottom": bottom,
        "gold.churn_retention": churn,
        "gold.billing_health": billing,
        "gold.churn_risk": risk,
        "gold.model_metrics": metrics,
    }


def ops_rows() -> dict[str, list[dict]]:
    """Two run-log rows and three data-quality results."""
    t0 = dt.datetime(2026, 10, 2, 8, 0, tzinfo=dt.UTC)
    runs = [
        {
            "run_id": f"20261002T0{k}0000Z-{job}-fixture", "job": job, "env": "local", "profile": "local",
            "git_sha": "abc123", "started_at": t0 + dt.timedelta(hours=k), "ended_at": t0 + dt.timedelta(hours=k, seconds=42.5),
            "status": "succeeded", "error": None,
            "tables": [{"table": f"{layer}.tickets", "rows_in": 100, "rows_out": 98, "details": [("inserted", 98)]}],
        }
        for k, (job, layer) in enumerate([("bronze_merge", "bronze"), ("silver_clean", "silver")])
    ]
    dq = [
        {
            "run_id": "20261002T010000Z-silver_clean-fixture", "checked_at": t0, "table": "silver.tickets",
            "rule": rule, "column": column, "action": "quarantine", "rows_checked": 100, "rows_failing": failing,
            "failing_keys": [f"t{n}" for n in range(failing)],
        }
        for rule, column, failing in [("required", "ticket_id", 0), ("parse", "amount", 4), ("location", "location_id", 2)]
    ]
    return {"ops.run_log": runs, "ops.dq_results": dq}


def build(warehouse: str, mark: int = 0) -> None:
    """Write every gold and ops table of the fixture under `warehouse`."""
    for name, rows in {**gold_rows(mark), **ops_rows()}.items():
        write_version(warehouse, name, rows)


__all__ = ["LATEST_COMPLETE", "LOCATIONS", "MONTHS", "build", "gold_rows", "log_name", "write_version"]
