"""Cluster safety: the whole pipeline on a Spark standalone cluster (master + 2 workers on 127.0.0.1).

The driver and two single-core executors are separate JVMs and Python processes, so anything
that only works in local mode fails here: driver-local paths read on executors, closures over
unpicklable objects, modules missing from the packaged zip. The job runs exactly as Dataproc
runs it: `spark-submit --py-files <code zip> jobs/pipeline.py`, with the conf bundle unpacked as
`lakehouse_home/` in the driver's working folder, and a driver Python whose site-packages
carry no editable install of lakehouse (so `lakehouse` can only come from the zip).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from fakes.gcs import free_port

from lakehouse.dataproc.package import HOME_ALIAS, build_code_zip, build_home_zip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
GOLD = (
    "gold.churn_retention",
    "gold.billing_health",
    "gold.location_scorecard",
    "gold.location_scorecard_bottom",
    "gold.churn_risk",
    "gold.model_metrics",
)
RUN_ID = "standalone-cluster-test"
GIT_SHA = "standalone0001"


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _start(cmd: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
    """Start a process in its own process group (so it and its children can be stopped together)."""
    handle = log.open("wb")
    return subprocess.Popen(
        cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process group this test started: SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_workers(ui_port: int, count: int, timeout: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise AssertionError(
                "a Spark daemon exited during start-up; see its log in the test's tmp folder"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as resp:
                state = json.load(resp)
            if state.get("aliveworkers", 0) >= count:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"standalone master did not see {count} workers in {timeout}s: {state}")


def _python_without_editable_install(tmp: Path) -> Path:
    """A python that sees site-packages but not the .pth that puts the checkout's src/ on sys.path."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    wrapper = tmp / "python-from-zip"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'export PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}"\n'
        f'exec "{sys.executable}" -S "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_pipeline_runs_on_a_standalone_cluster_from_the_packaged_zip(tmp_path, request, fmt):
    for module in ("lakehouse.pipeline", "lakehouse.bronze", "lakehouse.silver", "lakehouse.gold"):
        pytest.importorskip(module, reason=f"{module} has not landed yet")
    generate = pytest.importorskip("lakehouse.generate", reason="lakehouse.generate has not landed yet")
    entry = ROOT / "jobs" / "pipeline.py"
    if not entry.is_file():
        pytest.skip("jobs/pipeline.py has not landed yet")
    from lakehouse.jvm import DELTA_SQL_CONF, local_jars

    if fmt == "delta" and not local_jars().delta:
        pytest.skip("no Delta jars in the jar cache: run `make jars`")

    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    generate.generate(out=landing, stores=3, tickets=5000, seed=1)
    code_zip = build_code_zip(tmp_path / "build")
    driver_dir = tmp_path / "driver"
    with zipfile.ZipFile(build_home_zip(tmp_path / "build", ROOT)) as home:  # what archive_uris#alias does
        home.extractall(driver_dir / HOME_ALIAS)
    python = _python_without_editable_install(tmp_path)
    # the entrypoint as Dataproc stages it: alone in a folder, no checkout (and no src/) around it
    staged = tmp_path / "staged" / "jobs" / entry.name
    staged.parent.mkdir(parents=True)
    staged.write_bytes(entry.read_bytes())

    spark_home = _spark_home()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "PYSPARK_", "SPARK_"))}
    env.update(
        SPARK_HOME=str(spark_home),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_DAEMON_MEMORY="256m",
        SPARK_LOG_DIR=str(tmp_path / "logs"),
        SPARK_WORKER_DIR=str(tmp_path / "work"),
    )
    port, ui_port = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    spark_class = str(spark_home / "bin" / "spark-class")
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            _start(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
                + ["--port", str(port), "--webui-port", str(ui_port)],
                tmp_path / "master.log",
                env,
            )
        )
        for i in (1, 2):
            procs.append(
                _start(
                    [spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1"]
                    + ["--cores", "1", "--memory", "1g", "--webui-port", str(free_port())]
                    + ["--work-dir", str(tmp_path / f"worker{i}")],
                    tmp_path / f"worker{i}.log",
                    env,
                )
            )
        _wait_for_workers(ui_port, 2, timeout=120, procs=procs)

        job_env = dict(
            env, PYSPARK_PYTHON=str(python), PYSPARK_DRIVER_PYTHON=str(python), LAKEHOUSE_GIT_SHA=GIT_SHA
        )
        cmd = [str(spark_home / "bin" / "spark-submit"), "--master", master_url, "--py-files", str(code_zip)]
        cmd += ["--conf", "spark.executor.memory=768m", "--conf", "spark.cores.max=2"]
        cmd += ["--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false"]
        cmd += ["--conf", f"spark.executorEnv.LAKEHOUSE_GIT_SHA={GIT_SHA}"]  # as submit sets it on Dataproc
        if fmt == "delta":  # the jars and properties `lakehouse submit` sends, from the same place
            cmd += ["--jars", ",".join(str(p) for p in local_jars().delta)]
            for key, value in DELTA_SQL_CONF.items():
                cmd += ["--conf", f"{key}={value}"]
        cmd += [str(staged), "--env", "local", "--profile", "local", "--conf-dir", f"{HOME_ALIAS}/conf"]
        cmd += ["--landing", str(landing), "--warehouse", str(warehouse), "--run-id", RUN_ID, "--table-format", fmt]
        started = time.monotonic()
        submit = _start(cmd, tmp_path / "spark-submit.log", job_env, cwd=driver_dir)
        procs.append(submit)
        try:
            code = submit.wait(timeout=1500)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - started
        log = (tmp_path / "spark-submit.log").read_text(errors="replace")
        print(f"\nstandalone-cluster pipeline run: exit {code} in {elapsed:.0f} s")
        assert code == 0, f"spark-submit exit {code} after {elapsed:.0f} s:\n{log[-6000:]}"
    finally:
        for proc in reversed(procs):
            _stop(proc)

    from lakehouse.config import load_settings
    from lakehouse.tables import open_table_store

    spark = request.getfixturevalue("spark")  # only now: a skipped run starts no session
    settings = load_settings(
        "local", ROOT / "conf", {"landing": str(landing), "warehouse": str(warehouse), "table_format": fmt}
    )
    tables = open_table_store(spark, settings)
    empty = [name for name in GOLD if not tables.exists(name) or tables.read(name).limit(1).count() == 0]
    assert empty == [], f"gold tables missing or empty: {empty}"
    runs = (
        tables.read("ops.run_log").where(f"run_id = '{RUN_ID}'").select("job", "status", "git_sha").collect()
    )
    assert runs, "the run log has no row of the run"
    assert {(r.status, r.git_sha) for r in runs} == {("succeeded", GIT_SHA)}
    assert {r.job for r in runs} == {"bronze_merge", "silver_clean", "gold_kpis", "churn_scoring"}
