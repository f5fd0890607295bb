"""`lakehouse report --html PATH`: one self-contained HTML page on the warehouse's health (plotly, its JavaScript inlined).

Sections: runs over time (duration and rows per layer), quarantine share per entity and per store,
a store x entity freshness heatmap, network KPI trends (washes, revenue, churn rate, billing
success) with the months some location's data is incomplete, the bottom scorecard, the churn
model's metrics, and the latest alerts. `render(data)` is a pure function of the tables
(`lakehouse.ops.read.health`), so tests build it from small frames.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

STATUS_CODE = {"ok": 0, "late": 1, "missing": 2}
STATUS_COLOURS = [[0.0, "#2eb886"], [0.5, "#e8a317"], [1.0, "#d70000"]]
LAYERS = ("bronze", "silver", "gold", "quarantine", "ops")


def _figure_html(fig) -> str:
    fig.update_layout(margin={"l": 50, "r": 20, "t": 50, "b": 40}, template="plotly_white", height=380)
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _table_html(frame: pd.DataFrame | None, columns: list[str], empty: str, limit: int = 50) -> str:
    if frame is None or frame.empty:
        return f"<p class='empty'>{html.escape(empty)}</p>"
    shown = frame[[c for c in columns if c in frame.columns]].head(limit)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for c in shown.columns:
            v = row[c]
            text = "" if v is None or (isinstance(v, float) and v != v) else (f"{v:.3f}" if isinstance(v, float) else str(v))
            cls = f" class='{html.escape(text)}'" if c in ("status", "severity", "data_complete") else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def runs_frame(run_log: pd.DataFrame | None) -> pd.DataFrame:
    """One row per run: started_at, job, status, seconds, and rows written per layer (from the run log's counts)."""
    columns = ["run_id", "started_at", "job", "status", "seconds", *LAYERS]
    if run_log is None or run_log.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for _, r in run_log.iterrows():
        layers = dict.fromkeys(LAYERS, 0)
        for t in r["tables"] if r["tables"] is not None else []:
            layer = str(t["table"]).split(".")[0]
            if layer in layers and t["rows_out"] is not None:
                layers[layer] += int(t["rows_out"])
        ended = r["ended_at"]
        seconds = (ended - r["started_at"]).total_seconds() if ended is not None and not pd.isna(ended) else None
        rows.append({"run_id": r["run_id"], "started_at": r["started_at"], "job": r["job"], "status": r["status"],
                     "seconds": seconds, **layers})
    return pd.DataFrame(rows, columns=columns).sort_values("started_at")


def quarantine_by_entity(run_log: pd.DataFrame | None) -> pd.DataFrame:
    """Quarantine share per entity and layer in the latest bronze and silver runs (from the run log's counts)."""
    out = []
    if run_log is None or run_log.empty:
        return pd.DataFrame(columns=["layer", "entity", "rows", "quarantined", "share"])
    for job, layer in (("bronze_merge", "bronze"), ("silver_clean", "silver")):
        done = run_log[(run_log["job"] == job) & (run_log["status"] == "succeeded")]
        if done.empty:
            continue
        latest = done.sort_values("started_at").iloc[-1]
        for t in latest["tables"]:
            if not str(t["table"]).startswith(f"{layer}.") or not t["rows_in"]:
                continue
            details = t["details"] or {}
            held = sum(v for k, v in dict(details).items() if k.startswith("quarantined"))
            out.append({"layer": layer, "entity": str(t["table"]).split(".", 1)[1], "rows": int(t["rows_in"]),
                        "quarantined": int(held), "share": held / int(t["rows_in"])})
    return pd.DataFrame(out, columns=["layer", "entity", "rows", "quarantined", "share"])


def quarantine_by_store(quarantined: pd.DataFrame | None, manifest: pd.DataFrame | None) -> pd.DataFrame:
    """Silver quarantine per store and entity against the rows the store exported (merged exports in the manifest)."""
    columns = ["store_id", "entity", "rows", "quarantined", "share"]
    if quarantined is None or manifest is None or manifest.empty:
        return pd.DataFrame(columns=columns)
    merged = manifest[manifest["status"] == "merged"].groupby(["store_id", "entity"], as_index=False)["rows"].sum()
    frame = merged.merge(quarantined, on=["store_id", "entity"], how="left").fillna({"quarantined": 0})
    frame["share"] = frame["quarantined"] / frame["rows"].where(frame["rows"] > 0)
    return frame[columns]


def network_trends(scorecard, churn, billing) -> pd.DataFrame:
    """Per month: washes, revenue, churn rate, billing success rate over every location, and locations incomplete."""
    columns = ["month", "washes", "revenue", "churn_rate", "billing_success_rate", "incomplete_locations"]
    if scorecard is None or scorecard.empty:
        return pd.DataFrame(columns=columns)
    card = scorecard.groupby("month").agg(washes=("washes", "sum"), revenue=("revenue", lambda s: float(sum(s))))
    if "data_complete" in scorecard.columns:
        card["incomplete_locations"] = scorecard.assign(i=~scorecard["data_complete"].fillna(True).astype(bool)).groupby("month")["i"].sum()
    else:
        card["incomplete_locations"] = 0
    if churn is not None and not churn.empty:
        c = churn.groupby("month")[["churned_members", "members_start"]].sum()
        card["churn_rate"] = c["churned_members"] / c["members_start"].where(c["members_start"] > 0)
    if billing is not None and not billing.empty:
        b = billing.groupby("month")[["successes", "attempts"]].sum()
        card["billing_success_rate"] = b["successes"] / b["attempts"].where(b["attempts"] > 0)
    return card.reset_index().reindex(columns=columns).sort_values("month")


def render(data: Mapping[str, Any], generated_at: datetime | None = None) -> str:
    """The report's HTML: one page, plotly's JavaScript inlined, nothing fetched when it is opened."""
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs
    from plotly.subplots import make_subplots

    settings = data.get("_settings")
    env = getattr(settings, "env", "?")
    warehouse = getattr(settings, "warehouse", "?")
    generated_at = generated_at or datetime.now(UTC)
    sections: list[tuple[str, str]] = []

    runs = runs_frame(data.get("ops.run_log"))
    if runs.empty:
        sections.append(("Runs over time", "<p class='empty'>No runs yet (ops.run_log is empty).</p>"))
    else:
        duration = px.scatter(runs, x="started_at", y="seconds", color="job", symbol="status",
                              title="Run duration (s) by job", hover_data=["run_id"])
        duration.update_traces(mode="lines+markers")
        rows = runs.melt(id_vars=["started_at", "job", "run_id"], value_vars=list(LAYERS), var_name="layer", value_name="rows")
        rows = rows[rows["rows"] > 0]
        written = px.bar(rows, x="started_at", y="rows", color="layer", title="Rows written per run, by layer",
                         hover_data=["job", "run_id"])
        sections.append(("Runs over time", _figure_html(duration) + _figure_html(written)))

    by_entity = quarantine_by_entity(data.get("ops.run_log"))
    by_store = quarantine_by_store(data.get("_quarantine_by_store"), data.get("ops.bronze_manifest"))
    parts = []
    if not by_entity.empty:
        fig = px.bar(by_entity, x="entity", y="share", color="layer", barmode="group",
                     title="Quarantine share per entity (latest bronze and silver runs)", hover_data=["rows", "quarantined"])
        fig.update_yaxes(tickformat=".1%")
        parts.append(_figure_html(fig))
    if not by_store.empty:
        grid = by_store.pivot(index="store_id", columns="entity", values="share")
        fig = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns), y=list(grid.index), colorscale="OrRd",
                                   text=[[f"{v:.1%}" if v == v else "" for v in row] for row in grid.values],
                                   texttemplate="%{text}", hovertemplate="%{y} %{x}: %{text}<extra></extra>"))
        fig.update_layout(title="Silver quarantine share per store and entity (of the rows the store exported)")
        parts.append(_figure_html(fig))
    sections.append(("Quarantine", "".join(parts) or "<p class='empty'>No bronze or silver run yet.</p>"))

    fresh = data.get("ops.source_freshness")
    if fresh is None or fresh.empty:
        sections.append(("Freshness", "<p class='empty'>No ops.source_freshness yet (run bronze).</p>"))
    else:
        codes = fresh.assign(code=fresh["status"].map(STATUS_CODE))
        z = codes.pivot(index="store_id", columns="entity", values="code")
        label = codes.assign(label=codes.apply(
            lambda r: f"{r['status']}" + ("" if pd.isna(r["days_since_last_export"]) else f" ({r['days_since_last_export']:.0f} d)"),
            axis=1)).pivot(index="store_id", columns="entity", values="label")
        fig = go.Figure(go.Heatmap(z=z.values, x=list(z.columns), y=list(z.index), zmin=0, zmax=2,
                                   colorscale=STATUS_COLOURS, showscale=False, text=label.values,
                                   texttemplate="%{text}", hovertemplate="%{y} %{x}: %{text}<extra></extra>"))
        as_of = fresh["as_of"].iloc[0]
        fig.update_layout(title=f"Freshness per store and entity, as of {as_of} (days since the last export)")
        bad = fresh[fresh["status"] != "ok"]
        sections.append(("Freshness", _figure_html(fig) + _table_html(
            bad, ["store_id", "entity", "status", "last_export_id", "last_export_at", "days_since_last_export",
                  "expected_every"], "Every store exported every entity on time.")))

    trends = network_trends(data.get("gold.location_scorecard"), data.get("gold.churn_retention"),
                            data.get("gold.billing_health"))
    if trends.empty:
        sections.append(("Network KPIs", "<p class='empty'>No gold tables yet.</p>"))
    else:
        fig = make_subplots(rows=2, cols=2, subplot_titles=("Washes", "Revenue", "Churn rate", "Billing success rate"))
        for i, column in enumerate(("washes", "revenue", "churn_rate", "billing_success_rate")):
            fig.add_trace(go.Scatter(x=trends["month"], y=trends[column], mode="lines+markers", name=column,
                                     customdata=trends["incomplete_locations"],
                                     hovertemplate="%{x}: %{y}<br>incomplete locations: %{customdata}<extra></extra>"),
                          row=i // 2 + 1, col=i % 2 + 1)
        flagged = trends[trends["incomplete_locations"] > 0]
        for month in flagged["month"]:
            fig.add_vline(x=month, line_width=1, line_dash="dot", line_color="#d70000")
        fig.update_layout(title="Network KPIs per month (dotted: months where some location's data is incomplete)",
                          showlegend=False, height=560)
        sections.append(("Network KPIs", fig.to_html(full_html=False, include_plotlyjs=False)))

    bottom = data.get("gold.location_scorecard_bottom")
    month = "" if bottom is None or bottom.empty else f" ({pd.Timestamp(bottom['month'].iloc[0]):%Y-%m})"
    card = data.get("gold.location_scorecard")
    left_out = ""
    if card is not None and not card.empty and bottom is not None and not bottom.empty and "data_complete" in card.columns:
        same = card[(card["month"] == bottom["month"].iloc[0]) & (card["data_complete"] == False)]  # noqa: E712
        if not same.empty:
            left_out = (f"<p class='note'>Left out for incomplete data: "
                        f"{html.escape(', '.join(sorted(same['location_id'])))}</p>")
    sections.append((f"Bottom scorecard{month}", left_out + _table_html(
        bottom.sort_values("bottom_rank") if bottom is not None and not bottom.empty else bottom,
        ["bottom_rank", "location_id", "location_name", "region", "washes", "revenue", "members_end", "churn_rate",
         "billing_success_rate", "score"], "No bottom scorecard yet.")))

    metrics = data.get("gold.model_metrics")
    if metrics is None or metrics.empty:
        sections.append(("Churn model", "<p class='empty'>No model trained yet.</p>"))
    else:
        m = metrics.sort_values("trained_at")
        fig = px.line(m, x="trained_at", y="roc_auc", markers=True, hover_data=["model_version", "algorithm"],
                      title="Test ROC AUC of each trained churn model")
        fig.update_yaxes(range=[0.4, 1.0])
        sections.append(("Churn model", _figure_html(fig) + _table_html(
            m.sort_values("trained_at", ascending=False),
            ["model_version", "trained_at", "algorithm", "train_rows", "test_rows", "roc_auc"], "")))

    alerts = data.get("ops.alerts")
    sections.append(("Latest alerts", _table_html(
        alerts.sort_values("raised_at", ascending=False) if alerts is not None and not alerts.empty else alerts,
        ["raised_at", "run_id", "check", "severity", "entity", "store_id", "message"], "No alerts raised.")))

    nav = "".join(f"<a href='#s{i}'>{html.escape(t)}</a>" for i, (t, _) in enumerate(sections))
    body = "".join(f"<section id='s{i}'><h2>{html.escape(t)}</h2>{content}</section>"
                   for i, (t, content) in enumerate(sections))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>lakehouse health: {html.escape(env)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0 2rem 2rem; color: #222; }}
header {{ position: sticky; top: 0; background: #fff; padding: .6rem 0; border-bottom: 1px solid #ddd; z-index: 9; }}
nav a {{ margin-right: 1rem; font-size: .9rem; }}
h1 {{ font-size: 1.4rem; margin: .3rem 0; }} h2 {{ margin-top: 2rem; font-size: 1.15rem; }}
table {{ border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }}
th, td {{ border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; }} th {{ background: #f4f4f4; }}
td.missing, td.error, td.False {{ background: #fbdada; }} td.late, td.warn {{ background: #fcefcf; }}
td.ok, td.True {{ background: #e3f6ee; }} .empty, .note {{ color: #666; font-style: italic; }}
</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>lakehouse health: {html.escape(env)}</h1>
<div>warehouse {html.escape(str(warehouse))}; generated {generated_at:%Y-%m-%d %H:%M} UTC</div><nav>{nav}</nav></header>
{body}
</body></html>
"""


def write_report(options: Any, path: str) -> str:
    """Read the warehouse of `options` and write the report to `path` (folders created); returns the path."""
    from pathlib import Path

    from lakehouse.ops.read import health

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(health(options)), encoding="utf-8")
    return str(out)
