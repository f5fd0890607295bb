"""Benchmark of silver: rows per second and peak memory (RSS of the whole process tree).

    .venv/bin/python benchmarks/bench_silver.py --rows 10000000 --workdir /tmp/bench_silver
    .venv/bin/python benchmarks/bench_silver.py --warehouse /tmp/bench_gold/warehouse   # bronze exists
    .venv/bin/python benchmarks/bench_silver.py --rows 10000000 --from-landing          # generate + bronze

The measured part is one child process running `run_silver` with the `local` profile (as `lakehouse
run silver` does) while this process samples the RSS of the child and its JVM every 0.2 s. The
figure is bronze rows in (all eight entities) per second of the silver step.

Input, when the warehouse has no bronze tables yet (not measured):
- default: bronze tables synthesized directly with Spark, `--rows` tickets and the other entities
  at the sample generator's proportions, every value in bronze's canonical text, and about 1.5% of
  the rows dirty (a required value missing, text that does not parse, an unknown enum value or
  location, a negative amount, an invalid email or phone), a few percent in non-canonical accepted
  encodings; fast, and what silver sees after a bronze run;
- `--from-landing`: the sample generator writes `--rows` tickets of landing exports and `lakehouse
  run bronze` merges them (slow: the bronze benchmark's work).
The targets (`--min-rows-per-s`, `--max-rss-gib`) are checked at the end; the exit code is 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

GIB = 1024**3
# rows per ticket of each entity in the sample generator (lakehouse.generate, 100k tickets, 6 stores)
PROPORTIONS = {
    "tickets": 1.0,
    "payments": 0.70,
    "billing_attempts": 0.36,
    "customers": 0.12,
    "memberships": 0.054,
    "prepaid_books": 0.015,
    "house_accounts": 0.010,
}
LOCATIONS_PER_STORE = 5


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_measured(cmd: list[str], log: Path) -> dict:
    """Run `cmd`, sampling its process tree's RSS; returns wall seconds, peak RSS and exit code."""
    started = time.monotonic()
    with log.open("w") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        peak = 0
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, tree_rss(proc))
                except psutil.NoSuchProcess:
                    return
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        done.set()
        sampler.join()
    return {"seconds": round(time.monotonic() - started, 1), "peak_rss_gib": round(peak / GIB, 2), "exit": code}


def lakehouse_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "lakehouse"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from lakehouse.cli import main; main()"]


# ---------------------------------------------------------------- synthetic bronze


