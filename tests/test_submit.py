"""`lakehouse submit`: packaging, staging to a GCS emulator and submission to a fake Dataproc REST server.

The real google-cloud-storage and google-cloud-dataproc clients run against local fakes on
127.0.0.1 (tests/fakes); nothing here talks to Google Cloud or mocks a client library.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fakes.dataproc import FakeDataproc, Script
from fakes.gcs import free_port, storage_emulator
from google.auth.credentials import AnonymousCredentials
from rich.console import Console

from lakehouse import jvm, submit
from lakehouse.config import load_profile, load_settings
from lakehouse.dataproc import gcp, jars, package, plan
from lakehouse.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "lakehouse-dev-staging"
SHA = "0123456789ab"
DELTA = jvm.delta_version()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    """One build folder per module: the code zip is content-addressed, so it is built once."""
    return tmp_path_factory.mktemp("build")



@pytest.fixture
def gcs(monkeypatch):
    """A storage emulator holding the dev staging bucket; the storage client finds it via the env."""
    with storage_emulator((BUCKET,)) as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        yield url


@pytest.fixture
def fake():
    with FakeDataproc() as server:
        yield server


def connection(fake: FakeDataproc, **kw) -> gcp.Connection:
    """Anonymous credentials, the fake's endpoint, millisecond backoff and polling."""
    options = dict(
        credentials=AnonymousCredentials(),
        endpoint=fake.url,
        retry=gcp.default_retry(initial=0.01, maximum=0.05, timeout=5),
        poll_seconds=0.01,
        call_timeout=5,
    )
    options.update(kw)
    return gcp.Connection(**options)


class Run:
    """The outcome of one `submit_job` call: exit code and what it printed."""

    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


def run_submit(
    checkout, build_dir, conn=None, job="gold_kpis", profile="small", cluster=None, args=(), **kw
) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = submit.submit_job(
        job,
        "dev",
        profile,
        cluster=cluster,
        conf_dir=checkout / "conf",
        job_args=list(args),
        console=Console(file=out, width=200),
        err_console=Console(file=err, width=200),
        connection=conn,
        build_dir=build_dir,
        git_sha=SHA,
        **kw,
    )
    return Run(code, out.getvalue(), err.getvalue())


def objects(url: str) -> dict[str, bytes]:
    from google.cloud import storage

    client = storage.Client(
        project="x", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )
    return {b.name: b.download_as_bytes() for b in client.list_blobs(BUCKET)}


# ---------------------------------------------------------------- packaging


def test_code_zip_is_named_by_content_and_rebuilt_only_on_change(tmp_path):
    first = package.build_code_zip(tmp_path / "a")
    again = package.build_code_zip(tmp_path / "b")
    assert first.name == again.name and first.read_bytes() == again.read_bytes()
    assert first.name.startswith("lakehouse-") and first.suffix == ".zip"

    source = tmp_path / "src" / "lakehouse"
    shutil.copytree(package.package_source(), source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "config.py").write_text((source / "config.py").read_text() + "\n# changed\n")
    changed = package.build_code_zip(tmp_path / "c", source=source)
    assert changed.name != first.name

    names = zipfile.ZipFile(first).namelist()
    assert {"lakehouse/__init__.py", "lakehouse/submit.py", "lakehouse/config.py"} <= set(names)
    assert {"typer/__init__.py", "rich/__init__.py", "delta/__init__.py", "typing_extensions.py"} <= set(
        names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so"))]


def test_code_zip_is_what_the_job_imports(tmp_path):
    """With site's .pth files off (no editable install), lakehouse and the vendored deps come from the zip."""
    code = package.build_code_zip(tmp_path)
    site = next(p for p in sys.path if p.endswith("site-packages"))
    probe = "import lakehouse.cli, typer, rich, delta; print(lakehouse.__file__); print(typer.__file__)"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{code}{os.pathsep}{site}"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{code}/lakehouse/__init__.py", f"{code}/typer/__init__.py"]


def test_home_zip_holds_conf_and_run_profiles(checkout, tmp_path):
    home = package.build_home_zip(tmp_path, checkout)
    names = set(zipfile.ZipFile(home).namelist())
    assert {
        "conf/base.yaml",
        "conf/env/dev.yaml",
        "conf/tables/tickets.yaml",
        "run_profiles/large.yaml",
    } <= names
    assert home.name == package.build_home_zip(tmp_path / "again", checkout).name


