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
    for command in ("run", "generate", "runs", "dq", "tables", "sql", "views", "submit"):
        assert command in result.stdout


def test_pipeline_runs_the_steps_this_build_has(monkeypatch, tmp_path):
    from lakehouse import pipeline
    from lakehouse.errors import UserError
    from lakehouse.runtime import JobOptions

    monkeypatch.setitem(pipeline.STEP_MODULES, "gold", "lakehouse.no_such_module")
    assert not pipeline.available("gold")
    with pytest.raises(UserError, match=r"gold_kpis is not part of this build yet \(lakehouse.no_such_module"):
        pipeline.run_steps("gold", JobOptions(warehouse=str(tmp_path)))
