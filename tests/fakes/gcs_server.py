"""fake-gcs-server on loopback: a Cloud Storage the real clients talk to (the Spark connector, google-cloud-storage).

`make tools` builds it from the Go module proxy into `.cache/bin`. `.ci/run` starts one and exports
its address as `LAKEHOUSE_TEST_GCS`; without that, `gcs_server()` starts its own on a free port.
It honours generation preconditions (`ifGenerationMatch`), which Delta's GCS log store and the
warehouse lock rely on.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fakes.gcs import free_port

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".cache" / "bin" / "fake-gcs-server"
ADDRESS_ENV = "LAKEHOUSE_TEST_GCS"


def available() -> str | None:
    """Why no server can be had (a missing binary), or None."""
    if os.environ.get(ADDRESS_ENV) or BINARY.is_file():
        return None
    return f"no {BINARY}: run `make tools` (builds fake-gcs-server from the Go module proxy)"


def start(port: int) -> subprocess.Popen:
    """Start the server on 127.0.0.1:`port` (in memory, plain HTTP) and wait until it answers."""
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(BINARY), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
         "-external-url", url, "-public-host", f"127.0.0.1:{port}", "-log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"fake-gcs-server did not start on {url}") from None
            time.sleep(0.1)


@contextmanager
def gcs_server() -> Iterator[str]:
    """The address (`http://127.0.0.1:<port>`) of a running server: `$LAKEHOUSE_TEST_GCS`, or one started here."""
    if os.environ.get(ADDRESS_ENV):
        yield os.environ[ADDRESS_ENV].rstrip("/")
        return
    port = free_port()
    proc = start(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def create_bucket(address: str, name: str) -> None:
    """Create bucket `name` (nothing when it exists) with the real google-cloud-storage client."""
    from google.api_core.exceptions import Conflict
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": address})
    try:
        client.create_bucket(name)
    except Conflict:
        pass
