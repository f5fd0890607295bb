"""Build SparkSessions: the only place in the project where one is created."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import RunProfile, Settings

DELTA_JARS_ENV = "LAKEHOUSE_DELTA_JARS"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def delta_jars(jars_dir: str | None = None) -> list[str]:
    """Delta Lake jars found locally: $LAKEHOUSE_DELTA_JARS (a folder of jars), else the Ivy cache.

    Returns an empty list when none are found: Delta cannot be used on this machine then.
    """
    folder = jars_dir or os.environ.get(DELTA_JARS_ENV)
    if folder:
        jars = sorted(glob.glob(os.path.join(folder, "*.jar")))
    else:
        ivy = Path.home() / ".ivy2" / "jars"
        jars = sorted(str(p) for p in ivy.glob("io.delta_delta-*.jar")) if ivy.is_dir() else []
    names = " ".join(os.path.basename(j) for j in jars)
    if "delta-spark" not in names or "delta-storage" not in names:
        return []
    return jars


def base_conf(settings: Settings, profile: RunProfile) -> dict[str, str]:
    """The Spark properties a session of these settings and profile gets (profile last wins)."""
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
        "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
        "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
        "spark.sql.ansi.enabled": "false",  # the parsers rely on invalid text casting to null
        "spark.ui.showConsoleProgress": "false",
    }
    if settings.spark_master and settings.spark_master.startswith("local"):
        conf["spark.driver.extraJavaOptions"] = "-Duser.timezone=UTC"
        conf["spark.executor.extraJavaOptions"] = "-Duser.timezone=UTC"
        # executors must import the same interpreter's packages as the driver
        conf["spark.pyspark.python"] = sys.executable
        conf["spark.pyspark.driver.python"] = sys.executable
    if settings.table_format == "delta":
        conf["spark.sql.extensions"] = DELTA_EXTENSION
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    conf.update(profile.spark)
    return conf


def build_session(
    settings: Settings,
    profile: RunProfile,
    app_name: str = "lakehouse",
    extra_conf: dict[str, str] | None = None,
    log_level: str | None = None,
) -> SparkSession:
    """Create (or reuse) the SparkSession for these settings and run profile.

    Applies the profile's properties, a UTC session time zone and adaptive query execution; adds
    the Delta extension and catalog when the table format is delta (with local jars when found);
    uses the environment's master (local[*] for the local env) unless spark-submit set one.
    Logs are quiet (WARN) unless `log_level` or $LAKEHOUSE_LOG_LEVEL says otherwise.
    """
    conf = base_conf(settings, profile)
    if settings.table_format == "delta" and settings.spark_master:
        jars = delta_jars()
        if not jars:
            raise RuntimeError(
                "table_format is delta but no Delta Lake jars were found: set "
                f"{DELTA_JARS_ENV} to a folder holding delta-spark and delta-storage jars "
                "(`lakehouse jars fetch` downloads them), or use table_format: parquet"
            )
        conf["spark.jars"] = ",".join(jars)
    conf.update(extra_conf or {})

    builder = SparkSession.builder.appName(app_name)
    # spark-submit --master wins over the env's master
    if settings.spark_master and not _launched_by_spark_submit():
        builder = builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level or os.environ.get("LAKEHOUSE_LOG_LEVEL", "WARN"))
    return spark


def _launched_by_spark_submit() -> bool:
    """True when spark-submit started this driver: then its --master (default local[*]) applies."""
    return bool(os.environ.get("PYSPARK_GATEWAY_PORT"))


@contextmanager
def sql_conf(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
    """Set session SQL properties for the block, then restore their previous values."""
    before = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
