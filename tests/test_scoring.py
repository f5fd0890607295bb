"""Churn-risk model: snapshots, point-in-time features, labels, split, bands, training and reuse."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lakehouse.config import load_tables
from lakehouse.contract import silver_schema
from lakehouse.errors import UserError
from lakehouse.runtime import RunContext
from lakehouse.scoring import run_scoring
from lakehouse.scoring.features import (
    FEATURES,
    active_memberships,
    churn_features,
    churn_labels,
    scoring_date,
    snapshot_dates,
    snapshots_frame,
)
from lakehouse.scoring.model import risk_band, time_split
from lakehouse.scoring.store import new_model_version
from lakehouse.tables import open_table_store

SILVER = {entity: silver_schema(spec) for entity, spec in load_tables().items()}

def ts(text: str) -> datetime:
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------- a synthetic silver with a planted signal


def synthetic_silver(spark, members: int = 400, seed: int = 11) -> dict:
    """Silver tables of 4 locations over 14 months where cancellation follows declined billing
    and falling wash frequency (the signal the sample generator plants), plus random churn."""
    rng = np.random.default_rng(seed)
    first = date(2023, 1, 1)
    last = date(2024, 2, 29)  # data ends here: tickets stop on this day
    locations = [(f"L{i}", f"Wash {i}", "north", date(2020, 1, 1), None) for i in range(1, 5)]
    prices = {"basic": Decimal("19.99"), "deluxe": Decimal("29.99"), "ultimate": Decimal("39.99")}
    memberships, tickets, attempts = [], [], []
    for i in range(members):
        mid, cid, loc = f"m{i}", f"c{i}", f"L{rng.integers(1, 5)}"
        plan = str(rng.choice(list(prices)))
        start = first + timedelta(days=int(rng.integers(0, 330)))
        rate = float(rng.uniform(0.12, 0.3))  # washes per day while engaged
        fade = start + timedelta(days=int(rng.integers(40, 500))) if rng.random() < 0.45 else None
        bad_card = rng.random() < 0.25
        cancel = None
        if fade is not None:  # washes dry up, then the member cancels a few weeks later
            cancel = fade + timedelta(days=int(rng.integers(30, 60)))
        # monthly billing on the start day; a declined month without a recovery leads to a cancel
        b, k = start, 0
        while b <= last and (cancel is None or b < cancel):
            outcome = "declined" if rng.random() < (0.5 if bad_card else 0.03) else "success"
            attempts.append((f"a{i}_{k}", mid, loc, datetime(b.year, b.month, b.day, 6, tzinfo=UTC),
                             prices[plan], outcome))
            if outcome == "declined" and rng.random() < 0.6:
                cancel = min(cancel or date.max, b + timedelta(days=int(rng.integers(15, 40))))
            b, k = b + timedelta(days=30), k + 1
        if rng.random() < 0.1:  # churn nobody could see coming
            cancel = min(cancel or date.max, start + timedelta(days=int(rng.integers(30, 400))))
        if cancel is not None and cancel > last:
            cancel = None
        memberships.append((mid, cid, loc, plan, prices[plan], start, cancel))
        end = min(cancel or last, last)
        day, n = start, 0
        while day <= end:
            r = rate * (0.1 if fade is not None and day >= fade else 1.0)
            if rng.random() < r:
                at = datetime(day.year, day.month, day.day, int(rng.integers(7, 20)), tzinfo=UTC)
                tickets.append((f"t{i}_{n}", loc, cid, at, "basic", Decimal("0.00"), True, "membership"))
                n += 1
            day += timedelta(days=1)
    # some walk-in tickets without a customer
    for j in range(200):
        at = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=int(rng.integers(0, 24 * 424)))
        tickets.append((f"w{j}", f"L{rng.integers(1, 5)}", None, at, "basic", Decimal("12.00"), False, "cash"))
    tickets.append(("last", "L1", None, datetime(2024, 2, 29, 18, tzinfo=UTC), "basic", Decimal("9.00"), False, "card"))
    return {
        "locations": spark.createDataFrame(locations, SILVER["locations"]),
        "memberships": spark.createDataFrame(memberships, SILVER["memberships"]),
        "tickets": spark.createDataFrame(tickets, SILVER["tickets"]),
        "billing_attempts": spark.createDataFrame(attempts, SILVER["billing_attempts"]),
    }


@pytest.fixture(scope="module")
def silver(spark):
    return {name: df.cache() for name, df in synthetic_silver(spark).items()}


# ---------------------------------------------------------------- snapshots and split


def test_snapshot_dates_need_warmup_and_an_observed_label_window():
    assert snapshot_dates(d("2024-01-01"), d("2024-07-15"), 1, 30, 3) == [
        d("2024-04-01"),
        d("2024-05-01"),
        d("2024-06-01"),
    ]
    # Jul 1 + 30 days = Jul 31: observed only when scoring on Jul 31 or later
    assert snapshot_dates(d("2024-01-01"), d("2024-07-31"), 2, 30, 0)[-1] == d("2024-07-01")
    assert snapshot_dates(d("2024-01-01"), d("2024-02-15"), 1, 30, 3) == []
    with pytest.raises(ValueError):
        snapshot_dates(d("2024-01-01"), d("2024-07-31"), 0, 30, 0)


def test_time_split_holds_out_the_latest_dates_with_an_embargo():
    months = [d(f"2024-{m:02d}-01") for m in range(1, 9)]
    split = time_split(months, 0.25, 30)
    assert split.test == (d("2024-07-01"), d("2024-08-01"))
    assert split.train == tuple(months[:6])  # Jun 1 + 30 days = Jul 1: allowed
    # Feb 1 + 30 days = Mar 2 > Mar 1: February's labels would reach into the test month
    short = time_split([d("2024-01-01"), d("2024-02-01"), d("2024-03-01")], 0.34, 30)
    assert short == time_split([d("2024-01-01"), d("2024-03-01")], 0.5, 30)
    assert short.train == (d("2024-01-01"),) and short.test == (d("2024-03-01"),)
    with pytest.raises(UserError, match="not enough history"):
        time_split([d("2024-01-01")], 0.25, 30)


def test_model_version_is_sortable_and_names_the_run():
    started = datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)
    assert new_model_version(started, "20240305T070809Z-scoring-1a2b3c4d") == "v20240305T070809Z-1a2b3c4d"


# ---------------------------------------------------------------- features and labels


def test_churn_features_and_labels_hand_computed(spark):
    memberships = spark.createDataFrame(
        [
            ("m1", "c1", "A", "basic", Decimal("19.99"), d("2024-01-01"), None),
            ("m2", "c2", "A", "basic", Decimal("19.99"), d("2023-06-01"), d("2024-02-10")),
            ("m3", "c3", "A", "deluxe", Decimal("29.99"), d("2023-06-01"), None),
            # cancels after the snapshot: active, label 1, counts in the location base only
            ("m4", "c4", "A", "basic", Decimal("19.99"), d("2023-06-01"), d("2024-04-05")),
            # cancelled on the snapshot date: still active at its start, label 1
            ("m5", "c5", "B", "ultimate", Decimal("39.99"), d("2024-03-01"), d("2024-04-01")),
            # starts on the snapshot date: not active yet
            ("m6", "c6", "B", "basic", Decimal("19.99"), d("2024-04-01"), None),
        ],
        SILVER["memberships"],
    )
    tick = [
        ("2024-03-31 23:59:59", "c1"),  # the last instant before the snapshot
        ("2024-04-01 00:00", "c1"),  # the snapshot's start: the future
        ("2024-03-02 00:00", "c1"),  # S - 30 days: in both windows
        ("2024-03-01 12:00", "c1"),  # 90-day window only
        ("2024-01-02 00:00", "c1"),  # S - 90 days: first day of the 90-day window
        ("2024-01-01 23:00", "c1"),  # too old
    ]
    tickets = spark.createDataFrame(
        [(f"t{i}", "A", c, ts(at), "basic", Decimal("0.00"), True, "membership") for i, (at, c) in enumerate(tick)],
        SILVER["tickets"],
    )
    attempts = spark.createDataFrame(
        [
            ("b1", "m1", "A", ts("2024-03-15 06:00"), Decimal("19.99"), "declined"),
            ("b2", "m1", "A", ts("2024-02-01 06:00"), Decimal("19.99"), "declined"),
            ("b3", "m1", "A", ts("2024-03-20 06:00"), Decimal("19.99"), "success"),
            ("b4", "m1", "A", ts("2024-04-01 00:00"), Decimal("19.99"), "declined"),
            ("b5", "m3", "A", ts("2024-03-10 06:00"), Decimal("29.99"), "error"),
        ],
        SILVER["billing_attempts"],
    )
    snaps = snapshots_frame(spark, [d("2024-04-01")])
    actual = churn_labels(churn_features(memberships, tickets, attempts, snaps), memberships, 30)
    s = d("2024-04-01")
    # membership, customer, location, tenure, w30, w90, trend, days since wash, dec30, dec90,
    # failures30, unpaid30, price, location churn, plan, label
    expected = spark.createDataFrame(
        [
            ("m1", "c1", "A", s, 91.0, 2.0, 4.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.0, 19.99, 0.25, "basic", 0.0),
            ("m3", "c3", "A", s, 305.0, 0.0, 0.0, 0.0, 90.0, 0.0, 0.0, 1.0, 1.0, 29.99, 0.25, "deluxe", 0.0),
            ("m4", "c4", "A", s, 305.0, 0.0, 0.0, 0.0, 90.0, 0.0, 0.0, 0.0, 0.0, 19.99, 0.25, "basic", 1.0),
            ("m5", "c5", "B", s, 31.0, 0.0, 0.0, 0.0, 90.0, 0.0, 0.0, 0.0, 0.0, 39.99, 0.0, "ultimate", 1.0),
        ],
        "membership_id string, customer_id string, location_id string, snapshot_date date, "
        "tenure_days double, washes_30d double, washes_90d double, wash_trend double, "
        "days_since_last_wash double, declines_30d double, declines_90d double, failures_30d double, "
        "unpaid_30d double, monthly_price double, location_churn_90d double, plan string, label double",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def _as_known_at(silver: dict, snap: date) -> dict:
    """Silver as it looked at the start of `snap`: nothing dated on or after it exists yet."""
    at = datetime(snap.year, snap.month, snap.day, tzinfo=UTC)
    m = silver["memberships"]
    return {
        "memberships": m.where(F.col("started_on") < F.lit(snap)).withColumn(
            "cancelled_on", F.when(F.col("cancelled_on") < F.lit(snap), F.col("cancelled_on"))
        ),
        "tickets": silver["tickets"].where(F.col("created_at") < F.lit(at)),
        "billing_attempts": silver["billing_attempts"].where(F.col("attempted_at") < F.lit(at)),
    }


def test_no_feature_can_see_the_future(spark, silver):
    """Features at a snapshot are the same whether or not the data after it exists."""
    snaps = [d("2023-08-01"), d("2023-11-01")]
    full = churn_features(silver["memberships"], silver["tickets"], silver["billing_attempts"],
                          snapshots_frame(spark, snaps))
    for snap in snaps:
        past = _as_known_at(silver, snap)
        known = churn_features(past["memberships"], past["tickets"], past["billing_attempts"],
                               snapshots_frame(spark, [snap]))
        actual = full.where(F.col("snapshot_date") == F.lit(snap))
        assert known.count() > 100
        assert_df_equality(actual, known, ignore_row_order=True, ignore_nullable=True)
    # and the label does depend on the future (so the comparison above could fail)
    labels = churn_labels(full, silver["memberships"], 30).agg(F.sum("label")).first()[0]
    assert labels > 10


def test_active_memberships_match_members_start_rule(spark):
    memberships = spark.createDataFrame(
        [
            ("m1", "c1", "A", "basic", Decimal("1.00"), d("2024-02-29"), None),
            ("m2", "c2", "A", "basic", Decimal("1.00"), d("2024-03-01"), None),
            ("m3", "c3", "A", "basic", Decimal("1.00"), d("2024-01-01"), d("2024-02-29")),
            ("m4", "c4", "A", "basic", Decimal("1.00"), d("2024-01-01"), d("2024-03-01")),
        ],
        SILVER["memberships"],
    )
    active = active_memberships(memberships, snapshots_frame(spark, [d("2024-03-01")]))
    assert sorted(r["membership_id"] for r in active.collect()) == ["m1", "m4"]


def test_risk_bands_and_scoring_date(spark):
    df = spark.createDataFrame([(0.0,), (0.2999,), (0.3,), (0.5999,), (0.6,), (1.0,)], "p double")
    bands = [r["band"] for r in df.select(risk_band(F.col("p")).alias("band")).collect()]
    assert bands == ["low", "low", "medium", "medium", "high", "high"]
    tickets = spark.createDataFrame(
        [("t1", "A", None, ts("2024-02-29 23:59:59"), "b", Decimal("1.00"), False, "cash")], SILVER["tickets"]
    )
    assert scoring_date(tickets).first()["scored_on"] == d("2024-03-01")


def test_feature_list_is_what_the_features_frame_holds(spark, silver):
    frame = churn_features(silver["memberships"], silver["tickets"], silver["billing_attempts"],
                           snapshots_frame(spark, [d("2023-09-01")]))
    assert set(FEATURES) <= set(frame.columns)


# ---------------------------------------------------------------- the job: train, save, reuse


def make_run(spark, config, run_id: str, started_at: datetime) -> RunContext:
    return RunContext(
        run_id=run_id,
        job="scoring",
        started_at=started_at,
        git_sha="test",
        config=config,
        spark=spark,
        tables=open_table_store(spark, config.settings),
    )


def with_scoring(config, **changes):
    settings = config.settings
    scoring = settings.scoring.model_copy(update=changes)
    return replace(config, settings=settings.model_copy(update={"scoring": scoring}))


def test_run_scoring_trains_saves_and_reuses_the_model(spark, config, silver):
    """algorithm auto: both candidates are fitted on the earlier training snapshots and the one
    with the better validation AUC is refitted on all of them."""
    config = with_scoring(config, algorithm="auto", max_train_rows=1_000, gbt_max_iter=8)
    first = make_run(spark, config, "20240305T070809Z-scoring-1a2b3c4d", datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC))
    for entity, df in silver.items():
        first.tables.overwrite(f"silver.{entity}", df)

    trained = run_scoring(first, None)
    version = "v20240305T070809Z-1a2b3c4d"
    assert trained["model_version"] == version
    assert trained["auc"] >= 0.75, trained
    assert trained["scored_on"] == "2024-03-01"
    assert trained["test_snapshots"] == "2023-12-01..2024-01-01"

    metrics = first.tables.read("gold.model_metrics").collect()
    assert len(metrics) == 1
    row = metrics[0]
    assert set(row.candidate_auc) == {"logistic_regression", "gbt"}
    chosen = max(row.candidate_auc, key=row.candidate_auc.get)
    assert (row.model_version, row.algorithm, row.run_id) == (version, chosen, first.run_id)
    assert trained["algorithm"] == chosen
    assert row.train_to < row.test_from and round(row.roc_auc, 4) == trained["auc"]
    assert row.features == list(FEATURES)
    assert row.train_rows == trained["train_rows"] and row.test_positives > 0

    risk = first.tables.read("gold.churn_risk")
    active = active_memberships(silver["memberships"], snapshots_frame(spark, [d("2024-03-01")]))
    assert_df_equality(
        risk.select("membership_id", "customer_id", "location_id", "scored_on"),
        active.select("membership_id", "customer_id", "location_id", F.col("snapshot_date").alias("scored_on")),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    bad = risk.where(
        (F.col("risk_score") < 0)
        | (F.col("risk_score") > 1)
        | (F.col("risk_band") != risk_band(F.col("risk_score")))
        | (F.col("model_version") != version)
    )
    assert bad.count() == 0

    # a later run scores with the saved model: no training, no new metrics row, the same scores
    second = make_run(spark, config, "20240306T000000Z-scoring-99999999", datetime(2024, 3, 6, tzinfo=UTC))
    reused = run_scoring(second, "latest")
    assert (reused["model_version"], reused["auc"]) == (version, trained["auc"])
    assert "train_rows" not in reused
    assert second.tables.read("gold.model_metrics").count() == 1
    assert_df_equality(second.tables.read("gold.churn_risk"), risk, ignore_row_order=True)

    with pytest.raises(UserError, match="'v1' is not saved"):
        run_scoring(second, "v1")


def test_run_scoring_without_saved_models_says_how_to_train(spark, config, silver):
    run = make_run(spark, config, "20240305T070809Z-scoring-1a2b3c4d", datetime(2024, 3, 5, tzinfo=UTC))
    for entity in ("memberships", "tickets", "billing_attempts"):
        run.tables.overwrite(f"silver.{entity}", silver[entity].limit(5))
    with pytest.raises(UserError, match="no saved churn model"):
        run_scoring(run, "latest")
