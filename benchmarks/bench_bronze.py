"""Benchmark of the bronze merge: rows/s, CPU time and peak RSS of a full refresh and an incremental run.

    .venv/bin/python benchmarks/bench_bronze.py --dir /tmp/lakehouse-bench --rows 10000000 --stores 40

Generates `--rows` tickets of landing data under `<dir>/landing` with `lakehouse generate` unless it
is there already (not timed), holds back the latest export of every store and entity, and runs,
each as its own `lakehouse run bronze` process (session start included):

1. a full refresh of everything else (`--full-refresh`), into a fresh `<dir>/warehouse`;
2. an incremental run after the held-back exports land (one new export per store and entity).

Rows/s counts the rows read from all entities (`rows_read` of the run's summary). Targets: full
refresh >= `--min-rows-per-s`, peak RSS < `--max-rss-gib`, incremental < `--max-incremental-share`
of the full refresh's wall time; the exit code is 1 when one is missed. The warehouse is left in
place for the silver benchmark.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import measure


def latest_exports(landing: Path) -> list[Path]:
    """The files of the latest export id of every store and entity."""
    newest: dict[Path, str] = {}
    for path in landing.glob("*/*/*"):
        folder, export_id = path.parent, path.name.rsplit(".", 1)[0]
        if export_id > newest.get(folder, ""):
            newest[folder] = export_id
    return sorted(p for p in landing.glob("*/*/*") if p.name.rsplit(".", 1)[0] == newest[p.parent])


def move(files: list[Path], src_root: Path, dst_root: Path) -> None:
    """Move files from one root to the same relative place under another."""
    for path in files:
        target = dst_root / path.relative_to(src_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)


def main(argv: list[str] | None = None) -> int:
    """Prepare the landing data, run a full refresh and an incremental bronze merge, print the figures."""
    p = measure.parser(__doc__.splitlines()[0])
    p.add_argument("--min-rows-per-s", type=float, default=100_000)
    p.add_argument("--max-incremental-share", type=float, default=0.25)
    args = p.parse_args(argv)
    args.dir = work = args.dir.resolve()
    landing, warehouse, held = work / "landing", work / "warehouse", work / "held_back"
    work.mkdir(parents=True, exist_ok=True)
    if held.exists():  # an interrupted earlier run: put its held-back exports back first
        move([f for f in held.rglob("*") if f.is_file()], held, landing)
        shutil.rmtree(held)
    measure.ensure_landing(args)
    if warehouse.exists():
        shutil.rmtree(warehouse)

    newest = latest_exports(landing)
    move(newest, landing, held)
    try:
        full = measure.run_step("bronze", work, args.profile, "--full-refresh", name="bronze_full")
    finally:
        move([f for f in held.rglob("*") if f.is_file()], held, landing)
        shutil.rmtree(held, ignore_errors=True)
    incremental = measure.run_step("bronze", work, args.profile, name="bronze_incremental")

    full_rows = int(full.summary.get("rows_read", 0))
    inc_rows = int(incremental.summary.get("rows_read", 0))
    share = incremental.seconds / full.seconds if full.seconds else 0.0
    peak = max(full.peak_rss_gib, incremental.peak_rss_gib)
    print(full.line(full_rows))
    print(incremental.line(inc_rows) + f"; {len(newest)} new files, {share:.0%} of the full refresh")
    for res in (full, incremental):
        if res.exit != 0:
            print(f"see {res.log}")
    ok = (full.exit == 0 and incremental.exit == 0 and full.rows_per_s(full_rows) >= args.min_rows_per_s
          and peak < args.max_rss_gib and share < args.max_incremental_share)
    return measure.verdict(ok, f"full refresh >= {args.min_rows_per_s:,.0f} rows/s, peak RSS < {args.max_rss_gib} "
                               f"GiB, incremental < {args.max_incremental_share:.0%} of full")


if __name__ == "__main__":
    sys.exit(main())
