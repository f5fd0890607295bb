"""The JVM-free reader over gs:// (fsspec's gcsfs against a local Cloud Storage emulator on loopback):
the file-system layer's operations, and the embedded engine serving a warehouse kept in a bucket."""

from __future__ import annotations

import os

import pytest
import warehouse_fixture as F
from fakes.gcs import storage_emulator

from lakehouse.config import load_settings
from lakehouse.fs import FsspecFileSystem
from lakehouse.serve.engine import DuckDBEngine
from lakehouse.serve.warehouse import ParquetWarehouse


@pytest.fixture(scope="module")
def gcs():
    with storage_emulator(("lakehouse-test",)) as url:
        yield FsspecFileSystem("gs", endpoint_url=url, token="anon", project="emulator")


def test_file_system_operations(gcs):
    gcs.write_text("gs://lakehouse-test/a/b.txt", "hello")
    assert gcs.exists("gs://lakehouse-test/a/b.txt") and gcs.is_dir("gs://lakehouse-test/a")
    assert gcs.list_names("gs://lakehouse-test/a") == ["b.txt"]
    assert gcs.read_bytes("gs://lakehouse-test/a/b.txt", 1, 3) == b"ell"
    gcs.create_new("gs://lakehouse-test/log/0.json", "{}")
    with pytest.raises(FileExistsError):
        gcs.create_new("gs://lakehouse-test/log/0.json", "{}")  # of two writers, one wins
    assert [f.path for f in gcs.list_files("gs://lakehouse-test/log")] == ["gs://lakehouse-test/log/0.json"]
    gcs.delete("gs://lakehouse-test/a")
    assert not gcs.exists("gs://lakehouse-test/a/b.txt")
    with pytest.raises(FileNotFoundError):
        gcs.read_bytes("gs://lakehouse-test/a/b.txt")


def test_engine_serves_a_warehouse_in_a_bucket(gcs, tmp_path):
    local = str(tmp_path / "warehouse")
    F.build(local)
    for layer in ("gold", "ops"):  # the version logs and files; the table paths are symlinks: not copied
        gcs.fs.put(os.path.join(local, "_versions", layer), f"lakehouse-test/wh/_versions/{layer}", recursive=True)
    settings = load_settings("local", None, {"warehouse": "gs://lakehouse-test/wh"})
    reader = ParquetWarehouse(settings, fs=gcs)
    assert reader.current_version("gold.location_scorecard") == 0
    engine = DuckDBEngine(reader)
    assert engine.views() == ["location_scorecard_bottom", "location_scorecard", "churn_retention", "billing_health", "churn_risk", "model_metrics"]
    [(count,)] = engine.query(f"SELECT count(*) FROM {engine.relation('location_scorecard')}").rows
    assert count == len(F.LOCATIONS) * len(F.MONTHS)
