"""Find the landing exports (`<landing>/<store_id>/<entity>/<export_id>.<ext>`) through the file-system layer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.fs import FileSystem, qualify

STORE_ID_PATTERN = re.compile(r"[a-z0-9_]+")
FORMATS = ("csv", "parquet", "json")


@dataclass(frozen=True)
class ExportFile:
    """One file under the landing root: where it is, what it claims to be, and its size and mtime."""

    path: str  # qualified, not URL-encoded: file:/abs/path or gs://bucket/path
    store_id: str | None  # None: not in a store folder
    entity: str | None  # the contract's entity; None: not in an entity folder
    export_id: str
    fmt: str  # csv | parquet | json, or the file's own extension when it is none of them
    size: int
    mtime_ms: int
    problem: str | None = None  # why the file is not a valid export (bad store id, extension, depth)

    @property
    def name(self) -> str:
        """The file name (last path segment)."""
        return self.path.rsplit("/", 1)[-1]


def parse_export(
    root: str, path: str, size: int, mtime_ms: int, entities: set[str], problem: str | None = None
) -> ExportFile | None:
    """The export a listed file is, or None for what is not an export and never was (hidden or marker files).

    Every other file under the landing root is returned, those that break the layout with
    `problem` set, so they are reported rather than silently ignored: a file at the root or
    directly in a store folder, under a folder that is no entity of the contract, in a sub-folder,
    with a store id that is not `[a-z0-9_]+` or an unknown extension. An entity folder is matched
    like column names are: case-insensitively, surrounding white space ignored (`Tickets/` holds
    tickets). `problem` comes from the listing itself (a link out of the root, a link loop).
    """
    rel = path[len(root) :].lstrip("/") if path.startswith(root) else None
    if rel is None:
        return None
    parts = rel.split("/")
    if any(part.startswith((".", "_")) for part in parts):  # hidden files and folders, markers (_SUCCESS)
        return None
    name = parts[-1]
    stem, dot, ext = name.rpartition(".")
    fmt = ext.lower() if dot else ""
    export_id = stem if dot else name
    store_id = parts[0] if len(parts) > 1 else None
    folder = parts[1].strip().lower() if len(parts) > 2 else None
    entity = folder if folder in entities else None
    if problem is None:
        if len(parts) == 1:
            problem = "a file at the landing root: exports go in <store>/<entity>/"
        elif len(parts) == 2:
            problem = f"a file directly in store folder {parts[0]!r}: exports go in <store>/<entity>/"
        elif entity is None:
            problem = f"folder {parts[1]!r} is not an entity of the contract ({', '.join(sorted(entities))})"
        elif len(parts) != 3:
            problem = f"not directly in <store>/{parts[1]}/ (sub-folders are not exports)"
        elif not STORE_ID_PATTERN.fullmatch(store_id):
            problem = f"store folder {store_id!r} is not a store id ([a-z0-9_]+)"
        elif fmt not in FORMATS:
            problem = f"extension {('.' + ext) if dot else '(none)'!r} is not one of .csv, .parquet, .json"
        elif not export_id:
            problem = "empty export id"
    return ExportFile(path, store_id, entity, export_id, fmt, size, mtime_ms, problem)


def discover(fs: FileSystem, landing: str, entities: set[str], formats: tuple[str, ...]) -> list[ExportFile]:
    """Every file under `landing` that is or claims to be an export, sorted by path.

    Exports of `entities` in a known format come with `problem` None, except those whose format is
    switched off in `formats`, which are left out (they are picked up once it is switched on).
    Everything else comes with `problem` set (and `entity` None when no entity folder holds it).
    """
    root = qualify(landing)
    out = []
    for info in fs.list_files(root):
        export = parse_export(root, info.path, info.size, info.mtime_ms, entities, info.problem)
        if export is None:
            continue
        if export.problem is None and export.fmt not in formats:
            continue
        out.append(export)
    return sorted(out, key=lambda e: e.path)
