"""Benchmark of the sample generator: tickets/s, rows/s, CPU time and peak memory for one run.

    .venv/bin/python benchmarks/bench_generate.py --rows 10000000 --stores 40 --out /tmp/bench_landing

Wall time depends on what else runs on the machine, so CPU time (this process and its workers) is
printed too. `--keep` leaves the output; by default it is deleted afterwards (10M tickets is ~3 GB).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

from lakehouse.generate import generate


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run the generator once and print its throughput and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="tickets to generate")
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: generator's choice)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_landing"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--summary", action="store_true", help="print the generator's full summary")
    args = parser.parse_args(argv)

    if args.out.exists() and any(args.out.iterdir()):
        print(f"{args.out} is not empty: pick an empty or new folder", file=sys.stderr)
        return 2
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    try:
        stats = generate(
            out=args.out, stores=args.stores, tickets=args.rows, seed=args.seed, workers=args.workers
        )
        wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
        if args.summary:
            print(stats.summary())
        rows = sum(stats.rows_written.values())
        print(f"tickets      {stats.tickets:,}")
        print(f"rows written {rows:,} (all entities, dirt and copies included)")
        print(f"files        {sum(stats.files.values()):,}, {stats.bytes_written / 1e9:,.2f} GB")
        print(
            f"wall         {wall:,.1f} s  ({stats.tickets / wall:,.0f} tickets/s, {rows / wall:,.0f} rows/s)"
        )
        print(f"cpu          {cpu:,.1f} s  ({stats.tickets / cpu:,.0f} tickets per CPU-s)")
        print(f"peak RSS     {stats.peak_rss_mb:,.0f} MB (largest single process)")
    finally:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
