"""Shared benchmark helpers: CLI shape, preparing inputs, and measuring `lakehouse run` child processes.

Every benchmark takes `--dir` (holding landing/ and warehouse/), `--rows`, `--stores`, `--seed` and
`--profile`. A measured step is one `lakehouse run <step>` process (session start included); this
process samples the resident memory and CPU time of its whole process tree (Python driver + JVM)
every 0.2 s and timestamps every line it prints into `<dir>/<name>.log`. Resident memory is the RSS
summed over the tree, less short-lived forks of the JVM (a child holding nearly all its parent's
RSS shares those pages: `_forked`); the figure names the processes that made up the peak. PSS
would tell shared pages apart by itself, but reading it makes the kernel walk every page: 0.05-0.1 s
per reading of a 6 GiB JVM, a quarter of a core or more at this rate; it slowed the measured bronze
run by ~25%.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from lakehouse.steps import STEPS

GIB = 1024**3
SAMPLE_SECONDS = 0.2
# a child whose RSS is within FORK_SLACK of its (large) parent's is a fork that has not run its command yet
FORK_SLACK = 0.1
FORK_MIN_RSS = 256 * 1024**2
# `lakehouse run` prints a step's summary as one line "  key=value, key=value, ..."
_SUMMARY_ITEM = re.compile(r"(\w+)=([^,\s]+)")
# ... and each step's start as "<step> run <run id>" (the step names of lakehouse.steps)
_STEP_HEADER = re.compile(rf"^\[\s*(\d+\.\d)s\] ({'|'.join(s.name for s in STEPS)}) run ")


@dataclass
class Measured:
    """Figures of one measured child process."""

    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_gib: float
    exit: int
    log: Path
    load: str
    summary: dict[str, str] = field(default_factory=dict)
    peak_by_process: str = ""  # what made up the peak, e.g. "java 6.35 + python3 0.11 GiB"

    def rows_per_s(self, rows: int) -> float:
        """Rows per wall second."""
        return rows / self.seconds if self.seconds else 0.0

    def line(self, rows: int | None = None) -> str:
        """One line of figures; rows/s when `rows` is given."""
        rate = f", {rows:,} rows read = {self.rows_per_s(rows):,.0f} rows/s" if rows is not None else ""
        return (f"{self.name}: {self.seconds:.1f}s wall{rate}, {self.cpu_seconds:.1f}s CPU, "
                f"peak RSS {self.peak_rss_gib:.2f} GiB ({self.peak_by_process}), exit {self.exit} (load avg {self.load})")


def parser(description: str, rows: int = 10_000_000) -> argparse.ArgumentParser:
    """The arguments every benchmark shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dir", type=Path, default=Path("/tmp/lakehouse-bench"), help="holds landing/ and warehouse/")
    p.add_argument("--rows", type=int, default=rows, help="tickets to generate when landing data is missing")
    p.add_argument("--stores", type=int, default=40, help="stores to generate when landing data is missing")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--profile", default="local", help="run profile of the measured steps")
    p.add_argument("--max-rss-gib", type=float, default=8.0, help="target: peak RSS below this")
    return p


def load_average() -> str:
    """The 1/5/15-minute load averages, as `uptime` shows them."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _forked(rss: int, parent_rss: int | None) -> bool:
    """True for a child that is still a copy of its parent: a JVM forking a helper command (before
    it runs the command) shares all the parent's pages, and its RSS counts them again."""
    return parent_rss is not None and parent_rss >= FORK_MIN_RSS and abs(rss - parent_rss) <= FORK_SLACK * parent_rss


def run_measured(name: str, cmd: list[str], log: Path) -> Measured:
    """Run `cmd`, sampling its process tree's RSS and CPU time; its output goes timestamped to `log`."""
    started = time.monotonic()
    cpu_by_pid: dict[int, float] = {}
    peak = 0
    peak_parts: list[tuple[str, int]] = []
    done = threading.Event()
    with log.open("w", buffering=1) as out:  # line-buffered: `tail -f` the log while it runs
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                 env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
        proc = psutil.Process(child.pid)

        def sample() -> None:
            nonlocal peak, peak_parts
            while not done.is_set():
                found: dict[int, tuple[str, int, int]] = {}  # pid -> (name, parent pid, RSS)
                for p in _tree(proc):
                    try:
                        found[p.pid] = (p.name(), p.ppid(), p.memory_info().rss)
                        t = p.cpu_times()
                        cpu_by_pid[p.pid] = t.user + t.system
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                rss_of = {pid: rss for pid, (_, _, rss) in found.items()}
                parts = [(pname, rss) for pname, parent, rss in found.values() if not _forked(rss, rss_of.get(parent))]
                total = sum(n for _, n in parts)
                if total > peak:
                    peak, peak_parts = total, parts
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert child.stdout is not None
        for text in child.stdout:
            out.write(f"[{time.monotonic() - started:7.1f}s] {text}")
        code = child.wait()
        done.set()
        sampler.join()
    found = summaries(log)
    return Measured(name=name, seconds=round(time.monotonic() - started, 1),
                    cpu_seconds=round(sum(cpu_by_pid.values()), 1), peak_rss_gib=round(peak / GIB, 2),
                    exit=code, log=log, load=load_average(), summary=found[-1] if found else {},
                    peak_by_process=" + ".join(f"{process} {n / GIB:.2f}" for process, n in peak_parts) + " GiB")


