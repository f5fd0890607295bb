"""Orchestration of the sample generator: the dialect schedule, per-store export writing and run stats."""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate import dirt as dirt_mod
from lakehouse.generate import entities as ent
from lakehouse.generate.encode import (
    DROPPABLE,
    ENUM_CASES,
    EXTRA_COLUMNS,
    FORMATS,
    NAME_STYLES,
    STYLES,
    TZ_OFFSETS,
    Dialect,
    csv_bytes,
    encode,
    parquet_bytes,
    serialize,
)
from lakehouse.generate.schema import ENTITIES, columns
from lakehouse.generate.world import NO_CANCEL, Calendar, World, build_world, from_day

ENTITY_CODES = {name: i + 1 for i, name in enumerate(ENTITIES)}
DEFAULT_END_DATE = date(2026, 9, 30)
DEFAULT_MONTHS = 24
# how often a store exports: days an export covers (monthly: the whole month, one export)
CADENCES = {"monthly": None, "weekly": 7, "daily": 1}
STORE_DIR = re.compile(r"store_\d+")


# --------------------------------------------------------------------------------------------------
# stats


@dataclass
class GenerateStats:
    """What a generator run wrote: rows, files, dirt and encodings, time and memory."""

    out: Path
    seed: int
    stores: int
    locations: int = 0
    window: tuple[date, date] | None = None
    tickets: int = 0
    customers: int = 0
    memberships: int = 0
    cancellations: int = 0
    rows: Counter = field(default_factory=Counter)  # clean rows exported per entity, re-exports included
    rows_written: Counter = field(default_factory=Counter)  # rows in readable files, dirt and copies included
    files: Counter = field(default_factory=Counter)  # (entity, format) -> files
    dirt: Counter = field(default_factory=Counter)  # dirt kind -> rows or files
    styles: Counter = field(default_factory=Counter)  # (logical type or aspect, style) -> files
    bytes_written: int = 0
    elapsed_s: float = 0.0
    peak_rss_mb: float = 0.0

    def merge(self, other: GenerateStats) -> None:
        """Add the counters of another (per-store) stats object."""
        for name in ("rows", "rows_written", "files", "dirt", "styles"):
            getattr(self, name).update(getattr(other, name))
        self.bytes_written += other.bytes_written

    @property
    def rows_per_s(self) -> float:
        """Rows written per second (all entities, dirt and copies included)."""
        return sum(self.rows_written.values()) / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def tickets_per_s(self) -> float:
        """Tickets generated per second."""
        return self.tickets / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> str:
        """A plain-text report: rows and files per entity, dirt per kind, speed and peak memory."""
        start, end = self.window or (None, None)
        lines = [
            f"wrote {self.out}: {self.stores} stores, {self.locations} locations, {start} .. {end}, seed {self.seed}",
            f"tickets {self.tickets:,}  customers {self.customers:,}  memberships {self.memberships:,}"
            f"  cancelled {self.cancellations:,}",
            "",
            f"{'entity':<18}{'clean rows':>12}{'written':>12}{'parquet':>9}{'csv':>6}{'json':>6}",
        ]
        for entity in ENTITIES:
            lines.append(
                f"{entity:<18}{self.rows[entity]:>12,}{self.rows_written[entity]:>12,}"
                + "".join(f"{self.files[(entity, f)]:>{w}}" for f, w in zip(FORMATS, (9, 6, 6), strict=True))
            )
        lines += ["", "dirt:"]
        lines += [f"  {kind:<32}{count:>10,}" for kind, count in sorted(self.dirt.items())]
        lines += [
            "",
            f"{sum(self.files.values()):,} files, {self.bytes_written / 1e6:,.1f} MB in {self.elapsed_s:,.1f} s: "
            f"{self.tickets_per_s:,.0f} tickets/s, {self.rows_per_s:,.0f} rows/s; peak RSS {self.peak_rss_mb:,.0f} MB",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# dialect schedule


class DialectPlan:
    """Which dialect every (store, entity, month) export uses, fixed up front and deterministic per seed.

    Each store has a base dialect (its point-of-sale system) and most stores switch to another one at
    some month (an upgrade); about 30% of exports draw a dialect of their own. Random draws prefer
    styles not used yet, so every accepted encoding shows up even in a small sample.
    """

    def __init__(self, seed: int, stores: int, months: int):
        rng = np.random.default_rng([seed, 4])
        self._uncovered: dict[str, list[str]] = {
            kind: list(dict.fromkeys(s for f in FORMATS for s in by_fmt[f]))
            for kind, by_fmt in STYLES.items()
        }
        self._uncovered.update(
            fmt=list(FORMATS),
            enum_case=list(ENUM_CASES),
            names=list(NAME_STYLES),
            tz_offset=list(TZ_OFFSETS),
            bom=["yes", "no"],
            omit_nulls=["yes", "no"],
        )
        self.schedule: dict[tuple[int, str, int], Dialect] = {}
        for s in range(stores):
            first = self._random(rng, None, cover=False)
            second = self._random(rng, None, cover=False)
            switch = (
                int(rng.integers(months // 4, max(months // 4 + 1, 3 * months // 4)))
                if rng.random() < 0.6
                else None
            )
            for k in range(months):
                base = first if switch is None or k < switch else second
                for entity in ENTITIES:
                    if rng.random() < 0.3:
                        dialect = self._random(rng, entity, cover=True)
                    else:
                        dialect = self._drift(rng, base)
                    if entity in DROPPABLE and rng.random() < 0.08:
                        options = DROPPABLE[entity]
                        dialect = replace(dialect, drop=(options[int(rng.integers(0, len(options)))],))
                    self.schedule[(s, entity, k)] = dialect.fits()

    def _take(self, rng, aspect: str, options, cover: bool):
        if cover:
            for option in self._uncovered[aspect]:
                if option in options:
                    self._uncovered[aspect].remove(option)
                    return option
        return options[int(rng.integers(0, len(options)))]

    def _random(self, rng, entity: str | None, cover: bool) -> Dialect:
        fmt = (
            self._take(rng, "fmt", FORMATS, cover) if cover else str(rng.choice(FORMATS, p=[0.45, 0.35, 0.2]))
        )
        types = {c.type for c in columns(entity)} if entity else set(STYLES) | {"enum", "timestamp"}
        kwargs = {"fmt": fmt}
        for kind, by_fmt in STYLES.items():
            if kind in types:
                kwargs[kind] = self._take(rng, kind, by_fmt[fmt], cover)
        if "enum" in types:
            kwargs["enum_case"] = self._take(rng, "enum_case", ENUM_CASES, cover)
        if kwargs.get("timestamp") == "iso_offset":
            kwargs["tz_offset"] = self._take(rng, "tz_offset", TZ_OFFSETS, cover)
        if fmt == "csv":
            kwargs["bom"] = self._take(rng, "bom", ("yes", "no"), cover) == "yes"
        if fmt == "json":
            kwargs["omit_nulls"] = self._take(rng, "omit_nulls", ("yes", "no"), cover) == "yes"
        kwargs["names"] = self._take(rng, "names", NAME_STYLES, cover)
        kwargs["shuffle"] = bool(rng.random() < 0.3)
        if rng.random() < 0.15:
            kwargs["extra"] = tuple(
                str(x) for x in rng.choice(EXTRA_COLUMNS, int(rng.integers(1, 3)), replace=False)
            )
        return Dialect(**kwargs)

    @staticmethod
    def _drift(rng, base: Dialect) -> Dialect:
        changes = {}
        if rng.random() < 0.1:
            changes["names"] = NAME_STYLES[int(rng.integers(0, len(NAME_STYLES)))]
        if rng.random() < 0.1:
            changes["shuffle"] = not base.shuffle
        if rng.random() < 0.06:
            changes["extra"] = (EXTRA_COLUMNS[int(rng.integers(0, len(EXTRA_COLUMNS)))],)
        return replace(base, **changes)

    def get(self, store: int, entity: str, month: int) -> Dialect:
        """The dialect of one export."""
        return self.schedule[(store, entity, month)]


# --------------------------------------------------------------------------------------------------
# writing one store


class StoreWriter:
    """Writes every export of one store: frames -> dirt -> encoding -> files, counting as it goes."""

    def __init__(self, world: World, out: Path, store: int, dialects: DialectPlan, plan: dirt_mod.DirtPlan,
                 cadence: str = "monthly"):
        self.w = world
        self.period = CADENCES[cadence]
        self.out = out
        self.s = store
        self.store_id = world.store_ids[store]
        self.dialects = dialects
        self.plan = plan
        self.done: set = set()
        self.serial = 1
        self.seq: Counter = Counter()
        self.stats = GenerateStats(out=out, seed=world.seed, stores=1)

    def _rng(self, purpose: int, entity: str, month: int, seq: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.w.seed, purpose, ENTITY_CODES[entity], self.s, month, seq])

    def _write(self, entity: str, month: int, ext: str, data: bytes, rows: int | None, day: int | None = None) -> Path:
        """Write one file; its export id is the month's last day (or `day`, for a shorter cadence) and a serial."""
        if day is None:
            self.seq[(entity, month)] += 1
            export_id = self.w.cal.export_id(month, self.seq[(entity, month)])
        else:
            self.seq[(entity, month, day)] += 1
            export_id = f"{from_day(day):%Y%m%d}T235900_{self.seq[(entity, month, day)]:04d}"
        path = self.out / self.store_id / entity / f"{export_id}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.stats.files[(entity, ext)] += 1
        self.stats.bytes_written += len(data)
        if rows is not None:
            self.stats.rows_written[entity] += rows
        return path

    def export(self, entity: str, month: int, frame: pa.Table) -> None:
        """Write one export of `entity` for month `month`, with its planned row and file dirt."""
        rng = self._rng(20, entity, month, self.seq[(entity, month)])
        clean_rows = frame.num_rows
        self.stats.rows[entity] += clean_rows
        dirty = self.plan.row_dirt(self.done, entity, self.s, month, clean_rows, rng)
        if dirty:
            parts = [frame]
            for kind, n in dirty.items():
                parts.append(
                    dirt_mod.make_dirty(
                        frame, entity, kind, n, rng, self.serial, self.store_id, self.w.cal.start_day
                    )
                )
                self.serial += n
                self.stats.dirt[kind] += n
            frame = dirt_mod.concat(parts)
        dialect = self.dialects.get(self.s, entity, month)
        file_kinds = self.plan.file_dirt(self.done, entity, self.s, month, clean_rows, rng)
        parts = self._periods(frame, month)
        day, frame = parts[-1]  # file dirt goes around the period exported last
        physical = encode(frame, entity, dialect, rng)
        data = serialize(physical, dialect)
        self._count_styles(entity, dialect, physical)

        for kind in file_kinds:
            if kind == "corrupt_truncated_parquet":
                pq_dialect = replace(dialect, fmt="parquet").fits()
                self._write(
                    entity,
                    month,
                    "parquet",
                    dirt_mod.truncated_parquet(parquet_bytes(encode(frame, entity, pq_dialect, rng))),
                    None,
                    day,
                )
            elif kind == "corrupt_binary_csv":
                self._write(entity, month, "csv", dirt_mod.binary_garbage(rng), None, day)
            elif kind == "corrupt_encoding_csv":
                text = csv_bytes(encode(frame, entity, replace(dialect, fmt="csv").fits(), rng))
                self._write(entity, month, "csv", dirt_mod.wrong_encoding(text), None, day)
            else:
                continue
            self.stats.dirt[kind] += 1
        for part_day, part in parts[:-1]:
            self._write(entity, month, dialect.ext, serialize(encode(part, entity, dialect, rng), dialect), part.num_rows,
                        part_day)
        self._write(entity, month, dialect.ext, data, frame.num_rows, day)
        for kind in file_kinds:
            if kind == "exact_duplicate_file":
                self._write(entity, month, dialect.ext, data, frame.num_rows, day)
            elif kind == "same_rows_other_format":
                other_fmt = FORMATS[(FORMATS.index(dialect.fmt) + 1 + int(rng.integers(0, 2))) % 3]
                other = replace(dialect, fmt=other_fmt).fits()
                self._write(
                    entity,
                    month,
                    other.ext,
                    serialize(encode(frame, entity, other, rng), other),
                    frame.num_rows,
                    day,
                )
            elif kind == "empty_csv_header_only":
                header = encode(frame.slice(0, 0), entity, replace(dialect, fmt="csv").fits(), rng)
                self._write(entity, month, "csv", csv_bytes(header, bom=dialect.bom), 0, day)
            elif kind == "empty_parquet":
                empty = encode(frame.slice(0, 0), entity, replace(dialect, fmt="parquet").fits(), rng)
                self._write(entity, month, "parquet", parquet_bytes(empty), 0, day)
            elif kind == "empty_json":
                self._write(entity, month, "json", b"", 0, day)
            else:
                continue
            self.stats.dirt[kind] += 1

    def _periods(self, frame: pa.Table, month: int) -> list[tuple[int | None, pa.Table]]:
        """The month's rows cut into the cadence's exports: (last day of the period, rows), by `dtUpdated`.

        Monthly: one export (day None: the month's id). Shorter cadences: one export per period that
        has rows (a row's day clipped into the month; no `dtUpdated`: the month's last day), or one
        empty export at the month's end when the month has no rows.
        """
        if self.period is None:
            return [(None, frame)]
        first = int(self.w.cal.month_start[month])
        last = int(self.w.cal.month_start[month + 1]) - 1
        if frame.num_rows == 0:
            return [(last, frame)]
        updated = pc.fill_null(frame.column("dtUpdated").combine_chunks(), last * 86400).to_numpy(zero_copy_only=False)
        days = np.clip(np.floor_divide(updated, 86400), first, last)
        ends = np.minimum(first + ((days - first) // self.period + 1) * self.period - 1, last)
        return [(int(end), frame.take(pa.array(np.flatnonzero(ends == end)))) for end in np.unique(ends)]

    def _count_styles(self, entity: str, dialect: Dialect, physical: pa.Table) -> None:
        styles = self.stats.styles
        styles[("format", dialect.fmt)] += 1
        if dialect.fmt == "csv":
            styles[("csv_bom", "yes" if dialect.bom else "no")] += 1
        if dialect.fmt == "json":
            styles[("json_nulls", "omitted" if dialect.omit_nulls else "null")] += 1
            dialect = dialect.as_text()
        types = {c.type for c in columns(entity)}
        for kind in STYLES:
            if kind in types:
                styles[(kind, getattr(dialect, kind))] += 1
        if "enum" in types:
            styles[("enum_case", dialect.enum_case)] += 1
        if dialect.timestamp == "iso_offset":
            styles[("tz_offset", dialect.tz_offset)] += 1
        styles[("names", dialect.names)] += 1
        if dialect.shuffle:
            self.stats.dirt["column_order_drift"] += 1
        if dialect.names != "exact":
            self.stats.dirt["column_name_drift"] += 1
        if dialect.extra:
            self.stats.dirt["unknown_extra_columns"] += 1
        if dialect.drop:
            self.stats.dirt["missing_optional_column"] += 1

    def run(self) -> GenerateStats:
        """Write all exports of this store, month by month."""
        w, s = self.w, self.s
        index = ent.StoreIndex(w, s)
        carry = None
        last = w.cal.months - 1
        for k in range(w.cal.months):
            locations = ent.locations_frame(w, s, k)
            if locations.num_rows:
                self.export("locations", k, locations)
                if k == w.cal.months // 2:
                    self.stats.dirt["reexport_changed_values"] += sum(
                        1 for loc in np.flatnonzero(w.loc_store == s) if w.loc_new_names[loc] is not None
                    )
            customers, counts = ent.customers_frame(w, s, k)
            self.stats.dirt.update(counts)
            self.stats.dirt["reexport_later_dtupdated"] += counts["reexport_changed_values"]
            self.export("customers", k, customers)
            memberships, cancelled = ent.memberships_frame(w, s, k)
            self.stats.dirt["reexport_later_dtupdated"] += cancelled
            self.stats.dirt["reexport_changed_values"] += cancelled
            self.export("memberships", k, memberships)
            attempts, billing_payments = ent.billing_frames(w, s, k, self._rng(10, "billing_attempts", k))
            self.export("billing_attempts", k, attempts)
            tickets, payments, corrections, changed = ent.tickets_frames(
                w, s, k, index, self._rng(10, "tickets", k)
            )
            self.stats.dirt["reexport_later_dtupdated"] += corrections.num_rows
            self.stats.dirt["reexport_changed_values"] += changed
            if carry is not None and carry.num_rows:
                tickets = pa.concat_tables([tickets, carry])
            self.export("tickets", k, tickets)
            carry = corrections
            books, book_payments, book_updates = ent.prepaid_books_frames(
                w, s, k, self._rng(10, "prepaid_books", k)
            )
            self.stats.dirt["reexport_later_dtupdated"] += book_updates
            self.stats.dirt["reexport_changed_values"] += book_updates
            self.export("prepaid_books", k, books)
            self.export("payments", k, pa.concat_tables([payments, billing_payments, book_payments]))
            if k % 3 == 2 or k == last:
                accounts, counts = ent.house_accounts_frame(w, s, k, self._rng(10, "house_accounts", k))
                self.stats.dirt.update(counts)
                self.export("house_accounts", k, accounts)
        if carry is not None and carry.num_rows:
            self.export("tickets", last, carry)
        return self.stats


# --------------------------------------------------------------------------------------------------
# entry point

_WORLD: tuple | None = None  # (world, out, dialects, plan, cadence) inherited by forked workers


def _run_store(store: int) -> GenerateStats:
    world, out, dialects, plan, cadence = _WORLD
    return StoreWriter(world, out, store, dialects, plan, cadence).run()


def _store_rows(w: World) -> dict[str, np.ndarray]:
    S = len(w.store_ids)
    tickets = np.bincount(w.loc_store, weights=w.nonmember_counts.sum(axis=1), minlength=S)
    tickets += np.bincount(w.mem_store, weights=w.washes.sum(axis=1), minlength=S)
    return {
        "locations": np.bincount(w.loc_store, minlength=S),
        "customers": np.bincount(w.cust_store, minlength=S),
        "memberships": np.bincount(w.mem_store, minlength=S),
        "tickets": tickets,
        "payments": tickets,
        "billing_attempts": np.bincount(w.mem_store, weights=(w.att_n > 0).sum(axis=1), minlength=S),
        "house_accounts": np.bincount(w.ha_store, minlength=S),
        "prepaid_books": np.bincount(w.book_store, minlength=S),
    }


def _clear_previous(out: Path) -> None:
    """Remove store folders a previous run left (only folders that look like generated stores)."""
    if not out.exists():
        return
    for child in out.iterdir():
        if child.is_dir() and STORE_DIR.fullmatch(child.name):
            if all(grand.is_dir() and grand.name in ENTITIES for grand in child.iterdir()):
                shutil.rmtree(child)


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def generate(
    out: Path | str,
    stores: int = 6,
    tickets: int = 100_000,
    seed: int = 7,
    *,
    end_date: date = DEFAULT_END_DATE,
    months: int = DEFAULT_MONTHS,
    workers: int | None = None,
    replace_existing: bool = True,
    cadence: str = "monthly",
) -> GenerateStats:
    """Write sample landing exports for all eight entities under `out` and return what was written.

    Layout `<out>/<store_id>/<entity>/<export_id>.<ext>` (DOMAIN.md §1), `tickets` tickets in all over
    `months` whole months ending with the month of `end_date` (a fixed window, never the wall clock),
    with every accepted encoding and the dirt of real stores. The same arguments give byte-identical
    files. `workers` processes write stores in parallel (default: 1 below a million tickets, else up to
    the CPU count); `replace_existing` first removes store folders a previous run left in `out`.
    `cadence` is how often stores export (`CADENCES`): monthly (one export per month and entity), or
    weekly or daily (an export per period with rows, cut by `dtUpdated`: the same rows in more, smaller
    files).
    """
    if isinstance(stores, bool) or not isinstance(stores, int) or stores < 1:
        raise ValueError(f"stores must be a positive integer, got {stores!r}")
    if isinstance(tickets, bool) or not isinstance(tickets, int) or tickets < 1:
        raise ValueError(f"tickets must be a positive integer, got {tickets!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise ValueError(f"months must be an integer in 1..120, got {months!r}")
    if not isinstance(end_date, date):
        raise TypeError(f"end_date must be a datetime.date, got {type(end_date).__name__}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {', '.join(CADENCES)}, got {cadence!r}")

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, but {out} is a file")

    started = time.perf_counter()
    cal = Calendar.build(end_date, months)
    world = build_world(seed, stores, tickets, cal)
    dialects = DialectPlan(seed, stores, months)
    plan = dirt_mod.DirtPlan(seed, _store_rows(world), months)
    if replace_existing:
        _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)

    stats = GenerateStats(out=out, seed=seed, stores=stores)
    stats.locations = world.locations
    stats.window = (from_day(cal.start_day), from_day(cal.end_day - 1))
    stats.tickets = tickets
    stats.customers = len(world.cust_loc)
    stats.memberships = world.memberships
    stats.cancellations = int((world.mem_cancel_day != NO_CANCEL).sum())

    if workers is None:
        workers = 1 if tickets < 1_000_000 else min(os.cpu_count() or 1, 4)
    workers = min(workers, stores)
    if workers == 1:
        for s in range(stores):
            stats.merge(StoreWriter(world, out, s, dialects, plan, cadence).run())
    else:
        global _WORLD
        _WORLD = (world, out, dialects, plan, cadence)
        try:
            # largest stores first so the pool stays busy to the end
            order = [int(s) for s in np.argsort(-_store_rows(world)["tickets"], kind="stable")]
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for part in pool.imap_unordered(_run_store, order):
                    stats.merge(part)
        finally:
            _WORLD = None
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_mb = _peak_rss_mb()
    return stats
