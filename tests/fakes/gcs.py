"""gcp-storage-emulator on 127.0.0.1 for the real google-cloud-storage client (STORAGE_EMULATOR_HOST)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def storage_emulator(buckets: tuple[str, ...] = ()) -> Iterator[str]:
    """Run an in-memory emulator with `buckets` created; yields its URL for STORAGE_EMULATOR_HOST."""
    from gcp_storage_emulator.server import create_server
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        client = storage.Client(
            project="emulator", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
        )
        for name in buckets:
            client.create_bucket(name)
        yield url
    finally:
        server.stop()
