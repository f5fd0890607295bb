"""The model store: saved churn models under `<warehouse>/models/churn_risk/<version>`, through the file-system layer."""

from __future__ import annotations

import uuid
from datetime import datetime

from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from lakehouse import faults
from lakehouse.errors import UserError
from lakehouse.fs import file_system, join

MODEL_NAME = "churn_risk"


def model_root(warehouse: str) -> str:
    """Where saved churn models live: `<warehouse>/models/churn_risk`."""
    return join(warehouse, "models", MODEL_NAME)


def new_model_version(started_at: datetime, run_id: str) -> str:
    """`v<UTC time of the run>-<run id suffix>`: sortable by training time, unique per run."""
    return f"v{started_at:%Y%m%dT%H%M%SZ}-{run_id.rsplit('-', 1)[-1]}"


def model_path(warehouse: str, version: str) -> str:
    """Where model `version` is saved."""
    return join(model_root(warehouse), version)


def saved_versions(spark: SparkSession, warehouse: str) -> list[str]:
    """Model versions saved under the warehouse, oldest first.

    Only complete saves count: a model is written under a hidden temporary name and renamed into
    place when complete (`save_model`), so a save that was interrupted is never listed.
    """
    root = model_root(warehouse)
    fs = file_system(root, spark)
    return [
        name
        for name in fs.list_names(root)
        if not name.startswith((".", "_")) and fs.is_dir(join(root, name, "metadata"))
    ]


def save_model(spark: SparkSession, model: PipelineModel, warehouse: str, version: str) -> str:
    """Save `model` as `version`: written to a temporary folder, then renamed into place; returns its path."""
    root = model_root(warehouse)
    fs = file_system(root, spark)
    target = model_path(warehouse, version)
    temporary = join(root, f".saving-{version}-{uuid.uuid4().hex[:8]}")
    try:
        model.write().save(temporary)
        faults.point("scoring.model_written")  # complete, not renamed into place yet
        fs.rename(temporary, target)
    except BaseException:
        fs.delete(temporary)
        raise
    return target


def load_model(warehouse: str, version: str) -> PipelineModel:
    """The saved model `version` (see `resolve_version` for names a user may give)."""
    return PipelineModel.load(model_path(warehouse, version))


def resolve_version(spark: SparkSession, warehouse: str, requested: str) -> str:
    """`requested` itself, or the newest saved version for `latest`; UserError when not saved."""
    versions = saved_versions(spark, warehouse)
    if requested == "latest":
        if not versions:
            raise UserError(
                f"no saved churn model under {model_root(warehouse)}: run `lakehouse run scoring` "
                "without --model-version to train one"
            )
        return versions[-1]
    if requested not in versions:
        known = ", ".join(versions[-5:]) or "none"
        raise UserError(
            f"--model-version {requested!r} is not saved under {model_root(warehouse)} "
            f"(latest saved: {known}); pass one of them or 'latest'"
        )
    return requested


