"""What a finished pipeline run shows the user: table locations, the bottom scorecard, the model's AUC."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

from lakehouse.runtime import RunContext


def table_locations(run: RunContext) -> Table:
    """A rich table of every table in the warehouse and where its current version lives."""
    out = Table(title="tables")
    out.add_column("table")
    out.add_column("path", overflow="fold")
    for name in run.tables.list_tables():
        out.add_row(name, run.tables.path(name))
    return out


def rows_table(df, title: str, limit: int = 50) -> Table:
    """A rich table of a DataFrame's first `limit` rows (bounded: never the whole table)."""
    out = Table(title=title)
    for col in df.columns:
        out.add_column(col, overflow="fold")
    for row in df.limit(limit).collect():
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def pipeline_report(run: RunContext, report: Callable[..., None] = print) -> None:
    """Print where the tables are, the bottom-N scorecard and the latest model's test AUC."""
    report(table_locations(run))
    if run.tables.exists("gold.location_scorecard_bottom"):
        bottom = run.tables.read("gold.location_scorecard_bottom").orderBy("bottom_rank")
        report(rows_table(bottom, f"bottom {run.settings.gold.bottom_n} locations (latest complete month)"))
    if run.tables.exists("gold.model_metrics"):
        latest = run.tables.read("gold.model_metrics").orderBy("trained_at", ascending=False).limit(1).collect()
        if latest:
            m = latest[0].asDict()
            report(f"churn-risk model {m.get('model_version')}: test ROC AUC = {m.get('test_auc', m.get('roc_auc'))}")
