"""Benchmark of gold + scoring: wall time and peak memory (RSS of the whole process tree).

    .venv/bin/python benchmarks/bench_gold.py --rows 10000000 --workdir /tmp/bench_gold
    .venv/bin/python benchmarks/bench_gold.py --warehouse /tmp/bench_gold/warehouse   # silver exists

Without silver in the warehouse it first generates `--rows` tickets of sample landing data and runs
bronze and silver (timed separately, not part of the figure). Then one child process runs
`gold` and `scoring` (training) in one session with the `local` profile, as `lakehouse run
pipeline` does, while this process samples the RSS of the child and its JVM every 0.2 s. The
targets (`--max-seconds`, `--max-rss-gib`) are checked at the end; the exit code is 1 when missed.
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
    return {
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_gib": round(peak / GIB, 2),
        "exit": code,
    }


def lakehouse_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "lakehouse"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from lakehouse.cli import main; main()"]


def prepare(args) -> None:
    """Generate landing data and run bronze + silver into the warehouse (not measured as gold)."""
    from lakehouse.generate import generate

    landing = args.workdir / "landing"
    if not landing.exists() or not any(landing.iterdir()):
        t = time.monotonic()
        stats = generate(out=landing, stores=args.stores, tickets=args.rows, seed=args.seed)
        print(f"generate: {time.monotonic() - t:.0f}s  {stats.summary()}", flush=True)
    for step in ("bronze", "silver"):
        cmd = [
            *lakehouse_cmd(),
            "run",
            step,
            "--env",
            "local",
            "--profile",
            args.profile,
            "--landing",
            str(landing),
            "--warehouse",
            str(args.warehouse),
        ]
        res = run_measured(cmd, args.workdir / f"{step}.log")
        print(f"{step}: {res}", flush=True)
        if res["exit"] != 0:
            raise SystemExit(f"{step} failed: see {args.workdir / f'{step}.log'}")


def child(args) -> int:
    """Run gold then scoring in one session (the measured part); print one JSON line per step."""
    from lakehouse.gold import run_gold
    from lakehouse.gold.scoring import run_scoring
    from lakehouse.runtime import JobOptions, job_run

    options = JobOptions(env="local", profile=args.profile, warehouse=str(args.warehouse))
    spark = None
    for step, fn in (("gold", run_gold), ("scoring", lambda run: run_scoring(run, None))):
        t = time.monotonic()
        with job_run(step, options, spark=spark) as run:
            spark = run.spark
            summary = fn(run)
        print(
            json.dumps(
                {"step": step, "seconds": round(time.monotonic() - t, 1), "summary": summary}, default=str
            ),
            flush=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="tickets to generate when preparing")
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", "--workdir", dest="workdir", type=Path, default=Path("/tmp/lakehouse-bench"),
                        help="holds landing/ and warehouse/ (the other benchmarks use the same layout)")
    parser.add_argument("--warehouse", type=Path, default=None, help="default: <workdir>/warehouse")
    parser.add_argument("--profile", default="local")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="target for gold + scoring")
    parser.add_argument("--max-rss-gib", type=float, default=8.0, help="target peak RSS")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.warehouse = (args.warehouse or args.workdir / "warehouse").resolve()
    if args.child:
        return child(args)

    args.workdir.mkdir(parents=True, exist_ok=True)
    if not (args.warehouse / "silver" / "tickets").exists():
        prepare(args)
    log = args.workdir / "gold_scoring.log"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--profile",
        args.profile,
        "--workdir",
        str(args.workdir),
        "--warehouse",
        str(args.warehouse),
    ]
    res = run_measured(cmd, log)
    steps = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"step"')]
    for s in steps:
        print(f"{s['step']}: {s['seconds']}s  {json.dumps(s['summary'], default=str)}")
    ok = res["exit"] == 0 and res["seconds"] <= args.max_seconds and res["peak_rss_gib"] <= args.max_rss_gib
    print(
        f"gold + scoring ({args.profile} profile, warehouse {args.warehouse}): {res['seconds']}s wall "
        f"(target {args.max_seconds:.0f}s), peak RSS {res['peak_rss_gib']} GiB (target {args.max_rss_gib} GiB), "
        f"exit {res['exit']} -> {'OK' if ok else 'MISSED'}"
    )
    if res["exit"] != 0:
        print(f"see {log}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
