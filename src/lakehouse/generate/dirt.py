"""The dirt real stores produce, one function per kind, and the plan of where it goes.

Row dirt adds *extra* rows copied from clean rows of the same export, each with a fresh id (`<id>-x<n>`)
so it never collides with a clean row: nothing clean is lost when silver quarantines it, and no dirty
row can hide behind a clean one in the bronze dedup (the only exception is the null merge key, which
has no id by definition). File dirt writes extra files around a clean export: a corrupt first attempt
*before* the clean re-send (so a reader that half-reads it still loses the dedup to the later export),
exact duplicates, the same rows in another format and empty files after it.

`DirtPlan` makes every kind appear at least once (each row kind in every entity it applies to) on top
of small random rates, deterministically per seed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate.schema import ENTITIES, ID_COLUMN, MERGE_KEYS, RAW_PREFIX

ROW_KINDS = (
    "null_merge_key",
    "required_null",
    "bad_timestamp",
    "bad_date",
    "bad_decimal",
    "bad_integer",
    "bad_boolean",
    "unknown_enum",
    "unknown_location",
    "negative_amount",
    "cancelled_before_started",
    "washes_used_over_total",
)
FILE_KINDS = (
    "corrupt_truncated_parquet",
    "corrupt_binary_csv",
    "corrupt_encoding_csv",
    "exact_duplicate_file",
    "same_rows_other_format",
    "empty_csv_header_only",
    "empty_parquet",
    "empty_json",
)
ROW_RATE = 0.0015  # per row and applicable kind: ~1-1.5% dirty rows in all
FILE_RATES = {
    "corrupt_truncated_parquet": 0.004,
    "corrupt_binary_csv": 0.004,
    "corrupt_encoding_csv": 0.004,
    "exact_duplicate_file": 0.02,
    "same_rows_other_format": 0.015,
    "empty_csv_header_only": 0.007,
    "empty_parquet": 0.007,
    "empty_json": 0.007,
}

BAD_TEXT = {
    "timestamp": ("2025-13-45 25:61:00", "yesterday", "31/12/2025 10:00", "2025-02-30T10:00:00Z", "12:30 PM"),
    "date": ("2025-02-30", "13/45/2025", "soon", "2025/31/01", "31.12.2025"),
    "decimal": ("12,50 EUR", "abc", "1.2.3", "$-", "--5", "twelve"),
    "integer": ("ten", "3.5", "12abc", "7 washes"),
    "boolean": ("maybe", "2", "si", "truee", "-1"),
}
UNKNOWN_ENUM = {
    "sPlan": ("platinum", "gold", "family"),
    "sOutcome": ("pending", "refunded", "chargeback"),
    "sPaymentMethod": ("bitcoin", "check", "voucher"),
    "sMethod": ("bitcoin", "check", "wire"),
}
HAS_LOCATION_CHECK = (
    "memberships",
    "tickets",
    "payments",
    "billing_attempts",
    "house_accounts",
    "prepaid_books",
)


def row_kinds(entity: str) -> tuple[str, ...]:
    """The row dirt kinds that apply to `entity` (DOMAIN.md §2 null keys and every §3 quarantine reason)."""
    types = {c.type for c in ENTITIES[entity] if c.required}
    kinds = []
    if entity != "house_accounts":
        kinds.append("null_merge_key")
    kinds.append("required_null")
    kinds += [f"bad_{t}" for t in ("timestamp", "date", "decimal", "integer", "boolean") if t in types]
    if "enum" in types:
        kinds.append("unknown_enum")
    if entity in HAS_LOCATION_CHECK:
        kinds.append("unknown_location")
    if entity in ("tickets", "billing_attempts"):
        kinds.append("negative_amount")
    if entity == "memberships":
        kinds.append("cancelled_before_started")
    if entity == "prepaid_books":
        kinds.append("washes_used_over_total")
    return tuple(kinds)


# --------------------------------------------------------------------------------------------------
# table helpers


def _set(table: pa.Table, name: str, values) -> pa.Table:
    i = table.schema.get_field_index(name)
    field = table.schema.field(i)
    array = values if isinstance(values, pa.Array) else pa.array(values, type=field.type)
    return table.set_column(i, field, array.cast(field.type))


def _ensure_raw(table: pa.Table, name: str) -> pa.Table:
    raw = RAW_PREFIX + name
    if raw in table.column_names:
        return table
    return table.append_column(raw, pa.nulls(table.num_rows, pa.string()))


def concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate frames that may differ in their raw-override columns."""
    raws = sorted({n for t in tables for n in t.column_names if n.startswith(RAW_PREFIX)})
    fixed = []
    for t in tables:
        for raw in raws:
            t = _ensure_raw(t, raw[len(RAW_PREFIX) :])
        base = [n for n in t.column_names if not n.startswith(RAW_PREFIX)]
        fixed.append(t.select(base + raws))
    return pa.concat_tables(fixed)


