"""Source freshness: export times, the last export per store and entity, cadences, statuses, coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from chispa import assert_df_equality

from lakehouse.config import Cadence, ConfigError, FreshnessSettings, load_config
from lakehouse.contract import BRONZE_MANIFEST, OPS_SCHEMAS
from lakehouse.ops.freshness import (
    cadence_frame,
    export_coverage,
    export_time,
    last_exports,
    source_freshness,
)

DAY = timedelta(days=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def manifest(spark, rows):
    """Manifest rows (store, entity, export_id, rows[, status, mtime_ms, recorded_at])."""
    full = []
    for r in rows:
        store, entity, eid, n = r[:4]
        status = r[4] if len(r) > 4 else "merged"
        mtime = r[5] if len(r) > 5 else 0
        recorded = r[6] if len(r) > 6 else at("2026-10-01 00:00")
        full.append((f"/l/{store}/{entity}/{eid}.csv", entity, store, eid, "csv", 1, mtime, status, n, "r", recorded))
    return spark.createDataFrame(full, OPS_SCHEMAS[BRONZE_MANIFEST])


def test_export_time_from_the_id_else_the_modification_time(spark):
    ids = spark.createDataFrame(
        [
            ("20260930T235900_0001", 0),
            ("20260930_0002", 0),
            ("2026-09-30T12:30:00", 0),
            ("20261399T000000", 1_700_000_000_000),  # not a date: the file's time
            ("export-7", 1_700_000_000_000),
        ],
        "export_id string, mtime_ms long",
    )
    got = [r.t for r in ids.select(export_time("export_id", "mtime_ms").alias("t")).collect()]
    assert got == [
        at("2026-09-30 23:59:00"),
        at("2026-09-30 00:00:00"),
        at("2026-09-30 12:30:00"),
        datetime.fromtimestamp(1_700_000_000, UTC).replace(tzinfo=None),
        datetime.fromtimestamp(1_700_000_000, UTC).replace(tzinfo=None),
    ]


def test_last_exports_by_export_id_with_counts(spark):
    rows = [
        ("s1", "tickets", "20260831T235900_0001", 10),
        ("s1", "tickets", "20260930T235900_0001", 7),
        ("s1", "tickets", "20260930T235900_0002", 3),  # same day, later export id
        ("s1", "tickets", "20261001T000000_0001", 0, "bad"),  # bad files are no export
        # re-sent with other bytes: one export, its latest rows
        ("s2", "tickets", "20260915T000000_0001", 4, "merged", 0, at("2026-09-16 00:00")),
        ("s2", "tickets", "20260915T000000_0001", 5, "merged", 0, at("2026-09-17 00:00")),
        (None, None, "readme", 0, "bad"),
    ]
    expected = spark.createDataFrame(
        [
            ("s1", "tickets", "20260930T235900_0002", at("2026-09-30 23:59:00"), 3, 3),
            ("s2", "tickets", "20260915T000000_0001", at("2026-09-15 00:00:00"), 1, 5),
        ],
        "store_id string, entity string, last_export_id string, last_export_at timestamp, exports long, "
        "rows_last_export long",
    )
    assert_df_equality(last_exports(manifest(spark, rows)), expected, ignore_row_order=True, ignore_nullable=True)


def _cadence(spark, stores, entities=("tickets", "locations")):
    settings = FreshnessSettings(
        expected_every="1d", warn_after="2d", error_after="4d", entities={"locations": {"expected_every": "30d"}}
    )
    return cadence_frame(spark, settings, stores, entities)


def test_statuses_against_the_run_time(spark):
    rows = [
        ("s1", "tickets", "20261003T230000_0001", 100),  # 1.04 days before as_of: ok
        ("s1", "locations", "20260901T000000_0001", 5),  # 34 days, cadence 30d (warn 60d): ok
        ("s2", "tickets", "20261001T000000_0001", 80),  # 4 days... exactly error_after: late
        ("s3", "tickets", "20260920T000000_0001", 90),  # 15 days: missing
        ("s3", "locations", "20260801T000000_0001", 5),  # 65 days > 60: late
    ]
    exports = last_exports(manifest(spark, rows))
    actual = source_freshness(exports, _cadence(spark, ["s1", "s2", "s3"]), at("2026-10-05 00:00"), "run-1")
    got = {(r.store_id, r.entity): (r.status, r.days_since_last_export, r.expected_every) for r in actual.collect()}
    assert got == {
        ("s1", "tickets"): ("ok", 1.04, "1d"),
        ("s1", "locations"): ("ok", 34.0, "30d"),
        ("s2", "tickets"): ("late", 4.0, "1d"),
        # a store that exported something, but never this entity
        ("s2", "locations"): ("missing", None, "30d"),
        ("s3", "tickets"): ("missing", 15.0, "1d"),
        ("s3", "locations"): ("late", 65.0, "30d"),
    }
    assert actual.columns == OPS_SCHEMAS["ops.source_freshness"].names
    assert {r.as_of for r in actual.collect()} == {at("2026-10-05 00:00")}


def test_as_of_the_latest_export_judges_each_store_against_the_network(spark):
    rows = [
        ("s1", "tickets", "20260930T235900_0001", 100),
        ("s2", "tickets", "20260928T235900_0001", 100),  # 2 days behind s1: ok (warn after 2d)
        ("s3", "tickets", "20260925T000000_0001", 100),  # 5.99 days behind: missing
    ]
    actual = source_freshness(last_exports(manifest(spark, rows)), _cadence(spark, ["s1", "s2", "s3"], ("tickets",)),
                              None, "run-1")
    got = {r.store_id: (r.status, r.as_of) for r in actual.collect()}
    latest = at("2026-09-30 23:59:00")
    assert got == {"s1": ("ok", latest), "s2": ("ok", latest), "s3": ("missing", latest)}


def test_coverage_runs_through_the_day_of_the_last_export(spark):
    rows = [("s1", "tickets", "20260930T235900_0001", 1), ("s2", "tickets", "20260930T000000_0001", 1)]
    coverage = export_coverage(last_exports(manifest(spark, rows)))
    assert {(r.store_id, r.covered_until) for r in coverage.collect()} == {
        ("s1", date(2026, 10, 1)), ("s2", date(2026, 10, 1))
    }


def test_cadence_precedence_store_over_entity_over_defaults():
    settings = FreshnessSettings(
        expected_every="1d",
        warn_after="36h",
        error_after="3d",
        entities={"locations": {"expected_every": "30d"}, "tickets": {"error_after": "5d"}},
        stores={"s7": {"expected_every": "1w"}, "s8": {"warn_after": "40d", "error_after": "100d"}},
    )
    assert settings.cadence("s1", "payments") == Cadence(DAY, 1.5 * DAY, 3 * DAY)
    assert settings.cadence("s1", "tickets") == Cadence(DAY, 1.5 * DAY, 5 * DAY)
    # a new cadence brings thresholds of 2x and 3x of it
    assert settings.cadence("s1", "locations") == Cadence(30 * DAY, 60 * DAY, 90 * DAY)
    assert settings.cadence("s7", "tickets") == Cadence(7 * DAY, 14 * DAY, 21 * DAY)
    # a store's thresholds win over the entity's, whatever the entity's cadence
    assert settings.cadence("s8", "tickets") == Cadence(DAY, 40 * DAY, 100 * DAY)
    with pytest.raises(ValueError, match="stores.s8 with entities.locations: need expected_every <= warn_after"):
        FreshnessSettings(entities={"locations": {"expected_every": "30d"}}, stores={"s8": {"warn_after": "2d"}})


@pytest.mark.parametrize(
    ("freshness", "message"),
    [
        ({"expected_every": "often"}, "key 'freshness.expected_every': 'often' is not a duration such as 12h, 1d or 2w"),
        ({"warn_after": "5d", "error_after": "4d"},
         "key 'freshness': defaults: need expected_every <= warn_after < error_after, got 1d, 5d, 4d"),
        ({"stores": {"s9": {"warn_after": "12h"}}},
         "key 'freshness': stores.s9: need expected_every <= warn_after < error_after, got 1d, 12h, 4d"),
        ({"as_of": "now"}, "key 'freshness.as_of' has value 'now'; allowed: 'run_time' or 'latest_export'"),
        ({"entities": {"tikets": {"expected_every": "1d"}}}, "key 'freshness.entities.tikets' is not an entity"),
    ],
)
def test_freshness_mistakes_are_one_line(conf_copy, freshness, message):
    (conf_copy / "env" / "local.yaml").write_text(
        "landing: data/landing\nwarehouse: data/warehouse\nspark_master: 'local[*]'\n"
        + "freshness: " + repr(freshness).replace("'", '"') + "\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config("local", "local", conf_copy)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.fixture
def conf_copy(tmp_path):
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "conf", tmp_path / "conf")
    shutil.copytree(root / "run_profiles", tmp_path / "run_profiles")
    return tmp_path / "conf"