# ---------------------------------------------------------------- requests


def test_ids_and_labels_follow_dataproc_rules():
    run_id = "20250102T030405Z-gold_kpis-1a2b3c4d"
    assert plan.batch_id_for(run_id) == "lh-20250102t030405z-gold-kpis-1a2b3c4d"
    assert plan.job_id_for(run_id) == "lh-20250102t030405z-gold_kpis-1a2b3c4d"
    assert plan.request_id_for(run_id) == plan.request_id_for(run_id)
    assert plan.request_id_for(run_id) != plan.request_id_for(run_id + "x")
    assert len(plan.request_id_for(run_id)) <= 40
    long_a, long_b = "a" * 80 + "-1", "a" * 80 + "-2"
    assert len(plan.batch_id_for(long_a)) == 63 and plan.batch_id_for(long_a) != plan.batch_id_for(long_b)
    assert plan.job_labels("dev", "large", "gold_kpis", "ABC123", run_id) == {
        "env": "dev",
        "profile": "large",
        "job": "gold_kpis",
        "git-sha": "abc123",
        "run-id": "20250102t030405z-gold_kpis-1a2b3c4d",
    }


def test_clients_use_the_regional_endpoint():
    conn = gcp.Connection(credentials=AnonymousCredentials())
    assert gcp.batch_client("europe-west1", conn, conn.credentials).api_endpoint == (
        "europe-west1-dataproc.googleapis.com:443"
    )
    assert (
        gcp.job_client("us-central1", conn, conn.credentials).api_endpoint
        == "us-central1-dataproc.googleapis.com:443"
    )
    with pytest.raises(UserError, match="'global' is not a Google Cloud region"):
        plan.dataproc_endpoint("global")


def test_serverless_properties_of_the_large_profile():
    settings = load_settings("dev", ROOT / "conf")
    props = plan.serverless_properties(settings, load_profile("large", ROOT / "run_profiles"), SHA)
    sizing = {
        k: v for k, v in props.items() if k.startswith(("spark.driver.", "spark.executor", "spark.dynamic"))
    }
    assert sizing == {
        "spark.driver.cores": "8",
        "spark.driver.memory": "32g",
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.initialExecutors": "8",
        "spark.dynamicAllocation.maxExecutors": "32",
        "spark.dynamicAllocation.minExecutors": "4",
        "spark.executor.cores": "8",
        "spark.executor.instances": "8",
        "spark.executor.memory": "32g",
        "spark.executorEnv.LAKEHOUSE_GIT_SHA": SHA,
    }
    assert props["spark.sql.shuffle.partitions"] == "800"
    assert props["spark.dataproc.driverEnv.LAKEHOUSE_GIT_SHA"] == SHA
    assert props["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert props["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert not [k for k in props if k.startswith(plan.SERVERLESS_FORBIDDEN)]


@pytest.mark.parametrize("name", ["small", "medium", "large", "xl"])
def test_every_dataproc_profile_has_both_shapes(name):
    profile = load_profile(name, ROOT / "run_profiles")
    assert profile.serverless is not None and profile.cluster is not None
    assert int(profile.spark["spark.sql.shuffle.partitions"]) >= 64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("driver_cores: 4", "driver_cores: 6"),
            "key 'serverless.driver_cores': Dataproc Serverless allows 4, 8 or 16 cores, not 6",
        ),
        (
            ("executor_memory: 8g", "executor_memory: 30g"),
            "key 'serverless': executor_memory 30g is over 7424m per core",
        ),
        (
            ("executor_memory: 8g", "executor_memory: lots"),
            "executor_memory 'lots' is not a size such as 16g or 4096m",
        ),
    ],
)
def test_serverless_shapes_outside_the_service_limits_are_refused(tmp_path, change, message):
    text = (ROOT / "run_profiles" / "small.yaml").read_text()
    assert change[0] in text
    (tmp_path / "small.yaml").write_text(text.replace(change[0], change[1]))
    with pytest.raises(UserError, match=re.escape(message)):
        load_profile("small", tmp_path)