def _null(table: pa.Table, name: str, mask: np.ndarray) -> pa.Table:
    column = table.column(name).combine_chunks()
    return _set(table, name, pc.if_else(pa.array(mask), pa.scalar(None, column.type), column))


# --------------------------------------------------------------------------------------------------
# one function per row dirt kind: each takes copies of clean rows and returns them made dirty


def _fresh_ids(rows: pa.Table, entity: str, serial: int) -> pa.Table:
    """Give copied rows ids no clean row has (house accounts: a new number, if any, and a new name)."""
    suffix = pa.array([f"-x{serial + i}" for i in range(rows.num_rows)], type=pa.string())
    id_cols = ("sAccountNumber", "sAccountName") if entity == "house_accounts" else (ID_COLUMN[entity],)
    for id_col in id_cols:
        column = rows.column(id_col).combine_chunks()
        rows = _set(rows, id_col, pc.binary_join_element_wise(column, suffix, ""))
    return rows


def null_merge_key(rows: pa.Table, entity: str, rng) -> pa.Table:
    """The row id of the merge key is null (bronze quarantines it)."""
    return _null(rows, ID_COLUMN[entity], np.ones(rows.num_rows, dtype=bool))


def required_null(rows: pa.Table, entity: str, rng) -> pa.Table:
    """One required, non-key value per row is null."""
    keys = set(MERGE_KEYS[entity])
    candidates = [c.name for c in ENTITIES[entity] if c.required and c.name not in keys]
    choice = rng.integers(0, len(candidates), rows.num_rows)
    for i, name in enumerate(candidates):
        if (choice == i).any():
            rows = _null(rows, name, choice == i)
    return rows


def bad_value(rows: pa.Table, entity: str, rng, kind: str) -> pa.Table:
    """A required value of logical type `kind` is text that does not parse as that type."""
    names = [c.name for c in ENTITIES[entity] if c.type == kind and c.required]
    name = names[int(rng.integers(0, len(names)))]
    rows = _ensure_raw(rows, name)
    bad = np.array(BAD_TEXT[kind], dtype=object)[rng.integers(0, len(BAD_TEXT[kind]), rows.num_rows)]
    return _set(rows, RAW_PREFIX + name, pa.array(bad, type=pa.string()))


def unknown_enum(rows: pa.Table, entity: str, rng) -> pa.Table:
    """An enumeration value outside its allowed set."""
    name = next(c.name for c in ENTITIES[entity] if c.type == "enum")
    values = UNKNOWN_ENUM[name]
    return _set(rows, name, pa.array([values[i] for i in rng.integers(0, len(values), rows.num_rows)]))


def unknown_location(rows: pa.Table, entity: str, rng, store_id: str) -> pa.Table:
    """A location id that no locations export contains."""
    return _set(rows, "sLocationId", pa.array([f"{store_id}_l99"] * rows.num_rows, type=pa.string()))


def negative_amount(rows: pa.Table, entity: str, rng) -> pa.Table:
    """A negative nAmount (tickets, billing attempts)."""
    amount = pc.fill_null(rows.column("nAmount").combine_chunks(), 0).to_numpy()
    return _set(rows, "nAmount", -np.where(amount > 0, amount, rng.integers(100, 2000, rows.num_rows)))


def cancelled_before_started(rows: pa.Table, entity: str, rng, start_day: int) -> pa.Table:
    """A membership whose dCancelled is before its dStarted."""
    started = np.maximum(rows.column("dStarted").to_numpy(zero_copy_only=False), start_day + 25)
    rows = _set(rows, "dStarted", started.astype(np.int32))
    return _set(rows, "dCancelled", (started - rng.integers(1, 21, rows.num_rows)).astype(np.int32))


def washes_used_over_total(rows: pa.Table, entity: str, rng) -> pa.Table:
    """A prepaid book with more washes used than it holds."""
    total = rows.column("nWashesTotal").to_numpy(zero_copy_only=False)
    return _set(rows, "nWashesUsed", total + rng.integers(1, 4, rows.num_rows))


