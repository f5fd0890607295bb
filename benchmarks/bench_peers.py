"""Peer comparison: bronze's task for one entity in DuckDB and in Polars, timed in the same run as ours.

    .venv/bin/python benchmarks/bench_peers.py --dir /tmp/lakehouse-bench --entity tickets

The task, as each engine does it: read every export of the entity with its own schema (Parquet
typed, CSV as text, JSON lines), match column names case-insensitively and trimmed, cast every
value to the canonical text of its logical type (docs/architecture.md: the accepted encodings of
DOMAIN.md §1), add lineage, drop rows without a merge key, keep the latest row per key (greatest
`dtUpdated`, then `_export_id`, then `_source_file`) and write Parquet. Files an engine cannot read
are skipped. Ours is `lakehouse run bronze --full-refresh` on a copy of conf/ holding only the
entity, which also quarantines, keeps `_rescued`, isolates bad files and accounts for every row.

Each engine runs as its own process (measured like every benchmark: wall time, CPU, peak RSS;
process start included), on all of the machine's cores. Then the outputs are compared with ours key
by key (DuckDB over the Parquet files): rows each side has that the other lacks, and values that
differ per column. The figures are each engine's wall time and our time divided by it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import measure

ROOT = Path(__file__).resolve().parents[1]
WHITE_SPACE = " \t\n\x0b\f\r"
TRUE_WORDS = ("true", "t", "1", "y", "yes")
FALSE_WORDS = ("false", "f", "0", "n", "no")
LINEAGE = ("_store_id", "_source_file", "_export_id")


def landing_files(landing: Path, entity: str) -> list[tuple[Path, str, str, str]]:
    """(path, format, store id, export id) of every export of `entity`, sorted by path."""
    out = []
    for path in sorted(landing.glob(f"*/{entity}/*")):
        fmt = path.suffix.lstrip(".").lower()
        if path.is_file() and fmt in ("csv", "parquet", "json") and path.stat().st_size:
            out.append((path, fmt, path.parent.parent.name, path.stem))
    return out


def normalize(name: str) -> str:
    return name.strip(WHITE_SPACE).lower()


# ---------------------------------------------------------------- DuckDB

DUCKDB_MACROS = r"""
CREATE MACRO clean(x) AS nullif(trim(x, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)), '');
CREATE MACRO canon_boolean(v) AS CASE WHEN lower(v) IN ('true','t','1','y','yes') THEN 'true'
    WHEN lower(v) IN ('false','f','0','n','no') THEN 'false' ELSE v END;
CREATE MACRO money_noise(v) AS regexp_replace(v, '[$,()\s]', '', 'g');
CREATE MACRO decimal_of(v) AS try_cast(CASE
    WHEN regexp_full_match(v, '-?\d{1,20}(\.\d{1,18})?') THEN v
    WHEN regexp_full_match(money_noise(v), '[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?')
         AND NOT (regexp_full_match(v, '\(.*\)') AND regexp_matches(money_noise(v), '^[+-]'))
    THEN (CASE WHEN regexp_full_match(v, '\(.*\)') THEN '-' ELSE '' END) || money_noise(v) END AS DECIMAL(38, 18));
CREATE MACRO plain(d) AS regexp_replace(regexp_replace(CAST(d AS VARCHAR), '(\.\d*?)0+$', '\1'), '\.$', '');
CREATE MACRO canon_decimal(v) AS coalesce(plain(decimal_of(v)), v);
CREATE MACRO canon_integer(v) AS coalesce(CASE WHEN regexp_full_match(plain(decimal_of(v)), '-?\d{1,18}')
    THEN plain(decimal_of(v)) END, v);
CREATE MACRO timestamp_of(v) AS coalesce(
    try_cast(CASE WHEN regexp_full_match(v, '\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?')
        THEN regexp_replace(v, '^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([Zz+-].*)?$', '\1:00\2') END AS TIMESTAMPTZ),
    try_strptime(CASE WHEN regexp_full_match(v, '\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?') THEN v END,
        ['%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M'])::TIMESTAMPTZ,
    CASE WHEN regexp_full_match(v, '-?\d{11,13}') THEN epoch_ms(v::BIGINT)::TIMESTAMPTZ END);
