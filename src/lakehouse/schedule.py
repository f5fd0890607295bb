"""`lakehouse schedule render`: the Dataproc batch body Cloud Scheduler posts every night (build/schedule/<env>.json).

The body is the pipeline's `lakehouse submit pipeline --dry-run` request (`submit.prepare`), with
two changes so that a body fixed at `terraform apply` time can run every night:

- no run id: the dry run pins `--run-id` and a `run-id` label, so every scheduled batch would be
  the same run; without them the job makes a new run id per batch (and Dataproc names each batch,
  the scheduler sending no batchId);
- its code under the staging bucket's `releases/` prefix: `code/`, `conf/` and `jobs/` expire after
  `staging_retention_days` (infra/terraform modules/storage), `releases/` does not, so a scheduled
  release keeps running until the next one replaces it. `--stage` uploads it (content-addressed,
  only what is missing) through the same code `lakehouse submit` uses.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from lakehouse import steps
from lakehouse.config import project_root
from lakehouse.dataproc import gcp, plan
from lakehouse.dataproc.gcp import Connection
from lakehouse.dataproc.outcome import SubmitError
from lakehouse.dataproc.package import Artifact

RELEASES = "releases"  # staging-bucket prefix no lifecycle rule expires
RUN_ID_LABEL = "run-id"
TRIGGER_LABEL = ("trigger", "schedule")


def released(artifact: Artifact) -> Artifact:
    """The artifact staged under `releases/` (same content-addressed name)."""
    return Artifact(artifact.path, f"{RELEASES}/{artifact.object_name}")


def without_run_id(args: list[str]) -> list[str]:
    """The job arguments without `--run-id <id>` / `--run-id=<id>`."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--run-id":
            skip = True
        elif not arg.startswith("--run-id="):
            out.append(arg)
    return out


def scheduled_body(dry_run_body: dict[str, Any], bucket: str, uploads: dict[str, Artifact]) -> dict[str, Any]:
    """The scheduled batch from the dry run's batch body: no run id (argument or label), a `trigger` label,
    and every staged URI of `uploads` (old object name -> released artifact) pointing at `releases/`."""
    body = copy.deepcopy(dry_run_body)
    batch = body["pysparkBatch"]
    moved = {f"gs://{bucket}/{old}": a.uri(bucket) for old, a in uploads.items()}

    def move(uri: str) -> str:
        base, hash_, alias = uri.partition("#")
        return moved.get(base, base) + hash_ + alias

    batch["mainPythonFileUri"] = move(batch["mainPythonFileUri"])
    for key in ("pythonFileUris", "archiveUris", "jarFileUris"):
        if key in batch:
            batch[key] = [move(u) for u in batch[key]]
    batch["args"] = without_run_id(batch.get("args", []))
    labels = body.setdefault("labels", {})
    labels.pop(RUN_ID_LABEL, None)
    labels[TRIGGER_LABEL[0]] = TRIGGER_LABEL[1]
    return body


def render(
    env: str,
    profile: str,
    conf_dir: str | Path | None = None,
    out: str | Path | None = None,
    stage: bool = False,
    console: Console | None = None,
    *,
    connection: Connection | None = None,
    build_dir: Path | None = None,
    jars_dir: Path | None = None,
    git_sha: str | None = None,
) -> Path:
    """Write the scheduled pipeline batch of `env` (run profile `profile`) as JSON; with `stage`, upload it.

    Returns the file written (default `<checkout>/build/schedule/<env>.json`). Raises UserError for a
    bad env/profile (as `lakehouse submit`), SubmitError when staging fails or the Delta jars are not
    staged and cannot be uploaded.
    """
    from lakehouse import submit

    console = console or Console()
    sub = submit.prepare(steps.PIPELINE, env, profile, None, conf_dir, (), build_dir=build_dir, jars_dir=jars_dir,
                         git_sha=git_sha)
    root = Path(conf_dir).absolute().parent if conf_dir else project_root()
    bucket = sub.staging.bucket
    code_like = (sub.staging.main, sub.staging.code, sub.staging.home)
    uploads = {a.object_name: released(a) for a in code_like}
    jar_uploads = [a for a in sub.staging.uploads if a not in code_like]  # jars/ is kept already
    body = scheduled_body(plan.batch_body(sub.request), bucket, uploads)
    if stage:
        conn = connection or Connection()
        credentials = gcp.resolve_credentials(conn)
        storage = gcp.storage_client(sub.project, credentials)
        console.print(f"staging the scheduled release to gs://{bucket}/{RELEASES}/", highlight=False)
        gcp.upload(storage, bucket, [*uploads.values(), *jar_uploads], console)
        missing = gcp.missing_objects(storage, bucket, sub.jars_to_check)
        if missing:
            raise SubmitError(
                f"Delta jars missing: gs://{bucket}/{missing[0]} is not staged and the jar cache has no copy; "
                "run `lakehouse jars fetch` and stage again, or set dataproc.jars_uri"
            )
    target = Path(out) if out else root / "build" / "schedule" / f"{env}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if not stage:
        console.print(
            f"not staged: run with --stage (or `make tf-apply`) before the schedule runs; it reads gs://{bucket}/{RELEASES}/",
            highlight=False, soft_wrap=True,
        )
    return target
