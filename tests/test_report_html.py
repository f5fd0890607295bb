"""`lakehouse report --html`: the page built from small tables holds every section, inlines plotly and fetches
nothing; the slow test opens it in headless Chromium and takes a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from lakehouse.ops.health_report import network_trends, quarantine_by_store, render, runs_frame

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 12, 4, 3, 0)


def tables() -> dict:
    """A warehouse's worth of small tables: two runs, two stores (store_02 late), three months, one model."""
    run_log = pd.DataFrame([
        {"run_id": "r1", "job": "bronze_merge", "status": "succeeded", "started_at": T0,
         "ended_at": datetime(2026, 12, 4, 3, 2), "tables": [
             {"table": "bronze.tickets", "rows_in": 1000, "rows_out": 990, "details": {"quarantined_null_merge_key": 10}},
             {"table": "ops.source_freshness", "rows_in": 4, "rows_out": 4, "details": {}}]},
        {"run_id": "r2", "job": "silver_clean", "status": "succeeded", "started_at": datetime(2026, 12, 4, 3, 3),
         "ended_at": datetime(2026, 12, 4, 3, 5), "tables": [
             {"table": "silver.tickets", "rows_in": 990, "rows_out": 900, "details": {"quarantined": 90, "warned": 3}}]},
        {"run_id": "r3", "job": "gold_kpis", "status": "failed", "started_at": datetime(2026, 12, 4, 3, 6),
         "ended_at": datetime(2026, 12, 4, 3, 7), "tables": []},
    ])
    manifest = pd.DataFrame([
        {"store_id": "store_01", "entity": "tickets", "status": "merged", "rows": 600},
        {"store_id": "store_02", "entity": "tickets", "status": "merged", "rows": 400},
    ])
    freshness = pd.DataFrame([
        {"store_id": s, "entity": e, "status": st, "last_export_id": "20260930T235900_0001", "last_export_at": T0,
         "days_since_last_export": d, "expected_every": "31d", "as_of": T0, "exports": 3, "rows_last_export": 9,
         "run_id": "r1"}
        for s, e, st, d in [("store_01", "tickets", "ok", 0.0), ("store_01", "payments", "ok", 0.0),
                            ("store_02", "tickets", "late", 40.0), ("store_02", "payments", "missing", None)]
    ])
    months = [datetime(2026, m, 1) for m in (7, 8, 9)]
    card = pd.DataFrame([
        {"location_id": loc, "month": m, "washes": 100 + i, "revenue": Decimal("1000.00"),
         "data_complete": not (loc == "L2" and m.month == 9)}
        for i, m in enumerate(months) for loc in ("L1", "L2")
    ])
    churn = pd.DataFrame([{"location_id": "L1", "month": m, "members_start": 50, "churned_members": 2} for m in months])
    billing = pd.DataFrame([{"location_id": "L1", "month": m, "attempts": 40, "successes": 36} for m in months])
    bottom = pd.DataFrame([{"bottom_rank": 1, "location_id": "L1", "location_name": "Wash <One>", "region": "north",
                            "month": months[-1], "washes": 102, "revenue": Decimal("1000.00"), "members_end": 48,
                            "churn_rate": 0.04, "billing_success_rate": 0.9, "score": 0.2}])
    metrics = pd.DataFrame([{"model_version": "v1", "trained_at": T0, "algorithm": "gbt", "train_rows": 900,
                             "test_rows": 300, "roc_auc": 0.81}])
    alerts = pd.DataFrame([{"raised_at": T0, "run_id": "r1", "check": "freshness", "severity": "error",
                            "entity": "payments", "store_id": "store_02", "message": "store_02 never exported payments"}])
    return {
        "_settings": SimpleNamespace(env="local", warehouse="/data/warehouse"),
        "ops.run_log": run_log, "ops.bronze_manifest": manifest, "ops.source_freshness": freshness,
        "ops.alerts": alerts, "gold.location_scorecard": card, "gold.location_scorecard_bottom": bottom,
        "gold.churn_retention": churn, "gold.billing_health": billing, "gold.model_metrics": metrics,
        "_quarantine_by_store": pd.DataFrame([{"entity": "tickets", "store_id": "store_02", "quarantined": 80}]),
    }


def test_the_shaping_functions():
    runs = runs_frame(tables()["ops.run_log"])
    assert list(runs["seconds"]) == [120.0, 120.0, 60.0]
    assert list(runs["bronze"]) == [990, 0, 0] and list(runs["ops"]) == [4, 0, 0] and list(runs["silver"]) == [0, 900, 0]
    by_store = quarantine_by_store(tables()["_quarantine_by_store"], tables()["ops.bronze_manifest"])
    assert by_store.set_index("store_id")["share"].to_dict() == {"store_01": 0.0, "store_02": 0.2}
    trends = network_trends(tables()["gold.location_scorecard"], tables()["gold.churn_retention"],
                            tables()["gold.billing_health"])
    assert list(trends["washes"]) == [200, 202, 204] and list(trends["incomplete_locations"]) == [0, 0, 1]
    assert list(trends["churn_rate"]) == [0.04] * 3 and list(trends["billing_success_rate"]) == [0.9] * 3


def test_the_page_has_every_section_and_needs_no_network():
    page = render(tables(), generated_at=T0)
    for title in ("Runs over time", "Quarantine", "Freshness", "Network KPIs", "Bottom scorecard (2026-09)",
                  "Churn model", "Latest alerts"):
        assert f"<h2>{title}</h2>" in page, title
    assert "Wash &lt;One&gt;" in page  # escaped
    assert "Left out for incomplete data: L2" in page
    assert "store_02 never exported payments" in page
    assert '"store_02"' in page and "missing" in page  # the heatmap's rows and labels
    # self-contained: plotly's JavaScript inline, no script or stylesheet from anywhere
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page
    assert len(page) > 1_000_000 and "plotly.js v" in page.lower() or "plotly" in page[:5_000_000]
    assert page.count("Plotly.newPlot") >= 6


def test_an_empty_warehouse_gives_a_page_that_says_so():
    empty = {"_settings": SimpleNamespace(env="local", warehouse="/w")}
    page = render(empty, generated_at=T0)
    assert "No runs yet" in page and "No ops.source_freshness yet" in page and "No alerts raised." in page


@pytest.mark.slow
def test_headless_chromium_renders_it(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium: apt-get install -y chromium")
    page = tmp_path / "health.html"
    page.write_text(render(tables(), generated_at=T0), encoding="utf-8")
    shot = ROOT / "build" / "report" / "health-test.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1280,2400", "--virtual-time-budget=5000", "--hide-scrollbars",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 50_000  # a page with charts, not a blank one
    dump = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile2'}",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert dump.returncode == 0
    assert dump.stdout.count('class="main-svg"') >= 6  # plotly drew every chart (its JavaScript ran offline)
    print(f"screenshot: {shot}")
