"""Shared fixtures: one local SparkSession for the whole test run, and per-test settings."""

from __future__ import annotations

import os
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
