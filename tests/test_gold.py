"""Gold KPI transforms on small hand-computed fixtures (DOMAIN.md §4), one rule edge per test."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from lakehouse.config import load_tables
from lakehouse.contract import DATA_COMPLETE, GOLD_SCHEMAS, silver_schema
from lakehouse.gold.kpis import (
    billing_health,
    churn_retention,
    location_month_complete,
    location_scorecard,
    location_scorecard_bottom,
    month_spine,
    serving_stores,
    utc_date,
    with_data_complete,
)

SPECS = load_tables()  # the project's conf/tables (LAKEHOUSE_HOME, set by conftest)
SILVER = {entity: silver_schema(spec) for entity, spec in SPECS.items()}
GOLD = {name.split(".")[1]: schema for name, schema in GOLD_SCHEMAS.items()}
# what the KPI transforms produce: the gold columns but data_complete, which the job adds (with_data_complete)
KPIS = {name: T.StructType([f for f in schema.fields if f.name != DATA_COMPLETE]) for name, schema in GOLD.items()}

def ts(text: str) -> datetime:
    """A UTC timestamp from 'YYYY-MM-DD HH:MM[:SS]'."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


def money(text: str) -> Decimal:
    return Decimal(text)


def frame(spark, entity: str, rows: list[tuple]):
    return spark.createDataFrame(rows, SILVER[entity])


def gold(spark, table: str, rows: list[tuple]):
    """Rows of a KPI transform's output (the gold table's columns without data_complete)."""
    return spark.createDataFrame(rows, KPIS[table])


def spine_of(spark, *months: str):
    return spark.createDataFrame([(d(m),) for m in months], "month date")


def locations_of(spark, *ids: str):
    return frame(spark, "locations", [(i, f"Wash {i}", "north", d("2020-01-01"), None) for i in ids])


def assert_frames(actual, expected):
    assert actual.schema.simpleString() == expected.schema.simpleString()
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


@contextmanager
def session_time_zone(spark, zone: str):
    old = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", zone)
    try:
        yield
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)


EMPTY = {"memberships": [], "tickets": [], "billing_attempts": []}


# ---------------------------------------------------------------- month spine


def test_month_spine_spans_every_source_and_uses_utc_months(spark):
    memberships = frame(
        spark, "memberships", [("m1", "c1", "A", "basic", money("20.00"), d("2024-01-15"), d("2024-03-02"))]
    )
    # 23:59:59 UTC on Dec 31 is December whatever the session zone; 00:00 UTC on Jun 1 is June
    tickets = frame(
        spark,
        "tickets",
        [("t1", "A", None, ts("2023-12-31 23:59:59"), "basic", money("5.00"), False, "cash")],
    )
    attempts = frame(
        spark, "billing_attempts", [("b1", "m1", "A", ts("2024-06-01 00:00"), money("20.00"), "success")]
    )
    expected = spine_of(spark, "2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01")
    with session_time_zone(spark, "America/Los_Angeles"):
        assert_frames(month_spine(memberships, tickets, attempts), expected)


def test_month_spine_counts_cancellations_and_is_empty_without_data(spark):
    memberships = frame(
        spark, "memberships", [("m1", "c1", "A", "basic", money("20.00"), d("2024-01-31"), d("2024-02-01"))]
    )
    no_tickets = frame(spark, "tickets", [])
    no_attempts = frame(spark, "billing_attempts", [])
    assert_frames(
        month_spine(memberships, no_tickets, no_attempts), spine_of(spark, "2024-01-01", "2024-02-01")
    )
    empty = month_spine(frame(spark, "memberships", []), no_tickets, no_attempts)
    assert empty.collect() == []


def test_utc_date_ignores_the_session_time_zone(spark):
    df = spark.createDataFrame([(ts("2024-03-01 02:00"),)], "at timestamp")
    with session_time_zone(spark, "America/New_York"):
        assert df.select(utc_date("at").alias("day")).first()["day"] == d("2024-03-01")


# ---------------------------------------------------------------- churn and retention


