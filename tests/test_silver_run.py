"""run_silver end to end: bronze tables in a temporary warehouse in; silver, quarantine and
ops.dq_results out; conservation, the run log counts, `fail` actions and reruns."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

import lakehouse.silver.job as silver_job
from lakehouse.config import Config, Expectation, load_profile, load_settings, load_tables
from lakehouse.contract import DQ_RESULTS, OPS_SCHEMAS, bronze_schema, silver_schema
from lakehouse.errors import UserError
from lakehouse.runtime import RunContext
from lakehouse.silver import run_silver
from lakehouse.silver.job import ConservationError, ExpectationFailed
from lakehouse.tables import open_table_store

ROOT = Path(__file__).resolve().parents[1]
T0 = "2024-03-01T14:05:09.000000Z"
LINEAGE = dict(_store_id="s1", _source_file="/landing/s1/e/e1.csv", _export_id="e1",
               _run_id="20240301T000000Z-bronze_merge-1", _ingested_at=datetime(2024, 3, 1, 1), _rescued={})

# bronze rows per entity (source column -> text); house_accounts has no bronze table at all
BRONZE = {
    "locations": [
        dict(sLocationId="A", sName="Wash A", sRegion="north", dOpened="2020-01-01"),
        dict(sLocationId="B", sName="Wash B", dOpened="03/15/2021", dClosed="2024-01-31"),
        dict(sLocationId="C", sName="Wash C", dOpened="soon"),  # quarantined: parse(opened_on)
    ],
    "customers": [
        dict(sCustomerId="c1", sEmail=" Bob@Example.COM ", sPhone="(201) 555-0123", dtCreated=T0),
        dict(sCustomerId="c2", sEmail="bob@", sPhone="n/a", dtCreated="3/1/2024 14:05", sHomeLocationId="A"),
    ],
    "memberships": [
        dict(sMembershipId="m1", sCustomerId="c1", sLocationId="A", sPlan="Basic", nMonthlyPrice="$19.99",
             dStarted="2024-01-05"),
        dict(sMembershipId="m2", sCustomerId="c2", sLocationId="B", sPlan="deluxe", nMonthlyPrice="29.99",
             dStarted="2024-02-01", dCancelled="2024-01-15"),  # quarantined: cancelled before started
    ],
    "tickets": [
        dict(sTicketId="t1", sLocationId="A", sCustomerId="c1", dtCreated=T0, sWashType="Club Basic", nAmount="10",
             bIsMember="true", sPaymentMethod="membership"),
        dict(sTicketId="t2", sLocationId="B", dtCreated="2024-03-01 15:00:00", sWashType="Deluxe", nAmount="(5.00)",
             bIsMember="N", sPaymentMethod="Cash"),  # quarantined: negative amount
        dict(sTicketId="t3", sLocationId="C", dtCreated=T0, sWashType="Basic", nAmount="7.5", bIsMember="0",
             sPaymentMethod="card"),  # quarantined: location C did not make it to silver
        dict(sTicketId="t4", sLocationId="A", dtCreated=T0, sWashType="Basic", nAmount="8", bIsMember="false",
             sPaymentMethod="card"),
    ],
    "payments": [
        dict(sPaymentId="p1", sLocationId="A", sTicketId="t1", nAmount="10", dtPaid=T0, sMethod="card"),
    ],
    "billing_attempts": [
        dict(sAttemptId="b1", sMembershipId="m1", sLocationId="A", dtAttempted=T0, nAmount="19.99", sOutcome="success"),
        dict(sAttemptId="b2", sMembershipId="m1", sLocationId="A", dtAttempted=T0, nAmount="19.99", sOutcome="pending"),
    ],
    "prepaid_books": [
        dict(sBookId="k1", sCustomerId="c1", sLocationId="A", dtPurchased=T0, nWashesTotal="10", nWashesUsed="3",
             bSendWash="yes"),
    ],
}


def make_config(warehouse: Path, tables=None) -> Config:
    settings = load_settings("local", ROOT / "conf", {"landing": str(warehouse / "landing"), "warehouse": str(warehouse)})
    return Config(settings, load_profile("local", ROOT / "run_profiles"), tables or load_tables(ROOT / "conf"),
                  ROOT / "conf")


def make_run(spark, config: Config, run_id: str) -> RunContext:
    return RunContext(run_id=run_id, job="silver_clean", started_at=datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC),
                      git_sha="test", config=config, spark=spark, tables=open_table_store(spark, config.settings))


def write_bronze(spark, run: RunContext, entities=BRONZE) -> None:
    for entity, rows in entities.items():
        spec = run.config.tables[entity]
        schema = bronze_schema(spec)  # the real bronze shape
        data = [tuple({**LINEAGE, **r}.get(name) for name in schema.names) for r in rows]
        run.tables.overwrite(f"bronze.{entity}", spark.createDataFrame(data, schema))


@pytest.fixture(scope="module")
def first_run(spark, tmp_path_factory):
    """Bronze written, then silver run once."""
    warehouse = tmp_path_factory.mktemp("silver_run") / "warehouse"
    run = make_run(spark, make_config(warehouse), "run-1")
    write_bronze(spark, run)
    return run, run_silver(run)


EXPECTED_SUMMARY = {"tables": 8, "bronze_rows": 15, "silver_rows": 10, "quarantined": 5, "warned": 1, "rules_failing": 7}


def test_summary_and_run_log_counts(first_run):
    run, summary = first_run
    assert summary == EXPECTED_SUMMARY
    counts = {c.table: (c.rows_in, c.rows_out, c.details) for c in run.counts}
    assert counts == {
        "silver.locations": (3, 2, {"quarantined": 1, "warned": 0}),
        "silver.customers": (2, 2, {"quarantined": 0, "warned": 1}),
        "silver.memberships": (2, 1, {"quarantined": 1, "warned": 0}),
        "silver.tickets": (4, 2, {"quarantined": 2, "warned": 0}),
        "silver.payments": (1, 1, {"quarantined": 0, "warned": 0}),
        "silver.billing_attempts": (2, 1, {"quarantined": 1, "warned": 0}),
        "silver.house_accounts": (0, 0, {"quarantined": 0, "warned": 0}),
        "silver.prepaid_books": (1, 1, {"quarantined": 0, "warned": 0}),
    }
    assert run.spark.conf.get("spark.sql.codegen.wholeStage") == "true"  # silver's session settings restored


def test_silver_tables_are_typed(spark, first_run):
    run, _ = first_run
    at = datetime(2024, 3, 1, 14, 5, 9)
    expected = {
        "tickets": [("t1", "A", "c1", at, "Club Basic", Decimal("10.00"), True, "membership"),
                    ("t4", "A", None, at, "Basic", Decimal("8.00"), False, "card")],
        "customers": [("c1", "bob@example.com", "+12015550123", at, None),
                      ("c2", None, None, datetime(2024, 3, 1, 14, 5), "A")],
        "prepaid_books": [("k1", "c1", "A", at, 10, 3, True)],
        "house_accounts": [],
    }
    for entity, rows in expected.items():
        assert_df_equality(run.tables.read(f"silver.{entity}"),
                           spark.createDataFrame(rows, silver_schema(run.config.tables[entity])),
                           ignore_row_order=True, ignore_nullable=True)


def test_quarantine_keeps_bronze_values_lineage_and_reasons(first_run):
    run, _ = first_run
    rows = run.tables.read("quarantine.tickets").orderBy("sTicketId").collect()
    assert [(r["sTicketId"], r["nAmount"], r["_source_file"], r["_reason"], r["_rules"], r["_silver_run_id"])
            for r in rows] == [
        ("t2", "(5.00)", "/landing/s1/e/e1.csv", "amount_not_negative(amount): amount=-5.00 breaks `amount >= 0`",
         ["amount_not_negative(amount)"], "run-1"),
        ("t3", "7.5", "/landing/s1/e/e1.csv", "location_exists(location_id): sLocationId 'C' is not in silver.locations",
         ["location_exists(location_id)"], "run-1"),
    ]
    locations = run.tables.read("quarantine.locations").collect()
    assert [(r["sLocationId"], r["_reason"]) for r in locations] == [
        ("C", "parse(opened_on): dOpened 'soon' is not a valid date (date)")]


def test_dq_results_has_one_row_per_run_table_and_rule(spark, first_run):
    run, _ = first_run
    dq = run.tables.read("ops.dq_results")
    assert dq.schema.names == OPS_SCHEMAS[DQ_RESULTS].names
    failing = dq.where("rows_failing > 0")
    checked = datetime(2024, 3, 5, 7, 8, 9)
    expected = [
        ("run-1", checked, "silver.locations", "parse", "opened_on", "quarantine", 3, 1, ["C"]),
        ("run-1", checked, "silver.customers", "normalize", "email", "warn", 2, 1, ["c2"]),
        ("run-1", checked, "silver.customers", "normalize", "phone", "warn", 2, 1, ["c2"]),
        ("run-1", checked, "silver.memberships", "cancelled_not_before_started", "cancelled_on,started_on",
         "quarantine", 2, 1, ["m2"]),
        ("run-1", checked, "silver.tickets", "location_exists", "location_id", "quarantine", 4, 1, ["C/t3"]),
        ("run-1", checked, "silver.tickets", "amount_not_negative", "amount", "quarantine", 4, 1, ["B/t2"]),
        ("run-1", checked, "silver.billing_attempts", "enum", "outcome", "quarantine", 2, 1, ["b2"]),
    ]
    assert_df_equality(failing, spark.createDataFrame(expected, failing.schema), ignore_row_order=True,
                       ignore_nullable=True)
    per_table = {r["table"]: r["count"] for r in dq.groupBy("table").count().collect()}
    # every rule is reported, failing or not (tickets: 13 built-in rules and 1 expectation)
    assert per_table == {"silver.locations": 7, "silver.customers": 6, "silver.memberships": 14,
                         "silver.tickets": 14, "silver.payments": 10, "silver.billing_attempts": 12,
                         "silver.house_accounts": 8, "silver.prepaid_books": 14}


@pytest.mark.slow
def test_a_rerun_rebuilds_the_same_tables_and_appends_dq_results(spark, tmp_path):
    config = make_config(tmp_path / "wh")
    first = make_run(spark, config, "run-a")
    write_bronze(spark, first)
    assert run_silver(first) == EXPECTED_SUMMARY
    before = {name: sorted(map(tuple, first.tables.read(name).drop("_silver_run_id").collect()), key=str)
              for name in first.tables.list_tables("silver") + first.tables.list_tables("quarantine")}
    second = make_run(spark, config, "run-b")
    assert run_silver(second) == EXPECTED_SUMMARY
    after = {name: sorted(map(tuple, second.tables.read(name).drop("_silver_run_id").collect()), key=str)
             for name in before}
    assert after == before
    dq = second.tables.read("ops.dq_results")
    assert sorted(r[0] for r in dq.select("run_id").distinct().collect()) == ["run-a", "run-b"]


def _small_config(warehouse: Path, **ticket_changes) -> Config:
    tables = load_tables(ROOT / "conf")
    tables = {"locations": tables["locations"], "tickets": tables["tickets"].model_copy(update=ticket_changes)}
    return make_config(warehouse, tables)


def test_a_fail_action_stops_the_run_before_writing_the_table(spark, tmp_path):
    exp = Expectation(name="amount_not_negative", rule="amount >= 0", columns=("amount",), action="fail")
    run = make_run(spark, _small_config(tmp_path / "wh", expectations=(exp,)), "run-fail")
    write_bronze(spark, run, {e: BRONZE[e] for e in ("locations", "tickets")})
    with pytest.raises(ExpectationFailed, match=r"silver.tickets: rule amount_not_negative\(amount\) failed on 1 of 4 "
                                                r"rows \(keys: B/t2\) \[action: fail\]"):
        run_silver(run)
    assert not run.tables.exists("silver.tickets")
    assert run.tables.exists("silver.locations")
    dq = run.tables.read("ops.dq_results").where("rows_failing > 0").select("table", "rule", "action", "rows_failing")
    assert sorted(map(tuple, dq.collect())) == [
        ("silver.locations", "parse", "quarantine", 1),
        ("silver.tickets", "amount_not_negative", "fail", 1),
        ("silver.tickets", "location_exists", "quarantine", 1),
    ]


def test_a_conservation_mismatch_fails_the_run(spark, tmp_path, monkeypatch):
    run = make_run(spark, _small_config(tmp_path / "wh"), "run-lossy")
    write_bronze(spark, run, {e: BRONZE[e] for e in ("locations", "tickets")})
    real = silver_job.silver_rows
    monkeypatch.setattr(silver_job, "silver_rows", lambda flagged, spec: real(flagged, spec).where(F.lit(False)))
    with pytest.raises(ConservationError, match="silver.locations: bronze has 3 rows but silver has 0 and quarantine 1"):
        run_silver(run)


def test_silver_without_any_bronze_is_a_user_error(spark, tmp_path):
    run = make_run(spark, make_config(tmp_path / "wh"), "run-empty")
    with pytest.raises(UserError, match="run `lakehouse run bronze` first"):
        run_silver(run)
