"""Shared fixtures: one local SparkSession for the whole test run, per-test settings, a checkout to package."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LAKEHOUSE_HOME", str(ROOT))
# collect() turns timestamps into Python datetimes in the process's zone: make that UTC too
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(scope="session")
def spark():
    """One local[2] session, small shuffle partitions, UI off, UTC."""
    from lakehouse.config import load_profile, load_settings
    from lakehouse.session import build_session

    settings = load_settings("local", ROOT / "conf")
    profile = load_profile("local", ROOT / "run_profiles")
    session = build_session(
        settings.model_copy(update={"spark_master": "local[2]"}),
        profile,
        app_name="lakehouse-tests",
        extra_conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "2g",
            "spark.sql.adaptive.coalescePartitions.enabled": "false",
        },
        log_level="ERROR",
    )
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path):
    """Local settings whose landing and warehouse live in the test's temporary folder."""
    from lakehouse.config import load_settings

    return load_settings(
        "local",
        ROOT / "conf",
        {"landing": str(tmp_path / "landing"), "warehouse": str(tmp_path / "warehouse")},
    )


@pytest.fixture
def config(settings):
    """The full local config (settings from the `settings` fixture, local profile, table contracts)."""
    from lakehouse.config import Config, load_profile, load_tables

    return Config(
        settings=settings,
        profile=load_profile("local", ROOT / "run_profiles"),
        tables=load_tables(ROOT / "conf"),
        conf_dir=ROOT / "conf",
    )


@pytest.fixture
def checkout(tmp_path):
    """A checkout with the repo's conf/ and run_profiles/, a three-line entrypoint per step and Delta jars in its
    cache (what packaging and scheduling read)."""
    from lakehouse import jvm, steps

    root, delta = tmp_path / "checkout", jvm.delta_version()
    shutil.copytree(ROOT / "conf", root / "conf")
    shutil.copytree(ROOT / "run_profiles", root / "run_profiles")
    (root / "jobs").mkdir()
    for name in steps.names():
        (root / steps.entrypoint(name)).write_text(f'from lakehouse.cli import run_job\n\nrun_job("{name}")\n',
                                                   encoding="utf-8")
    jar_dir = root / ".cache" / "jars"
    (jar_dir / "scala-2.13").mkdir(parents=True)
    (jar_dir / f"delta-storage-{delta}.jar").write_bytes(b"storage jar")
    (jar_dir / f"delta-spark_2.12-{delta}.jar").write_bytes(b"spark 2.12 jar")
    (jar_dir / "scala-2.13" / f"delta-spark_2.13-{delta}.jar").write_bytes(b"spark 2.13 jar")
    return root
