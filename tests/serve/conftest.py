"""Fixtures of the query-service tests: one small warehouse written without Spark (warehouse_fixture.py)."""

from __future__ import annotations

import pytest
import warehouse_fixture


@pytest.fixture(scope="session")
def serve_warehouse(tmp_path_factory) -> str:
    """A warehouse holding the fixture's gold and ops tables (version 0 of each)."""
    root = str(tmp_path_factory.mktemp("serve") / "warehouse")
    warehouse_fixture.build(root)
    return root


@pytest.fixture(scope="session")
def serve_settings(serve_warehouse):
    """Local settings over the fixture warehouse."""
    from lakehouse.config import load_settings

    return load_settings("local", None, {"warehouse": serve_warehouse})


@pytest.fixture(scope="session")
def duck(serve_settings):
    """The embedded engine over the fixture warehouse."""
    from lakehouse.serve.engine import open_engine

    engine = open_engine(serve_settings, "duckdb")
    yield engine
    engine.close()


ACCURACY: list[str] = []  # lines of the question set's accuracy table, printed in the terminal summary


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the accuracy table of the question set (tests/serve/questions.yaml) after the run."""
    if ACCURACY:
        terminalreporter.section("lakehouse ask: accuracy of the question set")
        for line in ACCURACY:
            terminalreporter.write_line(line)