CREATE MACRO ts_text(t) AS strftime(t, '%Y-%m-%dT%H:%M:%S.%fZ');
CREATE MACRO canon_timestamp(v) AS coalesce(ts_text(timestamp_of(v)), v);
CREATE MACRO canon_date(v) AS coalesce(strftime(coalesce(
    try_strptime(CASE WHEN regexp_full_match(v, '\d{4}-\d{2}-\d{2}') THEN v END, '%Y-%m-%d'),
    try_strptime(CASE WHEN regexp_full_match(v, '\d{1,2}/\d{1,2}/\d{4}') THEN v END, '%m/%d/%Y'),
    CASE WHEN regexp_full_match(v, '\d{4}-\d{2}-\d{2}[T ].*') THEN timestamp_of(v) END)::DATE, '%Y-%m-%d'), v);
CREATE MACRO epoch_ts(x) AS CASE WHEN abs(x) >= 100000000000000000 THEN make_timestamp(x // 1000)
    WHEN abs(x) >= 100000000000000 THEN make_timestamp(x) ELSE epoch_ms(x) END;
"""


def _duck_text(col: str, duck_type: str, logical: str, values: tuple[str, ...]) -> str:
    """SQL: canonical text of column `col` of DuckDB type `duck_type` as `logical`."""
    c = f'"{col}"'
    t = duck_type.upper()
    if t == "VARCHAR":
        text = f"clean({c})"
    elif t == "JSON":  # values of several JSON types in one column
        text = f"clean(json_extract_string({c}, '$'))"
    elif t == "BOOLEAN":
        text = f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"
    elif t.startswith("TIMESTAMP"):
        ts = f"{c}::TIMESTAMP" if t in ("TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S") else c
        return f"strftime({ts}, '%Y-%m-%d')" if logical == "date" else f"ts_text({ts})"
    elif t == "DATE":
        return f"ts_text({c}::TIMESTAMP)" if logical == "timestamp" else f"strftime({c}, '%Y-%m-%d')"
    elif t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "HUGEINT"):
        if logical == "timestamp":
            return f"ts_text(epoch_ts({c}::BIGINT))"
        if logical == "boolean":
            return f"CASE WHEN {c} = 1 THEN 'true' WHEN {c} = 0 THEN 'false' ELSE CAST({c} AS VARCHAR) END"
        text = f"CAST({c} AS VARCHAR)"
    elif t in ("DOUBLE", "FLOAT"):
        integral = f"({c} = floor({c}) AND abs({c}) < 9e15)"
        if logical == "timestamp":
            return f"CASE WHEN {integral} THEN ts_text(epoch_ts({c}::BIGINT)) ELSE CAST({c} AS VARCHAR) END"
        text = f"CASE WHEN {integral} THEN CAST({c}::BIGINT AS VARCHAR) ELSE CAST({c}::DOUBLE AS VARCHAR) END"
    elif t.startswith("DECIMAL"):
        text = f"plain({c})"
    elif t == "BLOB":
        if logical == "boolean":
            return f"CASE WHEN {c} = '\\x01'::BLOB THEN 'true' WHEN {c} = '\\x00'::BLOB THEN 'false' ELSE '0x' || lower(hex({c})) END"
        text = f"clean(CAST({c} AS VARCHAR))"
    else:
        text = f"clean(CAST({c} AS VARCHAR))"
    if logical == "string":
        return text
    if logical == "enum":
        listed = ", ".join(f"'{v}'" for v in values)
        return f"CASE WHEN lower({text}) IN ({listed}) THEN lower({text}) ELSE {text} END"
    return f"canon_{logical}({text})"


def run_duckdb(args: argparse.Namespace) -> dict[str, int]:
    """The bronze task in DuckDB: one read per group of files with the same schema, one query for the rest."""
    import duckdb

    spec = _spec(args.entity)
    files = landing_files(args.dir / "landing", args.entity)
    con = duckdb.connect()
    con.execute(f"SET threads={os.cpu_count()}")
    con.execute("SET TimeZone='UTC'")
    con.execute(DUCKDB_MACROS)
    contract = {c.name.lower(): c for c in spec.columns}
    lineage = {str(p): (store, export) for p, _, store, export in files}
    con.execute("CREATE TABLE lineage (path VARCHAR, store_id VARCHAR, export_id VARCHAR)")
    con.executemany("INSERT INTO lineage VALUES (?, ?, ?)", [(p, s, e) for p, (s, e) in lineage.items()])
    groups: dict[tuple, list[str]] = defaultdict(list)
    bad = 0
    for path, fmt, _, _ in files:
        try:
            if fmt == "parquet":
                columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
                key = ("parquet", tuple((n, t) for n, t, *_ in columns))
            elif fmt == "csv":
                with open(path, "rb") as fh:
                    head = fh.readline().decode("utf-8").lstrip("\ufeff")
                key = ("csv", head)
            else:
                with open(path, "rb") as fh:
                    key = ("json", tuple(json.loads(fh.readline().decode("utf-8").lstrip("\ufeff"))))
        except Exception:  # noqa: BLE001 - a file the engine cannot read is skipped
            bad += 1
            continue
        groups[key].append(str(path))
    selects = []
    for key, paths in groups.items():
        listed = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
        if key[0] == "parquet":
            source = f"read_parquet({listed}, filename=true)"
        elif key[0] == "csv":
            source = (f"read_csv({listed}, header=true, all_varchar=true, quote='\"', escape='\"', filename=true, "
                      "ignore_errors=true, null_padding=false)")
        else:
            source = f"read_json({listed}, format='newline_delimited', filename=true, ignore_errors=true)"
        try:
            columns = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except Exception:  # noqa: BLE001
            bad += len(paths)
            continue
        by_contract: dict[str, list[str]] = defaultdict(list)
        for name, duck_type, *_ in columns:
            if name == "filename":
                continue
            col = contract.get(normalize(name))
            if col is not None:
                by_contract[col.name].append(_duck_text(name, duck_type, col.type, col.values))
        out = []
        for col in spec.columns:
            texts = by_contract.get(col.name, [])
            expr = "NULL::VARCHAR" if not texts else texts[0] if len(texts) == 1 else f"coalesce({', '.join(texts)})"
            out.append(f'{expr} AS "{col.name}"')
        selects.append(f"SELECT {', '.join(out)}, filename FROM {source}")
    keys = " AND ".join(f'"{k}" IS NOT NULL' for k in spec.merge_key)
    order = f"try_strptime(\"{spec.sequence_column}\", '%Y-%m-%dT%H:%M:%S.%fZ') DESC NULLS LAST, export_id DESC, path DESC"
    partition = ", ".join(f'"{k}"' for k in spec.merge_key)
    staged = " UNION ALL ".join(selects)
    out_path = args.dir / f"peer_{args.engine}" / "part.parquet"
    shutil.rmtree(out_path.parent, ignore_errors=True)
    out_path.parent.mkdir(parents=True)
    con.execute(f"CREATE TEMP TABLE staged AS SELECT s.*, l.store_id, l.export_id, l.path FROM ({staged}) s "
                "JOIN lineage l ON l.path = s.filename")
    rows_read = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    con.execute(f"""COPY (SELECT * EXCLUDE (filename, store_id, export_id, path, rn), store_id AS _store_id,
                 'file:' || path AS _source_file, export_id AS _export_id FROM (
                 SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY {order}) AS rn FROM staged WHERE {keys})
                 WHERE rn = 1) TO '{out_path}' (FORMAT parquet)""")
    written = con.execute(f"SELECT count(*) FROM read_parquet('{out_path}')").fetchone()[0]
    return {"files_read": sum(len(p) for p in groups.values()), "bad_files": bad, "rows_read": rows_read,
            "rows_written": written}


# ---------------------------------------------------------------- Polars


def _polars_text(expr, dtype, logical: str, values: tuple[str, ...]):
    """Polars: canonical text of `expr` (of Polars type `dtype`) as `logical`."""
    import polars as pl

    def clean(e):
        return e.str.strip_chars(WHITE_SPACE).replace("", None)

    def ts_text(e):
        return e.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")

    def epoch(e):
        e = e.cast(pl.Int64)
        return (pl.when(e.abs() >= 10**17).then((e // 1000).cast(pl.Datetime("us")))
                .when(e.abs() >= 10**14).then(e.cast(pl.Datetime("us")))
                .otherwise(e.cast(pl.Datetime("ms")).cast(pl.Datetime("us"))))

    if dtype == pl.String:
        text = clean(expr)
    elif dtype == pl.Boolean:
        text = pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    elif isinstance(dtype, pl.Datetime):
        e = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else expr
        return e.dt.strftime("%Y-%m-%d") if logical == "date" else ts_text(e.cast(pl.Datetime("us")))
    elif dtype == pl.Date:
        return ts_text(expr.cast(pl.Datetime("us"))) if logical == "timestamp" else expr.dt.strftime("%Y-%m-%d")
    elif dtype.is_integer():
        if logical == "timestamp":
            return ts_text(epoch(expr))
        if logical == "boolean":
            return pl.when(expr == 1).then(pl.lit("true")).when(expr == 0).then(pl.lit("false")).otherwise(expr.cast(pl.String))
        text = expr.cast(pl.String)
    elif dtype.is_float():
        integral = (expr == expr.floor()) & (expr.abs() < 9e15)
        if logical == "timestamp":
            return pl.when(integral).then(ts_text(epoch(expr))).otherwise(expr.cast(pl.String))
        text = pl.when(integral).then(expr.cast(pl.Int64).cast(pl.String)).otherwise(expr.cast(pl.String))
    elif isinstance(dtype, pl.Decimal):
        text = expr.cast(pl.String).str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "")
    elif dtype == pl.Binary:
        if logical == "boolean":
            return (pl.when(expr == b"\x01").then(pl.lit("true")).when(expr == b"\x00").then(pl.lit("false"))
                    .otherwise(pl.lit("0x") + expr.bin.encode("hex")))
        text = clean(expr.cast(pl.String))
    else:
        text = clean(expr.cast(pl.String))
    return _polars_from_text(text, logical, values)


def _polars_from_text(v, logical: str, values: tuple[str, ...]):
    import polars as pl

    if logical == "string":
        return v
    if logical == "boolean":
        lower = v.str.to_lowercase()
        return pl.when(lower.is_in(TRUE_WORDS)).then(pl.lit("true")).when(lower.is_in(FALSE_WORDS)).then(pl.lit("false")).otherwise(v)
    if logical == "enum":
        lower = v.str.to_lowercase()
        return pl.when(lower.is_in(list(values))).then(lower).otherwise(v)
    if logical in ("decimal", "integer"):
        stripped = v.str.replace_all(r"[$,()\s]", "")
        parenthesized = v.str.contains(r"^\(.*\)$")
        number = (stripped.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
                  & ~(parenthesized & stripped.str.contains(r"^[+-]")))
        candidate = (pl.when(v.str.contains(r"^-?\d{1,20}(\.\d{1,18})?$")).then(v)
                     .when(number).then(pl.when(parenthesized).then(pl.lit("-") + stripped).otherwise(stripped)))
        plain = (candidate.cast(pl.Decimal(38, 18), strict=False).cast(pl.String)
                 .str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "").str.replace(r"^-0$", "0"))
        if logical == "integer":
            plain = pl.when(plain.str.contains(r"^-?\d{1,18}$")).then(plain)
        return pl.coalesce(plain, v)
    if logical == "timestamp":
        return pl.coalesce(_polars_timestamp(v).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"), v)
    if logical == "date":
        iso_ts = pl.when(v.str.contains(r"^\d{4}-\d{2}-\d{2}[T ]")).then(_polars_timestamp(v)).dt.date()
        day = pl.coalesce(v.str.to_date("%Y-%m-%d", strict=False), v.str.to_date("%m/%d/%Y", strict=False), iso_ts)
        return pl.coalesce(day.dt.strftime("%Y-%m-%d"), v)
    raise ValueError(logical)


def _polars_timestamp(v):
    import polars as pl

    minutes = v.str.replace(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([Zz+-].*)?$", "${1}:00${2}")
    aware = [minutes.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC")
             for f in ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")]
    naive = [minutes.str.to_datetime(f, strict=False, time_unit="us")
             for f in ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")]
    millis = pl.when(v.str.contains(r"^-?\d{11,13}$")).then(v.cast(pl.Int64, strict=False).cast(pl.Datetime("ms")))
    return pl.coalesce(*[a.dt.replace_time_zone(None) for a in aware], *naive, millis.cast(pl.Datetime("us")))


def run_polars(args: argparse.Namespace) -> dict[str, int]:
    """The bronze task in Polars: every file read eagerly with its own schema, cast, concatenated, deduplicated."""
    import polars as pl

    spec = _spec(args.entity)
    contract = {c.name.lower(): c for c in spec.columns}
    frames, bad = [], 0
    for path, fmt, store, export in landing_files(args.dir / "landing", args.entity):
        try:
            if fmt == "parquet":
                df = pl.read_parquet(path)
            elif fmt == "csv":
                df = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True, encoding="utf8")
            else:
                df = pl.read_ndjson(path, infer_schema_length=None)
        except Exception:  # noqa: BLE001 - a file the engine cannot read is skipped
            bad += 1
            continue
        columns: dict[str, list] = defaultdict(list)
        for name, dtype in df.schema.items():
            col = contract.get(normalize(name))
            if col is not None:
                columns[col.name].append(_polars_text(pl.col(name), dtype, col.type, col.values))
        exprs = [(pl.coalesce(*columns[c.name]) if c.name in columns else pl.lit(None, pl.String)).alias(c.name)
                 for c in spec.columns]
        frames.append(df.lazy().select(*exprs, pl.lit(store).alias("_store_id"), pl.lit(f"file:{path}").alias("_source_file"),
                                       pl.lit(export).alias("_export_id")))
    staged = pl.concat(frames, how="vertical").collect()
    keys = list(spec.merge_key)
    sequence = pl.col(spec.sequence_column).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_unit="us")
    winners = (staged.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in keys]))
               .with_columns(sequence.alias("__seq"))
               .sort(["__seq", "_export_id", "_source_file"], descending=True, nulls_last=True)
               .unique(subset=keys, keep="first", maintain_order=False)
               .drop("__seq"))
    out = args.dir / f"peer_{args.engine}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    winners.write_parquet(out / "part.parquet")
    return {"files_read": len(frames), "bad_files": bad, "rows_read": staged.height, "rows_written": winners.height}


# ---------------------------------------------------------------- the comparison

ENGINES = {"duckdb": run_duckdb, "polars": run_polars}


def _spec(entity: str):
    from lakehouse.config import load_tables

    return load_tables(ROOT / "conf")[entity]


def compare(ours: Path, peer: Path, entity: str) -> dict[str, int]:
    """Rows only one side has, and differing values per contract column (matched on the merge key)."""
    import duckdb

    spec = _spec(entity)
    con = duckdb.connect()
    on = " AND ".join(f'o."{k}" = p."{k}"' for k in spec.merge_key)
    a = f"read_parquet('{ours}/**/*.parquet')"
    b = f"read_parquet('{peer}/*.parquet')"
    out = {
        "only_ours": con.execute(f"SELECT count(*) FROM {a} o ANTI JOIN {b} p ON {on}").fetchone()[0],
        "only_peer": con.execute(f"SELECT count(*) FROM {b} p ANTI JOIN {a} o ON {on}").fetchone()[0],
    }
    differs = ", ".join(f'sum(CASE WHEN o."{c.name}" IS DISTINCT FROM p."{c.name}" THEN 1 ELSE 0 END) AS "{c.name}"'
                        for c in spec.columns)
    row = con.execute(f"SELECT {differs} FROM {a} o JOIN {b} p ON {on}").fetchone()
    out.update({f"differ_{c.name}": int(n or 0) for c, n in zip(spec.columns, row, strict=True)})
    return out



def main(argv: list[str] | None = None) -> int:
    p = measure.parser(__doc__.splitlines()[0])
    p.add_argument("--entity", default="tickets")
    p.add_argument("--engine", choices=sorted(ENGINES), help=argparse.SUPPRESS)  # run one peer in this process
    p.add_argument("--max-ratio", type=float, default=4.0, help="goal: our time at most this many times DuckDB's")
    args = p.parse_args(argv)
    args.dir = args.dir.resolve()
    if args.engine:
        started = time.monotonic()
        summary = ENGINES[args.engine](args)
        print(f"{args.engine} done in {time.monotonic() - started:.1f}s")
        print("  " + ", ".join(f"{k}={v}" for k, v in summary.items()), flush=True)
        return 0
    measure.ensure_landing(args)
    conf = measure.entity_conf(args.dir, args.entity)
    warehouse = args.dir / f"warehouse_peers_{args.entity}"
    shutil.rmtree(warehouse, ignore_errors=True)
    ours = measure.run_step("bronze", args.dir, args.profile, "--full-refresh", "--warehouse", str(warehouse),
                            "--conf-dir", str(conf), name=f"peers_ours_{args.entity}")
    results = {"ours (Spark + Arrow)": ours}
    for engine in ENGINES:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--engine", engine, "--dir", str(args.dir),
               "--entity", args.entity]
        results[engine] = measure.run_measured(engine, cmd, args.dir / f"peers_{engine}_{args.entity}.log")
    print(f"{args.entity}, full refresh of {len(landing_files(args.dir / 'landing', args.entity)):,} files:")
    for label, res in results.items():
        ratio = ours.seconds / res.seconds if res.seconds else 0.0
        rows = int(res.summary.get("rows_read", 0))
        print(f"  {label:<22} {res.line(rows)}; ours / this = {ratio:.2f}x")
    for engine in ENGINES:
        if results[engine].exit == 0 and ours.exit == 0:
            diff = compare(warehouse / "bronze" / args.entity, args.dir / f"peer_{engine}", args.entity)
            print(f"  {engine} vs ours: " + json.dumps(diff))
    duck = results["duckdb"]
    ratio = ours.seconds / duck.seconds if duck.seconds else float("inf")
    ok = ours.exit == 0 and duck.exit == 0 and ratio <= args.max_ratio
    return measure.verdict(ok, f"ours <= {args.max_ratio}x DuckDB's time on {args.entity} (now {ratio:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
