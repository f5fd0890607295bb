"""`lakehouse schedule render`: the batch body Cloud Scheduler posts, staged under releases/ in a storage
emulator, then posted to the fake Dataproc REST server the way the scheduler does (no batchId)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from fakes.dataproc import FakeDataproc
from fakes.gcs import storage_emulator
from google.auth.credentials import AnonymousCredentials
from rich.console import Console

from lakehouse import schedule, submit
from lakehouse.dataproc import gcp, plan

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "lakehouse-dev-staging"
SHA = "0123456789ab"



def render(checkout, tmp_path, **kw):
    out = io.StringIO()
    path = schedule.render(
        "dev", "small", conf_dir=checkout / "conf", console=Console(file=out, width=200),
        build_dir=tmp_path / "build", jars_dir=checkout / ".cache" / "jars", git_sha=SHA, **kw,
    )
    return path, out.getvalue()


def test_the_body_is_the_dry_run_without_its_run_id_and_with_kept_code(checkout, tmp_path):
    path, printed = render(checkout, tmp_path)
    assert path == checkout / "build" / "schedule" / "dev.json"
    body = json.loads(path.read_text())
    dry = plan.batch_body(submit.prepare("pipeline", "dev", "small", conf_dir=checkout / "conf",
                                         build_dir=tmp_path / "build", jars_dir=checkout / ".cache" / "jars",
                                         git_sha=SHA).request)
    # what Terraform's preconditions check
    assert body["environmentConfig"]["executionConfig"]["serviceAccount"] == (
        "lakehouse-jobs@lakehouse-dev.iam.gserviceaccount.com"
    )
    batch = body["pysparkBatch"]
    assert batch["mainPythonFileUri"].startswith(f"gs://{BUCKET}/releases/jobs/")
    assert batch["mainPythonFileUri"].endswith("/pipeline.py")
    assert batch["pythonFileUris"][0].startswith(f"gs://{BUCKET}/releases/code/lakehouse-")
    assert batch["archiveUris"][0].startswith(f"gs://{BUCKET}/releases/conf/lakehouse-home-")
    assert batch["archiveUris"][0].endswith("#lakehouse_home")
    assert batch["jarFileUris"] == dry["pysparkBatch"]["jarFileUris"]  # jars/ never expires
    assert all(u.startswith(f"gs://{BUCKET}/jars/") for u in batch["jarFileUris"])
    # no run id: every scheduled batch is a new run
    assert "--run-id" in dry["pysparkBatch"]["args"] and "run-id" in dry["labels"]
    assert batch["args"] == ["--env", "dev", "--profile", "small", "--conf-dir", "lakehouse_home/conf"]
    assert "run-id" not in body["labels"] and body["labels"]["trigger"] == "schedule"
    # everything else is the dry run's
    same = {k: v for k, v in body.items() if k not in ("pysparkBatch", "labels")}
    assert same == {k: v for k, v in dry.items() if k not in ("pysparkBatch", "labels")}
    assert "not staged: run with --stage" in printed


def test_staged_release_runs_as_the_scheduler_posts_it(checkout, tmp_path, monkeypatch):
    with storage_emulator((BUCKET,)) as url, FakeDataproc() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        path, printed = render(checkout, tmp_path, stage=True,
                               connection=gcp.Connection(credentials=AnonymousCredentials()))
        body = json.loads(path.read_text())
        from google.cloud import storage

        client = storage.Client(project="x", credentials=AnonymousCredentials(), client_options={"api_endpoint": url})
        names = {b.name for b in client.list_blobs(BUCKET)}
        batch = body["pysparkBatch"]
        referenced = [batch["mainPythonFileUri"], *batch["pythonFileUris"], batch["archiveUris"][0].split("#")[0],
                      *batch["jarFileUris"]]
        assert {u.removeprefix(f"gs://{BUCKET}/") for u in referenced} <= names
        assert not [n for n in names if n.startswith(("code/", "conf/", "jobs/"))]  # nothing that expires
        # the scheduler: POST the body, no batchId, twice (two nights): two batches, each its own run
        uri = f"{fake.url}/v1/projects/lakehouse-dev/locations/europe-west1/batches"
        for _ in range(2):
            assert requests.post(uri, json=body, timeout=10).status_code == 200
        assert len(fake.batches) == 2
        assert all(b["pysparkBatch"]["args"] == batch["args"] for b in fake.batches.values())
        # staging again uploads nothing new
        _, again = render(checkout, tmp_path, stage=True, connection=gcp.Connection(credentials=AnonymousCredentials()))
        assert "uploaded" not in again and again.count("unchanged") == len(referenced)


def test_the_command_line_writes_the_file(checkout, tmp_path):
    out = tmp_path / "dev.json"
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse", "schedule", "render", "--env", "dev", "--profile", "small",
         "--conf-dir", str(checkout / "conf"), "--out", str(out)],
        capture_output=True, text=True, cwd=checkout, timeout=300,
        env={**os.environ, "COLUMNS": "200", "LAKEHOUSE_JARS": str(checkout / ".cache" / "jars")},
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert json.loads(out.read_text())["labels"]["trigger"] == "schedule"
    bad = subprocess.run([sys.executable, "-m", "lakehouse", "schedule", "render", "--env", "local"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "environment 'local' has no dataproc: section" in bad.stderr
