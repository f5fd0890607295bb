"""The commands: `ask` (and `--json`), `keys`, and the read-only `runs`, `dq`, `tables`, `history` on the
embedded engine, without importing pyspark (no JVM, no Spark start-up warnings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# run the command in-process and report afterwards whether pyspark was imported
PROBE = (
    "import sys\nfrom lakehouse.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n"
    "    code = exc.code or 0\nelse:\n    code = 0\nprint('PYSPARK', 'pyspark' in sys.modules, file=sys.stderr)\nsys.exit(code)\n"
)


def lakehouse(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["runs"], ["20261002T010000Z-silver_clean-fixture", "2026-10-02 09:00:00", "42.5", "silver.tickets 100 -> 98"]),
        (["dq"], ["parse", "amount", "t0, t1, t2", "location_id"]),
        (["tables"], ["gold.location_scorecard", "ops.run_log", "/gold/location_scorecard"]),
        (["history", "gold.churn_risk"], ["overwrite", "93"]),
    ],
)
def test_read_only_commands_run_without_spark(serve_warehouse, args, expected):
    result = lakehouse(*args, "--warehouse", serve_warehouse)
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout, text
    assert "PYSPARK False" in result.stderr
    assert "WARN" not in result.stderr


def test_runs_lists_the_newest_first(serve_warehouse):
    result = lakehouse("runs", "--warehouse", serve_warehouse, "--limit", "1")
    assert "silver_clean" in result.stdout and "bronze_merge" not in result.stdout


def test_read_only_mistakes_are_one_line(tmp_path):
    result = lakehouse("runs", "--warehouse", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "ops.run_log does not exist under" in result.stderr and "Traceback" not in result.stderr
    result = lakehouse("history", "gold.nope", "--warehouse", str(tmp_path / "empty"))
    assert result.returncode == 2 and "gold.nope does not exist" in result.stderr


def test_ask_json_prints_exactly_one_object(serve_warehouse):
    result = lakehouse("ask", "How many members cancelled at Auburn last month?", "--json", "--warehouse", serve_warehouse)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)  # one object and nothing else
    assert answer["view"] == "client.churn_retention"
    assert answer["filters"] == {"location_id": ["store_03_l07", "store_05_l01"], "month": "2026-08-01", "limit": 100}
    assert sorted(r["location_id"] for r in answer["rows"]) == ["store_03_l07", "store_05_l01"]
    assert "PYSPARK False" in result.stderr


def test_ask_prints_how_it_resolved(serve_warehouse):
    result = lakehouse("ask", "bottom 5 sites", "--warehouse", serve_warehouse)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["view", "client.location_scorecard_bottom"]
    assert "'limit': 5" in lines[1] and "confidence" in lines[2]
    assert "client.location_scorecard_bottom (5 rows)" in result.stdout
    unknown = lakehouse("ask", "what's the weather in Bristol", "--warehouse", serve_warehouse)
    assert unknown.stdout.splitlines()[0].split() == ["view", "(none)"]
    assert "weather" in unknown.stdout


def test_ask_on_a_warehouse_without_gold_tables(tmp_path):
    result = lakehouse("ask", "churn rate last month", "--json", "--warehouse", str(tmp_path / "empty"))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["rows"] == [] and "has no data yet" in answer["explanation"]


def test_keys_commands(tmp_path):
    warehouse = ["--warehouse", str(tmp_path / "wh")]
    created = lakehouse("keys", "create", "--name", "acme", "--views", "billing_health,churn_risk", "--expires", "2099-12-31", *warehouse)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("lh_") and len(created.stdout.splitlines()) == 1
    assert "shown once" in created.stderr and token not in created.stderr
    stored = (tmp_path / "wh" / "ops" / "api_keys.json").read_text()
    assert token not in stored
    listed = lakehouse("keys", "list", *warehouse)
    assert "acme" in listed.stdout and "billing_health, churn_risk" in listed.stdout and "2099-12-31" in listed.stdout
    assert token not in listed.stdout
    exported = json.loads(lakehouse("keys", "export", *warehouse).stdout)
    assert [k["name"] for k in exported["keys"]] == ["acme"] and token not in json.dumps(exported)
    assert lakehouse("keys", "revoke", "acme", *warehouse).returncode == 0
    assert "yes" in lakehouse("keys", "list", *warehouse).stdout
    again = lakehouse("keys", "create", "--name", "acme", *warehouse)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = lakehouse("keys", "create", "--name", "x", "--expires", "next week", *warehouse)
    assert bad.returncode == 2 and "--expires 'next week' is not a date" in bad.stderr
    elsewhere = tmp_path / "secret" / "keys.json"
    moved = lakehouse("keys", "create", "--name", "cloud", *warehouse, env={"LAKEHOUSE_API_KEYS_FILE": str(elsewhere)})
    assert moved.returncode == 0 and "cloud" in elsewhere.read_text()
