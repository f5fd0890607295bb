"""Build the content-addressed archives a Dataproc job runs from: the code zip and the conf bundle."""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lakehouse.errors import UserError

# Pure-Python distributions the jobs import that a Dataproc runtime does not reliably provide.
# They go into the code zip next to `lakehouse/`, so `python_file_uris` puts them on sys.path
# ahead of the runtime's own copies. Compiled ones cannot be imported from a zip: see
# RUNTIME_PROVIDED and docs/dataproc.md.
VENDORED = (
    "typer",
    "annotated-doc",
    "shellingham",
    "rich",
    "markdown-it-py",
    "mdurl",
    "pygments",
    "typing-extensions",
    "delta-spark",
    "tenacity",  # webhook retries (lakehouse.ops.notify)
)

# What the jobs import from the runtime image itself (compiled, or part of Spark), with their own
# dependencies: the Serverless 2.2 runtime's conda environment and the Dataproc 2.2 images carry
# them (pydantic must be 2.6 or later; google-cloud-storage only for a warehouse on gs://, whose
# writer lock it takes; its dependencies requests and google-auth post and authorize the alert
# webhooks). A test imports every step from the code zip with only these. plotly and deltalake
# serve the local read-only commands and the HTML report, never a job.
RUNTIME_PROVIDED = (
    "pyspark",
    "py4j",
    "pydantic",
    "pyyaml",
    "numpy",
    "pandas",
    "pyarrow",
    "google-cloud-storage",
)

HOME_ALIAS = "lakehouse_home"  # folder the conf bundle is unpacked into (archive_uris `#alias`)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries carry no build time: same content, same bytes
_SKIP_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dylib")
SOURCE_SUFFIXES = (".py", ".sql", ".yaml", ".yml")  # what the package and its conf bundle are made of


@dataclass(frozen=True)
class Artifact:
    """A file to stage: where it is built locally and its object name in the staging bucket."""

    path: Path
    object_name: str

    def uri(self, bucket: str) -> str:
        """The gs:// URI of the artifact in `bucket`."""
        return f"gs://{bucket}/{self.object_name}"


def content_hash(entries: Iterable[tuple[str, bytes]], length: int = 16) -> str:
    """Hex digest over (name, content) pairs, independent of their order and of file times."""
    digest = hashlib.sha256()
    for name, data in sorted(entries, key=lambda e: e[0]):
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:length]


def tracked_files(folder: Path) -> set[Path] | None:
    """The files under `folder` that git tracks, or None when `folder` is not in a git checkout (or git is missing)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", "."], cwd=folder, capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return {(folder / name).resolve() for name in out.stdout.decode("utf-8").split("\0") if name}


def _tree_entries(root: Path, prefix: str, suffixes: Sequence[str] = SOURCE_SUFFIXES) -> list[tuple[str, bytes]]:
    """(arcname, bytes) of the source files under `root`, named `<prefix>/<relative path>`.

    Only what a checkout's author meant to ship: files git tracks (when `root` is in a checkout),
    of the `suffixes` kinds, with no hidden part in their path, so a local `.env`, data files or
    untracked secrets next to the code never leave the machine.
    """
    tracked = tracked_files(root)
    entries = []
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if not path.is_file() or "__pycache__" in rel_parts or any(p.startswith(".") for p in rel_parts):
            continue
        if path.suffix not in suffixes or (tracked is not None and path.resolve() not in tracked):
            continue
        rel = path.relative_to(root).as_posix()
        entries.append((f"{prefix}/{rel}" if prefix else rel, path.read_bytes()))
    return entries


def _distribution_entries(name: str) -> list[tuple[str, bytes]]:
    """(arcname, bytes) of an installed distribution's importable files and metadata."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            f"cannot package the jobs: Python package {name!r} is not installed; "
            "run `.venv/bin/pip install -e .` first"
        ) from None
    entries = []
    for file in dist.files or ():
        rel = PurePosixPath(str(file))
        if rel.parts[0] == ".." or "__pycache__" in rel.parts or rel.name.endswith(_SKIP_SUFFIXES):
            continue
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            entries.append((rel.as_posix(), path.read_bytes()))
    return entries


def _write_zip(entries: list[tuple[str, bytes]], out: Path) -> None:
    """Write a deterministic zip (sorted names, fixed times and modes) atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    tmp.replace(out)


def _build(entries: list[tuple[str, bytes]], out_dir: Path, stem: str) -> Path:
    counts = Counter(n for n, _ in entries)
    duplicates = sorted(n for n, c in counts.items() if c > 1)
    if duplicates:
        raise ValueError(f"two sources provide the same archive entries: {duplicates[:5]}")
    out = Path(out_dir) / f"{stem}-{content_hash(entries)}.zip"
    if not out.is_file():
        _write_zip(entries, out)
    return out


def package_source() -> Path:
    """The folder of the `lakehouse` package being packaged (the checkout's src/lakehouse)."""
    import lakehouse

    return Path(lakehouse.__file__).resolve().parent


def build_code_zip(out_dir: Path, source: Path | None = None, vendor: Sequence[str] = VENDORED) -> Path:
    """Zip `src/lakehouse` (with its SQL/YAML package data) and the vendored pure-Python deps.

    The file is named `lakehouse-<content hash>.zip` and is only written when no file of that
    name exists, so unchanged code gives the same name (and is not uploaded again). It goes to
    `python_file_uris`, which takes .py/.egg/.zip files (not wheels).
    """
    source = Path(source) if source else package_source()
    if not (source / "__init__.py").is_file():
        raise ValueError(f"{source} is not a Python package folder")
    entries = _tree_entries(source, "lakehouse")
    for name in vendor:
        entries.extend(_distribution_entries(name))
    return _build(entries, out_dir, "lakehouse")


def build_home_zip(out_dir: Path, root: Path) -> Path:
    """Zip the YAML of `<root>/conf` and `<root>/run_profiles` as `lakehouse-home-<hash>.zip`.

    Staged with `archive_uris=[...#lakehouse_home]`, Dataproc unpacks it in the working folder of
    the driver, where the job reads it with `--conf-dir lakehouse_home/conf`.
    """
    root = Path(root)
    entries: list[tuple[str, bytes]] = []
    for folder in ("conf", "run_profiles"):
        if not (root / folder).is_dir():
            raise UserError(f"{root / folder}: folder not found; --conf-dir must point at a checkout's conf/")
        entries.extend(_tree_entries(root / folder, folder, suffixes=(".yaml", ".yml")))
    return _build(entries, out_dir, "lakehouse-home")


def entrypoint_artifact(path: Path) -> Artifact:
    """The job's entrypoint staged as `jobs/<content hash>/<name>.py` (its file name is kept)."""
    path = Path(path)
    digest = content_hash([(path.name, path.read_bytes())], length=12)
    return Artifact(path, f"jobs/{digest}/{path.name}")
