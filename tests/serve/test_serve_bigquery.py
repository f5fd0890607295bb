"""The BigQuery engine: the real google-cloud-bigquery client against a fake BigQuery REST API on
loopback (tests/fakes/bigquery.py), which runs the client views' transpiled SQL in DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest
from fakes.bigquery import FakeBigQuery
from fastapi.testclient import TestClient
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from lakehouse.serve import ask, catalog
from lakehouse.serve.engine import BigQueryEngine, open_engine

PROJECT, DATASET = "lakehouse-dev", "lakehouse_client_dev"


@pytest.fixture(scope="module")
def fake(duck):
    server = FakeBigQuery(duck, PROJECT, DATASET).start()
    yield server
    server.stop()


@pytest.fixture
def bq(fake):
    client = bigquery.Client(
        project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": fake.url}
    )
    fake.requests.clear()
    return BigQueryEngine(PROJECT, DATASET, client=client)


def test_view_requests_send_named_parameters(bq, fake, duck):
    req = catalog.request("location_scorecard", location_id="store_01_l04", month_from="2025-05", month_to="2025-06", limit=5)
    sql, params, result = catalog.run(bq, req)
    assert sql.startswith(f"SELECT * FROM `{PROJECT}.{DATASET}.location_scorecard` WHERE location_id = @location_id")
    [sent] = [r for r in fake.requests if r.path.endswith("/queries")]
    assert sent.path == f"/bigquery/v2/projects/{PROJECT}/queries"
    assert sent.body["useLegacySql"] is False
    assert {p["name"]: (p["parameterType"]["type"], p["parameterValue"]["value"]) for p in sent.body["queryParameters"]} == {
        "location_id": ("STRING", "store_01_l04"),
        "month_from": ("DATE", "2025-05-01"),
        "month_end": ("DATE", "2025-07-01"),
        "limit": ("INT64", "5"),
        "offset": ("INT64", "0"),
    }
    assert result.columns == catalog.columns(req.view)
    assert result.records() == catalog.run(duck, req)[2].records()  # the same rows as the embedded engine


def test_ask_on_bigquery_answers_like_the_embedded_engine(bq, duck):
    for question in ("Which sites need attention?", "churn rate at Auburn in 2026-05", "top 3 sites by revenue"):
        on_bq, on_duck = ask.answer(question, bq), ask.answer(question, duck)
        assert on_bq["view"] == on_duck["view"] and on_bq["filters"] == on_duck["filters"], question
        assert on_bq["rows"] == on_duck["rows"], question
    assert ask.context_of(bq.snapshot(), bq).latest_month == dt.date(2026, 8, 1)


def test_api_over_bigquery(bq, tmp_path):
    from lakehouse.serve.api import create_app
    from lakehouse.serve.keys import Authenticator, KeyStore

    store = KeyStore(str(tmp_path / "keys.json"))
    _key, token = store.create("cloud")
    with TestClient(create_app(bq, Authenticator(store), refresh_seconds=0)) as client:
        got = client.get("/v1/views/billing_health", params={"location_id": "store_02_l05", "limit": 3}, headers={"X-API-Key": token})
        assert got.status_code == 200
        assert [r["month_start"] for r in got.json()["rows"]] == ["2026-09-01", "2026-08-01", "2026-07-01"]
        assert client.get("/healthz").json()["engine"] == "bigquery"


def test_a_missing_dataset_is_the_clients_not_found(fake):
    client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": fake.url})
    engine = BigQueryEngine(PROJECT, "no_such_dataset", client=client)
    with pytest.raises(NotFound, match="no_such_dataset"):
        engine.query(f"SELECT * FROM {engine.relation('churn_risk')}")


def test_the_cloud_run_environment_picks_the_engine_project_and_dataset(monkeypatch, serve_settings):
    from lakehouse.errors import UserError
    from lakehouse.serve.engine import bigquery_target, engine_kind

    monkeypatch.setenv("LAKEHOUSE_QUERY_ENGINE", "bigquery")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p-from-env")
    monkeypatch.setenv("LAKEHOUSE_BIGQUERY_DATASET", "ds_from_env")
    assert engine_kind() == "bigquery" and engine_kind("duckdb") == "duckdb"
    assert bigquery_target(serve_settings) == ("p-from-env", "ds_from_env")
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(UserError, match="needs a project and a dataset"):
        bigquery_target(serve_settings)  # the local env has no gcp_project
    monkeypatch.setenv("LAKEHOUSE_QUERY_ENGINE", "oracle")
    with pytest.raises(UserError, match="query engine 'oracle' is unknown"):
        open_engine(serve_settings)
