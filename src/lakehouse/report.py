"""What a finished pipeline run shows the user: where the tables are, the bottom scorecard, the model's AUC."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.table import Table

from lakehouse.runtime import RunContext

# the bottom scorecard as printed: (column, header); the table holds more (see docs/gold_views.md)
BOTTOM_COLUMNS = (
    ("bottom_rank", "#"),
    ("location_id", "location"),
    ("location_name", "name"),
    ("washes", "washes"),
    ("revenue", "revenue"),
    ("members_end", "members"),
    ("churn_rate", "churn"),
    ("billing_success_rate", "billing ok"),
    ("score", "score"),
)


def cell(value: Any) -> str:
    """One value as printed: floats to 3 decimals, empty for null."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    return str(value)


def table_locations(run: RunContext) -> Table:
    """The warehouse's tables by layer, with the folder each layer lives in."""
    by_layer: dict[str, list[str]] = defaultdict(list)
    for name in run.tables.list_tables():
        layer, table = name.split(".", 1)
        by_layer[layer].append(table)
    out = Table(title=f"tables in {run.settings.warehouse}")
    out.add_column("layer")
    out.add_column("root", overflow="fold")
    out.add_column("tables", overflow="fold")
    for layer, tables in sorted(by_layer.items()):
        out.add_row(layer, run.settings.layer_root(layer), ", ".join(sorted(tables)))
    return out


def rows_table(df, title: str, columns: Sequence[tuple[str, str]] | None = None, limit: int = 50) -> Table:
    """A rich table of a DataFrame's first `limit` rows (bounded: never the whole table).

    `columns` picks and names the columns shown, as (column, header) pairs; default: all.
    """
    columns = list(columns or [(c, c) for c in df.columns])
    out = Table(title=title)
    for _, header in columns:
        out.add_column(header, overflow="fold")
    for row in df.select([c for c, _ in columns]).limit(limit).collect():
        out.add_row(*(cell(v) for v in row))
    return out


def pipeline_report(run: RunContext, report: Callable[..., None] = print) -> None:
    """Print where the tables are, the bottom-N scorecard and the latest model's test AUC."""
    report(table_locations(run))
    if run.tables.exists("gold.location_scorecard_bottom"):
        bottom = run.tables.read("gold.location_scorecard_bottom").orderBy("bottom_rank")
        first = bottom.select("month").first()
        month = f" ({first['month']:%Y-%m})" if first else ""
        title = f"bottom {run.settings.gold.bottom_n} locations, latest complete month{month}"
        report(rows_table(bottom, title, BOTTOM_COLUMNS))
        if first and run.tables.exists("gold.location_scorecard"):
            card = run.tables.read("gold.location_scorecard")
            if "data_complete" in card.columns:
                left = card.where((card.month == first["month"]) & ~card.data_complete).select("location_id")
                names = sorted(r["location_id"] for r in left.limit(50).collect())
                if names:
                    report(f"left out for incomplete data (a store serving them did not export the whole month): "
                           f"{', '.join(names)}; see `lakehouse freshness`")
    if run.tables.exists("gold.model_metrics"):
        latest = run.tables.read("gold.model_metrics").orderBy("trained_at", ascending=False).limit(1).collect()
        if latest:
            m = latest[0].asDict()
            report(f"churn-risk model {m['model_version']}: test ROC AUC = {m['roc_auc']:.3f}")
