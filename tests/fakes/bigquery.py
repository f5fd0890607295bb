"""A fake BigQuery v2 REST server on 127.0.0.1 for the real google-cloud-bigquery client.

It implements what the query service uses: `jobs.query` (POST projects/{project}/queries, what
`Client.query_and_wait` sends) and `jobs.getQueryResults` for a job it answered. A query naming
`<project>.<dataset>.<view>` runs, transpiled from BigQuery SQL to DuckDB by sqlglot, on a DuckDB
engine whose `client.<view>` views are the same view definitions the Terraform module creates in
BigQuery. Named query parameters are bound, as BigQuery binds them. Each test can script errors
(an HTTP status to answer first) and a dataset the fake does not have (404). Every request is
recorded with its parsed body.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import sqlglot
from sqlglot import exp

from fakes.gcs import free_port

_TYPES = {"BOOLEAN": "BOOL", "BIGINT": "INT64", "INTEGER": "INT64", "DOUBLE": "FLOAT64", "DATE": "DATE", "VARCHAR": "STRING"}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: Any


@dataclass
class FakeBigQuery:
    """The server: `start()`, `.url` for `client_options={"api_endpoint": url}`, `stop()`."""

    engine: Any  # a DuckDB engine of lakehouse.serve.engine holding client.<view>
    project: str
    dataset: str
    errors: list[int] = field(default_factory=list)  # HTTP statuses answered before the next queries
    requests: list[Recorded] = field(default_factory=list)
    _results: dict[str, dict] = field(default_factory=dict)

    def start(self) -> FakeBigQuery:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = urlsplit(self.path).path
                fake.requests.append(Recorded("POST", path, body))
                if fake.errors:
                    status = fake.errors.pop(0)
                    self._send(status, {"error": {"code": status, "message": f"scripted {status}", "errors": []}})
                    return
                if path.endswith("/queries"):
                    self._send(*fake.query(body))
                else:
                    self._send(404, {"error": {"code": 404, "message": f"no route {path}"}})

            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                fake.requests.append(Recorded("GET", path, None))
                job = path.rstrip("/").rsplit("/", 1)[-1]
                if "/queries/" in path and job in fake._results:
                    self._send(200, fake._results[job])
                else:
                    self._send(404, {"error": {"code": 404, "message": f"Not found: Job {job}"}})

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------ jobs.query

    def query(self, body: dict) -> tuple[int, dict]:
        if body.get("useLegacySql", True) is not False:
            return 400, {"error": {"code": 400, "message": "the fake speaks standard SQL only"}}
        tree = sqlglot.parse_one(body["query"], read="bigquery")
        for table in tree.find_all(exp.Table):
            if (table.catalog, table.db) != (self.project, self.dataset):
                message = f"Not found: Dataset {table.catalog}:{table.db}"
                return 404, {"error": {"code": 404, "message": message, "errors": [{"reason": "notFound", "message": message}]}}
            table.set("catalog", None)
            table.set("db", exp.to_identifier("client"))
        params = {p["name"]: _value(p["parameterType"]["type"], p["parameterValue"].get("value")) for p in body.get("queryParameters", [])}
        result = self.engine.query(tree.sql(dialect="duckdb"), params)
        cursor_types = self.engine.query(f"DESCRIBE {tree.sql(dialect='duckdb')}", params).rows
        fields = [{"name": name, "type": _bq_type(kind), "mode": "NULLABLE"} for name, kind, *_ in cursor_types]
        job = f"job_{uuid.uuid4().hex[:12]}"
        response = {
            "kind": "bigquery#queryResponse",
            "schema": {"fields": fields},
            "jobReference": {"projectId": self.project, "jobId": job, "location": "EU"},
            "totalRows": str(len(result.rows)),
            "rows": [{"f": [{"v": _text(v)} for v in row]} for row in result.rows],
            "jobComplete": True,
            "cacheHit": False,
        }
        self._results[job] = response
        return 200, response


def _bq_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return "NUMERIC"
    if duckdb_type.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return _TYPES.get(duckdb_type, "STRING")


def _value(kind: str, text: str | None) -> Any:
    if text is None:
        return None
    if kind == "INT64":
        return int(text)
    if kind == "FLOAT64":
        return float(text)
    if kind == "DATE":
        return dt.date.fromisoformat(text)
    if kind == "BOOL":
        return text.lower() == "true"
    return text


def _text(value: Any) -> Any:
    """A value as the REST API carries it: text (timestamps as microseconds since the epoch)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return str(int(value.timestamp() * 1_000_000))
    if isinstance(value, dt.date | decimal.Decimal | float | int | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return str(value)
