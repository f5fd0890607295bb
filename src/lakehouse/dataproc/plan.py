"""Pure builders of Dataproc requests: ids, labels, Spark properties, batch and job requests."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.cloud import dataproc_v1
from google.protobuf import json_format

from lakehouse.config import RunProfile, Settings
from lakehouse.dataproc.package import HOME_ALIAS, Artifact
from lakehouse.errors import UserError
from lakehouse.session import base_conf

GIT_SHA_ENV = "LAKEHOUSE_GIT_SHA"
# Serverless rejects YARN and external-shuffle properties (the batch fails), and sets the master.
SERVERLESS_FORBIDDEN = ("spark.yarn.", "spark.shuffle.service.", "spark.master", "spark.submit.deployMode")
_REQUEST_NAMESPACE = uuid.UUID("0b5c7f0e-52a4-4a53-9d0e-6c1f3a1f2d10")  # request ids: uuid5(ns, run id)


def dataproc_endpoint(region: str) -> str:
    """The regional Dataproc endpoint; the global one rejects regional batches and jobs."""
    if not re.fullmatch(r"[a-z]+-[a-z]+\d+", region or ""):
        raise UserError(f"region {region!r} is not a Google Cloud region such as europe-west1")
    return f"{region}-dataproc.googleapis.com:443"


def label_value(text: str) -> str:
    """A Google Cloud label value: lower case, [a-z0-9_-] only, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", str(text).lower())[:63]


def job_labels(env: str, profile: str, job: str, git_sha: str, run_id: str) -> dict[str, str]:
    """Labels every batch and job carries: env, profile, job, git sha and run id."""
    return {
        "env": label_value(env),
        "profile": label_value(profile),
        "job": label_value(job),
        "git-sha": label_value(git_sha),
        "run-id": label_value(run_id),
    }


def _resource_id(run_id: str, pattern: str, max_len: int) -> str:
    """`lh-<run id>` cleaned to `pattern`'s characters; long ids keep a hash suffix to stay unique."""
    text = "lh-" + re.sub(pattern, "-", run_id.lower()).strip("-")
    if len(text) > max_len:
        digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
        text = f"{text[: max_len - 9].rstrip('-')}-{digest}"
    return text


def batch_id_for(run_id: str) -> str:
    """The Serverless batch id of a run (4-63 characters of [a-z0-9-]); the same run, the same id."""
    return _resource_id(run_id, r"[^a-z0-9-]+", 63)


def job_id_for(run_id: str) -> str:
    """The cluster job id of a run (letters, digits, `_`, `-`, at most 100 characters)."""
    return _resource_id(run_id, r"[^a-z0-9_-]+", 100)


def request_id_for(run_id: str) -> str:
    """The request id of a run's submission: a retried request is recognised, not run twice."""
    return str(uuid.uuid5(_REQUEST_NAMESPACE, run_id))


def job_arguments(env: str, profile: str, run_id: str, extra: Sequence[str] = ()) -> list[str]:
    """The entrypoint's arguments: env, profile, the unpacked conf bundle, the run id, then `extra`."""
    args = ["--env", env, "--profile", profile, "--conf-dir", f"{HOME_ALIAS}/conf"]
    if "--run-id" not in extra and not any(a.startswith("--run-id=") for a in extra):
        args += ["--run-id", run_id]
    return [*args, *extra]


def serverless_properties(settings: Settings, profile: RunProfile, git_sha: str) -> dict[str, str]:
    """Spark properties of a Serverless batch: session defaults, the profile, its shape, env vars.

    The profile's `serverless:` shape sets driver/executor sizes and the dynamic-allocation bounds
    (it wins over the same keys in `spark:`); the git sha reaches the driver through
    `spark.dataproc.driverEnv.*` and the executors through `spark.executorEnv.*`.
    """
    shape = profile.serverless
    if shape is None:
        raise UserError(f"run profile {profile.name!r} has no serverless: section")
    props = base_conf(settings, profile)
    props.update(
        {
            "spark.driver.cores": str(shape.driver_cores),
            "spark.driver.memory": shape.driver_memory,
            "spark.executor.cores": str(shape.executor_cores),
            "spark.executor.memory": shape.executor_memory,
            "spark.executor.instances": str(shape.executor_instances),
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.initialExecutors": str(shape.executor_instances),
            "spark.dynamicAllocation.minExecutors": str(shape.min_executors),
            "spark.dynamicAllocation.maxExecutors": str(shape.max_executors),
            f"spark.dataproc.driverEnv.{GIT_SHA_ENV}": git_sha,
            f"spark.executorEnv.{GIT_SHA_ENV}": git_sha,
        }
    )
    bad = sorted(k for k in props if k.startswith(SERVERLESS_FORBIDDEN))
    if bad:
        raise UserError(
            f"run_profiles/{profile.name}.yaml: Spark property {bad[0]!r} is not allowed on Dataproc Serverless "
            "(YARN, external shuffle and master properties make the batch fail); remove it"
        )
    return dict(sorted(props.items()))