def test_churn_retention_counts_members_and_rates(spark):
    memberships = frame(
        spark,
        "memberships",
        [
            ("m1", "c1", "A", "basic", money("20.00"), d("2024-01-10"), None),
            ("m2", "c2", "A", "basic", money("20.00"), d("2024-01-20"), d("2024-02-15")),
            # starts and cancels in the same month: new and churned in February, never a member at a month start
            ("m3", "c3", "A", "deluxe", money("30.00"), d("2024-02-03"), d("2024-02-25")),
            # cancelled on March 1st: still a member at March's start, churned in March
            ("m4", "c4", "A", "basic", money("20.00"), d("2024-02-01"), d("2024-03-01")),
            # a location that is not in silver.locations gets no row
            ("m5", "c5", "Z", "basic", money("20.00"), d("2024-01-01"), None),
        ],
    )
    spine = spine_of(spark, "2024-01-01", "2024-02-01", "2024-03-01")
    actual = churn_retention(memberships, locations_of(spark, "A", "B"), spine)
    expected = gold(
        spark,
        "churn_retention",
        [
            ("A", d("2024-01-01"), 0, 2, 0, 2, None, None),
            ("A", d("2024-02-01"), 2, 2, 2, 2, 1.0, 0.0),
            ("A", d("2024-03-01"), 2, 0, 1, 1, 0.5, 0.5),
            # a location with no members: zero counts, null rates
            ("B", d("2024-01-01"), 0, 0, 0, 0, None, None),
            ("B", d("2024-02-01"), 0, 0, 0, 0, None, None),
            ("B", d("2024-03-01"), 0, 0, 0, 0, None, None),
        ],
    )
    assert_frames(actual, expected)


def test_churn_retention_same_month_start_and_cancel_with_no_members_at_start(spark):
    """Churned members with members_start = 0 give a null churn rate (the contract's division)."""
    memberships = frame(
        spark, "memberships", [("m1", "c1", "A", "basic", money("20.00"), d("2024-05-02"), d("2024-05-20"))]
    )
    actual = churn_retention(memberships, locations_of(spark, "A"), spine_of(spark, "2024-05-01"))
    expected = gold(spark, "churn_retention", [("A", d("2024-05-01"), 0, 1, 1, 0, None, None)])
    assert_frames(actual, expected)


# ---------------------------------------------------------------- billing health


def _billing_fixture(spark):
    memberships = frame(
        spark,
        "memberships",
        [
            (f"mem{i}", f"c{i}", "A", "basic", price, d("2024-01-01"), None)
            for i, price in [
                (1, money("20.00")),
                (2, money("20.00")),
                (3, money("30.00")),
                (4, money("25.00")),
                (5, money("19.99")),
                (6, money("10.01")),
            ]
        ],
    )
    p = money("20.00")
    attempts = frame(
        spark,
        "billing_attempts",
        [
            # declined first, then recovered
            ("a1", "mem1", "A", ts("2024-03-01 10:00"), p, "declined"),
            ("a2", "mem1", "A", ts("2024-03-03 10:00"), p, "success"),
            ("a3", "mem2", "A", ts("2024-03-02 10:00"), p, "success"),
            # never succeeds: failed, not recovered
            ("a4", "mem3", "A", ts("2024-03-05 10:00"), p, "error"),
            ("a5", "mem3", "A", ts("2024-03-06 10:00"), p, "declined"),
            # same attempted_at: attempt_id breaks the tie, so x1 (declined) is first, x2 recovers it
            ("x2", "mem4", "A", ts("2024-03-07 10:00"), p, "success"),
            ("x1", "mem4", "A", ts("2024-03-07 10:00"), p, "declined"),
            # month boundary in UTC: March success, April decline
            ("a8", "mem5", "A", ts("2024-03-31 23:59:59"), p, "success"),
            ("a9", "mem5", "A", ts("2024-04-01 00:00"), p, "declined"),
            ("a10", "mem6", "A", ts("2024-04-10 00:00"), p, "declined"),
        ],
    )
    return memberships, attempts


def test_billing_health_outcomes_failures_and_recoveries(spark):
    memberships, attempts = _billing_fixture(spark)
    spine = spine_of(spark, "2024-03-01", "2024-04-01")
    actual = billing_health(attempts, memberships, locations_of(spark, "A", "B"), spine)
    expected = gold(
        spark,
        "billing_health",
        [
            ("A", d("2024-03-01"), 8, 4, 3, 1, 0.5, 1, 2, 2 / 3, money("30.00")),
            ("A", d("2024-04-01"), 2, 0, 2, 0, 0.0, 2, 0, 0.0, money("30.00")),
            # no billing attempts: zero counts, null rates, nothing at risk
            ("B", d("2024-03-01"), 0, 0, 0, 0, None, 0, 0, None, money("0.00")),
            ("B", d("2024-04-01"), 0, 0, 0, 0, None, 0, 0, None, money("0.00")),
        ],
    )
    assert_frames(actual, expected)


