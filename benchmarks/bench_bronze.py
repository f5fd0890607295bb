"""Benchmark of the bronze merge: rows/s, CPU time and peak memory of a full refresh and an incremental run.

    .venv/bin/python benchmarks/bench_bronze.py --rows 10000000 --stores 40 --dir /tmp/lakehouse-bench

Generates `--rows` tickets of sample landing data under `<dir>/landing` unless it is there already
(not timed), holds back the latest export of every store and entity, and runs, each as its own
`lakehouse run bronze` process with the `local` profile (session start included):

1. a full refresh of everything else (`--full-refresh`), into a fresh `<dir>/warehouse`;
2. an incremental run after the held-back exports land (one new export per store and entity).

RSS is sampled for the whole process tree (Python driver + JVM) every 0.2 s. Rows/s counts the
rows read from all entities (`rows_read` of the run's summary). Wall time depends on what else
runs on the machine, so CPU seconds of the tree are printed too. Targets: full refresh
>= `--min-rows-per-s`, peak RSS <= `--max-rss-gib`, incremental <= `--max-incremental-share` of
the full refresh time; the exit code is 1 when one is missed. The warehouse is left in place for
the silver benchmark.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

GIB = 1024**3


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def run_measured(cmd: list[str], log: Path) -> dict:
    """Run `cmd`, sampling its process tree's RSS and CPU time; returns seconds, peak RSS, CPU, exit code."""
    started = time.monotonic()
    cpu_by_pid: dict[int, float] = {}
    peak = 0
    with log.open("w") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                rss = 0
                for p in tree(proc):
                    try:
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        cpu_by_pid[p.pid] = t.user + t.system
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                peak = max(peak, rss)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        done.set()
        sampler.join()
    return {
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_gib": round(peak / GIB, 2),
        "cpu_seconds": round(sum(cpu_by_pid.values()), 1),
        "exit": code,
    }


def lakehouse_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "lakehouse"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from lakehouse.cli import main; main()"]


def latest_exports(landing: Path) -> list[Path]:
    """The files of the latest export id of every store and entity."""
    newest: dict[Path, str] = {}
    for path in landing.glob("*/*/*"):
        folder, export_id = path.parent, path.name.rsplit(".", 1)[0]
        if export_id > newest.get(folder, ""):
            newest[folder] = export_id
    return sorted(p for p in landing.glob("*/*/*") if p.name.rsplit(".", 1)[0] == newest[p.parent])


def move(files: list[Path], src_root: Path, dst_root: Path) -> None:
    for path in files:
        target = dst_root / path.relative_to(src_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)


def rows_read(log: Path) -> int:
    found = re.findall(r"rows_read=(\d+)", log.read_text())
    return int(found[-1]) if found else 0


def main(argv: list[str] | None = None) -> int:
    """Prepare the landing data, run a full refresh and an incremental bronze merge, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="tickets to generate when preparing")
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/lakehouse-bench"), help="holds landing/ and warehouse/")
    parser.add_argument("--profile", default="local")
    parser.add_argument("--min-rows-per-s", type=float, default=100_000)
    parser.add_argument("--max-rss-gib", type=float, default=8.0)
    parser.add_argument("--max-incremental-share", type=float, default=0.25)
    args = parser.parse_args(argv)
    work = args.dir.resolve()
    landing, warehouse, held = work / "landing", work / "warehouse", work / "held_back"
    work.mkdir(parents=True, exist_ok=True)
    if held.exists():  # an interrupted earlier run: put its held-back exports back first
        move([p for p in held.rglob("*") if p.is_file()], held, landing)
        shutil.rmtree(held)
    if not landing.exists() or not any(landing.iterdir()):
        from lakehouse.generate import generate

        t = time.monotonic()
        stats = generate(out=landing, stores=args.stores, tickets=args.rows, seed=args.seed)
        print(f"generated {stats.tickets:,} tickets, {sum(stats.rows_written.values()):,} rows, "
              f"{sum(stats.files.values()):,} files in {time.monotonic() - t:.0f}s", flush=True)
    if warehouse.exists():
        shutil.rmtree(warehouse)

    newest = latest_exports(landing)
    move(newest, landing, held)
    base = [*lakehouse_cmd(), "run", "bronze", "--env", "local", "--profile", args.profile,
            "--landing", str(landing), "--warehouse", str(warehouse)]
    try:
        full = run_measured([*base, "--full-refresh"], work / "bronze_full.log")
        full["rows_read"] = rows_read(work / "bronze_full.log")
    finally:
        move([p for p in held.rglob("*") if p.is_file()], held, landing)
        shutil.rmtree(held, ignore_errors=True)
    incremental = run_measured(base, work / "bronze_incremental.log")
    incremental["rows_read"] = rows_read(work / "bronze_incremental.log")

    full_rate = full["rows_read"] / full["seconds"] if full["seconds"] else 0.0
    share = incremental["seconds"] / full["seconds"] if full["seconds"] else 0.0
    peak = max(full["peak_rss_gib"], incremental["peak_rss_gib"])
    print(f"full refresh : {full['rows_read']:,} rows in {full['seconds']}s wall = {full_rate:,.0f} rows/s "
          f"({full['cpu_seconds']}s CPU, {full['rows_read'] / max(full['cpu_seconds'], 0.1):,.0f} rows per CPU-s), "
          f"peak RSS {full['peak_rss_gib']} GiB, exit {full['exit']}")
    print(f"incremental  : {incremental['rows_read']:,} rows from {len(newest)} new files in "
          f"{incremental['seconds']}s wall ({incremental['cpu_seconds']}s CPU) = {share:.0%} of the full refresh, "
          f"peak RSS {incremental['peak_rss_gib']} GiB, exit {incremental['exit']}")
    ok = (
        full["exit"] == 0
        and incremental["exit"] == 0
        and full_rate >= args.min_rows_per_s
        and peak <= args.max_rss_gib
        and share <= args.max_incremental_share
    )
    print(f"targets: >= {args.min_rows_per_s:,.0f} rows/s, <= {args.max_rss_gib} GiB, incremental <= "
          f"{args.max_incremental_share:.0%} of full -> {'OK' if ok else 'MISSED'}")
    for name in ("bronze_full.log", "bronze_incremental.log"):
        if (full if name == "bronze_full.log" else incremental)["exit"] != 0:
            print(f"see {work / name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
