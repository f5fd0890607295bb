"""A landing cut into two batches: its latest exports held back, then put back (incremental runs in tests and benchmarks)."""

from __future__ import annotations

import shutil
from pathlib import Path


def hold_back_latest(landing: Path, held: Path) -> list[Path]:
    """Move the files of the latest export of every store and entity folder holding more than one export from
    `landing` to the same place under `held`; returns the moved files' paths relative to `landing`."""
    moved: list[Path] = []
    for folder in sorted(p for p in landing.glob("*/*") if p.is_dir()):
        exports: dict[str, list[Path]] = {}
        for file in folder.iterdir():
            if file.is_file() and not file.name.startswith((".", "_")):
                exports.setdefault(file.name.split(".", 1)[0], []).append(file)
        if len(exports) < 2:
            continue
        target = held / folder.relative_to(landing)
        target.mkdir(parents=True, exist_ok=True)
        for file in exports[max(exports)]:
            shutil.move(str(file), target / file.name)
            moved.append(file.relative_to(landing))
    return moved


def put_back(held: Path, landing: Path) -> None:
    """Move every file under `held` back to its place under `landing`, then remove `held`."""
    for file in sorted(held.rglob("*")):
        if file.is_file():
            (landing / file.relative_to(held)).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(file), landing / file.relative_to(held))
    shutil.rmtree(held, ignore_errors=True)