def test_billing_health_all_first_attempts_succeed_gives_null_recovery_rate(spark):
    memberships, _ = _billing_fixture(spark)
    attempts = frame(
        spark,
        "billing_attempts",
        [("a1", "mem1", "A", ts("2024-03-01 10:00"), money("20.00"), "success")],
    )
    actual = billing_health(attempts, memberships, locations_of(spark, "A"), spine_of(spark, "2024-03-01"))
    expected = gold(
        spark, "billing_health", [("A", d("2024-03-01"), 1, 1, 0, 0, 1.0, 0, 0, None, money("0.00"))]
    )
    assert_frames(actual, expected)


# ---------------------------------------------------------------- location scorecard


def _ticket(i: int, loc: str, at: str, amount: str, member: bool) -> tuple:
    return (f"t{i}", loc, f"c{i}" if member else None, ts(at), "basic", money(amount), member, "card")


def test_location_scorecard_kpis_and_score_with_ties_and_missing_data(spark):
    tickets = frame(
        spark,
        "tickets",
        [
            _ticket(1, "A", "2024-03-01 00:00", "10.00", True),
            _ticket(2, "A", "2024-03-15 12:00", "5.50", False),
            _ticket(3, "A", "2024-03-31 23:59:59", "4.51", False),
            # 10.01 / 2 = 5.005 rounds half up to 5.01
            _ticket(4, "B", "2024-03-10 08:00", "10.00", True),
            _ticket(5, "B", "2024-03-11 08:00", "0.01", True),
            # the incomplete last month
            _ticket(6, "A", "2024-04-02 09:00", "8.00", False),
        ],
    )
    churn = gold(
        spark,
        "churn_retention",
        [
            ("A", d("2024-03-01"), 5, 1, 1, 5, 0.2, 0.8),
            ("B", d("2024-03-01"), 0, 3, 0, 3, None, None),
            ("C", d("2024-03-01"), 5, 0, 1, 4, 0.2, 0.8),
        ],
    )
    billing = gold(
        spark,
        "billing_health",
        [
            ("A", d("2024-03-01"), 10, 9, 1, 0, 0.9, 0, 0, None, money("0.00")),
            ("B", d("2024-03-01"), 10, 9, 0, 1, 0.9, 0, 0, None, money("0.00")),
        ],
    )
    spine = spine_of(spark, "2024-03-01", "2024-04-01")
    actual = location_scorecard(tickets, churn, billing, locations_of(spark, "A", "B", "C"), spine)
    # March: pr(revenue) C 0, B .5, A 1; pr(-churn) B 0 (null churn = 1), A = C .5 (tie);
    # pr(success) C 0 (null = 0), A = B .5 (tie)
    # April: only A has revenue; churn and billing rows are missing, so they tie at the worst value
    expected = gold(
        spark,
        "location_scorecard",
        [
            ("A", "Wash A", "north", d("2024-03-01"), 3, money("20.01"), money("6.67"), 1 / 3, 5, 0.2, 0.9,
             0.4 * 1.0 + 0.3 * 0.5 + 0.3 * 0.5),
            ("B", "Wash B", "north", d("2024-03-01"), 2, money("10.01"), money("5.01"), 1.0, 3, None, 0.9,
             0.4 * 0.5 + 0.3 * 0.0 + 0.3 * 0.5),
            ("C", "Wash C", "north", d("2024-03-01"), 0, money("0.00"), None, None, 4, 0.2, None,
             0.4 * 0.0 + 0.3 * 0.5 + 0.3 * 0.0),
            ("A", "Wash A", "north", d("2024-04-01"), 1, money("8.00"), money("8.00"), 0.0, None, None, None,
             0.4 * 1.0 + 0.3 * 0.0 + 0.3 * 0.0),
            ("B", "Wash B", "north", d("2024-04-01"), 0, money("0.00"), None, None, None, None, None, 0.0),
            ("C", "Wash C", "north", d("2024-04-01"), 0, money("0.00"), None, None, None, None, None, 0.0),
        ],
    )
    assert_frames(actual, expected)


