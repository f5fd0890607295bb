"""run_gold end to end: silver tables in a temporary warehouse in, the four gold tables out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from lakehouse.config import load_tables
from lakehouse.contract import GOLD_SCHEMAS, silver_schema
from lakehouse.errors import UserError
from lakehouse.gold import run_gold
from lakehouse.runtime import RunContext
from lakehouse.tables import open_table_store

SPECS = load_tables()  # the project's conf/tables (LAKEHOUSE_HOME, set by conftest)
SILVER = {entity: silver_schema(spec) for entity, spec in SPECS.items()}
GOLD = {name.split(".")[1]: schema for name, schema in GOLD_SCHEMAS.items()}

def make_run(spark, config, job: str = "gold", run_id: str = "20240305T070809Z-gold-1a2b3c4d") -> RunContext:
    """A run context over the test's temporary warehouse (what runtime.job_run would build)."""
    return RunContext(
        run_id=run_id,
        job=job,
        started_at=datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC),
        git_sha="test",
        config=config,
        spark=spark,
        tables=open_table_store(spark, config.settings),
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


def write_silver(spark, run, rows: dict[str, list[tuple]]) -> None:
    for entity, data in rows.items():
        run.tables.overwrite(f"silver.{entity}", spark.createDataFrame(data, SILVER[entity]))


SILVER_ROWS = {
    "locations": [
        ("A", "Wash A", "north", d("2020-01-01"), None),
        ("B", "Wash B", "south", d("2020-01-01"), None),
    ],
    "memberships": [
        ("mA1", "cA", "A", "basic", Decimal("19.99"), d("2024-01-05"), None),
        ("mB1", "cB", "B", "deluxe", Decimal("29.99"), d("2024-01-10"), d("2024-02-20")),
    ],
    "tickets": [
        ("t1", "A", "cA", at("2024-01-10 09:00"), "basic", Decimal("10.00"), True, "membership"),
        ("t2", "A", "cA", at("2024-02-10 09:00"), "basic", Decimal("20.00"), True, "membership"),
        ("t3", "B", None, at("2024-01-11 09:00"), "basic", Decimal("5.00"), False, "cash"),
        ("t4", "B", None, at("2024-02-10 09:00"), "basic", Decimal("3.00"), False, "card"),
        # the latest ticket opens March, which makes February the latest complete month
        ("t5", "A", None, at("2024-03-01 00:00"), "basic", Decimal("7.00"), False, "card"),
    ],
    "billing_attempts": [
        ("b1", "mA1", "A", at("2024-01-05 06:00"), Decimal("19.99"), "success"),
        ("b2", "mA1", "A", at("2024-02-05 06:00"), Decimal("19.99"), "success"),
        ("b3", "mB1", "B", at("2024-01-10 06:00"), Decimal("29.99"), "success"),
        ("b4", "mB1", "B", at("2024-02-10 06:00"), Decimal("29.99"), "declined"),
    ],
}


