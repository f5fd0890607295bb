"""Which Delta Lake jars a Dataproc runtime needs (its Scala), and finding them in the jar cache to stage.

The jars themselves, their versions and how they are fetched are `lakehouse.jvm`'s.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse.errors import UserError
from lakehouse.jvm import delta_artifacts

# Dataproc Serverless runtimes that run Spark 3.5, with their Scala version. 1.2 and 2.x differ
# only in Scala (and Python): the Delta jar must match the runtime's Scala.
SERVERLESS_RUNTIMES = {"1.2": "2.12", "2.2": "2.13", "2.3": "2.13"}
# Dataproc on Compute Engine image 2.2 (Spark 3.5) is built with Scala 2.12.
CLUSTER_SCALA = "2.12"


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


def jar_names(scala: str) -> list[str]:
    """File names of the delta-spark (for `scala`) and delta-storage jars."""
    return [a.file_name for a in delta_artifacts(scala)]


def local_jars(jars_dir: Path, scala: str) -> list[Path] | None:
    """The two jars for `scala` in the jar cache `jars_dir` (as `lakehouse jars fetch` lays it out), or None."""
    found = [a.path(jars_dir) for a in delta_artifacts(scala)]
    return found if all(p.is_file() for p in found) else None