def test_location_scorecard_single_location_scores_zero(spark):
    tickets = frame(spark, "tickets", [_ticket(1, "A", "2024-03-05 10:00", "12.00", False)])
    churn = gold(spark, "churn_retention", [("A", d("2024-03-01"), 4, 0, 1, 3, 0.25, 0.75)])
    billing = gold(
        spark, "billing_health", [("A", d("2024-03-01"), 4, 4, 0, 0, 1.0, 0, 0, None, money("0.00"))]
    )
    actual = location_scorecard(tickets, churn, billing, locations_of(spark, "A"), spine_of(spark, "2024-03-01"))
    expected = gold(
        spark,
        "location_scorecard",
        [("A", "Wash A", "north", d("2024-03-01"), 1, money("12.00"), money("12.00"), 0.0, 3, 0.25, 1.0, 0.0)],
    )
    assert_frames(actual, expected)


# ---------------------------------------------------------------- bottom of the scorecard


def _scores(spark, rows: list[tuple], complete: bool | None = True):
    return spark.createDataFrame(
        [(loc, d(m), s, *(r[3:] if len(r) > 3 else (complete,))) for r in rows for loc, m, s in [r[:3]]],
        "location_id string, month date, score double, data_complete boolean",
    )


def _bottom(spark, rows: list[tuple[int, str, str, float]]):
    return spark.createDataFrame(
        [(r, loc, d(m), s, True) for r, loc, m, s in rows],
        "bottom_rank int, location_id string, month date, score double, data_complete boolean",
    )


SCORES = [
    ("A", "2024-03-01", 0.7),
    ("B", "2024-03-01", 0.35),
    ("C", "2024-03-01", 0.15),
    ("A", "2024-04-01", 0.4),
    ("B", "2024-04-01", 0.0),
    ("C", "2024-04-01", 0.0),
]


