"""Build SparkSessions: the only place in the project where one is created."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import RunProfile, Settings
from lakehouse.errors import UserError
from lakehouse.jvm import DELTA_SQL_CONF, jars_dir, local_jars, session_conf


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
        conf.update(DELTA_SQL_CONF)
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

    Applies the profile's properties, a UTC session time zone and adaptive query execution; uses
    the environment's master (local[*] for the local env) unless spark-submit set one. A local
    session loads the cached jars (`lakehouse.jvm`: Delta with its extension and catalog, the
    Cloud Storage connector, a local Cloud Storage server when $STORAGE_EMULATOR_HOST names one),
    so it reads and writes both table formats and gs://; on Dataproc the runtime provides them.
    Logs are quiet (WARN) unless `log_level` or $LAKEHOUSE_LOG_LEVEL says otherwise.
    Raises UserError when the table format is delta and no Delta jars are cached.
    """
    conf = base_conf(settings, profile)
    # a local session gets the cached jars and starts quietly; under spark-submit (a cluster, Dataproc) the
    # submitter sets both
    if settings.spark_master and settings.spark_master.startswith("local") and not _launched_by_spark_submit():
        quiet_local_start(conf)
        jars = local_jars()
        if settings.table_format == "delta" and not jars.delta:
            raise UserError(
                f"table_format is delta but the Delta Lake jars are not in {jars_dir()}: run `make jars` "
                "(or `lakehouse jars fetch`), or use --table-format parquet"
            )
        conf.update(session_conf(jars))
    conf.update(extra_conf or {})

    if conf.get("spark.pyspark.python") and not _launched_by_spark_submit():
        # the property only reaches Python workers through spark-submit; a session started from Python
        # takes its workers' interpreter from PYSPARK_PYTHON (else whatever `python3` is on the PATH)
        os.environ["PYSPARK_PYTHON"] = conf["spark.pyspark.python"]
    builder = SparkSession.builder.appName(app_name)
    # spark-submit --master wins over the env's master
    if settings.spark_master and not _launched_by_spark_submit():
        builder = builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level or os.environ.get("LAKEHOUSE_LOG_LEVEL", "WARN"))
    return spark


LOG4J2_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"


def quiet_local_start(conf: dict[str, str]) -> None:
    """Keep a local session's start-up chatter off the terminal; real warnings and errors still show.

    The driver JVM gets the package's log4j2 configuration (root level WARN, no default-profile or
    set-log-level notices, no Hadoop native-library warning), unless the properties already name one;
    and the driver binds to the loopback address (`SPARK_LOCAL_IP`, unless set), as a local session
    does anyway, instead of warning that the hostname resolves to it. Only for a JVM this process
    starts (local master, not spark-submit): Dataproc keeps its own logging.
    """
    options = conf.get("spark.driver.extraJavaOptions", "")
    if "log4j2.configurationFile" not in options and "log4j.configurationFile" not in options:
        conf["spark.driver.extraJavaOptions"] = f"{options} -Dlog4j2.configurationFile={LOG4J2_CONFIG.as_uri()}".strip()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


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