def test_run_gold_writes_the_four_tables(spark, config):
    run = make_run(spark, config)
    write_silver(spark, run, SILVER_ROWS)
    summary = run_gold(run)

    assert summary == {
        "months": 3,
        "first_month": "2024-01-01",
        "last_month": "2024-03-01",
        "latest_complete_month": "2024-02-01",
        "incomplete_locations": 0,
        "locations": 2,
        "tickets": 5,
        "rows": {
            "churn_retention": 6,
            "billing_health": 6,
            "location_scorecard": 6,
            "location_scorecard_bottom": 2,
        },
    }
    # February: A leads on revenue (20 vs 3), churn (0 vs 1) and billing (1 vs 0)
    feb = d("2024-02-01")
    expected = spark.createDataFrame(
        [
            # no bronze lineage: no store is known to serve a location, so nothing is incomplete
            (1, "B", "Wash B", "south", feb, 1, Decimal("3.00"), Decimal("3.00"), 0.0, 0, 1.0, 0.0, 0.0, True),
            (2, "A", "Wash A", "north", feb, 1, Decimal("20.00"), Decimal("20.00"), 1.0, 1, 0.0, 1.0,
             0.4 * 1.0 + 0.3 * 1.0 + 0.3 * 1.0, True),
        ],
        GOLD["location_scorecard_bottom"],
    )
    bottom = run.tables.read("gold.location_scorecard_bottom")
    assert_df_equality(bottom, expected, ignore_row_order=True, ignore_nullable=True)
    for name in ("churn_retention", "billing_health", "location_scorecard"):
        table = run.tables.read(f"gold.{name}")
        assert [(f.name, f.dataType) for f in table.schema] == [(f.name, f.dataType) for f in GOLD[name]]
    churn_b = run.tables.read("gold.churn_retention").where("location_id = 'B'").orderBy("month")
    assert [(r.members_start, r.new_members, r.churned_members, r.members_end) for r in churn_b.collect()] == [
        (0, 1, 0, 1),
        (1, 0, 1, 0),
        (0, 0, 0, 0),
    ]
    recorded = {c.table: (c.rows_in, c.rows_out) for c in run.counts}
    assert recorded == {
        "gold.churn_retention": (2, 6),
        "gold.billing_health": (4, 6),
        "gold.location_scorecard": (5, 6),
        "gold.location_scorecard_bottom": (6, 2),
    }


def test_run_gold_names_the_missing_silver_tables(spark, config):
    run = make_run(spark, config)
    write_silver(spark, run, {"locations": SILVER_ROWS["locations"]})
    with pytest.raises(UserError, match=r"silver\.memberships, silver\.tickets, silver\.billing_attempts"):
        run_gold(run)


def test_run_gold_flags_locations_whose_store_stopped_exporting(spark, config):
    """Store s2 (location B) sent nothing after January: B's February rows are incomplete and B is left out of
    the bottom scorecard; March is incomplete everywhere (no export covers it yet)."""
    from lakehouse.contract import BRONZE_MANIFEST, OPS_SCHEMAS

    run = make_run(spark, config)
    write_silver(spark, run, SILVER_ROWS)
    lineage = spark.createDataFrame([("A", "s1"), ("B", "s2")], "sLocationId string, _store_id string")
    for entity in ("locations", "tickets"):
        run.tables.overwrite(f"bronze.{entity}", lineage)
    manifest = [
        (f"/l/{store}/{entity}/{eid}.csv", entity, store, eid, "csv", 10, 0, "merged", 3, "r0", at("2024-03-02 00:00"))
        for store, eids in (("s1", ("20240131T235900_0001", "20240229T235900_0001")), ("s2", ("20240131T235900_0001",)))
        for entity in ("tickets", "memberships", "billing_attempts")
        for eid in eids
    ]
    run.tables.overwrite(BRONZE_MANIFEST, spark.createDataFrame(manifest, OPS_SCHEMAS[BRONZE_MANIFEST]))

    summary = run_gold(run)

    assert (summary["latest_complete_month"], summary["incomplete_locations"]) == ("2024-02-01", 1)
    for name in ("churn_retention", "billing_health", "location_scorecard"):
        flags = {(r.location_id, str(r.month)): r.data_complete for r in run.tables.read(f"gold.{name}").collect()}
        assert flags == {
            ("A", "2024-01-01"): True, ("B", "2024-01-01"): True,
            ("A", "2024-02-01"): True, ("B", "2024-02-01"): False,
            ("A", "2024-03-01"): False, ("B", "2024-03-01"): False,
        }, name
    bottom = run.tables.read("gold.location_scorecard_bottom").collect()
    assert [(r.bottom_rank, r.location_id, r.data_complete) for r in bottom] == [(1, "A", True)]
    incomplete = {c.table: c.details.get("incomplete") for c in run.counts}
    assert incomplete["gold.location_scorecard"] == 3
