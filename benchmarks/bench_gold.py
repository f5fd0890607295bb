"""Benchmark of gold + scoring (or, with `--pipeline`, of the whole pipeline): wall, CPU and peak RSS.

    .venv/bin/python benchmarks/bench_gold.py --dir /tmp/lakehouse-bench
    .venv/bin/python benchmarks/bench_gold.py --dir /tmp/lakehouse-bench-30m --rows 30000000 --pipeline

Default: needs silver tables in `<dir>/warehouse`; when they are missing it generates landing data
and runs bronze and silver first (not timed as the figure). Then `lakehouse run gold` and `lakehouse
run scoring` (training) run as two measured processes (session start included in both); the
figure is the sum of their wall times. Rows/s counts the silver tickets gold read (`tickets` of its
summary). Targets: < `--max-seconds`, peak RSS < `--max-rss-gib`; the exit code is 1 when missed.

`--pipeline`: generates landing data if missing, then measures one `lakehouse run pipeline` process
(bronze -> silver -> gold -> scoring in one session) on a fresh warehouse; wall seconds per step
come from the timestamps of the step headers in its log. No target is checked but peak RSS.
"""

from __future__ import annotations

import shutil
import sys

import measure

from lakehouse.steps import STEPS


def pipeline(args) -> int:
    """Measure `lakehouse run pipeline` end to end on a fresh warehouse."""
    measure.ensure_landing(args)
    shutil.rmtree(args.dir / "warehouse", ignore_errors=True)
    res = measure.run_step("pipeline", args.dir, args.profile)
    seconds = measure.step_seconds(res.log, res.seconds)
    print(res.line())
    print("per step (wall s): " + ", ".join(f"{step} {s}" for step, s in seconds.items()))
    for i, summary in enumerate(measure.summaries(res.log)):
        print(f"  summary {i + 1}: {summary}")
    if res.exit != 0:
        print(f"see {res.log}")
    ok = res.exit == 0 and len(seconds) == len(STEPS) and res.peak_rss_gib < args.max_rss_gib
    return measure.verdict(ok, f"all {len(STEPS)} steps succeed, peak RSS < {args.max_rss_gib} GiB")


def main(argv: list[str] | None = None) -> int:
    """Prepare silver if needed, run gold then scoring, print the figures."""
    p = measure.parser(__doc__.splitlines()[0])
    p.add_argument("--max-seconds", type=float, default=240.0, help="target: gold + scoring wall seconds")
    p.add_argument("--pipeline", action="store_true", help="measure `lakehouse run pipeline` instead")
    args = p.parse_args(argv)
    args.dir = args.dir.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.pipeline:
        return pipeline(args)
    measure.ensure_tables(args, "silver")

    gold = measure.run_step("gold", args.dir, args.profile)
    scoring = measure.run_step("scoring", args.dir, args.profile) if gold.exit == 0 else None
    rows = int(gold.summary.get("tickets", 0))
    print(gold.line(rows))
    if scoring:
        print(scoring.line() + f"; summary {scoring.summary}")
    seconds = gold.seconds + (scoring.seconds if scoring else 0.0)
    cpu = gold.cpu_seconds + (scoring.cpu_seconds if scoring else 0.0)
    peak = max(gold.peak_rss_gib, scoring.peak_rss_gib if scoring else 0.0)
    print(f"gold + scoring: {seconds:.1f}s wall, {cpu:.1f}s CPU, peak RSS {peak:.2f} GiB "
          f"(load avg {measure.load_average()})")
    for res in (gold, scoring):
        if res and res.exit != 0:
            print(f"see {res.log}")
    ok = gold.exit == 0 and scoring is not None and scoring.exit == 0 and seconds < args.max_seconds \
        and peak < args.max_rss_gib
    return measure.verdict(ok, f"gold + scoring < {args.max_seconds:.0f}s, peak RSS < {args.max_rss_gib} GiB")


if __name__ == "__main__":
    sys.exit(main())
