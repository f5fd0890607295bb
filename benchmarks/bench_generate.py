"""Benchmark of the sample generator: tickets/s, CPU time and peak RSS of one `lakehouse generate`.

    .venv/bin/python benchmarks/bench_generate.py --dir /tmp/lakehouse-bench --rows 10000000 --stores 40

Writes `--rows` tickets under `<dir>/landing`, which must be missing or empty, as one measured
`lakehouse generate` process (its worker processes included in CPU time and RSS). `--delete`
removes the output afterwards (10M tickets is ~3 GB); by default it stays for the other benchmarks.
"""

from __future__ import annotations

import shutil
import sys

import measure


def main(argv: list[str] | None = None) -> int:
    """Run the generator once and print its throughput and peak memory."""
    p = measure.parser(__doc__.splitlines()[0])
    p.add_argument("--delete", action="store_true", help="delete the generated files afterwards")
    args = p.parse_args(argv)
    args.dir = args.dir.resolve()
    landing = args.dir / "landing"
    if landing.exists() and any(landing.iterdir()):
        print(f"{landing} is not empty: pick another --dir or empty it", file=sys.stderr)
        return 2
    args.dir.mkdir(parents=True, exist_ok=True)
    cmd = [*measure.lakehouse_cmd(), "generate", "--out", str(landing), "--stores", str(args.stores),
           "--rows", str(args.rows), "--seed", str(args.seed)]
    try:
        res = measure.run_measured("generate", cmd, args.dir / "generate.log")
        print(res.line() + f"; {args.rows / res.seconds if res.seconds else 0:,.0f} tickets/s")
        if res.exit != 0:
            print(f"see {res.log}")
    finally:
        if args.delete:
            shutil.rmtree(landing, ignore_errors=True)
    return measure.verdict(res.exit == 0 and res.peak_rss_gib < args.max_rss_gib,
                           f"exit 0, peak RSS < {args.max_rss_gib} GiB")


if __name__ == "__main__":
    sys.exit(main())
