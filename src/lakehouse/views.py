"""Client-facing views over the gold tables: Spark SQL files, YAML column docs, sqlglot export, docs."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlglot
import yaml
from sqlglot import exp

from lakehouse.errors import UserError
from lakehouse.fs import normalize

VIEWS_PACKAGE = "lakehouse"
VIEWS_DIR = ("sql", "views")
CLIENT_DB = "client"
SOURCE_DB = "gold"
# BigQuery output without a dataset names gold tables `${project}.${dataset}.<table>`, which
# Terraform's templatefile fills in (infra/terraform/modules/bigquery)
DATASET_PLACEHOLDER = "${project}.${dataset}"
_PLACEHOLDER_IDENT = "lakehouse_dataset_placeholder"

if TYPE_CHECKING:  # the view definitions are read without Spark too (lakehouse.serve)
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T


@dataclass(frozen=True)
class ColumnDoc:
    """One column of a client view: name, client-facing type, meaning and formula."""

    name: str
    type: str
    meaning: str
    formula: str


@dataclass(frozen=True)
class View:
    """One client view: its Spark SQL (a SELECT over gold tables) and its documentation."""

    name: str
    sql: str
    title: str
    description: str
    columns: tuple[ColumnDoc, ...]
    example_order: str
    path: str

    @property
    def sources(self) -> list[str]:
        """The `gold.<table>` names the view reads."""
        return sorted({f"{t.db}.{t.name}" for t in parse(self.sql).find_all(exp.Table)})


def parse(sql: str, dialect: str = "spark") -> exp.Expression:
    """Parse one SELECT statement."""
    return sqlglot.parse_one(sql, read=dialect)


def _views_folder():
    folder = resources.files(VIEWS_PACKAGE)
    for part in VIEWS_DIR:
        folder = folder / part
    return folder


def _strip_comments(sql: str) -> str:
    """The SQL without its leading `--` comment lines (they would end up inside the view text)."""
    lines = sql.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip().rstrip(";")


def load_views() -> list[View]:
    """Every view of `lakehouse/sql/views`: `<view>.sql` plus its entry in `columns.yaml`, in the
    YAML's order. Raises ValueError naming the file when the SQL and the YAML disagree."""
    folder = _views_folder()
    docs_file = folder / "columns.yaml"
    docs = yaml.safe_load(docs_file.read_text(encoding="utf-8")) or {}
    entries = docs.get("views") or []
    sql_files = {p.name[: -len(".sql")]: p for p in folder.iterdir() if p.name.endswith(".sql")}
    documented = [e.get("name") for e in entries]
    if sorted(documented) != sorted(sql_files):
        raise ValueError(
            f"{docs_file}: views documented {sorted(documented)} differ from the SQL files {sorted(sql_files)}"
        )
    views = []
    for entry in entries:
        name = entry["name"]
        sql = _strip_comments(sql_files[name].read_text(encoding="utf-8"))
        columns = tuple(
            ColumnDoc(c["name"], c["type"], " ".join(str(c["meaning"]).split()), " ".join(str(c["formula"]).split()))
            for c in entry.get("columns") or []
        )
        selected = parse(sql).named_selects
        if selected != [c.name for c in columns]:
            raise ValueError(
                f"{docs_file}: view {name!r} documents columns {[c.name for c in columns]} but "
                f"{name}.sql selects {selected} (same names, same order)"
            )
        tables = {t.db for t in parse(sql).find_all(exp.Table)}
        if tables != {SOURCE_DB}:
            raise ValueError(f"{name}.sql must read only {SOURCE_DB}.<table> tables, it reads {sorted(tables)}")
        views.append(
            View(
                name=name,
                sql=sql,
                title=entry.get("title") or name,
                description=" ".join(str(entry.get("description") or "").split()),
                columns=columns,
                example_order=entry.get("example_order") or columns[0].name,
                path=str(sql_files[name]),
            )
        )
    return views


