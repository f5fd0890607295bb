"""The generator's export cadence: the same rows cut into weekly or daily exports (many small files)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.generate import generate


def _files(root):
    return sorted(p for p in root.glob("*/*/*") if p.is_file())


def test_shorter_cadences_cut_the_same_rows_into_more_exports(tmp_path):
    args = {"stores": 2, "tickets": 3_000, "seed": 9, "months": 3, "end_date": date(2025, 3, 31)}
    monthly = generate(tmp_path / "monthly", **args)
    weekly = generate(tmp_path / "weekly", cadence="weekly", **args)
    daily = generate(tmp_path / "daily", cadence="daily", **args)
    assert monthly.rows == weekly.rows == daily.rows  # the same clean rows, exported differently
    files = {name: len(_files(tmp_path / name)) for name in ("monthly", "weekly", "daily")}
    assert files["monthly"] < files["weekly"] < files["daily"]
    # daily export ids are the days of the month they belong to, and sort in time order
    tickets = [p for p in _files(tmp_path / "daily") if p.parent.name == "tickets" and p.parent.parent.name == "store_01"]
    days = Counter(p.name[:8] for p in tickets)
    assert len(days) > 60 and all(d[:6] in ("202501", "202502", "202503") for d in days)
    # a daily export holds the rows updated that day (corrections included): checked where dtUpdated is a
    # Parquet timestamp
    checked = 0
    for path in (p for p in _files(tmp_path / "daily") if p.suffix == ".parquet"):
        try:
            table = pq.read_table(path)
        except (OSError, ValueError):  # the corrupt-file dirt
            continue
        names = {n.strip().lower(): n for n in table.column_names}
        updated = table.column(names["dtupdated"]) if "dtupdated" in names else None
        if updated is not None and str(updated.type).startswith("timestamp") and table.num_rows:
            seen = {v.date() for v in updated.to_pylist() if v is not None}
            assert seen <= {date(int(path.name[:4]), int(path.name[4:6]), int(path.name[6:8]))}, path
            checked += 1
    assert checked > 20


def test_monthly_is_the_default_and_unknown_cadences_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cadence"):
        generate(tmp_path / "x", stores=1, tickets=100, cadence="hourly")
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "y"), "--stores", "1", "--rows", "200",
                                      "--cadence", "hourly"])
    assert result.exit_code != 0 and "monthly, weekly, daily" in str(result.exception or result.output)
