"""Benchmark of silver: bronze rows read per second, CPU time and peak RSS of `lakehouse run silver`.

    .venv/bin/python benchmarks/bench_silver.py --dir /tmp/lakehouse-bench

Needs bronze tables in `<dir>/warehouse`; when they are missing it generates landing data and
runs bronze first (not timed as the figure). The measured step is one `lakehouse run silver`
process (session start included); rows/s is `bronze_rows` of its summary (all entities read) per
wall second. Targets: >= `--min-rows-per-s`, peak RSS < `--max-rss-gib`; the exit code is 1 when
one is missed.
"""

from __future__ import annotations

import sys

import measure


def main(argv: list[str] | None = None) -> int:
    """Prepare bronze if needed, run silver once, print the figures."""
    p = measure.parser(__doc__.splitlines()[0])
    p.add_argument("--min-rows-per-s", type=float, default=150_000)
    args = p.parse_args(argv)
    args.dir = args.dir.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    measure.ensure_tables(args, "bronze")

    res = measure.run_step("silver", args.dir, args.profile)
    rows = int(res.summary.get("bronze_rows", 0))
    print(res.line(rows) + f"; summary {res.summary}")
    if res.exit != 0:
        print(f"see {res.log}")
    ok = res.exit == 0 and res.rows_per_s(rows) >= args.min_rows_per_s and res.peak_rss_gib < args.max_rss_gib
    return measure.verdict(ok, f">= {args.min_rows_per_s:,.0f} rows/s, peak RSS < {args.max_rss_gib} GiB")


if __name__ == "__main__":
    sys.exit(main())
