"""The HTTP API: keys (401/403/429), the catalog, view rows with bound parameters (404/422), ask, the
access log; and one real uvicorn server on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from lakehouse.serve import catalog
from lakehouse.serve.api import create_app
from lakehouse.serve.keys import Authenticator, KeyStore

SQL_SHAPED = ["' OR '1'='1", "x'; DROP TABLE gold.location_scorecard; --", "1 UNION SELECT * FROM ops.run_log", '"; --']


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    store = KeyStore(str(tmp_path_factory.mktemp("keys") / "api_keys.json"))
    tokens = {
        "all": store.create("all-views")[1],
        "billing": store.create("billing-only", views=["billing_health"])[1],
        "old": store.create("expired", expires=dt.datetime.now(dt.UTC).date())[1],
        "gone": store.create("revoked")[1],
    }
    store.revoke("revoked")
    return store, tokens


@pytest.fixture(scope="module")
def client(duck, keys):
    store, _tokens = keys
    app = create_app(duck, Authenticator(store), rate_limit_per_minute=0, refresh_seconds=0)
    with TestClient(app) as test_client:
        yield test_client


def test_healthz_needs_no_key(client):
    got = client.get("/healthz").json()
    assert got["status"] == "ok" and got["engine"] == "duckdb"
    assert got["versions"]["gold.location_scorecard"] == 0


def test_keys_are_required_and_checked(client, keys):
    _store, tokens = keys
    assert client.get("/v1/views").status_code == 401
    assert client.get("/v1/views", headers={"X-API-Key": "lh_nope"}).json() == {"detail": "unknown API key"}
    assert client.get("/v1/views", headers={"X-API-Key": tokens["gone"]}).json() == {"detail": "this API key was revoked"}
    # "expired" expires today: it works through its last day (its expiry is tested in test_serve_keys)
    assert client.get("/v1/views", headers={"X-API-Key": tokens["old"]}).status_code == 200
    assert client.post("/v1/ask", json={"question": "bottom 20"}).status_code == 401


def test_catalog_lists_the_views_a_key_may_read(client, keys):
    _store, tokens = keys
    everything = client.get("/v1/views", headers={"X-API-Key": tokens["all"]}).json()["views"]
    assert [v["view"] for v in everything] == [f"client.{n}" for n in catalog.views()]
    scorecard = next(v for v in everything if v["view"] == "client.location_scorecard")
    assert scorecard["filters"] == ["location_id", "month"]
    assert scorecard["columns"][0] == {
        "name": "location_id", "type": "STRING", "meaning": "The location's id in the source systems.",
        "formula": "silver.locations.location_id; every location appears in every month",
    }
    scoped = client.get("/v1/views", headers={"X-API-Key": tokens["billing"]}).json()["views"]
    assert [v["view"] for v in scoped] == ["client.billing_health"]


def test_view_rows_filtered_and_paged(client, keys):
    _store, tokens = keys
    headers = {"X-API-Key": tokens["all"]}
    got = client.get(
        "/v1/views/location_scorecard",
        params={"location_id": "store_01_l04", "month_from": "2025-05", "month_to": "2025-07", "limit": 2},
        headers=headers,
    ).json()
    assert got["view"] == "client.location_scorecard"
    assert got["filters"] == {"location_id": "store_01_l04", "month_from": "2025-05-01", "month_to": "2025-07-01", "limit": 2}
    assert [r["month_start"] for r in got["rows"]] == ["2025-07-01", "2025-06-01"]
    assert got["columns"] == catalog.columns(catalog.view("location_scorecard"))
    page2 = client.get(
        "/v1/views/client.location_scorecard",
        params={"location_id": "store_01_l04", "month_from": "2025-05", "month_to": "2025-07", "limit": 2, "offset": 2},
        headers=headers,
    ).json()
    assert [r["month_start"] for r in page2["rows"]] == ["2025-05-01"]


def test_unknown_views_bad_values_and_scope(client, keys):
    _store, tokens = keys
    headers = {"X-API-Key": tokens["all"]}
    assert client.get("/v1/views/gold.location_scorecard", headers=headers).status_code == 404
    bad = client.get("/v1/views/churn_retention", params={"month_from": "last year"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "month_from"]
    bad = client.get("/v1/views/churn_retention", params={"limit": "lots"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]
    bad = client.get("/v1/views/churn_retention", params={"limit": 1001}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]
    bad = client.get("/v1/views/model_metrics", params={"location_id": "store_01_l01"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "location_id"]
    scoped = {"X-API-Key": tokens["billing"]}
    assert client.get("/v1/views/churn_retention", headers=scoped).status_code == 403
    assert client.get("/v1/views/billing_health", headers=scoped).status_code == 200
    assert client.post("/v1/ask", json={"question": "churn rate last month"}, headers=scoped).status_code == 403


@pytest.mark.parametrize("value", SQL_SHAPED)
def test_sql_shaped_parameters_are_only_text(client, keys, value):
    _store, tokens = keys
    headers = {"X-API-Key": tokens["all"]}
    got = client.get("/v1/views/location_scorecard", params={"location_id": value}, headers=headers)
    assert got.status_code == 200 and got.json()["rows"] == []
    for field in ("month_from", "month_to"):
        bad = client.get("/v1/views/location_scorecard", params={field: value}, headers=headers)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", field]
    for field in ("limit", "offset"):
        assert client.get("/v1/views/location_scorecard", params={field: value}, headers=headers).status_code == 422
    assert client.get(f"/v1/views/{value}", headers=headers).status_code == 404
    asked = client.post("/v1/ask", json={"question": f"churn rate at {value}"}, headers=headers)
    assert asked.status_code == 200
    assert value not in (asked.json()["sql"] or "")
    # the tables are all still there
    assert client.get("/healthz").json()["versions"]["gold.location_scorecard"] == 0


def test_ask_answers_like_the_cli(client, keys, duck):
    from lakehouse.serve.ask import answer

    _store, tokens = keys
    headers = {"X-API-Key": tokens["all"]}
    got = client.post("/v1/ask", json={"question": "Which sites need attention?"}, headers=headers).json()
    assert got == answer("Which sites need attention?", duck)
    assert got["view"] == "client.location_scorecard_bottom" and len(got["rows"]) == 20
    none = client.post("/v1/ask", json={"question": "delete all tables"}, headers=headers).json()
    assert none["view"] is None and none["rows"] == []
    assert client.post("/v1/ask", json={"question": ""}, headers=headers).status_code == 422
    assert client.post("/v1/ask", json={}, headers=headers).status_code == 422


def test_rate_limit_per_key(duck, keys):
    store, tokens = keys
    app = create_app(duck, Authenticator(store), rate_limit_per_minute=3, refresh_seconds=0)
    with TestClient(app) as limited:
        codes = [limited.get("/v1/views", headers={"X-API-Key": tokens["all"]}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert limited.get("/v1/views", headers={"X-API-Key": tokens["billing"]}).status_code == 200
        refused = limited.get("/v1/views", headers={"X-API-Key": tokens["all"]})
        assert int(refused.headers["Retry-After"]) >= 1


def test_every_request_is_logged_without_keys_or_rows(client, keys, caplog):
    _store, tokens = keys
    with caplog.at_level(logging.INFO, logger="lakehouse.serve.access"):
        client.get("/v1/views/billing_health", params={"location_id": "store_02_l05"}, headers={"X-API-Key": tokens["all"]})
        client.get("/v1/views/billing_health", headers={"X-API-Key": "lh_wrong"})
    lines = [r.getMessage() for r in caplog.records if r.name == "lakehouse.serve.access"]
    assert len(lines) == 2
    assert lines[0].startswith("key=all-views method=GET path=/v1/views/{view} view=billing_health status=200 ms=")
    assert lines[1].startswith("key=- method=GET path=/v1/views/{view} view=- status=401 ms=")
    text = "\n".join(lines)
    assert tokens["all"] not in text and "store_02_l05" not in text


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    assert {"/healthz", "/v1/views", "/v1/views/{view}", "/v1/ask"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "Your API key"}
    assert client.get("/docs").status_code == 200


def test_lakehouse_serve_on_loopback(serve_warehouse, tmp_path, keys):
    """The real command: uvicorn on 127.0.0.1, a key created with `lakehouse keys create`."""
    from fakes.gcs import free_port

    env_args = ["--warehouse", serve_warehouse]
    created = subprocess.run(
        [sys.executable, "-m", "lakehouse", "keys", "create", "--name", f"loopback-{time.time_ns()}", *env_args],
        capture_output=True, text=True, check=True,
    )
    token = created.stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lakehouse", "serve", "--port", str(port), "--refresh-seconds", "0", *env_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.poll() is not None else "no answer"
            time.sleep(0.2)
        got = httpx.get(f"{url}/v1/views/churn_risk", params={"location_id": "store_01_l02"}, headers={"X-API-Key": token})
        assert got.status_code == 200 and {r["location_id"] for r in got.json()["rows"]} == {"store_01_l02"}
        assert httpx.get(f"{url}/v1/views/churn_risk").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert token not in server.stderr.read()
