"""The JVM side of Spark: which jars the production path needs, where they are kept, and the properties they need.

One place for the local session, the tests and `lakehouse submit`, so that what was tested is what
is submitted:

- Delta Lake (`delta-spark`, `delta-storage`, the version of the installed delta-spark Python
  package) and its SQL extension and catalog (`DELTA_SQL_CONF`, also set on Dataproc);
- the Cloud Storage connector, the shaded build of the 3.0.x line Dataproc 2.2 runs
  (`GCS_CONNECTOR`); it needs Hadoop >= 3.3.5 client classes, so locally the Hadoop client jars
  of Dataproc 2.2 (3.3.6) go ahead of pyspark's bundled 3.3.4 on the class path. Dataproc has both.

`lakehouse jars fetch` (and `make jars`) gets them with the machine's Maven client into a
git-ignored cache (`.cache/jars`, or `$LAKEHOUSE_JARS`); sessions then load them by local path, so
nothing is resolved when a session starts. With `$STORAGE_EMULATOR_HOST` set (a local Cloud
Storage server, as Google's Python clients use it), the connector talks to that server without
credentials.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import UserError

JARS_ENV = "LAKEHOUSE_JARS"
EMULATOR_ENV = "STORAGE_EMULATOR_HOST"  # the variable Google's clients read for a local Cloud Storage server
MAVEN_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
GCS_CONNECTOR_VERSION = "3.0.19"  # the 3.0.x line of Dataproc 2.2 (its runtime has 3.0.3; that one is not served here)
HADOOP_VERSION = "3.3.6"  # Dataproc 2.2's Hadoop: connector 3.0.x calls APIs pyspark's bundled 3.3.4 lacks
LOCAL_SCALA = "2.12"  # the Scala of pip's pyspark

# Spark SQL properties of every Delta-capable session, local or on Dataproc
DELTA_SQL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # VACUUM keeps what `keep_versions` can roll back to, which may be younger than Delta's 7-day
    # default; the table layer computes the retention itself (docs/tables.md)
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",
    # VACUUM is housekeeping, not a version of the table: keep it out of the table's history
    "spark.databricks.delta.vacuum.logging.enabled": "false",
}
# listing a table's files (VACUUM) in 10,000 tasks by default: minutes on a laptop for no gain
LOCAL_LISTING_CONF = {"spark.sql.sources.parallelPartitionDiscovery.parallelism": "8"}


@dataclass(frozen=True)
class Artifact:
    """One jar: its Maven coordinate and the sub-folder of the cache it goes to."""

    group: str
    name: str
    version: str
    classifier: str | None = None
    folder: str = ""  # "" | "hadoop" (class path first, local only) | "scala-2.13" (staged for Dataproc)

    @property
    def coordinate(self) -> str:
        """`group:artifact:version[:jar:classifier]`, as `mvn dependency:copy -Dartifact=` takes it."""
        base = f"{self.group}:{self.name}:{self.version}"
        return f"{base}:jar:{self.classifier}" if self.classifier else base

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}{'-' + self.classifier if self.classifier else ''}.jar"

    def path(self, root: Path) -> Path:
        return Path(root) / self.folder / self.file_name


def delta_version() -> str:
    """The installed delta-spark version: the jars must be the same version as its Python API."""
    try:
        return importlib.metadata.version("delta-spark")
    except importlib.metadata.PackageNotFoundError:
        raise UserError("delta-spark is not installed; run `make setup` (or `.venv/bin/pip install -e .`)") from None


def delta_artifacts(scala: str = LOCAL_SCALA) -> list[Artifact]:
    """delta-spark for `scala` (in `scala-<v>/` unless it is the local Scala) and delta-storage."""
    version = delta_version()
    folder = "" if scala == LOCAL_SCALA else f"scala-{scala}"
    return [Artifact("io.delta", f"delta-spark_{scala}", version, folder=folder), Artifact("io.delta", "delta-storage", version)]


GCS_ARTIFACTS = (
    Artifact("com.google.cloud.bigdataoss", "gcs-connector", GCS_CONNECTOR_VERSION, "shaded"),
    Artifact("org.apache.hadoop", "hadoop-client-api", HADOOP_VERSION, folder="hadoop"),
    Artifact("org.apache.hadoop", "hadoop-client-runtime", HADOOP_VERSION, folder="hadoop"),
)


def artifacts(scalas: tuple[str, ...] = (LOCAL_SCALA, "2.13")) -> list[Artifact]:
    """Every jar `jars fetch` gets: Delta for each Scala (2.13 is Serverless 2.2's) and the Cloud Storage connector."""
    out: list[Artifact] = []
    for scala in scalas:
        out += [a for a in delta_artifacts(scala) if a not in out]
    return [*out, *GCS_ARTIFACTS]


def jars_dir(root: Path | None = None) -> Path:
    """Where the jars are cached: `$LAKEHOUSE_JARS`, else `<root>/.cache/jars` (root: the project's checkout)."""
    if os.environ.get(JARS_ENV):
        return Path(os.environ[JARS_ENV])
    if root is None:
        from lakehouse.config import project_root

        root = project_root()
    return Path(root) / ".cache" / "jars"


def maven_command(artifact: Artifact, out: Path, settings: Path | None = None) -> list[str]:
    """The `mvn` command that copies `artifact` into its folder of `out` (Maven's own repositories and settings)."""
    command = ["mvn", "-B", "-q"]
    if settings:
        command += ["-s", str(settings)]
    return [*command, f"{MAVEN_PLUGIN}:copy", f"-Dartifact={artifact.coordinate}", f"-DoutputDirectory={out / artifact.folder}"]


def fetch(out: Path | None = None, maven_settings: Path | None = None, fallback: Path | None = None) -> list[Path]:
    """Get every jar of `artifacts()` into `out` with the machine's Maven client; returns their paths.

    Jars already there are kept. When Maven cannot get a Delta jar and `fallback` holds a file of
    the same name (e.g. the team's jars built from the Delta source), that one is copied instead.
    Raises UserError with one line when Maven is missing or an artifact cannot be had.
    """
    out = Path(out or jars_dir())
    if shutil.which("mvn") is None:
        raise UserError(
            "Maven (`mvn`) is needed to fetch the jars: install it (e.g. `apt-get install maven`) and run "
            f"`lakehouse jars fetch` again, or put the jars into {out} by hand"
        )
    paths = []
    for artifact in artifacts():
        target = artifact.path(out)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(maven_command(artifact, out, maven_settings), capture_output=True, text=True)
            copied = fallback is not None and (Path(fallback) / artifact.file_name).is_file()
            if done.returncode != 0 and copied:
                shutil.copy2(Path(fallback) / artifact.file_name, target)
            elif done.returncode != 0 or not target.is_file():
                reason = (done.stdout + done.stderr).strip().splitlines()
                first = next((line for line in reason if "ERROR" in line), reason[0] if reason else "no output")
                raise UserError(f"could not get {artifact.coordinate} with Maven: {first.strip()[:300]}")
        paths.append(target)
    return paths


@dataclass(frozen=True)
class LocalJars:
    """The jars found in the cache, by use."""

    delta: tuple[Path, ...] = ()  # delta-spark (local Scala) + delta-storage, or empty
    gcs: tuple[Path, ...] = ()  # the connector, or empty
    hadoop: tuple[Path, ...] = ()  # Hadoop client jars to put first on the class path (with the connector)


def local_jars(folder: Path | None = None) -> LocalJars:
    """The complete sets of jars under `folder` (the cache by default); a set with a jar missing counts as absent."""
    folder = Path(folder or jars_dir())
    delta = [a.path(folder) for a in delta_artifacts()]
    gcs = [GCS_ARTIFACTS[0].path(folder)]
    hadoop = [a.path(folder) for a in GCS_ARTIFACTS[1:]]
    have_gcs = all(p.is_file() for p in gcs + hadoop)
    return LocalJars(
        delta=tuple(delta) if all(p.is_file() for p in delta) else (),
        gcs=tuple(gcs) if have_gcs else (),
        hadoop=tuple(hadoop) if have_gcs else (),
    )


def gcs_emulator_conf(endpoint: str) -> dict[str, str]:
    """Hadoop properties (as `spark.hadoop.*`) pointing the Cloud Storage connector at a local server, no credentials."""
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    props = {
        "fs.gs.storage.root.url": url.rstrip("/") + "/",
        "fs.gs.storage.service.path": "storage/v1/",
        "fs.gs.auth.type": "UNAUTHENTICATED",
        "fs.gs.project.id": "lakehouse-local",
        "fs.gs.operation.move.enable": "false",  # the objects.move API: local servers do not have it
    }
    return {f"spark.hadoop.{k}": v for k, v in props.items()}


def session_conf(jars: LocalJars | None = None, emulator: str | None = None) -> dict[str, str]:
    """The JVM properties of a local session: the cached jars by path, Delta's SQL properties when Delta is
    there, the connector's file system when it is there, and a local Cloud Storage server when `emulator`
    (default `$STORAGE_EMULATOR_HOST`) names one."""
    jars = jars if jars is not None else local_jars()
    conf: dict[str, str] = {}
    paths = [*jars.delta, *jars.gcs]
    if paths:
        conf["spark.jars"] = ",".join(str(p) for p in paths)
    if jars.delta:
        conf.update(DELTA_SQL_CONF)
        conf.update(LOCAL_LISTING_CONF)
    if jars.gcs:
        classpath = os.pathsep.join(str(p) for p in jars.hadoop)
        conf["spark.driver.extraClassPath"] = classpath
        conf["spark.executor.extraClassPath"] = classpath
        conf["spark.hadoop.fs.gs.impl"] = "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFileSystem"
        conf["spark.hadoop.fs.AbstractFileSystem.gs.impl"] = "com.google.cloud.hadoop.fs.gcs.GoogleHadoopFS"
        emulator = emulator if emulator is not None else os.environ.get(EMULATOR_ENV)
        if emulator:
            conf.update(gcs_emulator_conf(emulator))
    return conf