def test_bottom_skips_the_incomplete_last_month(spark):
    tickets = frame(spark, "tickets", [_ticket(1, "A", "2024-04-30 23:59:59", "1.00", False)])
    actual = location_scorecard_bottom(_scores(spark, SCORES), tickets, n=2)
    expected = _bottom(spark, [(1, "C", "2024-03-01", 0.15), (2, "B", "2024-03-01", 0.35)])
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_bottom_month_complete_at_next_month_start_and_ties_by_location(spark):
    # the next month starts exactly at the latest ticket: April is complete
    tickets = frame(spark, "tickets", [_ticket(1, "A", "2024-05-01 00:00", "1.00", False)])
    actual = location_scorecard_bottom(_scores(spark, SCORES), tickets, n=20)
    expected = _bottom(
        spark, [(1, "B", "2024-04-01", 0.0), (2, "C", "2024-04-01", 0.0), (3, "A", "2024-04-01", 0.4)]
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_bottom_uses_the_latest_month_when_none_is_complete(spark):
    tickets = frame(spark, "tickets", [_ticket(1, "A", "2024-03-20 00:00", "1.00", False)])
    expected = _bottom(spark, [(1, "B", "2024-04-01", 0.0)])
    actual = location_scorecard_bottom(_scores(spark, SCORES), tickets, n=1)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    no_tickets = frame(spark, "tickets", [])
    actual = location_scorecard_bottom(_scores(spark, SCORES), no_tickets, n=1)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_bottom_leaves_out_locations_with_incomplete_data(spark):
    """B's store stopped exporting in April: its low April score is the missing data's, so C and A are ranked."""
    tickets = frame(spark, "tickets", [_ticket(1, "A", "2024-05-01 00:00", "1.00", False)])
    scores = [("A", "2024-04-01", 0.4, True), ("B", "2024-04-01", 0.0, False), ("C", "2024-04-01", 0.1, None)]
    actual = location_scorecard_bottom(_scores(spark, scores), tickets, n=20)
    expected = spark.createDataFrame(
        [(1, "C", d("2024-04-01"), 0.1, None), (2, "A", d("2024-04-01"), 0.4, True)],
        "bottom_rank int, location_id string, month date, score double, data_complete boolean",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- completeness


def _bronze_lineage(spark, rows: list[tuple[str, str]]):
    return spark.createDataFrame(rows, "sLocationId string, _store_id string")


def _coverage(spark, rows: list[tuple[str, str, str]]):
    return spark.createDataFrame([(s, e, d(u)) for s, e, u in rows], "store_id string, entity string, covered_until date")


def test_serving_stores_from_every_bronze_frame(spark):
    locations = _bronze_lineage(spark, [("A", "s1"), ("B", "s2"), (None, "s3")])
    tickets = _bronze_lineage(spark, [("A", "s1"), ("A", "s2"), ("B", None)])
    expected = spark.createDataFrame([("A", "s1"), ("A", "s2"), ("B", "s2")], "location_id string, store_id string")
    assert_df_equality(serving_stores(locations, tickets), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_month_is_complete_when_every_serving_store_covers_it(spark):
    serving = spark.createDataFrame(
        [("A", "s1"), ("B", "s1"), ("B", "s2"), ("D", "s3")], "location_id string, store_id string"
    )
    coverage = _coverage(
        spark,
        [
            ("s1", "tickets", "2024-05-01"), ("s1", "memberships", "2024-05-01"),  # through April 30
            ("s2", "tickets", "2024-04-30"), ("s2", "memberships", "2024-06-01"),  # tickets through April 29
            ("s3", "memberships", "2024-06-01"),  # never exported tickets
        ],
    )
    spine = spine_of(spark, "2024-03-01", "2024-04-01", "2024-05-01")
    actual = location_month_complete(
        locations_of(spark, "A", "B", "C", "D"), spine, serving, coverage, ("tickets", "memberships")
    )
    expected = spark.createDataFrame(
        [
            ("A", d("2024-03-01"), True), ("A", d("2024-04-01"), True), ("A", d("2024-05-01"), False),
            ("B", d("2024-03-01"), True), ("B", d("2024-04-01"), False), ("B", d("2024-05-01"), False),
            # no store known to serve C: nothing to miss
            ("C", d("2024-03-01"), True), ("C", d("2024-04-01"), True), ("C", d("2024-05-01"), True),
            ("D", d("2024-03-01"), False), ("D", d("2024-04-01"), False), ("D", d("2024-05-01"), False),
        ],
        "location_id string, month date, data_complete boolean",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    # memberships alone: s2 and s3 cover May too
    only_members = location_month_complete(
        locations_of(spark, "B", "D"), spine_of(spark, "2024-05-01"), serving, coverage, ("memberships",)
    )
    assert {(r.location_id, r.data_complete) for r in only_members.collect()} == {("B", False), ("D", True)}


def test_with_data_complete_adds_the_flag_last(spark):
    churn = gold(spark, "churn_retention", [("A", d("2024-03-01"), 4, 0, 1, 3, 0.25, 0.75)])
    complete = spark.createDataFrame([("A", d("2024-03-01"), False)], "location_id string, month date, data_complete boolean")
    flagged = churn.transform(with_data_complete(complete))
    expected = spark.createDataFrame([("A", d("2024-03-01"), 4, 0, 1, 3, 0.25, 0.75, False)], GOLD["churn_retention"])
    assert_frames(flagged, expected)


@pytest.mark.parametrize("n, error", [(0, ValueError), (-3, ValueError), ("20", TypeError), (True, TypeError)])
def test_bottom_rejects_a_bad_n(spark, n, error):
    with pytest.raises(error, match="n must"):
        location_scorecard_bottom(_scores(spark, SCORES), frame(spark, "tickets", []), n=n)


def test_transforms_name_a_missing_input_column(spark):
    tickets = frame(spark, "tickets", []).drop("created_at")
    with pytest.raises(ValueError, match=r"tickets lacks column\(s\) \['created_at'\]"):
        month_spine(frame(spark, "memberships", []), tickets, frame(spark, "billing_attempts", []))


def test_gold_schemas_are_what_the_transforms_produce(spark):
    """The declared GOLD schemas (used by views and docs) match the transforms' outputs."""
    locations = locations_of(spark, "A")
    spine = spine_of(spark, "2024-03-01")
    m, t, b = (frame(spark, e, []) for e in ("memberships", "tickets", "billing_attempts"))
    complete = with_data_complete(spark.createDataFrame([], "location_id string, month date, data_complete boolean"))
    churn = churn_retention(m, locations, spine).transform(complete)
    billing = billing_health(b, m, locations, spine).transform(complete)
    card = location_scorecard(t, churn, billing, locations, spine).transform(complete)
    produced = {
        "churn_retention": churn,
        "billing_health": billing,
        "location_scorecard": card,
        "location_scorecard_bottom": location_scorecard_bottom(card, t),
    }
    for name, df in produced.items():
        assert [(f.name, f.dataType) for f in df.schema] == [(f.name, f.dataType) for f in GOLD[name]], name
    assert isinstance(GOLD["churn_risk"], T.StructType)
