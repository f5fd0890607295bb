"""A chat webhook receiver on 127.0.0.1 (what Slack or Teams would be) that can fail its first requests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Answers `fail_first` requests with `fail_status` (503), then 200; records every JSON body it got."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503, path: str = "/hooks/T000/B000/x"):
        self.fail_first, self.fail_status, self.path = fail_first, fail_status, path
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver.bodies.append(body)
                    failing = len(receiver.bodies) <= receiver.fail_first
                    status = receiver.fail_status if failing else (200 if self.path == receiver.path else 404)
                    receiver.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"


class FakeSecretManager:
    """Secret Manager's `versions:access` on 127.0.0.1 for the given secrets ({full version name: payload})."""

    def __init__(self, secrets: dict[str, str]):
        self.secrets = secrets
        self.requests: list[str] = []

    def __enter__(self) -> FakeSecretManager:
        import base64

        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests.append(self.path)
                name = self.path.removeprefix("/v1/").removesuffix(":access")
                if name in fake.secrets:
                    status = 200
                    data = {"name": name, "payload": {"data": base64.b64encode(fake.secrets[name].encode()).decode()}}
                else:
                    status, data = 404, {"error": {"code": 404, "message": f"Secret [{name}] not found"}}
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
