"""Packaging, GCS staging and Dataproc submission of a job (`lakehouse submit`, `lakehouse jars fetch`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from lakehouse import jvm, steps
from lakehouse.config import ConfigError, RunProfile, Settings, load_profile, load_settings, project_root
from lakehouse.dataproc import gcp, jars, package, plan
from lakehouse.dataproc.gcp import Connection, default_retry
from lakehouse.dataproc.outcome import (
    BATCH_OUTCOMES,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_SUBMITTED,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    JOB_OUTCOMES,
    SubmitError,
)
from lakehouse.dataproc.package import Artifact, build_code_zip, build_home_zip
from lakehouse.errors import UserError
from lakehouse.runtime import git_sha as checkout_git_sha
from lakehouse.runtime import new_run_id

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_SUBMITTED",
    "EXIT_OK",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "Connection",
    "Submission",
    "SubmitError",
    "build_code_zip",
    "default_retry",
    "prepare",
    "submit_job",
]


@dataclass(frozen=True)
class Submission:
    """Everything about one submission before anything is sent: names, files and the request."""

    job: str
    run_id: str
    git_sha: str
    project: str
    region: str
    cluster: str | None
    staging: plan.Staging
    request: object  # CreateBatchRequest or SubmitJobRequest
    jars_to_check: tuple[str, ...]  # jar objects expected in the staging bucket (no local copy)

    @property
    def kind(self) -> str:
        """`batch` (Serverless) or `job` (cluster)."""
        return "job" if self.cluster else "batch"

    @property
    def resource_id(self) -> str:
        """The batch id or job id."""
        return self.request.job.reference.job_id if self.cluster else self.request.batch_id

    @property
    def console_url(self) -> str:
        """The Cloud console page of the batch or job."""
        if self.cluster:
            return (
                f"https://console.cloud.google.com/dataproc/jobs/{self.resource_id}"
                f"?region={self.region}&project={self.project}"
            )
        return (
            f"https://console.cloud.google.com/dataproc/batches/{self.region}/{self.resource_id}"
            f"/monitoring?project={self.project}"
        )


def _run_id_from(job_args: Sequence[str]) -> str | None:
    for i, arg in enumerate(job_args):
        if arg == "--run-id" and i + 1 < len(job_args):
            return job_args[i + 1]
        if arg.startswith("--run-id="):
            return arg.split("=", 1)[1]
    return None


def _load(job: str, env: str, profile: str, cluster: str | None, root: Path) -> tuple[Settings, RunProfile]:
    """Settings and profile, checked for what a submission needs (one-line UserErrors)."""
    steps.resolve(job)  # an unknown step name is a UserError naming the choices
    conf = root / "conf"
    settings = load_settings(env, conf)
    env = settings.env
    env_file = conf / "env" / f"{env}.yaml"
    if settings.dataproc is None:
        with_dataproc = sorted(
            p.stem for p in (conf / "env").glob("*.yaml") if load_settings(p.stem, conf).dataproc is not None
        )
        raise ConfigError(
            f"{env_file}: environment {env!r} has no dataproc: section; choose one of {with_dataproc}"
        )
    if not settings.gcp_project:
        raise ConfigError(f"{env_file}: key 'gcp_project' is not set; Dataproc needs the project id")
    prof = load_profile(profile, root / "run_profiles")
    section = "cluster" if cluster else "serverless"
    if getattr(prof, section) is None:
        with_section = sorted(
            p.stem
            for p in (root / "run_profiles").glob("*.yaml")
            if getattr(load_profile(p.stem, root / "run_profiles"), section) is not None
        )
        raise ConfigError(
            f"{root / 'run_profiles' / f'{prof.name}.yaml'}: run profile {prof.name!r} has no {section}: section; "
            f"choose one of {with_section}"
        )
    return settings, prof


def _jars(
    settings: Settings, cluster: str | None, bucket: str, jars_dir: Path
) -> tuple[tuple[str, ...], list[Artifact], list[str]]:
    """Delta jar URIs for the request, local jars to upload, and staged jar objects to check."""
    if settings.table_format != "delta":
        return (), [], []
    dp = settings.dataproc
    scala = jars.CLUSTER_SCALA if cluster else jars.runtime_scala(dp.runtime_version)
    names = jars.jar_names(scala)
    if dp.jars_uri:
        return tuple(f"{dp.jars_uri.rstrip('/')}/{n}" for n in names), [], []
    objects = [f"jars/{n}" for n in names]
    uris = tuple(f"gs://{bucket}/{o}" for o in objects)
    local = jars.local_jars(jars_dir, scala)
    if local:
        return uris, [Artifact(p, o) for p, o in zip(local, objects, strict=True)], []
    return uris, [], objects


def prepare(
    job: str,
    env: str,
    profile: str,
    cluster: str | None = None,
    conf_dir: str | Path | None = None,
    job_args: Sequence[str] = (),
    *,
    build_dir: Path | None = None,
    jars_dir: Path | None = None,
    now: datetime | None = None,
    git_sha: str | None = None,
) -> Submission:
    """Check the names, build the archives and the request of a submission; nothing is sent.

    `job` is a step name (or an old job name, or `pipeline`, see `lakehouse.steps`). The checkout
    root is the parent of `conf_dir` (default: the project root); the entrypoint is the step's
    `<root>/jobs/<job>.py`. Archives are built under `<root>/build/dataproc`.
    """
    root = Path(conf_dir).absolute().parent if conf_dir else project_root()
    settings, prof = _load(job, env, profile, cluster, root)
    env, profile = settings.env, prof.name
    job = steps.job_name(job)  # runs, run ids and labels carry the run-log job name
    entry = root / steps.entrypoint(job)
    if not entry.is_file():
        raise UserError(f"{entry}: job entrypoint not found")
    run_id = _run_id_from(job_args) or new_run_id(job, now or datetime.now(UTC))
    sha = git_sha or checkout_git_sha()
    build = Path(build_dir) if build_dir else root / "build" / "dataproc"
    bucket = settings.dataproc.staging_bucket.removeprefix("gs://").rstrip("/")

    code_zip = build_code_zip(build)
    home_zip = build_home_zip(build, root)
    code = Artifact(code_zip, f"code/{code_zip.name}")
    home = Artifact(home_zip, f"conf/{home_zip.name}")
    main = package.entrypoint_artifact(entry)
    jar_uris, jar_uploads, jars_to_check = _jars(
        settings, cluster, bucket, Path(jars_dir) if jars_dir else jvm.jars_dir(root)
    )
    staging = plan.Staging(bucket, main, code, home, jar_uris, (main, code, home, *jar_uploads))

    args = plan.job_arguments(env, profile, run_id, list(job_args))
    labels = plan.job_labels(env, profile, job, sha, run_id)
    project, region = settings.gcp_project, settings.region
    if cluster:
        request = plan.job_request(
            project=project,
            region=region,
            cluster=cluster,
            staging=staging,
            args=args,
            properties=plan.cluster_properties(settings, prof, sha),
            labels=labels,
            run_id=run_id,
        )
    else:
        request = plan.batch_request(
            project=project,
            region=region,
            settings=settings,
            staging=staging,
            args=args,
            properties=plan.serverless_properties(settings, prof, sha),
            labels=labels,
            run_id=run_id,
        )
    return Submission(job, run_id, sha, project, region, cluster, staging, request, tuple(jars_to_check))


def print_dry_run(sub: Submission, console: Console) -> None:
    """Print what a submission would upload and the exact request it would send."""
    console.print("dry run: nothing is uploaded or submitted", style="bold", highlight=False)
    for art in sub.staging.uploads:
        console.print(
            f"upload {art.path} -> {art.uri(sub.staging.bucket)} (skipped when present)",
            highlight=False,
            soft_wrap=True,
        )
    for name in sub.jars_to_check:
        console.print(
            f"expects gs://{sub.staging.bucket}/{name} (no local copy: run `lakehouse jars fetch`)",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        plan.describe_request(sub.request, sub.region), markup=False, highlight=False, soft_wrap=True
    )


def send(sub: Submission, conn: Connection, console: Console) -> int:
    """Stage the files, submit the batch/job and wait for it; returns the exit code.

    Raises SubmitError (one line) when nothing could be started.
    """
    credentials = gcp.resolve_credentials(conn)
    bucket = sub.staging.bucket
    storage = gcp.storage_client(sub.project, credentials)
    console.print(f"staging to gs://{bucket}", highlight=False)
    gcp.upload(storage, bucket, sub.staging.uploads, console)
    missing = gcp.missing_objects(storage, bucket, sub.jars_to_check)
    if missing:
        raise SubmitError(
            f"Delta jars missing: gs://{bucket}/{missing[0]} is not staged and the jar cache has no copy; "
            "run `lakehouse jars fetch` (needs Maven Central) and submit again, or set dataproc.jars_uri"
        )
    where = f"project {sub.project} ({sub.region})"
    if sub.cluster:
        client = gcp.job_client(sub.region, conn, credentials)
        with gcp.translate_errors(f"submit a job to cluster {sub.cluster}", where, "dataproc.jobs.create"):
            try:
                client.submit_job_as_operation(
                    request=sub.request, retry=conn.retry, timeout=conn.call_timeout
                )
            except gcp.gexc.AlreadyExists:  # this run id was submitted before: follow that job
                console.print(f"job {sub.resource_id} exists already (same run id): following it")
        name = dict(project_id=sub.project, region=sub.region, job_id=sub.resource_id)

        def poll():
            with gcp.translate_errors("read the job state", where, "dataproc.jobs.get"):
                return gcp.job_snapshot(client.get_job(**name, retry=conn.retry, timeout=conn.call_timeout))

        outcomes = JOB_OUTCOMES
    else:
        client = gcp.batch_client(sub.region, conn, credentials)
        with gcp.translate_errors("create a Serverless batch", where, "dataproc.batches.create"):
            try:
                client.create_batch(request=sub.request, retry=conn.retry, timeout=conn.call_timeout)
            except gcp.gexc.AlreadyExists:  # this run id was submitted before: follow that batch
                console.print(f"batch {sub.resource_id} exists already (same run id): following it")
        batch_name = f"{sub.request.parent}/batches/{sub.resource_id}"

        def poll():
            with gcp.translate_errors("read the batch state", where, "dataproc.batches.get"):
                return gcp.batch_snapshot(
                    client.get_batch(name=batch_name, retry=conn.retry, timeout=conn.call_timeout)
                )

        outcomes = BATCH_OUTCOMES
    console.print(f"submitted {sub.kind} {sub.resource_id} (run id {sub.run_id})", highlight=False)
    console.print(f"console: {sub.console_url}", highlight=False, soft_wrap=True)
    return gcp.wait_for(poll, outcomes, f"{sub.kind} {sub.resource_id}", sub.console_url, conn, console)


def submit_job(
    job: str,
    env: str,
    profile: str,
    cluster: str | None = None,
    dry_run: bool = False,
    conf_dir: str | Path | None = None,
    job_args: Sequence[str] = (),
    console: Console | None = None,
    *,
    connection: Connection | None = None,
    err_console: Console | None = None,
    build_dir: Path | None = None,
    jars_dir: Path | None = None,
    now: datetime | None = None,
    git_sha: str | None = None,
) -> int:
    """Package, stage and run `job` on Dataproc (Serverless, or `cluster`); returns the exit code.

    0 when the batch/job succeeded (or on `dry_run`, which prints the request instead of sending
    it), 3 failed, 4 cancelled, 5 could not submit (one-line reason on `err_console`), 6 outcome
    unknown, 130 interrupted. Bad job/env/profile names raise UserError (the CLI's exit code 2).
    """
    console = console or Console()
    err_console = err_console or Console(stderr=True)
    sub = prepare(
        job,
        env,
        profile,
        cluster,
        conf_dir,
        job_args,
        build_dir=build_dir,
        jars_dir=jars_dir,
        now=now,
        git_sha=git_sha,
    )
    if dry_run:
        print_dry_run(sub, console)
        return EXIT_OK
    try:
        return send(sub, connection or Connection(), console)
    except SubmitError as exc:
        err_console.print(
            f"[red]error:[/red] could not submit {job}: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return EXIT_NOT_SUBMITTED