def make_dirty(
    frame: pa.Table, entity: str, kind: str, n: int, rng, serial: int, store_id: str, start_day: int
) -> pa.Table:
    """`n` dirty copies of random rows of `frame` for row dirt `kind` (fresh ids unless the key is nulled)."""
    rows = frame.take(pa.array(rng.integers(0, frame.num_rows, n), type=pa.int64()))
    if kind != "null_merge_key":
        rows = _fresh_ids(rows, entity, serial)
    if kind == "null_merge_key":
        return null_merge_key(rows, entity, rng)
    if kind == "required_null":
        return required_null(rows, entity, rng)
    if kind.startswith("bad_"):
        return bad_value(rows, entity, rng, kind[4:])
    if kind == "unknown_enum":
        return unknown_enum(rows, entity, rng)
    if kind == "unknown_location":
        return unknown_location(rows, entity, rng, store_id)
    if kind == "negative_amount":
        return negative_amount(rows, entity, rng)
    if kind == "cancelled_before_started":
        return cancelled_before_started(rows, entity, rng, start_day)
    if kind == "washes_used_over_total":
        return washes_used_over_total(rows, entity, rng)
    raise ValueError(f"unknown row dirt kind {kind!r}")


# --------------------------------------------------------------------------------------------------
# file dirt


def truncated_parquet(data: bytes) -> bytes:
    """A Parquet file cut short (no footer): unreadable."""
    return data[: max(8, int(len(data) * 0.6))]


def binary_garbage(rng: np.random.Generator) -> bytes:
    """Random bytes in a .csv file (never valid UTF-8: starts with 0xFF)."""
    return b"\xff\xfe\x00" + rng.bytes(int(rng.integers(256, 2048)))


def wrong_encoding(csv_utf8: bytes) -> bytes:
    """The same CSV in Windows-1252 (when that changes any byte) or else UTF-16: not valid UTF-8."""
    text = csv_utf8.decode("utf-8")
    cp1252 = text.encode("cp1252", errors="replace")
    return cp1252 if cp1252 != csv_utf8 else text.encode("utf-16")


# --------------------------------------------------------------------------------------------------
# the plan


class DirtPlan:
    """Where dirt goes: small random rates plus one forced occurrence of every kind.

    A forced kind has a target (store, month); the first export of that store at or after that month
    that has rows gets it. Targets of all forced kinds are in the same few stores as state is per store,
    which keeps generation of different stores independent (and parallelizable) and deterministic.
    """

    def __init__(self, seed: int, store_rows: dict[str, np.ndarray], months: int):
        rng = np.random.default_rng([seed, 3])
        self.targets: dict[tuple[str, str], tuple[int, int]] = {}
        for entity in ENTITIES:
            rows = store_rows[entity]
            good = np.flatnonzero(rows >= np.median(rows)) if rows.sum() else np.arange(len(rows))
            for kind in row_kinds(entity):
                store = int(good[rng.integers(0, len(good))])
                self.targets[(entity, kind)] = (store, int(rng.integers(0, max(1, months // 2))))
        file_entities = {
            "corrupt_truncated_parquet": "tickets",
            "corrupt_binary_csv": "payments",
            "corrupt_encoding_csv": "house_accounts",
            "exact_duplicate_file": "tickets",
            "same_rows_other_format": "billing_attempts",
            "empty_csv_header_only": "customers",
            "empty_parquet": "memberships",
            "empty_json": "prepaid_books",
        }
        for kind, entity in file_entities.items():
            rows = store_rows[entity]
            store = int(np.argmax(rows))
            self.targets[(entity, kind)] = (store, int(rng.integers(0, max(1, months // 2))))

    def _forced(self, done: set, entity: str, kind: str, store: int, month: int) -> bool:
        target = self.targets.get((entity, kind))
        if target is None or (entity, kind) in done or target[0] != store or month < target[1]:
            return False
        done.add((entity, kind))
        return True

    def row_dirt(self, done: set, entity: str, store: int, month: int, n_rows: int, rng) -> dict[str, int]:
        """How many dirty rows of each kind to add to an export with `n_rows` clean rows."""
        if n_rows == 0:
            return {}
        out = {}
        for kind in row_kinds(entity):
            count = int(rng.poisson(ROW_RATE * n_rows)) + self._forced(done, entity, kind, store, month)
            if count:
                out[kind] = count
        return out

    def file_dirt(self, done: set, entity: str, store: int, month: int, n_rows: int, rng) -> list[str]:
        """Which file dirt kinds go around an export (corrupt ones need rows to corrupt)."""
        kinds = []
        for kind in FILE_KINDS:
            needs_rows = not kind.startswith("empty_")
            if needs_rows and n_rows == 0:
                continue
            if rng.random() < FILE_RATES[kind] or self._forced(done, entity, kind, store, month):
                kinds.append(kind)
        return kinds