def summaries(log: Path) -> list[dict[str, str]]:
    """The summary lines (`key=value, ...`) a `lakehouse run` printed, in order."""
    found = []
    for text in log.read_text().splitlines():
        body = text.split("] ", 1)[-1]
        if body.startswith("  ") and "=" in body:
            found.append(dict(_SUMMARY_ITEM.findall(body)))
    return found


def step_seconds(log: Path, total: float) -> dict[str, float]:
    """Wall seconds of every step of a `lakehouse run pipeline` log, from its timestamped headers."""
    heads = [(float(m[1]), m[2]) for m in map(_STEP_HEADER.match, log.read_text().splitlines()) if m]
    ends = [t for t, _ in heads[1:]] + [total]
    return {job: round(end - t, 1) for (t, job), end in zip(heads, ends, strict=True)}


def lakehouse_cmd() -> list[str]:
    """The `lakehouse` CLI of this interpreter's environment."""
    exe = Path(sys.executable).parent / "lakehouse"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lakehouse"]


def run_cmd(step: str, work: Path, profile: str, *extra: str) -> list[str]:
    """`lakehouse run <step>` on `<work>/landing` and `<work>/warehouse` with the local env."""
    return [*lakehouse_cmd(), "run", step, "--env", "local", "--profile", profile,
            "--landing", str(work / "landing"), "--warehouse", str(work / "warehouse"), *extra]


def run_step(step: str, work: Path, profile: str, *extra: str, name: str | None = None) -> Measured:
    """Run and measure one `lakehouse run <step>`; the log is `<work>/<name>.log`."""
    name = name or step
    return run_measured(name, run_cmd(step, work, profile, *extra), work / f"{name}.log")


def entity_conf(work: Path, entity: str) -> Path:
    """A copy of the project's conf/ (and run_profiles/ beside it) holding only `entity`'s table spec (and of the
    per-entity freshness settings, only its own)."""
    root = Path(__file__).resolve().parents[1]
    copy = work / f"conf_{entity}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root / "conf", copy / "conf")
    shutil.copytree(root / "run_profiles", copy / "run_profiles")
    for spec in (copy / "conf" / "tables").glob("*.yaml"):
        if spec.stem != entity:
            spec.unlink()
    for settings in [copy / "conf" / "base.yaml", *(copy / "conf" / "env").glob("*.yaml")]:
        data = yaml.safe_load(settings.read_text()) or {}
        entities = (data.get("freshness") or {}).get("entities")
        if entities:
            data["freshness"]["entities"] = {k: v for k, v in entities.items() if k == entity}
            settings.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy / "conf"


def entity_landing(work: Path, entity: str) -> Path:
    """`<work>/landing_<entity>`: the exports of `entity` alone, hard links to `<work>/landing`'s (copies across file
    systems), rebuilt on every call; a run with `entity_conf` then meets no other entity's files."""
    landing, view = work / "landing", work / f"landing_{entity}"
    shutil.rmtree(view, ignore_errors=True)
    view.mkdir(parents=True)
    for folder in sorted(p for p in landing.glob(f"*/{entity}") if p.is_dir()):
        shutil.copytree(folder, view / folder.relative_to(landing), copy_function=_link_or_copy)
    return view


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def ensure_landing(args: argparse.Namespace) -> None:
    """Generate `--rows` tickets of landing data with `lakehouse generate` unless there is some (not timed)."""
    landing = args.dir / "landing"
    if landing.exists() and any(landing.iterdir()):
        return
    print(f"preparing: lakehouse generate {args.rows:,} tickets, {args.stores} stores", flush=True)
    t = time.monotonic()
    subprocess.run([*lakehouse_cmd(), "generate", "--out", str(landing), "--stores", str(args.stores),
                    "--rows", str(args.rows), "--seed", str(args.seed)], check=True)
    print(f"preparing: generated in {time.monotonic() - t:.0f}s", flush=True)


def ensure_tables(args: argparse.Namespace, layer: str) -> None:
    """Run the steps up to `layer` (bronze or silver) unless its tables exist (not timed as the figure)."""
    order = ("bronze", "silver")
    for step in order[: order.index(layer) + 1]:
        if (args.dir / "warehouse" / step / "tickets").exists():
            continue
        if step == "bronze":
            ensure_landing(args)
        res = run_step(step, args.dir, args.profile, name=f"prepare_{step}")
        print(f"preparing: {res.line()}", flush=True)
        if res.exit != 0:
            raise SystemExit(f"{step} failed while preparing: see {res.log}")


def verdict(ok: bool, targets: str) -> int:
    """Print the targets and whether they were met; the exit code."""
    print(f"targets: {targets} -> {'OK' if ok else 'MISSED'}", flush=True)
    return 0 if ok else 1
