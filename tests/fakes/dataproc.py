"""A fake Dataproc v1 REST server on 127.0.0.1 for the real google-cloud-dataproc clients (transport="rest").

It implements what `lakehouse submit` uses: batches create/get (projects/*/locations/*/batches),
jobs submitAsOperation/get (projects/*/regions/*/jobs) and operations get, with request-id
idempotency like the real service. Each test scripts the outcome: the states successive GETs
return, HTTP errors to answer first (429/503...), a 403, a region the "endpoint" serves.
Every request is recorded with its parsed JSON body.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
# neutral outcome names a test scripts -> a cluster job's JobStatus.State
JOB_STATES = {"SUCCEEDED": "DONE", "FAILED": "ERROR", "CANCELLING": "CANCEL_PENDING"}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "DONE", "ERROR"}
_T = "type.googleapis.com/google.cloud.dataproc.v1."


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float


@dataclass
class Script:
    """What the fake answers: states per GET, errors to return first, permissions, region."""

    states: list[str] = field(default_factory=lambda: ["PENDING", "RUNNING", "SUCCEEDED"])
    create_errors: list[int] = field(default_factory=list)  # answered before the create is accepted
    lost_responses: list[int] = field(default_factory=list)  # answered after the create was accepted
    get_errors: list[int] = field(default_factory=list)
    forbidden: str | None = None  # 403 message for creates/submits
    storage_forbidden: bool = False  # 403 for any GCS JSON API path (/storage, /upload, /download)
    region: str | None = None  # the endpoint's region; a request for another region gets 400
    state_message: str = ""


class FakeDataproc:
    """The server: start(), `.url` for client_options api_endpoint, stop()."""

    def __init__(self, script: Script | None = None):
        self.script = script or Script()
        self.requests: list[Recorded] = []
        self.batches: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.operations: dict[str, dict] = {}
        self.request_ids: dict[str, str] = {}  # request id -> operation name
        self.polls: dict[str, int] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeDataproc:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeDataproc:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        """The recorded requests of `method` whose path matches the regex `pattern`."""
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    # ------------------------------------------------------------ plumbing

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        with self.lock:
            self.requests.append(Recorded(method, parts.path, query, body, time.monotonic()))
            try:
                status, payload = self._route(method, parts.path, query, body)
            except Exception as exc:  # a bug in the fake: a non-retryable error the test will show
                status, payload = self._error(400, f"fake Dataproc bug: {type(exc).__name__}: {exc}")
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _error(code: int, message: str) -> tuple[int, dict]:
        return code, {
            "error": {"code": code, "message": message, "status": STATUS_NAMES.get(code, "UNKNOWN")}
        }

    def _region_error(self, region: str) -> tuple[int, dict] | None:
        served = self.script.region
        if served and served != region:
            return self._error(
                400,
                f"Region '{region}' specified in request does not match endpoint region '{served}'. "
                f"To use '{region}' region, specify '{region}' region in request and configure client "
                f"to use '{region}-dataproc.googleapis.com:443' endpoint.",
            )
        return None

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, dict]:
        s = self.script
        if re.match(r"^/(storage|upload|download)/", path) and s.storage_forbidden:
            return self._error(
                403,
                "lakehouse-ci@example.iam.gserviceaccount.com does not have storage.objects.get access to the object.",
            )
        m = re.fullmatch(r"/v1/projects/([^/]+)/locations/([^/]+)/batches", path)
        if m and method == "POST":
            return self._create_batch(m.group(1), m.group(2), query, body)
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/([^/]+)/batches/[^/]+)", path)
        if m and method == "GET":
            return self._get(m.group(1), m.group(2), self.batches, self._batch_view)
        m = re.fullmatch(r"/v1/projects/([^/]+)/regions/([^/]+)/jobs:submitAsOperation", path)
        if m and method == "POST":
            return self._submit_job(m.group(1), m.group(2), body)
        m = re.fullmatch(r"/v1/projects/([^/]+)/regions/([^/]+)/jobs/([^/]+)", path)
        if m and method == "GET":
            return self._get(m.group(3), m.group(2), self.jobs, self._job_view)
        m = re.fullmatch(r"/v1/(projects/[^/]+/(?:regions|locations)/[^/]+/operations/[^/]+)", path)
        if m and method == "GET":
            return self._get_operation(m.group(1))
        return self._error(404, f"fake Dataproc: no route for {method} {path}")

    # ------------------------------------------------------------ resources

    def _accept(self, kind: str, op_name: str, key: str, metadata: dict) -> dict:
        self.operations[op_name] = {"name": op_name, "metadata": metadata, "_kind": kind, "_resource": key}
        return self._operation_view(op_name)

    def _create_batch(self, project: str, region: str, query: dict, body: dict) -> tuple[int, dict]:
        s = self.script
        if err := self._region_error(region):
            return err
        if s.create_errors:
            return self._error(s.create_errors.pop(0), "fake: try again later")
        if s.forbidden:
            return self._error(403, s.forbidden)
        request_id, batch_id = query.get("requestId"), query.get("batchId")
        if request_id and request_id in self.request_ids:  # a retried request: same operation
            return 200, self._operation_view(self.request_ids[request_id])
        name = f"projects/{project}/locations/{region}/batches/{batch_id or uuid.uuid4().hex}"
        if name in self.batches:
            return self._error(409, f"Batch '{name}' already exists")
        batch_uuid = str(uuid.uuid4())
        self.batches[name] = dict(body or {}, name=name, uuid=batch_uuid, createTime="2025-01-01T00:00:00Z")
        op_name = f"projects/{project}/regions/{region}/operations/{batch_uuid}"
        metadata = {
            "@type": _T + "BatchOperationMetadata",
            "batch": name,
            "batchUuid": batch_uuid,
            "operationType": "BATCH",
        }
        self.batches[name]["operation"] = op_name
        view = self._accept("batch", op_name, name, metadata)
        if request_id:
            self.request_ids[request_id] = op_name
        if s.lost_responses:  # the batch exists, but the client never hears about it
            return self._error(s.lost_responses.pop(0), "fake: the response was lost")
        return 200, view

    def _submit_job(self, project: str, region: str, body: dict) -> tuple[int, dict]:
        s = self.script
        if err := self._region_error(region):
            return err
        if s.create_errors:
            return self._error(s.create_errors.pop(0), "fake: try again later")
        if s.forbidden:
            return self._error(403, s.forbidden)
        request_id = (body or {}).get("requestId")
        if request_id and request_id in self.request_ids:
            return 200, self._operation_view(self.request_ids[request_id])
        job = dict((body or {}).get("job") or {})
        job_id = (job.get("reference") or {}).get("jobId") or uuid.uuid4().hex
        if job_id in self.jobs:
            return self._error(409, f"Already exists: Job projects/{project}/regions/{region}/jobs/{job_id}")
        job.setdefault("reference", {}).update(projectId=project, jobId=job_id)
        job["placement"] = dict(job.get("placement") or {}, clusterUuid=str(uuid.uuid4()))
        job["jobUuid"] = str(uuid.uuid4())
        job["driverOutputResourceUri"] = (
            f"gs://dataproc-staging-fake/google-cloud-dataproc-metainfo/jobs/{job_id}/driveroutput"
        )
        self.jobs[job_id] = job
        op_name = f"projects/{project}/regions/{region}/operations/{uuid.uuid4()}"
        metadata = {
            "@type": _T + "JobMetadata",
            "jobId": job_id,
            "operationType": "SUBMIT",
            "status": {"state": "PENDING"},
        }
        view = self._accept("job", op_name, job_id, metadata)
        if request_id:
            self.request_ids[request_id] = op_name
        if s.lost_responses:
            return self._error(s.lost_responses.pop(0), "fake: the response was lost")
        return 200, view

    def _state(self, key: str, count: bool) -> str:
        seen = self.polls.get(key, 0)
        if count:
            self.polls[key] = seen + 1
        states = self.script.states
        return states[min(seen, len(states) - 1)]

    def _get(self, key: str, region: str, store: dict, view) -> tuple[int, dict]:
        if err := self._region_error(region):
            return err
        if self.script.get_errors:
            return self._error(self.script.get_errors.pop(0), "fake: try again later")
        if key not in store:
            return self._error(404, f"Not found: {key}")
        return 200, view(key, count=True)

    def _batch_view(self, name: str, count: bool = False) -> dict:
        state = self._state(name, count)
        batch = dict(self.batches[name], state=state)
        if state in ("FAILED", "CANCELLED"):
            batch["stateMessage"] = self.script.state_message or f"Batch {state.lower()} (fake)"
        if state != "PENDING":
            batch["runtimeInfo"] = {"outputUri": f"gs://lakehouse-dev-temp/{batch['uuid']}/driveroutput"}
        return batch

    def _job_view(self, job_id: str, count: bool = False) -> dict:
        state = self._state(job_id, count)
        state = JOB_STATES.get(state, state)
        job = dict(self.jobs[job_id], status={"state": state})
        if state == "ERROR":
            job["status"]["details"] = self.script.state_message or "Job failed (fake)"
        job["done"] = state in TERMINAL
        return job

    def _operation_view(self, op_name: str) -> dict:
        op = self.operations[op_name]
        view = {k: v for k, v in op.items() if not k.startswith("_")}
        if op["_kind"] == "batch":
            resource = self._batch_view(op["_resource"])
            done = resource["state"] in TERMINAL
            if done:
                view["response"] = {"@type": _T + "Batch", **resource}
        else:
            resource = self._job_view(op["_resource"])
            done = resource["done"]
            if done:
                view["response"] = {"@type": _T + "Job", **resource}
        view["done"] = done
        return view

    def _get_operation(self, name: str) -> tuple[int, dict]:
        if name not in self.operations:
            return self._error(404, f"Not found: {name}")
        return 200, self._operation_view(name)
