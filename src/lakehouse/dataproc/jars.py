"""Delta Lake jars: which ones a Dataproc runtime needs, and downloading them from Maven Central."""

from __future__ import annotations

import hashlib
import importlib.metadata
import urllib.error
import urllib.request
from pathlib import Path

from lakehouse.errors import UserError

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"

# Dataproc Serverless runtimes that run Spark 3.5, with their Scala version. 1.2 and 2.x differ
# only in Scala (and Python): the Delta jar must match the runtime's Scala.
SERVERLESS_RUNTIMES = {"1.2": "2.12", "2.2": "2.13", "2.3": "2.13"}
# Dataproc on Compute Engine image 2.2 (Spark 3.5) is built with Scala 2.12.
CLUSTER_SCALA = "2.12"
# The Scala of the pip-installed pyspark, used for local Delta runs.
LOCAL_SCALA = "2.12"


def delta_version() -> str:
    """The installed delta-spark version: the jars must be the same version as its Python API."""
    try:
        return importlib.metadata.version("delta-spark")
    except importlib.metadata.PackageNotFoundError:
        raise UserError("delta-spark is not installed; run `.venv/bin/pip install -e .`") from None


def runtime_scala(runtime_version: str) -> str:
    """The Scala version of a Serverless runtime version such as `2.2` or `2.2.30`.

    Raises UserError naming the allowed versions when the runtime is not a Spark 3.5 one.
    """
    minor = ".".join(str(runtime_version).split(".")[:2])
    if minor not in SERVERLESS_RUNTIMES:
        raise UserError(
            f"dataproc.runtime_version {runtime_version!r} is not a Spark 3.5 Serverless runtime; "
            f"choose one of {sorted(SERVERLESS_RUNTIMES)}"
        )
    return SERVERLESS_RUNTIMES[minor]


def jar_names(scala: str, version: str | None = None) -> list[str]:
    """File names of the delta-spark (for `scala`) and delta-storage jars."""
    version = version or delta_version()
    return [f"delta-spark_{scala}-{version}.jar", f"delta-storage-{version}.jar"]


def local_jars(jars_dir: Path, scala: str, version: str | None = None) -> list[Path] | None:
    """The two jars for `scala` under `jars_dir` (as `lakehouse jars fetch` lays them out), or None."""
    found = []
    for name in jar_names(scala, version):
        candidates = [Path(jars_dir) / f"scala-{scala}" / name, Path(jars_dir) / name]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found


def _maven_path(name: str, version: str) -> str:
    artifact = name.removesuffix(f"-{version}.jar")
    return f"io/delta/{artifact}/{version}/{name}"


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https/loopback only)
            return resp.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"could not download {url} ({reason}); run `lakehouse jars fetch` where Maven Central "
            "is reachable, or copy the jars into the --out folder by hand"
        ) from None


def fetch_delta_jars(
    out: Path,
    scalas: tuple[str, ...] = (LOCAL_SCALA, "2.13"),
    base_url: str = MAVEN_CENTRAL,
    timeout: float = 60.0,
) -> list[Path]:
    """Download delta-spark and delta-storage for the installed delta-spark version, checksums verified.

    delta-storage and the local Scala's delta-spark (2.12, as pip's pyspark) go straight into
    `out`, so `LAKEHOUSE_DELTA_JARS=<out>` works for local Delta runs; delta-spark for every other
    Scala goes into `out/scala-<v>/` (2.13 is what Serverless runtime 2.2 needs). Files already
    present with the right checksum are kept. Raises UserError with one line when a download fails.
    """
    version = delta_version()
    out = Path(out)
    wanted = [(out, f"delta-storage-{version}.jar")]  # Scala-free: one copy serves every Scala
    for scala in scalas:
        folder = out if scala == LOCAL_SCALA else out / f"scala-{scala}"
        wanted.append((folder, f"delta-spark_{scala}-{version}.jar"))
    paths = []
    for folder, name in wanted:
        paths.append(
            _fetch_one(f"{base_url.rstrip('/')}/{_maven_path(name, version)}", folder / name, timeout)
        )
    return paths


def _fetch_one(url: str, target: Path, timeout: float) -> Path:
    """Download `url` to `target` unless it is there already; its Maven .sha1 must match."""
    expected = _download(url + ".sha1", timeout).decode("ascii", "replace").split()[0].lower()
    if target.is_file() and hashlib.sha1(target.read_bytes()).hexdigest() == expected:  # noqa: S324
        return target
    data = _download(url, timeout)
    actual = hashlib.sha1(data).hexdigest()  # noqa: S324 (Maven publishes sha1)
    if actual != expected:
        raise UserError(f"{url}: checksum mismatch (sha1 {actual}, Maven says {expected}); try again")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target
