"""The JVM-free warehouse reader and the embedded engine: committed versions, the client views, bound
parameters, and one consistent version per snapshot while the pipeline publishes the next one."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading

import pytest
import warehouse_fixture as F

from lakehouse.config import load_settings
from lakehouse.serve import catalog
from lakehouse.serve.engine import DuckDBEngine, open_engine
from lakehouse.serve.warehouse import ParquetWarehouse, duckdb_type


def test_reader_lists_tables_versions_and_history(serve_settings):
    store = ParquetWarehouse(serve_settings)
    assert store.list_tables() == sorted(
        [*F.gold_rows(), "ops.dq_results", "ops.run_log"]
    )
    assert store.current_version("gold.location_scorecard") == 0
    assert store.current_version("gold.no_such_table") is None
    [version] = store.history("gold.churn_risk")
    assert (version.version, version.operation, version.rows) == (0, "overwrite", len(F.LOCATIONS) * 3)
    with pytest.raises(KeyError, match="gold.no_such_table"):
        store.history("gold.no_such_table")


def test_duckdb_types_of_spark_types():
    assert duckdb_type("decimal(12,2)") == "DECIMAL(12,2)"
    assert duckdb_type({"type": "array", "elementType": "string", "containsNull": True}) == "VARCHAR[]"
    assert duckdb_type({"type": "map", "keyType": "string", "valueType": "long"}) == "MAP(VARCHAR, BIGINT)"
    struct = {"type": "struct", "fields": [{"name": "a", "type": "timestamp"}]}
    assert duckdb_type(struct) == 'STRUCT("a" TIMESTAMPTZ)'
    with pytest.raises(ValueError, match="interval"):
        duckdb_type("interval")


def test_engine_serves_every_client_view_with_the_documented_columns(duck):
    assert duck.views() == list(catalog.views())
    for name, view in catalog.views().items():
        result = duck.query(f"SELECT * FROM {duck.relation(name)} LIMIT 1")
        assert result.columns == catalog.columns(view)
        assert len(result.rows) == 1


def test_engine_values_are_the_tables_values(duck):
    row = duck.query(
        f"SELECT * FROM {duck.relation('location_scorecard')} WHERE location_id = $id AND month_start = $m",
        {"id": "store_01_l04", "m": dt.date(2025, 5, 1)},
    ).records()[0]
    expected = next(
        r for r in F.gold_rows()["gold.location_scorecard"] if r["location_id"] == "store_01_l04" and r["month"] == dt.date(2025, 5, 1)
    )
    assert row["washes"] == expected["washes"]
    assert row["wash_revenue"] == float(expected["revenue"])
    assert row["month_start"] == "2025-05-01"
    metrics = duck.query(f"SELECT features, trained_at FROM {duck.relation('model_metrics')}").records()[0]
    assert metrics == {"features": "tenure_days, washes_30d", "trained_at": "2026-10-01T00:00:00+00:00"}


def test_view_request_binds_every_value(duck):
    hostile = "store_01_l04' OR '1'='1"
    req = catalog.request("location_scorecard", location_id=hostile, month_from="2025-05", month_to="2025-06", limit=5)
    sql, params = catalog.view_query(duck, req)
    assert hostile not in sql and "2025" not in sql
    assert params == {
        "location_id": hostile, "month_from": dt.date(2025, 5, 1), "month_end": dt.date(2025, 7, 1), "limit": 5, "offset": 0,
    }
    assert catalog.run(duck, req)[2].rows == []  # only text: no location has that id
    ok = catalog.request("location_scorecard", location_id="store_01_l04", month_from="2025-05", month_to="2025-06")
    assert [r["month_start"] for r in catalog.run(duck, ok)[2].records()] == ["2025-06-01", "2025-05-01"]


def test_view_request_pages_in_a_stable_order(duck):
    pages = [catalog.run(duck, catalog.request("churn_retention", limit=50, offset=o))[2].rows for o in (0, 50)]
    whole = catalog.run(duck, catalog.request("churn_retention", limit=100))[2].rows
    assert pages[0] + pages[1] == whole


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"month_from": "May 2025"}, "month_from", "not a month"),
        ({"month_to": "2025-13"}, "month_to", "not a month"),
        ({"month_from": "2025-06", "month_to": "2025-05"}, "month_to", "before month_from"),
        ({"limit": 0}, "limit", "out of range"),
        ({"limit": 5000}, "limit", "out of range"),
        ({"offset": -1}, "offset", "negative"),
        ({"location_id": ""}, "location_id", "1 to 200"),
    ],
)
def test_bad_request_values_name_the_field(kwargs, field, message):
    with pytest.raises(catalog.BadRequest, match=message) as info:
        catalog.request("location_scorecard", **kwargs)
    assert info.value.field == field


def test_filters_a_view_cannot_take_and_unknown_views_are_refused():
    with pytest.raises(catalog.BadRequest, match="no location_id column") as info:
        catalog.request("model_metrics", location_id="store_01_l01")
    assert info.value.field == "location_id"
    with pytest.raises(catalog.BadRequest, match="no month column"):
        catalog.request("model_metrics", month_from="2025-01")
    with pytest.raises(catalog.UnknownView, match="no client view 'gold.location_scorecard'"):
        catalog.request("gold.location_scorecard")
    assert catalog.request("client.billing_health").view.name == "billing_health"


def _marks(engine) -> set[int]:
    """The distinct `washes - base` shifts in the scorecard: one per consistent version (see gold_rows(mark))."""
    rows = engine.query(f"SELECT location_id, month_start, washes FROM {engine.relation('location_scorecard')}").rows
    base = {(r["location_id"], r["month"].isoformat()): r["washes"] for r in F.gold_rows()["gold.location_scorecard"]}
    return {washes - base[(loc, month.isoformat())] for loc, month, washes in rows}


def test_a_snapshot_keeps_its_version_while_the_pipeline_publishes_the_next(tmp_path):
    root = str(tmp_path / "warehouse")
    F.build(root)
    engine = open_engine(load_settings("local", None, {"warehouse": root}), "duckdb")
    before = engine.snapshot()
    assert _marks(engine) == {0}

    # a writer killed after writing its files but before committing: never read
    log_dir = os.path.join(root, "_versions", "gold", "location_scorecard")
    os.makedirs(os.path.join(log_dir, "v000001"))
    with open(os.path.join(log_dir, "v000001", "part-00000.parquet"), "wb") as fh:
        fh.write(b"half a file")
    assert engine.refresh() is False
    assert _marks(engine) == {0}

    # committed but not yet published (the symlink still shows version 0): the log decides
    scorecard = F.gold_rows(mark=1)["gold.location_scorecard"]
    os.rename(os.path.join(log_dir, "v000001"), os.path.join(tmp_path, "leftover"))
    F.write_version(root, "gold.location_scorecard", scorecard, publish=False)
    assert _marks(engine) == {0}  # no refresh yet: the snapshot is unchanged
    assert engine.refresh() is True
    assert _marks(engine) == {1}
    assert engine.versions()["gold.location_scorecard"] == 1
    # the old snapshot still answers from its version
    assert {r[0] for r in before.query('SELECT washes - washes FROM client."location_scorecard" LIMIT 1').rows} == {0}
    assert before.versions["gold.location_scorecard"] == 0


def test_queries_see_one_whole_version_while_versions_are_published(tmp_path):
    root = str(tmp_path / "warehouse")
    F.build(root)
    engine = DuckDBEngine(
        open_engine(load_settings("local", None, {"warehouse": root}), "duckdb").warehouse,
        tables=["gold.location_scorecard"],
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            for mark in range(1, 7):
                F.write_version(root, "gold.location_scorecard", F.gold_rows(mark)["gold.location_scorecard"])
                engine.refresh()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            stop.set()

    writer = threading.Thread(target=publish)
    writer.start()
    seen = []
    while not stop.is_set() or not seen:
        marks = _marks(engine)
        assert len(marks) == 1, f"a query mixed versions: {sorted(marks)}"
        seen.append(marks.pop())
    writer.join()
    assert not errors
    assert seen == sorted(seen)  # versions only move forward
    assert _marks(engine) == {6}


def test_delta_tables_are_read_with_deltalake(tmp_path):
    import pyarrow as pa
    from deltalake import CommitProperties, write_deltalake

    from lakehouse.contract import GOLD_SCHEMAS

    settings = load_settings("local", None, {"warehouse": str(tmp_path / "wh"), "table_format": "delta"})
    rows = F.gold_rows()["gold.churn_retention"][:5]
    schema = F.arrow_schema(json.loads(GOLD_SCHEMAS["gold.churn_retention"].json()))
    path = os.path.join(settings.layer_root("gold"), "churn_retention")
    ours = CommitProperties(custom_metadata={"userMetadata": "overwrite"})  # as DeltaTableStore tags its commits
    write_deltalake(path, pa.Table.from_pylist(rows, schema=schema), commit_properties=ours)
    write_deltalake(path, pa.Table.from_pylist(rows[:2], schema=schema), mode="append")
    engine = open_engine(settings, "duckdb")
    assert engine.views() == ["churn_retention"]
    assert engine.versions() == {"gold.churn_retention": 1}
    got = engine.query(f"SELECT count(*) FROM {engine.relation('churn_retention')}").rows
    assert got == [(7,)]
    assert engine.warehouse.list_tables() == ["gold.churn_retention"]
    assert [v.operation for v in engine.warehouse.history("gold.churn_retention")] == ["append", "overwrite"]
