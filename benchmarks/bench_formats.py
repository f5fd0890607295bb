"""Delta next to Parquet: bronze (full refresh and incremental), silver and gold on the same landing, one table.

    .venv/bin/python benchmarks/bench_formats.py --dir /tmp/lakehouse-bench

Generates `--rows` tickets of landing data when `<dir>/landing` is empty, holds back the latest export
of every store and entity, then for each format in its own warehouse (`<dir>/warehouse-<format>`):
`lakehouse run bronze --full-refresh`, the held-back exports put back, `lakehouse run bronze`
(incremental), `lakehouse run silver`, `lakehouse run gold`, each a measured process (session start
included). Prints one row per step and format (wall, rows/s, CPU, peak RSS) and Delta's time as a
share of Parquet's. No target: the figures go to docs/tables.md.
"""

from __future__ import annotations

import shutil
import sys

import measure

from lakehouse.generate.batches import hold_back_latest, put_back

FORMATS = ("parquet", "delta")




def main(argv: list[str] | None = None) -> int:
    """Run the four measured steps on each format; print the side-by-side table."""
    p = measure.parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    args.dir = args.dir.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    measure.ensure_landing(args)
    landing, held = args.dir / "landing", args.dir / "held-formats"
    put_back(held, landing)  # a run stopped midway left them out

    figures: dict[tuple[str, str], tuple[measure.Measured, int]] = {}
    ok = True
    for fmt in FORMATS:
        warehouse = args.dir / f"warehouse-{fmt}"
        shutil.rmtree(warehouse, ignore_errors=True)
        hold_back_latest(landing, held)
        extra = ("--table-format", fmt, "--warehouse", str(warehouse))  # the last --warehouse wins
        res = measure.run_step("bronze", args.dir, args.profile, "--full-refresh", *extra, name=f"{fmt}_bronze_full")
        figures[("bronze full refresh", fmt)] = (res, int(res.summary.get("rows_read", 0)))
        put_back(held, landing)
        for label, step, rows_key in (("bronze incremental", "bronze", "rows_read"), ("silver", "silver", "bronze_rows"),
                                      ("gold", "gold", "tickets")):
            res = measure.run_step(step, args.dir, args.profile, *extra, name=f"{fmt}_{step}_{label.split()[-1]}")
            figures[(label, fmt)] = (res, int(res.summary.get(rows_key, 0)))
        ok = ok and all(res.exit == 0 for (_, f), (res, _) in figures.items() if f == fmt)

    print()
    print("| step | format | wall | rows | rows/s | CPU | peak RSS | delta / parquet |")
    print("|---|---|---|---|---|---|---|---|")
    for label in ("bronze full refresh", "bronze incremental", "silver", "gold"):
        base = figures[(label, "parquet")][0].seconds
        for fmt in FORMATS:
            res, rows = figures[(label, fmt)]
            share = f"{res.seconds / base:.2f}" if fmt == "delta" and base else ""
            print(f"| {label} | {fmt} | {res.seconds:.1f} s | {rows:,} | {res.rows_per_s(rows):,.0f} | "
                  f"{res.cpu_seconds:.0f} s | {res.peak_rss_gib:.2f} GiB | {share} |")
    print(f"(load average at the end: {measure.load_average()})")
    return measure.verdict(ok, "every step succeeds on both formats")


if __name__ == "__main__":
    sys.exit(main())