def cluster_properties(settings: Settings, profile: RunProfile, git_sha: str) -> dict[str, str]:
    """Spark properties of a job on a Dataproc cluster: session defaults, the profile, env vars.

    The driver runs in YARN cluster mode, so it finds the conf bundle unpacked in its working
    folder (as on Serverless) and gets the git sha through `spark.yarn.appMasterEnv.*`.
    """
    props = base_conf(settings, profile)
    props.update(
        {
            "spark.submit.deployMode": "cluster",
            f"spark.yarn.appMasterEnv.{GIT_SHA_ENV}": git_sha,
            f"spark.executorEnv.{GIT_SHA_ENV}": git_sha,
        }
    )
    return dict(sorted(props.items()))


@dataclass(frozen=True)
class Staging:
    """The staged files of one submission: entrypoint, code zip, conf bundle, Delta jars."""

    bucket: str
    main: Artifact
    code: Artifact
    home: Artifact
    jar_uris: tuple[str, ...] = ()
    uploads: tuple[Artifact, ...] = field(default=())  # everything to upload (jars included)

    @property
    def archive_uri(self) -> str:
        """The conf bundle as an archive URI unpacked into `lakehouse_home/`."""
        return f"{self.home.uri(self.bucket)}#{HOME_ALIAS}"


def batch_request(
    *,
    project: str,
    region: str,
    settings: Settings,
    staging: Staging,
    args: Sequence[str],
    properties: dict[str, str],
    labels: dict[str, str],
    run_id: str,
) -> dataproc_v1.CreateBatchRequest:
    """The `batches.create` request of a run: PySpark batch, pinned runtime, service account, subnet."""
    dp = settings.dataproc
    if dp is None:
        raise UserError(f"environment {settings.env!r} has no dataproc: section")
    execution = dataproc_v1.ExecutionConfig(
        service_account=dp.service_account,
        staging_bucket=dp.temp_bucket or dp.staging_bucket,
    )
    if dp.subnetwork:
        execution.subnetwork_uri = dp.subnetwork
    runtime = dataproc_v1.RuntimeConfig(version=dp.runtime_version, properties=properties)
    if getattr(dp, "container_image", None):
        runtime.container_image = dp.container_image
    batch = dataproc_v1.Batch(
        pyspark_batch=dataproc_v1.PySparkBatch(
            main_python_file_uri=staging.main.uri(staging.bucket),
            args=list(args),
            python_file_uris=[staging.code.uri(staging.bucket)],
            jar_file_uris=list(staging.jar_uris),
            archive_uris=[staging.archive_uri],
        ),
        runtime_config=runtime,
        environment_config=dataproc_v1.EnvironmentConfig(execution_config=execution),
        labels=labels,
    )
    return dataproc_v1.CreateBatchRequest(
        parent=f"projects/{project}/locations/{region}",
        batch=batch,
        batch_id=batch_id_for(run_id),
        request_id=request_id_for(run_id),
    )


def job_request(
    *,
    project: str,
    region: str,
    cluster: str,
    staging: Staging,
    args: Sequence[str],
    properties: dict[str, str],
    labels: dict[str, str],
    run_id: str,
) -> dataproc_v1.SubmitJobRequest:
    """The `jobs.submitAsOperation` request of a run on an existing cluster."""
    job = dataproc_v1.Job(
        reference=dataproc_v1.JobReference(project_id=project, job_id=job_id_for(run_id)),
        placement=dataproc_v1.JobPlacement(cluster_name=cluster),
        pyspark_job=dataproc_v1.PySparkJob(
            main_python_file_uri=staging.main.uri(staging.bucket),
            args=list(args),
            python_file_uris=[staging.code.uri(staging.bucket)],
            jar_file_uris=list(staging.jar_uris),
            archive_uris=[staging.archive_uri],
            properties=properties,
        ),
        labels=labels,
    )
    return dataproc_v1.SubmitJobRequest(
        project_id=project, region=region, job=job, request_id=request_id_for(run_id)
    )


def _wire(message) -> dict:
    """A message as the REST transport sends it: camelCase JSON without default-valued fields."""
    body = json_format.MessageToDict(type(message).pb(message), use_integers_for_enums=True)
    props = body.get("runtimeConfig", body.get("pysparkJob", {})).get("properties")
    if props:  # a map has no order: show it sorted
        props_sorted = dict(sorted(props.items()))
        props.clear()
        props.update(props_sorted)
    return body


def batch_body(request: dataproc_v1.CreateBatchRequest) -> dict:
    """The JSON body of a `batches.create` request (the Batch, camelCase, as the REST client sends it)."""
    return _wire(request.batch)


def describe_request(
    request: dataproc_v1.CreateBatchRequest | dataproc_v1.SubmitJobRequest, region: str
) -> str:
    """The HTTP request the REST client sends for `request`: method, URL and JSON body."""
    host = f"https://{dataproc_endpoint(region).removesuffix(':443')}"
    if isinstance(request, dataproc_v1.CreateBatchRequest):
        url = f"{host}/v1/{request.parent}/batches?batchId={request.batch_id}&requestId={request.request_id}"
        body = _wire(request.batch)
    else:
        url = f"{host}/v1/projects/{request.project_id}/regions/{request.region}/jobs:submitAsOperation"
        body = {"job": _wire(request.job), "requestId": request.request_id}
    return f"POST {url}\n{json.dumps(body, indent=2)}"