# ---------------------------------------------------------------- local registration


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def register_views(spark: SparkSession, tables) -> list[str]:
    """Register the gold tables as external catalog tables (`gold.<table>`) and every client view
    whose gold tables exist as `client.<view>`; returns the registered view names.

    The catalog tables point at `tables.path(name)`, the location of the table's current version,
    in the warehouse's table format; views of tables not built yet are skipped.
    """
    fmt = "delta" if tables.settings.table_format == "delta" else "parquet"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {SOURCE_DB}")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {CLIENT_DB}")
    registered_tables: set[str] = set()
    registered: list[str] = []
    for view in load_views():
        if not all(tables.exists(name) for name in view.sources):
            continue
        for name in view.sources:
            if name in registered_tables:
                continue
            spark.sql(f"DROP TABLE IF EXISTS {name}")  # external: dropping keeps the files
            spark.sql(f"CREATE TABLE {name} USING {fmt} LOCATION {_quote(normalize(tables.path(name)))}")
            registered_tables.add(name)
        spark.sql(f"CREATE OR REPLACE VIEW {CLIENT_DB}.{view.name} AS {view.sql}")
        registered.append(f"{CLIENT_DB}.{view.name}")
    return registered


# ---------------------------------------------------------------- export to other dialects


def _dialect(name: str) -> str:
    if not isinstance(name, str) or sqlglot.Dialect.get(name.lower()) is None:
        raise UserError(f"--dialect {name!r} is not a SQL dialect sqlglot knows (e.g. bigquery, duckdb, snowflake)")
    return name.lower()


def transpile_view(view: View, dialect: str, dataset: str | None = None) -> str:
    """The view's SELECT in another SQL dialect, its gold tables moved to `dataset` (`project.dataset`
    or `dataset`). Without a dataset, BigQuery output names them `${project}.${dataset}.<table>`
    for Terraform to fill in; other dialects keep `gold.<table>`."""
    dialect = _dialect(dialect)
    tree = parse(view.sql)
    target: list[str] | None = None
    if dataset:
        target = dataset.split(".")
        if len(target) > 2 or not all(target):
            raise UserError(f"--dataset {dataset!r} must be 'dataset' or 'project.dataset'")
    for table in tree.find_all(exp.Table):
        if target:
            table.set("db", exp.to_identifier(target[-1]))
            table.set("catalog", exp.to_identifier(target[0]) if len(target) == 2 else None)
        elif dialect == "bigquery":  # one quoted path: `${project}.${dataset}.<table>`
            table.set("this", exp.to_identifier(f"{_PLACEHOLDER_IDENT}.{table.name}", quoted=True))
            table.set("db", None)
            table.set("catalog", None)
    text = tree.sql(dialect=dialect, pretty=True)
    return text.replace(_PLACEHOLDER_IDENT, DATASET_PLACEHOLDER)


def export_views(dialect: str, out_dir: Path, dataset: str | None = None) -> list[Path]:
    """Write one `<view>.sql` per client view, transpiled from Spark SQL to `dialect`, into
    `out_dir`; returns the files written (see `transpile_view` for `dataset`)."""
    dialect = _dialect(dialect)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for view in load_views():
        path = out_dir / f"{view.name}.sql"
        path.write_text(transpile_view(view, dialect, dataset) + "\n", encoding="utf-8")
        written.append(path)
    return written


# ---------------------------------------------------------------- documentation

_CLIENT_TYPES = {
    "StringType": "STRING",
    "DateType": "DATE",
    "TimestampType": "TIMESTAMP",
    "LongType": "INT64",
    "IntegerType": "INT64",
    "DoubleType": "FLOAT64",
    "DecimalType": "NUMERIC",
    "BooleanType": "BOOL",
}