def synthesize_bronze(args) -> dict[str, int]:
    """Write bronze.<entity> tables of canonical text (with some dirt) straight into the warehouse."""
    from pyspark.sql import functions as F

    from lakehouse import encodings as enc
    from lakehouse.runtime import JobOptions, job_run
    from lakehouse.silver import bronze_schema

    options = JobOptions(env="local", profile=args.profile, warehouse=str(args.warehouse))
    counts: dict[str, int] = {}
    with job_run("bench_silver_prepare", options) as run:
        n_locations = args.stores * LOCATIONS_PER_STORE
        sizes = {"locations": n_locations, **{e: max(1, int(args.rows * p)) for e, p in PROPORTIONS.items()}}
        for entity, n in sizes.items():
            spec = run.config.tables[entity]
            df = run.spark.range(n, numPartitions=max(1, n // 1_000_000))

            def h(k: int):
                return F.abs(F.xxhash64(F.col("id"), F.lit(k)))

            dirt = h(999) % 1000  # < 15: one dirty value in the row (about 1.5%)
            loc = F.concat(
                F.lit("store_"), F.lpad((h(1) % args.stores).cast("string"), 2, "0"), F.lit("_l"),
                (h(2) % LOCATIONS_PER_STORE).cast("string"),
            )
            if entity == "locations":
                loc = F.concat(
                    F.lit("store_"), F.lpad((F.col("id") % args.stores).cast("string"), 2, "0"), F.lit("_l"),
                    (F.col("id") / args.stores).cast("int").cast("string"),
                )
            ts = F.date_format(F.timestamp_seconds(F.lit(1_700_000_000) + h(3) % 63_072_000), enc.TIMESTAMP_TEXT_FORMAT)
            cols = {}
            for i, c in enumerate(spec.columns):
                k = 10 + i
                if c.name == "sLocationId":
                    value = F.when(dirt == 3, F.lit("store_99_l9")).otherwise(loc)
                elif c.name in spec.merge_key or c.name == "sAccountNumber":
                    value = F.concat(F.lit(c.name[1:3].lower()), F.col("id").cast("string"))
                elif c.normalize == "email":
                    value = F.when(h(k) % 100 < 8, F.lit(None)).when(dirt == 4, F.lit("bob@")).otherwise(
                        F.concat(F.lit("User"), (h(k) % 100000).cast("string"), F.lit("@Example.com")))
                elif c.normalize == "phone":
                    value = F.when(dirt == 5, F.lit("555-WASH")).otherwise(
                        F.format_string("(%03d) 555-%04d", 201 + h(k) % 700, h(k + 1) % 10000))
                elif c.type == "string":
                    value = F.concat(F.lit(c.name[1:4].lower()), (h(k) % 5000).cast("string"))
                elif c.type == "timestamp":
                    value = ts
                elif c.type == "date":
                    value = F.date_format(F.to_date(ts), enc.DATE_TEXT_FORMAT)
                    if c.name in ("dClosed", "dCancelled"):
                        value = F.when(h(k) % 10 == 0, F.date_format(F.date_add(F.to_date(ts), 90), "yyyy-MM-dd"))
                elif c.type == "decimal":
                    cents = h(k) % 5000 + 100
                    value = F.when(dirt == 6, (-cents / 100).cast("decimal(12,2)").cast("string")).otherwise(
                        (cents / 100).cast("decimal(12,2)").cast("string"))
                    value = F.regexp_replace(F.regexp_replace(value, r"(\.\d*?)0+$", "$1"), r"\.$", "")
                elif c.type == "integer":
                    value = (h(k) % 10 + (20 if c.name == "nWashesTotal" else 0)).cast("string")
                elif c.type == "boolean":
                    value = F.when(h(k) % 2 == 0, F.lit("true")).otherwise(F.lit("false"))
                elif c.type == "enum":
                    value = F.when(dirt == 7, F.lit("bitcoin")).otherwise(
                        F.element_at(F.array(*[F.lit(v) for v in c.values]), (h(k) % len(c.values) + 1).cast("int")))
                else:
                    raise ValueError(c.type)
                if c.required and c.name not in spec.merge_key and c.name != "sLocationId":
                    # dirt 8..9: missing; 10..11: text that does not parse; 12..14: another accepted encoding
                    bad = {"timestamp": "yesterday", "date": "soon", "decimal": "12,50 EUR", "integer": "ten",
                           "boolean": "maybe"}.get(c.type)
                    other = {"timestamp": F.date_format(F.to_timestamp(value), "MM/dd/yyyy HH:mm:ss"),
                             "decimal": F.concat(F.lit("$"), value), "boolean": F.upper(value),
                             "enum": F.initcap(value)}.get(c.type)
                    slot = h(500 + i) % 4 == 0
                    value = F.when(slot & (dirt >= 8) & (dirt < 10), F.lit(None).cast("string")).otherwise(value)
                    if bad:
                        value = F.when(slot & (dirt >= 10) & (dirt < 12), F.lit(bad)).otherwise(value)
                    if other is not None:
                        value = F.when(slot & (dirt >= 12) & (dirt < 15), other).otherwise(value)
                cols[c.name] = value.cast("string")
            store = F.concat(F.lit("store_"), F.lpad((h(1) % args.stores).cast("string"), 2, "0"))
            lineage = {
                "_store_id": store,
                "_source_file": F.concat(F.lit(f"file:{args.workdir}/landing/"), store, F.lit(f"/{entity}/20250101T000000_0001.parquet")),
                "_export_id": F.lit("20250101T000000_0001"),
                "_run_id": F.lit("bench-bronze"),
                "_ingested_at": F.lit("2025-01-02 00:00:00").cast("timestamp"),
                "_rescued": F.create_map().cast("map<string,string>"),
            }
            out = df.select(*[cols[c.name].alias(c.name) for c in spec.columns], *[v.alias(k) for k, v in lineage.items()])
            out = out.select(*[F.col(f.name).cast(f.dataType) for f in bronze_schema(spec).fields])
            t = time.monotonic()
            run.tables.overwrite(f"bronze.{entity}", out)
            counts[entity] = n
            print(f"  bronze.{entity}: {n:,} rows in {time.monotonic() - t:.0f}s", flush=True)
    return counts


def prepare_from_landing(args) -> None:
    """Generate landing data and run bronze into the warehouse (not measured)."""
    from lakehouse.generate import generate

    landing = args.workdir / "landing"
    if not landing.exists() or not any(landing.iterdir()):
        t = time.monotonic()
        stats = generate(out=landing, stores=args.stores, tickets=args.rows, seed=args.seed)
        print(f"generate: {time.monotonic() - t:.0f}s  {stats.summary()}", flush=True)
    cmd = [*lakehouse_cmd(), "run", "bronze", "--env", "local", "--profile", args.profile,
           "--landing", str(landing), "--warehouse", str(args.warehouse)]
    res = run_measured(cmd, args.workdir / "bronze.log")
    print(f"bronze: {res}", flush=True)
    if res["exit"] != 0:
        raise SystemExit(f"bronze failed: see {args.workdir / 'bronze.log'}")


# ---------------------------------------------------------------- the measured child


def child(args) -> int:
    """Run silver in one session (the measured part); print one JSON line with its figures."""
    from lakehouse.runtime import JobOptions, job_run
    from lakehouse.silver import run_silver

    options = JobOptions(env="local", profile=args.profile, warehouse=str(args.warehouse),
                         landing=str(args.workdir / "landing"))
    with job_run("silver_clean", options) as run:
        run.spark.range(1).count()  # session start-up is not silver's work
        t = time.monotonic()
        summary = run_silver(run)
        seconds = time.monotonic() - t
    per_table = {c.table: c.rows_in for c in run.counts}
    print(json.dumps({"step": "silver", "seconds": round(seconds, 1), "summary": summary, "rows_in": per_table}),
          flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="tickets in bronze when preparing")
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_silver"))
    parser.add_argument("--warehouse", type=Path, default=None, help="default: <workdir>/warehouse")
    parser.add_argument("--from-landing", action="store_true", help="generate landing data and run bronze")
    parser.add_argument("--profile", default="local")
    parser.add_argument("--min-rows-per-s", type=float, default=150_000.0, help="target bronze rows/s")
    parser.add_argument("--max-rss-gib", type=float, default=8.0, help="target peak RSS")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.warehouse = (args.warehouse or args.workdir / "warehouse").resolve()
    if args.child:
        return child(args)

    args.workdir.mkdir(parents=True, exist_ok=True)
    if not (args.warehouse / "bronze" / "tickets").exists():
        t = time.monotonic()
        if args.from_landing:
            prepare_from_landing(args)
        else:
            print(f"synthesizing bronze: {args.rows:,} tickets", flush=True)
            synthesize_bronze(args)
        print(f"prepared in {time.monotonic() - t:.0f}s", flush=True)
    log = args.workdir / "silver.log"
    cmd = [sys.executable, __file__, "--child", "--profile", args.profile, "--workdir", str(args.workdir),
           "--warehouse", str(args.warehouse)]
    res = run_measured(cmd, log)
    steps = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"step"')]
    if res["exit"] != 0 or not steps:
        print(f"silver failed (exit {res['exit']}): see {log}")
        return 1
    step = steps[-1]
    rows = step["summary"]["bronze_rows"]
    rate = rows / step["seconds"] if step["seconds"] else float("inf")
    print(f"silver: {json.dumps(step['summary'])}")
    print("bronze rows in: " + ", ".join(f"{t.split('.')[1]} {n:,}" for t, n in step["rows_in"].items()))
    ok = rate >= args.min_rows_per_s and res["peak_rss_gib"] <= args.max_rss_gib
    print(
        f"silver ({args.profile} profile, warehouse {args.warehouse}): {rows:,} bronze rows in {step['seconds']}s "
        f"= {rate:,.0f} rows/s (target {args.min_rows_per_s:,.0f}), {res['seconds']}s wall with start-up, "
        f"peak RSS {res['peak_rss_gib']} GiB (target {args.max_rss_gib} GiB) -> {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
