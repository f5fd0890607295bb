"""Benchmark of the bronze merge: rows/s, CPU time and peak RSS of a full refresh and an incremental run.

    .venv/bin/python benchmarks/bench_bronze.py --dir /tmp/lakehouse-bench --rows 10000000 --stores 40

Generates `--rows` tickets of landing data under `<dir>/landing` with `lakehouse generate` unless it
is there already (not timed), holds back the latest export of every store and entity, and runs,
each as its own `lakehouse run bronze` process (session start included), twice over:

- **tickets**, the target of the issue ("generates 10M tickets across 40 stores and merges them"):
  the bronze merge of the tickets entity alone (a copy of conf/ holding only its table spec, over
  `<dir>/landing_tickets`, hard links to the tickets exports alone), into `<dir>/warehouse_tickets`;
- **every entity**, as `lakehouse run bronze` merges the same landing data, into `<dir>/warehouse`
  (left in place for the silver benchmark); reported, not held to the targets.

Each is a full refresh of everything but the held-back exports (`--full-refresh`) and then an
incremental run after they land (one new export per store). Rows/s counts the rows read
(`rows_read` of the run's summary). Targets: tickets' full refresh >= `--min-rows-per-s`, every
entity's full refresh >= `--min-all-rows-per-s`, peak RSS < `--max-rss-gib`, tickets' incremental <
`--max-incremental-share` of its full refresh's wall time; the exit code is 1 when one is missed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import measure

from lakehouse.generate.batches import hold_back_latest, put_back

ROOT = Path(__file__).resolve().parents[1]





def rows_read(res: measure.Measured) -> int:
    """Rows read by a measured bronze run (its summary's `rows_read`)."""
    return int(res.summary.get("rows_read", 0))



def main(argv: list[str] | None = None) -> int:
    """Prepare the landing data, run a full refresh and an incremental bronze merge, print the figures."""
    p = measure.parser(__doc__.splitlines()[0])
    p.add_argument("--min-rows-per-s", type=float, default=150_000, help="tickets' full refresh")
    p.add_argument("--min-all-rows-per-s", type=float, default=120_000, help="every entity's full refresh")
    p.add_argument("--max-incremental-share", type=float, default=0.25)
    args = p.parse_args(argv)
    args.dir = work = args.dir.resolve()
    landing, warehouse, held = work / "landing", work / "warehouse", work / "held_back"
    work.mkdir(parents=True, exist_ok=True)
    if held.exists():  # an interrupted earlier run: put its held-back exports back first
        put_back(held, landing)
    measure.ensure_landing(args)
    conf = measure.entity_conf(work, "tickets")
    tickets_landing, tickets_held = measure.entity_landing(work, "tickets"), work / "held_back_tickets"
    shutil.rmtree(tickets_held, ignore_errors=True)
    tickets = ("--landing", str(tickets_landing), "--warehouse", str(work / "warehouse_tickets"), "--conf-dir", str(conf))
    for folder in (warehouse, work / "warehouse_tickets"):
        shutil.rmtree(folder, ignore_errors=True)

    newest = hold_back_latest(landing, held)
    hold_back_latest(tickets_landing, tickets_held)
    try:
        full = measure.run_step("bronze", work, args.profile, "--full-refresh", *tickets, name="bronze_tickets_full")
        full_all = measure.run_step("bronze", work, args.profile, "--full-refresh", name="bronze_full")
    finally:
        put_back(held, landing)
        put_back(tickets_held, tickets_landing)
    incremental = measure.run_step("bronze", work, args.profile, *tickets, name="bronze_tickets_incremental")
    incremental_all = measure.run_step("bronze", work, args.profile, name="bronze_incremental")

    runs = (("tickets", full, incremental, len([p for p in newest if p.parent.name == "tickets"])),
            ("every entity", full_all, incremental_all, len(newest)))
    for label, f, inc, n in runs:
        share = inc.seconds / f.seconds if f.seconds else 0.0
        print(f"{label}:")
        print("  " + f.line(rows_read(f)))
        print("  " + inc.line(rows_read(inc)) + f"; {n} new files, {share:.0%} of the full refresh")
        for res in (f, inc):
            if res.exit != 0:
                print(f"  see {res.log}")
    measured = (full, incremental, full_all, incremental_all)
    ok = (all(r.exit == 0 for r in measured)
          and full.rows_per_s(rows_read(full)) >= args.min_rows_per_s
          and full_all.rows_per_s(rows_read(full_all)) >= args.min_all_rows_per_s
          and max(r.peak_rss_gib for r in measured) < args.max_rss_gib
          and incremental.seconds < args.max_incremental_share * full.seconds)
    return measure.verdict(ok, f"tickets: full refresh >= {args.min_rows_per_s:,.0f} rows/s, incremental < "
                               f"{args.max_incremental_share:.0%} of full; every entity: full refresh >= "
                               f"{args.min_all_rows_per_s:,.0f} rows/s; peak RSS < {args.max_rss_gib} GiB")


if __name__ == "__main__":
    sys.exit(main())