def client_type(dtype: T.DataType) -> str:
    """The client-facing (BigQuery) name of a Spark type."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.ArrayType):
        return f"ARRAY<{client_type(dtype.elementType)}>"
    for spark_type, name in _CLIENT_TYPES.items():
        if isinstance(dtype, getattr(T, spark_type)):
            return name
    return dtype.simpleString().upper()


def _cell(value: Any) -> str:
    if value is None:
        text = "*empty*"
    elif isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "NaN"
    elif isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, dt.date | decimal.Decimal):
        text = str(value)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_docs(views: list[View], examples: dict[str, dict[str, Any] | None], sample: str | None) -> str:
    """The Markdown of docs/gold_views.md: every view, every column with its type, meaning,
    formula and the value in the example row (`examples[view]`, None when there is no data)."""
    out = [
        "# Gold views: what clients see",
        "",
        "<!-- Generated by `lakehouse views docs` from src/lakehouse/sql/views/*.sql and columns.yaml."
        " Do not edit by hand. -->",
        "",
        "Each gold table is published as one view with client-friendly column names. Locally the views",
        "are `client.<view>` (`lakehouse sql \"SELECT * FROM client.location_scorecard_bottom\"`); in",
        "BigQuery they live in the client dataset under the same names (`lakehouse views export`).",
        "",
        "Conventions: months are their first day (UTC calendar months); money is NUMERIC to the cent;",
        "rates and shares are fractions from 0 to 1; *empty* means the value is null because it is",
        "undefined (for example a rate whose denominator is 0). In formulas, `ms` is the month's first",
        "day and `me` the next month's first day; [a, b) includes a and excludes b.",
        "",
        "Completeness: each store (a franchisee's system) sends its own exports, and a store that stops",
        "sending makes its locations' washes, revenue and churn look worse than they are. Every row of",
        "`client.churn_retention`, `client.billing_health` and `client.location_scorecard` carries",
        "`data_complete`: false when a store serving that location has no export covering the whole month",
        "(the stores serving a location are those whose exports held rows of it; an export covers the days",
        "up to and including the day it was cut). The current month is incomplete until its last exports",
        "arrive. `client.location_scorecard_bottom` ranks only locations whose data of that month is",
        "complete: an incomplete location is left out rather than blamed, and stays visible, flagged, in",
        "`client.location_scorecard`. Which stores are late is in `lakehouse freshness`",
        "(`ops.source_freshness`).",
        "",
        f"Example values come from {sample}." if sample else
        "No example values: the warehouse had no gold tables when this file was generated (run `make run`).",
        "",
        "| view | what it holds |",
        "|---|---|",
    ]
    for view in views:
        out.append(f"| [`client.{view.name}`](#client{view.name}) | {view.title} |")
    for view in views:
        example = examples.get(view.name)
        out += [
            "",
            f"## client.{view.name}",
            "",
            f"**{view.title}.** {view.description}",
            "",
            f"Source: `{', '.join(view.sources)}`; definition: `src/lakehouse/sql/views/{view.name}.sql`.",
            "",
            "| column | type | meaning | formula | example |",
            "|---|---|---|---|---|",
        ]
        for col in view.columns:
            value = _cell(example.get(col.name)) if example is not None else ""
            out.append(f"| `{col.name}` | {col.type} | {_cell(col.meaning)} | {_cell(col.formula)} | {value} |")
    return "\n".join(out) + "\n"


def view_examples(spark: SparkSession, registered: list[str]) -> dict[str, dict[str, Any] | None]:
    """One example row per registered view (its `example_order` first row), None when empty."""
    examples: dict[str, dict[str, Any] | None] = {}
    for view in load_views():
        if f"{CLIENT_DB}.{view.name}" not in registered:
            continue
        row = spark.sql(f"SELECT * FROM {CLIENT_DB}.{view.name} ORDER BY {view.example_order} LIMIT 1").first()
        examples[view.name] = row.asDict() if row else None
    return examples


def write_docs(out: Path, options) -> Path:
    """Regenerate the client view document at `out` from the view definitions, with an example
    row per view read from the warehouse of `options` (local profile)."""
    from lakehouse.config import load_config
    from lakehouse.session import build_session
    from lakehouse.tables import open_table_store

    config = load_config(options.env, "local", options.conf_dir, overrides={"warehouse": options.warehouse})
    spark = build_session(config.settings, config.profile, app_name="lakehouse-views-docs")
    tables = open_table_store(spark, config.settings)
    registered = register_views(spark, tables)
    examples = view_examples(spark, registered)
    sample = "the sample data that `make run` builds" if examples else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_docs(load_views(), examples, sample), encoding="utf-8")
    return out
