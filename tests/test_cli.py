"""The `lakehouse` command: user mistakes give one line and exit code 2, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAKEHOUSE = [sys.executable, "-m", "lakehouse"]


def lakehouse(*args, env=None, cwd=ROOT):
    return subprocess.run(
        [*LAKEHOUSE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "bronze", "--env", "qa"], "no such environment 'qa'; choose one of ['dev', 'local', 'prod', 'staging']"),
        (["run", "silver", "--profile", "huge"], "no such run profile 'huge'; choose one of"),
        (["run", "gold", "--conf-dir", "/nonexistent"], "/nonexistent/env/local.yaml: no such environment 'local'"),
    ],
)
def test_config_mistakes_are_one_line(args, message):
    result = lakehouse(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_environment_variable_selects_the_env():
    result = lakehouse("run", "bronze", env={"LAKEHOUSE_ENV": "nowhere"})
    assert result.returncode == 2
    assert "no such environment 'nowhere'" in result.stderr


def test_unknown_step_is_a_usage_error():
    result = lakehouse("run", "platinum")
    assert result.returncode == 2
    assert "platinum" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands():
    result = lakehouse("--help")
    assert result.returncode == 0
    for command in ("run", "generate", "runs", "dq", "tables", "sql", "views", "submit", "freshness", "alerts",
                    "report", "schedule"):
        assert command in result.stdout


def test_every_step_has_a_function_an_entrypoint_and_old_names_as_aliases():
    from lakehouse import steps

    assert steps.names() == ["bronze", "silver", "gold", "scoring", "pipeline"]
    for step in steps.STEPS:
        assert callable(step.function()), step.target
        assert (ROOT / step.entrypoint).is_file(), step.entrypoint
        assert steps.resolve(step.job) == steps.resolve(step.name) == (step,)
    assert sorted(p.name for p in (ROOT / "jobs").glob("*.py")) == sorted(
        Path(steps.entrypoint(n)).name for n in steps.names()
    )
    assert steps.job_name("gold") == "gold_kpis" and steps.canonical("gold_kpis") == "gold"
    assert steps.resolve("pipeline") == steps.STEPS


def test_a_job_script_runs_its_step(tmp_path):
    """`spark-submit jobs/gold_kpis.py` (here: python) is `lakehouse run gold`: its mistakes say so."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "jobs" / "gold_kpis.py"), "--warehouse", str(tmp_path / "wh")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "gold needs silver.locations" in result.stderr
    assert "Traceback" not in result.stderr