def test_yarn_property_in_a_profile_is_refused_for_serverless():
    settings = load_settings("dev", ROOT / "conf")
    profile = load_profile("small", ROOT / "run_profiles")
    bad = profile.model_copy(update={"spark": {**profile.spark, "spark.yarn.maxAppAttempts": "1"}})
    with pytest.raises(UserError, match="'spark.yarn.maxAppAttempts' is not allowed on Dataproc Serverless"):
        plan.serverless_properties(settings, bad, SHA)


def test_dry_run_prints_the_exact_request_and_sends_nothing(checkout, build_dir, fake):
    run = run_submit(
        checkout, build_dir, connection(fake), profile="large", dry_run=True, args=["--run-id", "R1"]
    )
    assert run.code == submit.EXIT_OK
    assert fake.requests == []
    head, _, body = run.out.partition("\nPOST ")
    url, _, payload = body.partition("\n")
    batch_id, request_id = plan.batch_id_for("R1"), plan.request_id_for("R1")
    assert url == (
        "https://europe-west1-dataproc.googleapis.com/v1/projects/lakehouse-dev/locations/europe-west1/batches"
        f"?batchId={batch_id}&requestId={request_id}"
    )
    batch = json.loads(payload)
    code_zip = next(build_dir.glob("lakehouse-[0-9a-f]*.zip"))
    assert batch["pysparkBatch"]["pythonFileUris"] == [f"gs://{BUCKET}/code/{code_zip.name}"]
    assert batch["pysparkBatch"]["jarFileUris"] == [
        f"gs://{BUCKET}/jars/delta-spark_2.13-{DELTA}.jar",
        f"gs://{BUCKET}/jars/delta-storage-{DELTA}.jar",
    ]
    assert batch["pysparkBatch"]["args"] == [
        "--env", "dev", "--profile", "large", "--conf-dir", "lakehouse_home/conf", "--run-id", "R1",
    ]  # fmt: skip
    assert batch["runtimeConfig"]["version"] == "2.2"
    assert batch["runtimeConfig"]["properties"]["spark.executor.instances"] == "8"
    assert batch["environmentConfig"]["executionConfig"] == {
        "serviceAccount": "lakehouse-jobs@lakehouse-dev.iam.gserviceaccount.com",
        "subnetworkUri": "projects/lakehouse-dev/regions/europe-west1/subnetworks/lakehouse-dataproc",
        "stagingBucket": "lakehouse-dev-temp",
    }
    assert batch["labels"] == {
        "env": "dev",
        "profile": "large",
        "job": "gold_kpis",
        "git-sha": SHA,
        "run-id": "r1",
    }
    assert f"-> gs://{BUCKET}/code/{code_zip.name}" in head


