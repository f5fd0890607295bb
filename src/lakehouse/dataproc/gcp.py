"""Talk to Google Cloud: credentials, GCS staging, Dataproc submission and waiting, errors in one line."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry, if_exception_type
from rich.console import Console
from rich.markup import escape

from lakehouse.dataproc.outcome import EXIT_INTERRUPTED, EXIT_UNKNOWN, SubmitError
from lakehouse.dataproc.package import Artifact
from lakehouse.dataproc.plan import dataproc_endpoint

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
CREDENTIALS_HELP = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
    "to a service-account key file"
)
RETRYABLE = (
    gexc.TooManyRequests,  # 429
    gexc.InternalServerError,  # 500
    gexc.BadGateway,  # 502
    gexc.ServiceUnavailable,  # 503
    gexc.GatewayTimeout,  # 504
)


def default_retry(
    initial: float = 1.0, maximum: float = 60.0, multiplier: float = 2.0, timeout: float = 600.0
) -> Retry:
    """Exponential backoff (with jitter) on 429/5xx; safe for creates because they carry a request id."""
    return Retry(
        predicate=if_exception_type(*RETRYABLE),
        initial=initial,
        maximum=maximum,
        multiplier=multiplier,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Connection:
    """How `submit` reaches Google Cloud and how it waits.

    `credentials=None` means Application Default Credentials; `endpoint` replaces the regional
    Dataproc endpoint (tests point it at a local fake); `poll_seconds` is the wait between state
    reads; `wait_timeout` stops waiting (exit code 6) after that many seconds.
    """

    credentials: Any = None
    endpoint: str | None = None
    retry: Retry = field(default_factory=default_retry)
    call_timeout: float = 60.0
    poll_seconds: float = 10.0
    wait_timeout: float | None = None


def resolve_credentials(conn: Connection) -> Any:
    """The connection's credentials, else Application Default Credentials (SubmitError when none)."""
    if conn.credentials is not None:
        return conn.credentials
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError:
        raise SubmitError(f"no Google Cloud credentials found: {CREDENTIALS_HELP}") from None
    return credentials


_PERMISSION = re.compile(
    r"(?<![\w@.])((?:dataproc|storage|iam|compute|resourcemanager|serviceusage)\.[a-zA-Z]+\.[a-zA-Z]+)\b"
)
_HTTP_PREFIX = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE) \S+: ")  # REST errors start with the URL


def _first_line(text: object) -> str:
    return _HTTP_PREFIX.sub("", " ".join(str(text).split()))[:300]


@contextmanager
def translate_errors(what: str, where: str, permission: str) -> Iterator[None]:
    """Turn Google API and auth failures of `what` into one-line SubmitErrors.

    `where` names the resource (`project lakehouse-dev`, `bucket gs://x`), `permission` the IAM
    permission the call needs (named in the 403 message when the API does not say which).
    """
    from google.auth import exceptions as auth_exc

    try:
        yield
    except gexc.Forbidden as exc:
        said = _PERMISSION.search(_first_line(exc.message or ""))
        needed = said.group(1) if said else permission
        raise SubmitError(
            f"permission denied ({exc.code}) to {what} in {where}: the account lacks {needed} "
            f"(API said: {_first_line(exc.message)})"
        ) from None
    except gexc.Unauthenticated:
        raise SubmitError(
            f"Google Cloud rejected the credentials while trying to {what}: {CREDENTIALS_HELP}"
        ) from None
    except (auth_exc.DefaultCredentialsError, auth_exc.RefreshError) as exc:
        raise SubmitError(f"credentials could not be used ({_first_line(exc)}): {CREDENTIALS_HELP}") from None
    except gexc.RetryError as exc:
        raise SubmitError(
            f"gave up trying to {what} in {where} after retries ({_first_line(exc.cause or exc)}); try again later"
        ) from None
    except gexc.GoogleAPICallError as exc:
        raise SubmitError(f"could not {what} in {where}: {exc.code} {_first_line(exc.message)}") from None
    except auth_exc.TransportError as exc:
        raise SubmitError(f"could not reach Google Cloud to {what} ({_first_line(exc)})") from None
    except OSError as exc:  # requests' ConnectionError derives from OSError
        raise SubmitError(f"could not reach Google Cloud to {what} in {where} ({_first_line(exc)})") from None


# ---------------------------------------------------------------- staging (GCS)


def storage_client(project: str, credentials: Any):
    """A google-cloud-storage client (honours STORAGE_EMULATOR_HOST)."""
    from google.cloud import storage

    return storage.Client(project=project, credentials=credentials)


def missing_objects(client, bucket: str, names: Sequence[str]) -> list[str]:
    """Which of the object `names` are absent from `bucket`."""
    with translate_errors("check staged files", f"bucket gs://{bucket}", "storage.objects.get"):
        b = client.bucket(bucket)
        return [n for n in names if not b.blob(n).exists()]


