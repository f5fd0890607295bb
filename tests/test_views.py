"""Client views: SQL + YAML agree, local registration over gold tables, BigQuery export, docs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlglot
from chispa import assert_df_equality

from lakehouse.contract import GOLD_SCHEMAS, MODEL_METRICS
from lakehouse.errors import UserError
from lakehouse.runtime import JobOptions
from lakehouse.scoring.features import FEATURES
from lakehouse.tables import open_table_store
from lakehouse.views import (
    DATASET_PLACEHOLDER,
    client_type,
    export_views,
    load_views,
    parse,
    register_views,
    render_docs,
    transpile_view,
    view_examples,
    write_docs,
)

VIEWS = {
    "location_scorecard_bottom",
    "location_scorecard",
    "churn_retention",
    "billing_health",
    "churn_risk",
    "model_metrics",
}
MAR = date(2024, 3, 1)
GOLD = {name.split(".")[1]: schema for name, schema in GOLD_SCHEMAS.items()}
SCORECARD_ROW = ("A", "Wash A", "north", MAR, 3, Decimal("20.01"), Decimal("6.67"), 1 / 3, 5, 0.2, 0.9, 0.7, True)


def gold_rows() -> dict[str, tuple]:
    return {
        "churn_retention": (GOLD["churn_retention"], [("A", MAR, 5, 1, 1, 5, 0.2, 0.8, True)]),
        "billing_health": (
            GOLD["billing_health"],
            [("A", MAR, 10, 9, 1, 0, 0.9, 0, 1, 1.0, Decimal("0.00"), False)],
        ),
        "location_scorecard": (GOLD["location_scorecard"], [SCORECARD_ROW]),
        "location_scorecard_bottom": (GOLD["location_scorecard_bottom"], [(1, *SCORECARD_ROW)]),
        "churn_risk": (GOLD["churn_risk"], [("m1", "c1", "A", MAR, 0.42, "medium", "v1")]),
        "model_metrics": (
            GOLD_SCHEMAS[MODEL_METRICS],
            [
                {
                    "model_version": "v1",
                    "run_id": "r1",
                    "trained_at": datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC),
                    "algorithm": "gbt",
                    "train_rows": 100,
                    "test_rows": 40,
                    "train_positives": 9,
                    "test_positives": 4,
                    "train_from": date(2023, 4, 1),
                    "train_to": date(2023, 11, 1),
                    "test_from": date(2023, 12, 1),
                    "test_to": date(2024, 1, 1),
                    "label_horizon_days": 30,
                    "features": list(FEATURES),
                    "roc_auc": 0.81,
                    "candidate_auc": {"gbt": 0.8, "logistic_regression": 0.7},
                    "model_path": "/tmp/m/v1",
                }
            ],
        ),
    }


@pytest.fixture
def gold_store(spark, settings):
    """A table store whose warehouse holds one row in every gold table; cleans the catalog after."""
    tables = open_table_store(spark, settings)
    for name, (schema, rows) in gold_rows().items():
        tables.overwrite(f"gold.{name}", spark.createDataFrame(rows, schema))
    yield tables
    spark.sql("DROP DATABASE IF EXISTS client CASCADE")
    spark.sql("DROP DATABASE IF EXISTS gold CASCADE")


def test_every_view_is_documented_and_reads_only_its_gold_table():
    views = load_views()
    assert {v.name for v in views} == VIEWS
    for view in views:
        assert view.sources == [f"gold.{view.name}"]
        assert parse(view.sql).named_selects == [c.name for c in view.columns]
        assert all(c.meaning and c.formula and c.type for c in view.columns), view.name


def test_every_view_transpiles_to_bigquery_naming_the_same_columns():
    for view in load_views():
        spark_columns = parse(view.sql).named_selects
        bigquery = transpile_view(view, "bigquery")
        assert parse(bigquery.replace(DATASET_PLACEHOLDER, "p.ds"), "bigquery").named_selects == spark_columns
        assert f"FROM `{DATASET_PLACEHOLDER}.{view.name}`" in bigquery
        named = transpile_view(view, "bigquery", dataset="my-project.client_ds")
        assert f"FROM `my-project`.client_ds.{view.name}" in named
    metrics = next(v for v in load_views() if v.name == "model_metrics")
    assert "ARRAY_TO_STRING(features, ', ') AS features" in transpile_view(metrics, "bigquery")


def test_export_views_writes_one_file_per_view(tmp_path):
    written = export_views("bigquery", tmp_path / "bq", None)
    assert sorted(p.name for p in written) == sorted(f"{v}.sql" for v in VIEWS)
    text = (tmp_path / "bq" / "churn_risk.sql").read_text()
    assert text.startswith("SELECT\n") and "risk_score AS churn_probability" in text
    assert "FROM `${project}.${dataset}.churn_risk`" in text
    # what Terraform's templatefile makes of it is valid BigQuery naming the gold table
    rendered = text.replace("${project}", "my-project").replace("${dataset}", "lakehouse_gold_dev")
    (table,) = sqlglot.parse_one(rendered, read="bigquery").find_all(sqlglot.exp.Table)
    assert (table.catalog, table.db, table.name) == ("my-project", "lakehouse_gold_dev", "churn_risk")
    duck = export_views("duckdb", tmp_path / "duck", None)
    assert "FROM gold.churn_risk" in (tmp_path / "duck" / "churn_risk.sql").read_text() and len(duck) == 6
    with pytest.raises(UserError, match="'nosuchsql' is not a SQL dialect"):
        export_views("nosuchsql", tmp_path / "x", None)
    with pytest.raises(UserError, match="must be 'dataset' or 'project.dataset'"):
        export_views("bigquery", tmp_path / "x", "a.b.c")


def test_register_views_over_the_gold_tables(spark, gold_store):
    registered = register_views(spark, gold_store)
    assert sorted(registered) == sorted(f"client.{v}" for v in VIEWS)
    docs = {v.name: v for v in load_views()}
    for name in VIEWS:
        df = spark.table(f"client.{name}")
        assert df.columns == [c.name for c in docs[name].columns]
        assert [client_type(f.dataType) for f in df.schema] == [c.type for c in docs[name].columns], name
    bottom = spark.sql("SELECT * FROM client.location_scorecard_bottom")
    expected = spark.createDataFrame(
        [(1, "A", "Wash A", "north", MAR, 0.7, 3, Decimal("20.01"), Decimal("6.67"), 1 / 3, 5, 0.2, 0.9, True)],
        "bottom_rank int, location_id string, location_name string, region string, month_start date, "
        "score double, washes bigint, wash_revenue decimal(12,2), average_ticket decimal(12,2), "
        "member_wash_share double, members_at_month_end bigint, churn_rate double, billing_success_rate double, "
        "data_complete boolean",
    )
    assert_df_equality(bottom, expected, ignore_nullable=True)
    assert spark.sql("SELECT features FROM client.model_metrics").first()[0] == ", ".join(FEATURES)

    # a new version of a gold table shows after registering again
    schema, rows = gold_rows()["churn_risk"]
    gold_store.overwrite("gold.churn_risk", spark.createDataFrame([*rows, ("m2", "c2", "A", MAR, 0.9, "high", "v1")], schema))
    register_views(spark, gold_store)
    assert spark.sql("SELECT count(*) FROM client.churn_risk").first()[0] == 2


def test_register_views_skips_views_of_tables_not_built(spark, settings):
    tables = open_table_store(spark, settings)
    schema, rows = gold_rows()["churn_retention"]
    tables.overwrite("gold.churn_retention", spark.createDataFrame(rows, schema))
    try:
        assert register_views(spark, tables) == ["client.churn_retention"]
    finally:
        spark.sql("DROP DATABASE IF EXISTS client CASCADE")
        spark.sql("DROP DATABASE IF EXISTS gold CASCADE")


def test_docs_list_every_view_and_column_with_an_example(spark, gold_store):
    examples = view_examples(spark, register_views(spark, gold_store))
    text = render_docs(load_views(), examples, "the test rows")
    for view in load_views():
        assert f"## client.{view.name}" in text
        for col in view.columns:
            assert f"| `{col.name}` | {col.type} | " in text
    assert "| `average_ticket` | NUMERIC | Average ticket amount, to the cent; empty when there were no washes." in text
    assert text.count("| 6.67 |") == 2 and "| 0.3333 |" in text and "| 2024-03-01 |" in text
    assert "| `churn_probability` | FLOAT64 |" in text and "| 0.42 |" in text
    empty = render_docs(load_views(), {}, None)
    assert "No example values" in empty and "| 6.67 |" not in empty


def test_write_docs_reads_the_warehouse(spark, gold_store, settings, tmp_path):
    saved = {k: spark.conf.get(k) for k in ("spark.sql.shuffle.partitions", "spark.default.parallelism")}
    try:
        out = write_docs(tmp_path / "gold_views.md", JobOptions(env="local", warehouse=settings.warehouse))
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)
    text = out.read_text()
    assert "Example values come from the sample data" in text and "| v1 |" in text


def test_lakehouse_sql_with_a_relative_warehouse_and_an_empty_table(spark, tmp_path, monkeypatch, capsys):
    """`lakehouse sql --warehouse wh` from the folder holding wh: every table registers, empty ones too."""
    from lakehouse.cli import main
    from lakehouse.config import load_settings

    monkeypatch.chdir(tmp_path)
    tables = open_table_store(spark, load_settings("local", overrides={"warehouse": "wh"}))
    schema, rows = gold_rows()["churn_retention"]
    tables.overwrite("gold.churn_retention", spark.createDataFrame(rows, schema))
    tables.overwrite("quarantine.bronze_files", spark.createDataFrame([], "path string, reason string"))
    try:
        with pytest.raises(SystemExit) as done:
            main(["sql", "SELECT count(*) AS n FROM client.churn_retention", "--warehouse", "wh"])
        assert done.value.code == 0
        assert spark.sql("SELECT count(*) FROM quarantine.bronze_files").first()[0] == 0
        assert spark.sql("SELECT count(*) FROM gold.churn_retention").first()[0] == len(rows)
    finally:
        for db in ("client", "gold", "quarantine", "ops"):
            spark.sql(f"DROP DATABASE IF EXISTS {db} CASCADE")