def test_cli_dry_run(checkout, capsys):
    from lakehouse.cli import main

    argv = [
        "submit",
        "pipeline",
        "--env",
        "dev",
        "--profile",
        "xl",
        "--dry-run",
        "--conf-dir",
        str(checkout / "conf"),
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    body = json.loads(out.partition("\nPOST ")[2].partition("\n")[2])
    assert body["pysparkBatch"]["mainPythonFileUri"].endswith("/pipeline.py")
    assert body["runtimeConfig"]["properties"]["spark.dynamicAllocation.maxExecutors"] == "100"


# ---------------------------------------------------------------- user errors (exit code 2 in the CLI)


def test_unknown_job_env_and_profile_are_one_line_user_errors(checkout, build_dir):
    with pytest.raises(
        UserError, match=r"unknown step 'golden'; choose one of \['bronze', 'silver', 'gold', 'scoring', 'pipeline'\]"
    ):
        run_submit(checkout, build_dir, job="golden", dry_run=True)
    with pytest.raises(
        UserError,
        match=r"local.yaml: environment 'local' has no dataproc: section; choose one of \['dev', 'prod', 'staging'\]",
    ):
        submit.submit_job(
            "gold_kpis", "local", "small", conf_dir=checkout / "conf", dry_run=True, build_dir=build_dir
        )
    with pytest.raises(
        UserError,
        match=r"local.yaml: run profile 'local' has no serverless: section; choose one of \['large', 'medium', 'small', 'xl'\]",
    ):
        run_submit(checkout, build_dir, profile="local", dry_run=True)
    with pytest.raises(UserError, match=r"no such run profile 'huge'"):
        run_submit(checkout, build_dir, profile="huge", dry_run=True)


# ---------------------------------------------------------------- Serverless submission


def test_serverless_batch_is_staged_submitted_and_followed_to_success(checkout, build_dir, gcs, fake):
    run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-ok", "--full-refresh"])
    assert run.code == submit.EXIT_OK, run.err

    staged = objects(gcs)
    code_zip = next(build_dir.glob("lakehouse-[0-9a-f]*.zip"))
    home_zip = next(build_dir.glob("lakehouse-home-*.zip"))
    main = next(n for n in staged if n.startswith("jobs/"))
    assert sorted(staged) == sorted(
        [
            f"code/{code_zip.name}",
            f"conf/{home_zip.name}",
            main,
            f"jars/delta-spark_2.13-{DELTA}.jar",
            f"jars/delta-storage-{DELTA}.jar",
        ]
    )
    assert staged[f"code/{code_zip.name}"] == code_zip.read_bytes()
    assert staged[main] == (checkout / "jobs" / "gold_kpis.py").read_bytes()
    assert staged[f"jars/delta-spark_2.13-{DELTA}.jar"] == b"spark 2.13 jar"

    (create,) = fake.calls("POST", r"/batches$")
    assert create.path == "/v1/projects/lakehouse-dev/locations/europe-west1/batches"
    assert create.query["batchId"] == plan.batch_id_for("R-ok")
    assert create.query["requestId"] == plan.request_id_for("R-ok")
    batch = create.body
    assert batch["pysparkBatch"] == {
        "mainPythonFileUri": f"gs://{BUCKET}/{main}",
        "args": [
            "--env",
            "dev",
            "--profile",
            "small",
            "--conf-dir",
            "lakehouse_home/conf",
            "--run-id",
            "R-ok",
            "--full-refresh",
        ],
        "pythonFileUris": [f"gs://{BUCKET}/code/{code_zip.name}"],
        "jarFileUris": [
            f"gs://{BUCKET}/jars/delta-spark_2.13-{DELTA}.jar",
            f"gs://{BUCKET}/jars/delta-storage-{DELTA}.jar",
        ],
        "archiveUris": [f"gs://{BUCKET}/conf/{home_zip.name}#lakehouse_home"],
    }
    props = batch["runtimeConfig"]["properties"]
    assert batch["runtimeConfig"]["version"] == "2.2"
    assert (
        props["spark.executor.instances"],
        props["spark.executor.memory"],
        props["spark.sql.shuffle.partitions"],
    ) == ("2", "8g", "64")
    assert props["spark.dataproc.driverEnv.LAKEHOUSE_GIT_SHA"] == SHA
    assert (
        batch["environmentConfig"]["executionConfig"]["serviceAccount"]
        == "lakehouse-jobs@lakehouse-dev.iam.gserviceaccount.com"
    )
    assert batch["labels"] == {
        "env": "dev",
        "profile": "small",
        "job": "gold_kpis",
        "git-sha": SHA,
        "run-id": "r-ok",
    }

    polls = fake.calls("GET", r"/batches/")
    assert [p.path for p in polls] == [
        f"/v1/projects/lakehouse-dev/locations/europe-west1/batches/{plan.batch_id_for('R-ok')}"
    ] * 3
    batch_id = plan.batch_id_for("R-ok")
    assert [line.split()[-1] for line in run.out.splitlines() if line.startswith("  0:")] == [
        "PENDING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert (
        f"console: https://console.cloud.google.com/dataproc/batches/europe-west1/{batch_id}/monitoring?project=lakehouse-dev"
        in run.out
    )
    assert "driver output: gs://lakehouse-dev-temp/" in run.out
    assert f"batch {batch_id} SUCCEEDED after" in run.out


def test_unchanged_code_is_not_uploaded_again(checkout, build_dir, gcs, fake):
    first = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-a"])
    second = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-b"])
    assert (first.code, second.code) == (0, 0)
    code_zip = next(build_dir.glob("lakehouse-[0-9a-f]*.zip"))
    assert f"uploaded   gs://{BUCKET}/code/{code_zip.name}" in first.out
    assert f"unchanged  gs://{BUCKET}/code/{code_zip.name}" in second.out
    assert "uploaded" not in second.out
    assert len(fake.batches) == 2


@pytest.mark.parametrize(
    ("final", "code"), [("FAILED", submit.EXIT_FAILED), ("CANCELLED", submit.EXIT_CANCELLED)]
)
def test_failed_and_cancelled_batches_have_their_exit_codes(checkout, build_dir, gcs, final, code):
    with FakeDataproc(
        Script(states=["PENDING", "RUNNING", final], state_message="Job failed with message [boom]")
    ) as fake:
        run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", f"R-{final}"])
    assert run.code == code
    assert f"{final} after" in run.out and "Job failed with message [boom]" in run.out
    assert len(fake.calls("GET", r"/batches/")) == 3


def test_429_and_503_are_retried_with_the_same_request_id(checkout, build_dir, gcs):
    script = Script(create_errors=[429, 503], get_errors=[503, 429])
    with FakeDataproc(script) as fake:
        run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-retry"])
    assert run.code == submit.EXIT_OK, run.err
    creates = fake.calls("POST", r"/batches$")
    assert len(creates) == 3
    assert {(c.query["batchId"], c.query["requestId"]) for c in creates} == {
        (plan.batch_id_for("R-retry"), plan.request_id_for("R-retry"))
    }
    assert creates[0].at < creates[1].at < creates[2].at
    assert len(fake.batches) == 1
    assert len(fake.calls("GET", r"/batches/")) == 5  # two retried reads, then three states


def test_a_retry_after_a_lost_response_does_not_start_a_second_batch(checkout, build_dir, gcs):
    with FakeDataproc(Script(lost_responses=[503])) as fake:
        run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-lost"])
        again = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-lost"])
    assert (run.code, again.code) == (0, 0)
    assert len(fake.calls("POST", r"/batches$")) == 3
    assert list(fake.batches) == [
        f"projects/lakehouse-dev/locations/europe-west1/batches/{plan.batch_id_for('R-lost')}"
    ]


def test_retries_give_up_with_one_line(checkout, build_dir, gcs):
    with FakeDataproc(Script(create_errors=[503] * 1000)) as fake:
        conn = connection(fake, retry=gcp.default_retry(initial=0.01, maximum=0.02, timeout=0.3))
        run = run_submit(checkout, build_dir, conn, args=["--run-id", "R-busy"])
    assert run.code == submit.EXIT_NOT_SUBMITTED
    assert run.err.count("\n") == 1
    assert (
        "gave up trying to create a Serverless batch in project lakehouse-dev (europe-west1) after retries"
        in run.err
    )
    assert fake.batches == {}


def test_403_is_one_line_naming_project_and_permission(checkout, build_dir, gcs):
    denied = (
        "Permission 'dataproc.batches.create' denied on resource "
        "'//dataproc.googleapis.com/projects/lakehouse-dev/locations/europe-west1' (or it may not exist)."
    )
    with FakeDataproc(Script(forbidden=denied)) as fake:
        run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-403"])
    assert run.code == submit.EXIT_NOT_SUBMITTED
    assert run.err.count("\n") == 1
    assert run.err.startswith(
        "error: could not submit gold_kpis: permission denied (403) to create a Serverless batch in project "
        "lakehouse-dev (europe-west1): the account lacks dataproc.batches.create"
    )
    assert len(fake.calls("POST", r"/batches$")) == 1  # a 403 is not retried


def test_403_on_the_staging_bucket_is_one_line(checkout, build_dir, monkeypatch):
    with FakeDataproc(Script(storage_forbidden=True)) as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-gcs"])
    assert run.code == submit.EXIT_NOT_SUBMITTED
    assert run.err.count("\n") == 1
    assert f"permission denied (403) to stage files in bucket gs://{BUCKET}" in run.err
    assert "the account lacks storage.objects.get" in run.err
    assert fake.calls("POST", r"/batches$") == []


def test_a_global_endpoint_fails_with_a_region_mismatch(checkout, build_dir, gcs):
    with FakeDataproc(Script(region="global")) as fake:
        run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-global"])
    assert run.code == submit.EXIT_NOT_SUBMITTED
    assert "400 Region 'europe-west1' specified in request does not match endpoint region 'global'" in run.err


def test_missing_jars_is_could_not_submit(checkout, build_dir, gcs, fake):
    shutil.rmtree(checkout / ".cache" / "jars")
    run = run_submit(checkout, build_dir, connection(fake), args=["--run-id", "R-nojars"])
    assert run.code == submit.EXIT_NOT_SUBMITTED
    assert f"Delta jars missing: gs://{BUCKET}/jars/delta-spark_2.13-{DELTA}.jar is not staged" in run.err
    assert "run `lakehouse jars fetch`" in run.err
    assert fake.requests == []


def test_jars_uri_from_the_env_is_used_as_is(checkout, build_dir):
    dev = checkout / "conf" / "env" / "dev.yaml"
    dev.write_text(
        dev.read_text().replace(
            "  runtime_version:", "  jars_uri: gs://shared-jars/delta/\n  runtime_version:"
        )
    )
    sub = submit.prepare(
        "gold_kpis", "dev", "small", conf_dir=checkout / "conf", build_dir=build_dir, git_sha=SHA
    )
    assert list(sub.request.batch.pyspark_batch.jar_file_uris) == [
        f"gs://shared-jars/delta/delta-spark_2.13-{DELTA}.jar",
        f"gs://shared-jars/delta/delta-storage-{DELTA}.jar",
    ]
    assert not [a for a in sub.staging.uploads if a.object_name.startswith("jars/")]


def test_wait_timeout_leaves_the_outcome_unknown(checkout, build_dir, gcs):
    with FakeDataproc(Script(states=["RUNNING"])) as fake:
        run = run_submit(
            checkout, build_dir, connection(fake, wait_timeout=0.05), args=["--run-id", "R-slow"]
        )
    assert run.code == submit.EXIT_UNKNOWN
    assert "stopped waiting after" in run.out and "is RUNNING" in run.out


def test_missing_credentials_is_one_line_from_the_cli(checkout, tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "NO_GCE_CHECK": "true",  # never probe the metadata server
        "GCE_METADATA_HOST": f"127.0.0.1:{free_port()}",
        "GCE_METADATA_IP": f"127.0.0.1:{free_port()}",
    }
    cmd = [
        sys.executable,
        "-c",
        "from lakehouse.cli import main; main()",
        "submit",
        "gold_kpis",
        "--env",
        "dev",
    ]
    cmd += ["--profile", "small", "--conf-dir", str(checkout / "conf")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == submit.EXIT_NOT_SUBMITTED, result.stderr
    assert result.stderr.splitlines() == [
        "error: could not submit gold_kpis: no Google Cloud credentials found: run `gcloud auth "
        "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
    ]


# ---------------------------------------------------------------- cluster submission


def test_cluster_job_is_submitted_with_the_profile_properties(checkout, build_dir, gcs, fake):
    run = run_submit(
        checkout,
        build_dir,
        connection(fake),
        cluster="lakehouse-dev",
        profile="medium",
        args=["--run-id", "R-c"],
    )
    assert run.code == submit.EXIT_OK, run.err
    (call,) = fake.calls("POST", r"/jobs:submitAsOperation$")
    assert call.path == "/v1/projects/lakehouse-dev/regions/europe-west1/jobs:submitAsOperation"
    assert call.body["requestId"] == plan.request_id_for("R-c")
    job = call.body["job"]
    job_id = plan.job_id_for("R-c")
    assert job["reference"] == {"projectId": "lakehouse-dev", "jobId": job_id}
    assert job["placement"] == {"clusterName": "lakehouse-dev"}
    assert job["labels"] == {
        "env": "dev",
        "profile": "medium",
        "job": "gold_kpis",
        "git-sha": SHA,
        "run-id": "r-c",
    }
    pyspark = job["pysparkJob"]
    assert pyspark["jarFileUris"] == [
        f"gs://{BUCKET}/jars/delta-spark_2.12-{DELTA}.jar",
        f"gs://{BUCKET}/jars/delta-storage-{DELTA}.jar",
    ]
    assert pyspark["archiveUris"][0].endswith("#lakehouse_home")
    props = pyspark["properties"]
    assert props["spark.sql.shuffle.partitions"] == "200"
    assert props["spark.submit.deployMode"] == "cluster"
    assert props["spark.yarn.appMasterEnv.LAKEHOUSE_GIT_SHA"] == SHA
    assert props["spark.executorEnv.LAKEHOUSE_GIT_SHA"] == SHA
    assert "spark.executor.instances" not in props  # the cluster's own sizing applies
    assert [c.path for c in fake.calls("GET", r"/jobs/")] == [
        f"/v1/projects/lakehouse-dev/regions/europe-west1/jobs/{job_id}"
    ] * 3
    assert (
        f"console: https://console.cloud.google.com/dataproc/jobs/{job_id}?region=europe-west1&project=lakehouse-dev"
        in run.out
    )
    assert (
        f"driver output: gs://dataproc-staging-fake/google-cloud-dataproc-metainfo/jobs/{job_id}/driveroutput"
        in run.out
    )
    assert f"jars/delta-spark_2.12-{DELTA}.jar" in objects(gcs)


@pytest.mark.parametrize(("final", "code"), [("FAILED", 3), ("CANCELLED", 4)])
def test_failed_and_cancelled_cluster_jobs_have_their_exit_codes(checkout, build_dir, gcs, final, code):
    with FakeDataproc(Script(states=["PENDING", "RUNNING", final])) as fake:
        run = run_submit(
            checkout, build_dir, connection(fake), cluster="c1", args=["--run-id", f"R-c-{final}"]
        )
    assert run.code == code
    assert f"{'ERROR' if final == 'FAILED' else final} after" in run.out


# ---------------------------------------------------------------- Delta jars


def test_jars_come_from_maven_coordinates_into_one_cache_layout(tmp_path):
    names = [(a.coordinate, a.path(tmp_path).relative_to(tmp_path).as_posix()) for a in jvm.artifacts()]
    assert names == [
        (f"io.delta:delta-spark_2.12:{DELTA}", f"delta-spark_2.12-{DELTA}.jar"),
        (f"io.delta:delta-storage:{DELTA}", f"delta-storage-{DELTA}.jar"),
        (f"io.delta:delta-spark_2.13:{DELTA}", f"scala-2.13/delta-spark_2.13-{DELTA}.jar"),
        (f"com.google.cloud.bigdataoss:gcs-connector:{jvm.GCS_CONNECTOR_VERSION}:jar:shaded",
         f"gcs-connector-{jvm.GCS_CONNECTOR_VERSION}-shaded.jar"),
        (f"org.apache.hadoop:hadoop-client-api:{jvm.HADOOP_VERSION}", f"hadoop/hadoop-client-api-{jvm.HADOOP_VERSION}.jar"),
        (f"org.apache.hadoop:hadoop-client-runtime:{jvm.HADOOP_VERSION}",
         f"hadoop/hadoop-client-runtime-{jvm.HADOOP_VERSION}.jar"),
    ]
    command = jvm.maven_command(jvm.artifacts()[2], tmp_path, tmp_path / "settings.xml")
    assert command == ["mvn", "-B", "-q", "-s", str(tmp_path / "settings.xml"), f"{jvm.MAVEN_PLUGIN}:copy",
                       f"-Dartifact=io.delta:delta-spark_2.13:{DELTA}", f"-DoutputDirectory={tmp_path / 'scala-2.13'}"]
    assert jars.local_jars(tmp_path, "2.13") is None
    for artifact in jvm.delta_artifacts("2.13"):
        artifact.path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
        artifact.path(tmp_path).write_bytes(b"jar")
    assert jars.local_jars(tmp_path, "2.13") == [
        tmp_path / "scala-2.13" / f"delta-spark_2.13-{DELTA}.jar",
        tmp_path / f"delta-storage-{DELTA}.jar",
    ]


def test_fetch_without_maven_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn on it
    with pytest.raises(UserError, match=r"^Maven \(`mvn`\) is needed to fetch the jars: install it"):
        jvm.fetch(tmp_path / "jars")


@pytest.mark.skipif(shutil.which("mvn") is None, reason="needs the machine's Maven client (make jars installs it)")
def test_fetch_falls_back_for_delta_and_names_what_maven_could_not_get(tmp_path):
    """Maven offline with an empty local repository gets nothing: Delta comes from the fallback folder,
    the connector is one clear error."""
    settings = tmp_path / "settings.xml"
    settings.write_text(
        f"<settings><localRepository>{tmp_path / 'empty-m2'}</localRepository><offline>true</offline></settings>"
    )
    fallback = tmp_path / "team-jars"
    fallback.mkdir()
    for artifact in jvm.artifacts()[:3]:  # both Scala versions of delta-spark, and delta-storage
        (fallback / artifact.file_name).write_bytes(artifact.file_name.encode())
    out = tmp_path / "jars"
    with pytest.raises(UserError, match=r"could not get com.google.cloud.bigdataoss:gcs-connector:.* with Maven: "):
        jvm.fetch(out, settings, fallback)
    assert (out / f"delta-storage-{DELTA}.jar").read_bytes() == f"delta-storage-{DELTA}.jar".encode()
    assert (out / "scala-2.13" / f"delta-spark_2.13-{DELTA}.jar").is_file()


def test_runtime_scala_versions():
    assert [jars.runtime_scala(v) for v in ("1.2", "2.2", "2.2.30", "2.3")] == [
        "2.12",
        "2.13",
        "2.13",
        "2.13",
    ]
    with pytest.raises(
        UserError, match=r"'2.1' is not a Spark 3.5 Serverless runtime; choose one of \['1.2', '2.2', '2.3'\]"
    ):
        jars.runtime_scala("2.1")


# ---------------------------------------------------------------- what runs on the cluster


def _distribution_closure(names) -> set[str]:
    """The installed distributions `names` need, with their own (non-extra) requirements, transitively."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    todo, seen = list(names), set()
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for text in md.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                try:
                    md.distribution(req.name)
                except md.PackageNotFoundError:
                    continue  # an optional backend that is not installed here
                todo.append(req.name)
    return seen


def test_the_packaged_jobs_import_with_only_what_the_runtime_provides(tmp_path):
    """The code zip (our package and the vendored pure-Python packages) plus the runtime's packages
    (package.RUNTIME_PROVIDED and what they need), in a clean interpreter: every step imports."""
    import importlib.metadata as md

    code_zip = package.build_code_zip(tmp_path / "build")
    site = tmp_path / "runtime-site"
    site.mkdir()
    for name in sorted(_distribution_closure(package.RUNTIME_PROVIDED)):
        dist = md.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists() and not top.endswith((".dist-info", "__pycache__")):
                (site / top).symlink_to(source)
    check = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from lakehouse import steps\n"
        "for step in steps.STEPS: step.function()\n"
        "import lakehouse.cli, lakehouse.pipeline, lakehouse.lock, lakehouse.jvm, delta.tables, google.cloud.storage\n"
        "assert 'lakehouse.serve' not in sys.modules\n"
        "print('ok', sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'delta')))\n"
    )
    # -S: no site-packages, -E: no PYTHON* variables, -s: no user site: only the stdlib, the zip and the runtime
    run = subprocess.run([sys.executable, "-S", "-E", "-s", "-c", check, str(code_zip), str(site)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok")


def test_packages_ship_only_tracked_source_files(tmp_path):
    """A local `.env`, data files, untracked modules and hidden secrets never leave the machine."""
    repo = tmp_path / "checkout"
    pkg = repo / "src" / "lakehouse"
    (pkg / "data").mkdir(parents=True)
    (repo / "conf" / "env").mkdir(parents=True)
    (repo / "run_profiles").mkdir()
    files = {
        pkg / "__init__.py": "", pkg / "job.py": "x = 1\n", pkg / "views.sql": "select 1\n",
        repo / "conf" / "base.yaml": "a: 1\n", repo / "conf" / "env" / "dev.yaml": "b: 2\n",
        repo / "run_profiles" / "small.yaml": "name: small\n",
    }
    for path, text in files.items():
        path.write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    untracked = {
        pkg / "draft.py": "secret = 1\n", pkg / ".env": "TOKEN=1\n", pkg / "data" / "rows.parquet": "PAR1",
        repo / "conf" / "env" / ".dev-secrets.yaml": "password: x\n", repo / "conf" / "local-notes.yaml": "x: 1\n",
    }
    for path, text in untracked.items():
        path.write_text(text)
    code = zipfile.ZipFile(package.build_code_zip(tmp_path / "build", source=pkg, vendor=()))
    assert sorted(code.namelist()) == ["lakehouse/__init__.py", "lakehouse/job.py", "lakehouse/views.sql"]
    home = zipfile.ZipFile(package.build_home_zip(tmp_path / "build", repo))
    assert sorted(home.namelist()) == ["conf/base.yaml", "conf/env/dev.yaml", "run_profiles/small.yaml"]