def upload(client, bucket: str, artifacts: Sequence[Artifact], console: Console) -> list[Artifact]:
    """Upload the artifacts absent from `bucket` (names are content hashes); returns the uploaded ones."""
    from google.cloud.storage.retry import DEFAULT_RETRY_IF_GENERATION_SPECIFIED

    uploaded = []
    with translate_errors("stage files", f"bucket gs://{bucket}", "storage.objects.create"):
        b = client.bucket(bucket)
        for art in artifacts:
            blob = b.blob(art.object_name)
            if blob.exists():
                console.print(f"  unchanged  {art.uri(bucket)}", highlight=False)
                continue
            try:
                blob.upload_from_filename(
                    str(art.path), if_generation_match=0, retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED
                )
            except gexc.PreconditionFailed:  # someone uploaded the same content meanwhile
                pass
            console.print(f"  uploaded   {art.uri(bucket)}", highlight=False)
            uploaded.append(art)
    return uploaded


# ---------------------------------------------------------------- Dataproc


def client_options(region: str, conn: Connection) -> ClientOptions:
    """Client options pointing at the regional endpoint (or the connection's override)."""
    return ClientOptions(api_endpoint=conn.endpoint or dataproc_endpoint(region))


def batch_client(region: str, conn: Connection, credentials: Any):
    """A BatchControllerClient over REST on the regional endpoint."""
    from google.cloud import dataproc_v1

    return dataproc_v1.BatchControllerClient(
        credentials=credentials, transport="rest", client_options=client_options(region, conn)
    )


def job_client(region: str, conn: Connection, credentials: Any):
    """A JobControllerClient over REST on the regional endpoint."""
    from google.cloud import dataproc_v1

    return dataproc_v1.JobControllerClient(
        credentials=credentials, transport="rest", client_options=client_options(region, conn)
    )


@dataclass
class Snapshot:
    """What one poll saw: the state, its message and the driver output location when known."""

    state: str
    message: str = ""
    output_uri: str = ""


def batch_snapshot(batch) -> Snapshot:
    """Snapshot of a Batch resource."""
    return Snapshot(batch.state.name, batch.state_message, batch.runtime_info.output_uri)


def job_snapshot(job) -> Snapshot:
    """Snapshot of a Job resource."""
    return Snapshot(job.status.state.name, job.status.details, job.driver_output_resource_uri)


def wait_for(
    poll: Callable[[], Snapshot],
    outcomes: dict[str, int],
    label: str,
    console_url: str,
    conn: Connection,
    console: Console,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Poll until a terminal state, showing state and elapsed time live; returns its exit code.

    Each state change is also printed as a line (for logs). Errors reading the state and
    `conn.wait_timeout` give EXIT_UNKNOWN, Ctrl-C gives EXIT_INTERRUPTED: in all three cases
    the workload may still be running, and the console link is printed again.
    """
    start = clock()
    last = None
    output_shown = False
    ticker = _Ticker(label, "SUBMITTED", start, clock)
    try:
        with console.status(ticker, spinner="dots"):
            while True:
                try:
                    snap = poll()
                except (SubmitError, gexc.GoogleAPICallError, gexc.RetryError) as exc:
                    console.print(
                        f"[red]lost track of {label}[/red]: {escape(str(exc))}; it may still be running: {console_url}",
                        highlight=False,
                        soft_wrap=True,
                    )
                    return EXIT_UNKNOWN
                ticker.state = snap.state
                elapsed = clock() - start
                if snap.state != last:
                    console.print(f"  {_clock(elapsed)}  {snap.state}", highlight=False)
                    last = snap.state
                if snap.output_uri and not output_shown:
                    console.print(f"driver output: {snap.output_uri}", highlight=False)
                    output_shown = True
                if snap.state in outcomes:
                    code = outcomes[snap.state]
                    colour = "green" if code == 0 else "red"
                    detail = f": {escape(snap.message)}" if snap.message else ""
                    console.print(
                        f"[{colour}]{label} {snap.state}[/{colour}] after {_clock(elapsed)}{detail}",
                        highlight=False,
                        soft_wrap=True,
                    )
                    if snap.output_uri:
                        console.print(f"driver output: {snap.output_uri}", highlight=False)
                    console.print(f"console: {console_url}", highlight=False, soft_wrap=True)
                    return code
                if conn.wait_timeout is not None and elapsed >= conn.wait_timeout:
                    console.print(
                        f"stopped waiting after {_clock(elapsed)}; {label} is {snap.state}: {console_url}",
                        highlight=False,
                        soft_wrap=True,
                    )
                    return EXIT_UNKNOWN
                time.sleep(conn.poll_seconds)
    except KeyboardInterrupt:
        console.print(
            f"stopped waiting; {label} keeps running: {console_url}", highlight=False, soft_wrap=True
        )
        return EXIT_INTERRUPTED


@dataclass
class _Ticker:
    """The live status text: re-rendered on every refresh, so the elapsed time keeps counting."""

    label: str
    state: str
    start: float
    clock: Callable[[], float]

    def __rich__(self) -> str:
        return f"{self.label}: [bold]{self.state}[/bold] ({_clock(self.clock() - self.start)})"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
