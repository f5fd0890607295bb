"""Tests of the sample data generator: layout, determinism, every accepted encoding, every kind of dirt,
the churn signal and the stats. The written files are read back independently (pyarrow for Parquet, the
csv and json modules for text) and parsed with small parsers of DOMAIN.md §1 written here, not with the
generator's own code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.generate import generate
from lakehouse.generate.dirt import row_kinds
from lakehouse.generate.schema import ENTITIES

ROOT = Path(__file__).resolve().parents[1]
WINDOW_START = datetime(2024, 10, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 10, 1, tzinfo=UTC)
MERGE_ID = {
    "locations": "sLocationId",
    "customers": "sCustomerId",
    "memberships": "sMembershipId",
    "tickets": "sTicketId",
    "payments": "sPaymentId",
    "billing_attempts": "sAttemptId",
    "house_accounts": "sAccountNumber",
    "prepaid_books": "sBookId",
}
TYPES = {entity: {c.name: c.type for c in cols} for entity, cols in ENTITIES.items()}
REQUIRED = {entity: [c.name for c in cols if c.required] for entity, cols in ENTITIES.items()}
ENUMS = {
    "sPlan": {"basic", "deluxe", "ultimate"},
    "sOutcome": {"success", "declined", "error"},
    "sPaymentMethod": {"cash", "card", "membership", "prepaid", "house_account"},
    "sMethod": {"cash", "card", "membership", "prepaid", "house_account"},
}


# --------------------------------------------------------------------------------------------------
# independent parsers of the accepted encodings (raise ValueError when a value does not parse)

ISO_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$")
US_TS = re.compile(r"^(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2})(?::(\d{2}))?$")
US_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
BOOL_TEXT = {
    "true": True,
    "false": False,
    "t": True,
    "f": False,
    "1": True,
    "0": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
}


def parse_ts(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    text = str(value).strip()
    if ISO_TS.match(text):
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    m = US_TS.match(text)
    if m:
        mo, d, y, hh, mm, ss = m.groups()
        return datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def parse_date(value) -> date:
    if isinstance(value, datetime):
        return parse_ts(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    m = US_DATE.match(text)
    if m:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    raise ValueError(f"not a date: {value!r}")


def parse_money(value) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("boolean is not money")
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if text.startswith("-"):
        negative, text = True, text[1:]
    text = text.replace("$", "").replace(",", "")
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(f"not money: {value!r}")
    return -Decimal(text) if negative else Decimal(text)


def parse_int(value) -> int:
    if isinstance(value, bool):
        raise ValueError("boolean is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != int(value):
            raise ValueError(f"not integral: {value!r}")
        return int(value)
    text = str(value).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"not an integer: {value!r}")
    return int(text)


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, bytes):
        if value in (b"\x00", b"\x01"):
            return value == b"\x01"
        raise ValueError(f"not a boolean byte: {value!r}")
    if isinstance(value, int):
        if value in (0, 1):
            return value == 1
        raise ValueError(f"not a boolean: {value!r}")
    text = str(value).strip().lower()
    if text in BOOL_TEXT:
        return BOOL_TEXT[text]
    raise ValueError(f"not a boolean: {value!r}")


def parse(entity: str, column: str, value):
    """The typed value of a source value (None for null), or raise ValueError."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    kind = TYPES[entity][column]
    if kind == "timestamp":
        return parse_ts(value)
    if kind == "date":
        return parse_date(value)
    if kind == "decimal":
        return parse_money(value)
    if kind == "integer":
        return parse_int(value)
    if kind == "boolean":
        return parse_bool(value)
    if kind == "enum":
        text = str(value).strip().lower()
        if text not in ENUMS[column]:
            raise ValueError(f"unknown {column}: {value!r}")
        return text
    return str(value).strip()


# --------------------------------------------------------------------------------------------------
# reading every export back


@dataclass
class Export:
    path: Path
    store: str
    entity: str
    export_id: str
    fmt: str
    status: str  # ok | empty | corrupt
    header: list[str] = field(default_factory=list)
    schema: pa.Schema | None = None
    rows: list[dict] = field(default_factory=list)  # contract name -> raw value
    extra: list[str] = field(default_factory=list)
    bom: bool = False
    raw: bytes = b""


def _canonical(entity: str) -> dict[str, str]:
    return {name.lower(): name for name in TYPES[entity]}


def read_export(path: Path, root: Path) -> Export:
    store, entity, name = path.relative_to(root).parts
    export_id, fmt = name.rsplit(".", 1)
    raw = path.read_bytes()
    exp = Export(path, store, entity, export_id, fmt, "ok", raw=raw)
    canon = _canonical(entity)
    try:
        if fmt == "parquet":
            table = pq.read_table(io.BytesIO(raw))
            exp.schema, exp.header = table.schema, table.column_names
            records = table.to_pylist()
        elif fmt == "csv":
            exp.bom = raw.startswith(b"\xef\xbb\xbf")
            text = raw.decode("utf-8-sig")
            reader = list(csv.reader(io.StringIO(text, newline="")))
            exp.header = reader[0]
            records = [
                dict(zip(exp.header, [v if v != "" else None for v in row], strict=True))
                for row in reader[1:]
            ]
        else:
            lines = raw.decode("utf-8").splitlines()
            records = [json.loads(line) for line in lines if line.strip()]
            exp.header = list(dict.fromkeys(k for r in records for k in r))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, ValueError, csv.Error, IndexError):
        exp.status = "corrupt"
        return exp
    exp.extra = [h for h in exp.header if h.strip().lower() not in canon]
    exp.rows = [
        {canon[k.strip().lower()]: v for k, v in r.items() if k.strip().lower() in canon} for r in records
    ]
    if not exp.rows:
        exp.status = "empty"
    return exp


@dataclass
class Landing:
    root: Path
    stats: object
    exports: list[Export]

    def of(self, entity: str, status: str = "ok") -> list[Export]:
        return [e for e in self.exports if e.entity == entity and e.status == status]

    def rows(self, entity: str):
        for exp in self.of(entity):
            for row in exp.rows:
                yield exp, row


def scan(root: Path, stats) -> Landing:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return Landing(root, stats, [read_export(p, root) for p in files])


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Landing:
    """The sample most tests read: 6 stores, 40,000 tickets, seed 7."""
    root = tmp_path_factory.mktemp("landing")
    stats = generate(out=root, stores=6, tickets=40_000, seed=7)
    return scan(root, stats)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


# --------------------------------------------------------------------------------------------------
# layout, contract and determinism


def test_layout_follows_the_contract(landing):
    store_re = re.compile(r"[a-z0-9_]+")
    export_re = re.compile(r"\d{8}T\d{6}_\d{4}")
    stores = {e.store for e in landing.exports}
    assert len(stores) == 6
    for exp in landing.exports:
        assert store_re.fullmatch(exp.store), exp.path
        assert exp.entity in ENTITIES, exp.path
        assert export_re.fullmatch(exp.export_id), exp.path
        assert exp.fmt in ("parquet", "csv", "json"), exp.path
    for store in stores:
        assert {e.entity for e in landing.exports if e.store == store} == set(ENTITIES)


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    a = generate(out=tmp_path / "a", stores=3, tickets=3_000, seed=11, months=6)
    generate(out=tmp_path / "b", stores=3, tickets=3_000, seed=11, months=6)
    generate(out=tmp_path / "c", stores=3, tickets=3_000, seed=12, months=6)
    first, second, other = (_hashes(tmp_path / x) for x in "abc")
    assert len(first) == sum(a.files.values()) > 50
    assert first == second
    assert first != other
    assert set(first.values()) != set(other.values())


def test_rerun_into_the_same_folder_replaces_the_previous_sample(tmp_path):
    generate(out=tmp_path, stores=4, tickets=1_000, seed=1, months=2)
    (tmp_path / "notes.txt").write_text("keep me")
    generate(out=tmp_path, stores=2, tickets=1_000, seed=1, months=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "store_01", "store_02"]


def test_locations_belong_to_one_store_with_globally_unique_ids(landing):
    owner: dict[str, set] = defaultdict(set)
    for exp, row in landing.rows("locations"):
        if row.get("sLocationId"):
            owner[row["sLocationId"]].add(exp.store)
    real = {loc for loc in owner if not loc.endswith("_l99")}
    assert len(real) >= 30
    assert all(len(stores) == 1 and loc.startswith(next(iter(stores)) + "_") for loc, stores in owner.items())
    for entity in ("tickets", "memberships", "billing_attempts"):
        for exp, row in landing.rows(entity):
            loc = row.get("sLocationId")
            if loc in real:
                assert loc.startswith(exp.store + "_"), (entity, exp.path, loc)


def test_every_valid_timestamp_and_date_is_inside_the_window(landing):
    checked = 0
    for entity, types in TYPES.items():
        temporal = [c for c, t in types.items() if t in ("timestamp", "date")]
        for _exp, row in landing.rows(entity):
            for col in temporal:
                try:
                    value = parse(entity, col, row.get(col))
                except ValueError:
                    continue  # deliberately unparseable
                if value is None:
                    continue
                if isinstance(value, datetime):
                    assert WINDOW_START <= value < WINDOW_END, (entity, col, value)
                else:
                    assert WINDOW_START.date() <= value < WINDOW_END.date(), (entity, col, value)
                checked += 1
    assert checked > 100_000


def test_window_is_a_parameter_not_the_clock(tmp_path):
    generate(out=tmp_path, stores=1, tickets=500, seed=3, end_date=date(2021, 6, 30), months=3)
    seen = []
    for exp in scan(tmp_path, None).exports:
        for row in exp.rows:
            for col, kind in TYPES[exp.entity].items():
                if kind == "timestamp":
                    try:
                        value = parse(exp.entity, col, row.get(col))
                    except ValueError:
                        continue
                    if value is not None:
                        seen.append(value)
    assert (
        seen
        and min(seen) >= datetime(2021, 4, 1, tzinfo=UTC)
        and max(seen) < datetime(2021, 7, 1, tzinfo=UTC)
    )


# --------------------------------------------------------------------------------------------------
# every accepted encoding is present


def _encoding_tags(landing: Landing) -> set[str]:
    tags: set[str] = set()
    for exp in landing.exports:
        if exp.status == "corrupt":
            continue
        tags.add(f"format:{exp.fmt}")
        if exp.fmt == "csv":
            tags.add("csv:bom" if exp.bom else "csv:no_bom")
            if exp.status == "empty":
                tags.add("csv:header_only")
            if b'""' in exp.raw:
                tags.add("csv:escaped_quote")
            if re.search(rb'"[^"\n]*,[^"\n]*"', exp.raw):
                tags.add("csv:quoted_comma")
        if exp.fmt == "json" and exp.status == "ok":
            lines = [json.loads(line) for line in exp.raw.decode("utf-8").splitlines()]
            tags.add("json:null" if any(None in obj.values() for obj in lines) else "json:no_null")
            if len({frozenset(obj) for obj in lines}) > 1:
                tags.add("json:omitted_members")
        canon = _canonical(exp.entity)
        names = [h for h in exp.header if h.strip().lower() in canon]
        if any(h != h.strip() for h in names):
            tags.add("names:padded")
        if names and all(h.strip() == h.strip().lower() for h in names):
            tags.add("names:lower")
        if names and all(h.strip() == h.strip().upper() for h in names):
            tags.add("names:upper")
        order = [canon[h.strip().lower()] for h in names]
        contract = [c for c in TYPES[exp.entity] if c in order]
        if order != contract:
            tags.add("names:reordered")
        if exp.schema is not None:
            physical = pq.ParquetFile(io.BytesIO(exp.raw)).schema
            for i in range(len(physical)):
                column = physical.column(i)
                if column.physical_type == "INT96":
                    col = canon.get(column.name.strip().lower())
                    tags.add(f"{TYPES[exp.entity][col] if col else 'extra'}:parquet_int96")
            for f in exp.schema:
                col = canon.get(f.name.strip().lower())
                if col is None:
                    continue
                kind = TYPES[exp.entity][col]
                if pa.types.is_timestamp(f.type):
                    tags.add(f"{kind}:parquet_timestamp_{f.type.unit}")
                    tags.add(f"{kind}:parquet_timestamp_{'utc' if f.type.tz else 'naive'}")
                elif pa.types.is_date32(f.type):
                    tags.add(f"{kind}:parquet_date")
                elif pa.types.is_decimal(f.type):
                    tags.add(f"{kind}:parquet_decimal")
                elif pa.types.is_floating(f.type):
                    tags.add(f"{kind}:parquet_double")
                elif pa.types.is_integer(f.type):
                    tags.add(f"{kind}:parquet_{f.type}")
                elif pa.types.is_boolean(f.type):
                    tags.add(f"{kind}:parquet_bool")
                elif pa.types.is_binary(f.type):
                    tags.add(f"{kind}:parquet_binary")
        for row in exp.rows[:400]:
            for col, value in row.items():
                kind = TYPES[exp.entity][col]
                if value is None:
                    continue
                if exp.fmt == "json" and not isinstance(value, str):
                    tags.add(f"{kind}:json_{type(value).__name__}")
                if not isinstance(value, str):
                    continue
                if kind == "timestamp":
                    if re.fullmatch(r"\S+T\S+Z", value):
                        tags.add("timestamp:iso_T_Z")
                    if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value):
                        tags.add("timestamp:iso_space")
                    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value):
                        tags.add("timestamp:iso_T_no_zone")
                    if re.search(r"[+-]\d\d:\d\d$", value):
                        tags.add("timestamp:iso_offset")
                    if re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", value):
                        tags.add("timestamp:us_hh_mm")
                    if re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", value):
                        tags.add("timestamp:us_hh_mm_ss")
                elif kind == "date":
                    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
                        tags.add("date:iso")
                    if re.fullmatch(r"\d\d/\d\d/\d{4}", value):
                        tags.add("date:us")
                elif kind == "decimal":
                    if "$" in value:
                        tags.add("decimal:dollar")
                    if re.search(r"\d,\d{3}", value):
                        tags.add("decimal:thousands")
                    if re.fullmatch(r"\(.*\)", value):
                        tags.add("decimal:paren_negative")
                    if value.startswith("-"):
                        tags.add("decimal:minus_negative")
                    if re.fullmatch(r"\d+\.\d\d", value):
                        tags.add("decimal:plain")
                elif kind == "integer" and re.fullmatch(r"\d+", value):
                    tags.add("integer:text")
                elif kind == "boolean":
                    tags.add(f"boolean:text_{value}")
                elif kind == "enum":
                    tags.add(
                        "enum:" + ("lower" if value.islower() else "upper" if value.isupper() else "mixed")
                    )
    return tags


EXPECTED_ENCODINGS = {
    "format:parquet",
    "format:csv",
    "format:json",
    "csv:bom",
    "json:null",
    "json:omitted_members",
    "csv:no_bom",
    "csv:header_only",
    "csv:escaped_quote",
    "csv:quoted_comma",
    "names:padded",
    "names:lower",
    "names:upper",
    "names:reordered",
    "timestamp:parquet_int96",
    "timestamp:parquet_timestamp_ms",
    "timestamp:parquet_timestamp_us",
    "timestamp:parquet_timestamp_ns",
    "timestamp:parquet_timestamp_utc",
    "timestamp:parquet_timestamp_naive",
    "timestamp:parquet_int64",
    "timestamp:iso_T_Z",
    "timestamp:iso_space",
    "timestamp:iso_T_no_zone",
    "timestamp:iso_offset",
    "timestamp:us_hh_mm",
    "timestamp:us_hh_mm_ss",
    "date:parquet_date",
    "date:parquet_timestamp_ms",
    "date:parquet_timestamp_us",
    "date:iso",
    "date:us",
    "decimal:parquet_double",
    "decimal:parquet_decimal",
    "decimal:json_float",
    "decimal:dollar",
    "decimal:thousands",
    "decimal:paren_negative",
    "decimal:minus_negative",
    "decimal:plain",
    "integer:parquet_int16",
    "integer:parquet_int32",
    "integer:parquet_int64",
    "integer:parquet_double",
    "integer:text",
    "integer:json_int",
    "boolean:parquet_bool",
    "boolean:parquet_int8",
    "boolean:parquet_binary",
    "boolean:json_bool",
    "boolean:json_int",
    *(
        f"boolean:text_{t}"
        for t in (
            "true",
            "false",
            "TRUE",
            "FALSE",
            "True",
            "False",
            "t",
            "f",
            "T",
            "F",
            "1",
            "0",
            "y",
            "n",
            "Y",
            "N",
            "yes",
            "no",
            "Yes",
            "No",
            "YES",
            "NO",
        )
    ),
    "enum:lower",
    "enum:upper",
    "enum:mixed",
}


def test_every_accepted_encoding_is_present(landing):
    missing = EXPECTED_ENCODINGS - _encoding_tags(landing)
    assert not missing, sorted(missing)


def test_encodings_vary_across_stores_and_between_exports_of_one_store(landing):
    formats_by_store = defaultdict(set)
    for exp in landing.of("tickets"):
        types = tuple(str(f.type) for f in exp.schema) if exp.schema is not None else ()
        formats_by_store[exp.store].add((exp.fmt, types))
    assert all(len(v) >= 2 for v in formats_by_store.values())
    assert len({frozenset(v) for v in formats_by_store.values()}) > 1


def test_every_value_of_clean_rows_parses(landing):
    # every value parses except in rows deliberately made invalid (those carry an id ending in -xN)
    failures = []
    for entity in ENTITIES:
        for exp, row in landing.rows(entity):
            ids = " ".join(
                str(row.get(c) or "")
                for c in (
                    "sTicketId",
                    "sPaymentId",
                    "sAttemptId",
                    "sBookId",
                    "sMembershipId",
                    "sCustomerId",
                    "sAccountName",
                    "sLocationId",
                )
            )
            if re.search(r"-x\d+", ids) or row.get(MERGE_ID[entity]) is None:
                continue
            for col, value in row.items():
                try:
                    parse(entity, col, value)
                except ValueError as exc:
                    failures.append((entity, exp.path.name, col, str(exc)))
    assert not failures, failures[:10]


# --------------------------------------------------------------------------------------------------
# every kind of dirt is present


def _latest(landing: Landing, entity: str, key) -> dict:
    versions = defaultdict(list)
    for exp, row in landing.rows(entity):
        k = key(row)
        if k is None:
            continue
        try:
            seq = parse(entity, "dtUpdated", row.get("dtUpdated"))
        except ValueError:
            continue
        versions[k].append((seq, exp.export_id, exp.path.name, row))
    return versions


def _ticket_key(row):
    if row.get("sLocationId") is None or row.get("sTicketId") is None:
        return None
    return (row["sLocationId"], row["sTicketId"])


def _house_account_key(row):
    return row.get("sAccountNumber") or (str(row.get("sAccountName")).lower(), str(row.get("sEmail")).lower())


def _id_key(entity: str):
    return lambda row: row.get(MERGE_ID[entity])


@pytest.mark.parametrize("entity", ["tickets", "memberships", "customers", "prepaid_books", "house_accounts"])
def test_reexports_with_later_dtupdated_and_changed_values(landing, entity):
    key = {"tickets": _ticket_key, "house_accounts": _house_account_key}.get(entity, _id_key(entity))
    later, changed = 0, 0
    for versions in _latest(landing, entity, key).values():
        seqs = {v[0] for v in versions if v[0] is not None}
        files = {v[2] for v in versions}
        if len(seqs) > 1 and len(files) > 1:
            later += 1
            ordered = sorted((v for v in versions if v[0] is not None), key=lambda v: v[0])
            first, last = ordered[0][3], ordered[-1][3]
            cols = [c for c in TYPES[entity] if c != "dtUpdated"]
            try:
                if any(parse(entity, c, first.get(c)) != parse(entity, c, last.get(c)) for c in cols):
                    changed += 1
            except ValueError:
                pass
    assert later > 0 and changed > 0, (later, changed)


def test_exact_duplicate_reexports(landing):
    seen = defaultdict(list)
    for exp in landing.exports:
        if exp.status == "ok":
            seen[(exp.store, exp.entity, hashlib.sha256(exp.raw).hexdigest())].append(exp.export_id)
    assert any(len(ids) > 1 for ids in seen.values())


def test_same_rows_reexported_in_another_format(landing):
    by_slot = defaultdict(set)
    for exp in landing.of("billing_attempts"):
        ids = frozenset(r.get("sAttemptId") for r in exp.rows)
        by_slot[(exp.store, ids)].add(exp.fmt)
    assert any(len(fmts) > 1 for fmts in by_slot.values())


@pytest.mark.parametrize("entity", [e for e in ENTITIES if e != "house_accounts"])
def test_null_merge_keys(landing, entity):
    key = MERGE_ID[entity]
    nulls = sum(
        1
        for exp, row in landing.rows(entity)
        if row.get(key) is None and any(c.strip().lower() == key.lower() for c in exp.header)
    )
    assert nulls > 0


def test_house_accounts_without_numbers_and_their_duplicates(landing):
    without = [row for _exp, row in landing.rows("house_accounts") if row.get("sAccountNumber") is None]
    assert len(without) > 20
    per_file = Counter(
        (exp.path, str(row.get("sAccountName")).lower(), str(row.get("sEmail")).lower())
        for exp, row in landing.rows("house_accounts")
        if row.get("sAccountNumber") is None
    )
    assert any(n > 1 for n in per_file.values())
    cased = {str(row.get("sAccountName")) for row in without}
    assert any(name.isupper() for name in cased) and any(not name.isupper() for name in cased)


def test_unknown_extra_and_missing_columns(landing):
    extras = {h.strip().lower() for exp in landing.exports for h in exp.extra}
    assert {"sposterminal", "legacy_flag", "nloyaltypoints", "snotes"} <= extras
    missing = [
        exp
        for exp in landing.exports
        if exp.status == "ok"
        and exp.entity in ("locations", "customers")
        and len({h.strip().lower() for h in exp.header} & set(_canonical(exp.entity)))
        < len(TYPES[exp.entity])
    ]
    assert missing


def test_empty_files(landing):
    empties = [e for e in landing.exports if e.status == "empty"]
    assert any(e.fmt == "csv" and len(e.raw.strip().splitlines()) == 1 for e in empties)
    assert any(e.fmt == "parquet" and e.schema is not None and len(e.schema) > 0 for e in empties)
    assert any(e.fmt == "json" and e.raw == b"" for e in empties)


def test_corrupt_files(landing):
    corrupt = [e for e in landing.exports if e.status == "corrupt"]
    assert any(e.fmt == "parquet" for e in corrupt)
    garbage = [e for e in corrupt if e.fmt == "csv" and e.raw.startswith(b"\xff\xfe\x00")]
    assert garbage
    wrong = [e for e in corrupt if e.fmt == "csv" and e not in garbage]
    assert wrong
    for exp in wrong:  # readable in the encoding it was really written in, with the contract's header
        for encoding in ("utf-16", "cp1252"):
            try:
                header = exp.raw.decode(encoding).splitlines()[0].lower()
            except UnicodeDecodeError:
                continue
            if any(name.lower() in header for name in TYPES[exp.entity]):
                break
        else:
            pytest.fail(f"{exp.path} is neither UTF-16 nor Windows-1252 CSV")


def test_corrupt_first_attempts_are_followed_by_a_clean_resend(landing):
    by_slot = defaultdict(list)
    for exp in landing.exports:
        by_slot[(exp.store, exp.entity, exp.export_id.split("_")[0])].append(exp)
    for exp in (e for e in landing.exports if e.status == "corrupt"):
        later = [
            o
            for o in by_slot[(exp.store, exp.entity, exp.export_id.split("_")[0])]
            if o.export_id > exp.export_id and o.status == "ok"
        ]
        assert later, exp.path


def _kinds_found(landing: Landing, entity: str) -> set[str]:
    found = set()
    locations = {
        row["sLocationId"]
        for _e, row in landing.rows("locations")
        if row.get("sLocationId") and not str(row.get("sLocationId")).endswith("_l99")
    }
    key = MERGE_ID[entity]
    for exp, row in landing.rows(entity):
        present = {c.strip().lower() for c in exp.header}
        if entity != "house_accounts" and row.get(key) is None and key.lower() in present:
            found.add("null_merge_key")
            continue
        parsed = {}
        for col in TYPES[entity]:
            try:
                parsed[col] = parse(entity, col, row.get(col))
            except ValueError:
                kind = TYPES[entity][col]
                found.add("unknown_enum" if kind == "enum" else f"bad_{kind}")
        if any(parsed.get(c, "?") is None and c.lower() in present for c in REQUIRED[entity]):
            found.add("required_null")
        loc = parsed.get("sLocationId")
        if entity not in ("locations", "customers") and loc and loc not in locations:
            found.add("unknown_location")
        if entity in ("tickets", "billing_attempts") and (parsed.get("nAmount") or 0) < 0:
            found.add("negative_amount")
        if (
            entity == "memberships"
            and parsed.get("dCancelled")
            and parsed.get("dStarted")
            and parsed["dCancelled"] < parsed["dStarted"]
        ):
            found.add("cancelled_before_started")
        if (
            entity == "prepaid_books"
            and parsed.get("nWashesUsed") is not None
            and parsed.get("nWashesTotal") is not None
            and parsed["nWashesUsed"] > parsed["nWashesTotal"]
        ):
            found.add("washes_used_over_total")
    return found


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_quarantine_kind_is_present(landing, entity):
    assert set(row_kinds(entity)) <= _kinds_found(landing, entity)


def test_row_dirt_kinds_cover_every_quarantine_reason():
    kinds = {k for e in ENTITIES for k in row_kinds(e)}
    assert {
        "required_null",
        "bad_timestamp",
        "bad_date",
        "bad_decimal",
        "bad_integer",
        "bad_boolean",
        "unknown_enum",
        "unknown_location",
        "cancelled_before_started",
        "negative_amount",
        "washes_used_over_total",
        "null_merge_key",
    } <= kinds
    assert "null_merge_key" not in row_kinds("house_accounts")


def test_invalid_and_messy_emails_and_phones(landing):
    emails = [row["sEmail"] for _e, row in landing.rows("customers") if row.get("sEmail")]
    phones = [row["sPhone"] for _e, row in landing.rows("customers") if row.get("sPhone")]
    valid_email = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    assert any(not valid_email.match(e.strip()) for e in emails)
    assert any(e != e.strip() for e in emails)
    assert any(e.strip() != e.strip().lower() and valid_email.match(e.strip()) for e in emails)
    digits = [re.sub(r"\D", "", p) for p in phones]
    assert any(len(d) not in (10, 11) for d in digits)
    for pattern in (r"\(\d{3}\) \d{3}-\d{4}", r"\+1 \d{3} \d{3} \d{4}", r"\d{3}\.\d{3}\.\d{4}"):
        assert any(re.fullmatch(pattern, p) for p in phones), pattern


def test_dirty_rows_are_a_small_fraction(landing):
    stats = landing.stats
    dirty = sum(stats.dirt[k] for k in {k for e in ENTITIES for k in row_kinds(e)})
    written = sum(stats.rows_written.values())
    assert 0.003 < dirty / written < 0.025


# --------------------------------------------------------------------------------------------------
# realism and the churn signal


def _memberships(landing: Landing) -> dict[str, dict]:
    out = {}
    for versions in _latest(landing, "memberships", lambda r: r.get("sMembershipId")).values():
        seq, _eid, _name, row = max(versions, key=lambda v: (v[0], v[1], v[2]))
        try:
            parsed = {c: parse("memberships", c, row.get(c)) for c in TYPES["memberships"]}
        except ValueError:
            continue
        if str(parsed["sMembershipId"]).find("-x") >= 0 or parsed["sLocationId"].endswith("_l99"):
            continue
        out[parsed["sMembershipId"]] = parsed
    return out


def test_memberships_plans_prices_and_cancellations(landing):
    members = _memberships(landing)
    assert len(members) > 1_200
    plans = Counter(m["sPlan"] for m in members.values())
    assert set(plans) == {"basic", "deluxe", "ultimate"}
    cancelled = [m for m in members.values() if m["dCancelled"]]
    assert 0.2 < len(cancelled) / len(members) < 0.6
    same_month = [
        m
        for m in cancelled
        if (m["dCancelled"].year, m["dCancelled"].month) == (m["dStarted"].year, m["dStarted"].month)
    ]
    assert 0 < len(same_month) < 0.2 * len(cancelled)
    prices = {(m["sPlan"], m["nMonthlyPrice"]) for m in members.values()}
    assert len(prices) > 3


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    pos = label == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def churn_auc(landing: Landing) -> float:
    """Test ROC AUC of a logistic regression on wash and decline features, trained earlier in time."""
    members = _memberships(landing)
    by_customer = {m["sCustomerId"]: mid for mid, m in members.items()}
    washes = defaultdict(list)
    for _exp, row in landing.rows("tickets"):
        try:
            created = parse("tickets", "dtCreated", row.get("dtCreated"))
            member = parse("tickets", "bIsMember", row.get("bIsMember"))
            if member and created and row.get("sCustomerId") in by_customer:
                washes[by_customer[row["sCustomerId"]]].append(created.date())
        except ValueError:
            continue
    declines = defaultdict(list)
    for _exp, row in landing.rows("billing_attempts"):
        try:
            attempted = parse("billing_attempts", "dtAttempted", row.get("dtAttempted"))
            if parse("billing_attempts", "sOutcome", row.get("sOutcome")) == "declined" and attempted:
                declines[row.get("sMembershipId")].append(attempted.date())
        except ValueError:
            continue
    # a member's tickets stop at cancellation
    for mid, m in members.items():
        if m["dCancelled"]:
            assert all(d <= m["dCancelled"] for d in washes[mid]), mid

    samples = []
    for month in range(4, 24):
        snap = date(2024 + (9 + month) // 12, (9 + month) % 12 + 1, 1)
        for mid, m in members.items():
            if m["dStarted"] >= snap - timedelta(days=30) or (m["dCancelled"] and m["dCancelled"] < snap):
                continue
            w = washes[mid]
            w30 = sum(snap - timedelta(days=30) <= d < snap for d in w)
            w90 = sum(snap - timedelta(days=90) <= d < snap for d in w)
            last = max((d for d in w if d < snap), default=m["dStarted"])
            d90 = sum(snap - timedelta(days=90) <= d < snap for d in declines[mid])
            label = bool(m["dCancelled"] and m["dCancelled"] < snap + timedelta(days=30))
            samples.append((month, [w30, w90, (snap - last).days, d90, (snap - m["dStarted"]).days], label))
    month = np.array([s[0] for s in samples])
    x = np.array([s[1] for s in samples], dtype=float)
    y = np.array([s[2] for s in samples], dtype=float)
    train, test = month < 16, month >= 16
    assert y[train].sum() > 100 and y[test].sum() > 100
    # logistic regression by Newton's method on standardized features, tested later in time
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
    z = np.column_stack([np.ones(len(x)), (x - mu) / sd, np.log1p(x[:, 2:3])])
    beta = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z[train] @ beta))
        hess = (z[train] * (p * (1 - p))[:, None]).T @ z[train] + 1e-3 * np.eye(len(beta))
        beta += np.linalg.solve(hess, z[train].T @ (y[train] - p))
    return _auc(z[test] @ beta, y[test])


def test_churn_signal_is_learnable_before_cancellation(landing):
    assert churn_auc(landing) >= 0.75


# --------------------------------------------------------------------------------------------------
# API, stats and CLI


def test_stats_and_summary(landing):
    stats = landing.stats
    assert stats.tickets == 40_000
    assert stats.rows["tickets"] >= 40_000
    assert stats.rows_written["tickets"] > stats.rows["tickets"]
    assert sum(stats.files.values()) == len(landing.exports)
    assert stats.elapsed_s > 0 and stats.peak_rss_mb > 0
    text = stats.summary()
    for word in ("tickets/s", "rows/s", "peak RSS", "null_merge_key", "corrupt_truncated_parquet"):
        assert word in text


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"stores": 0}, ValueError),
        ({"tickets": 0}, ValueError),
        ({"seed": -1}, ValueError),
        ({"months": 0}, ValueError),
        ({"end_date": "2026-09-30"}, TypeError),
        ({"workers": 0}, ValueError),
    ],
)
def test_bad_arguments_are_rejected(tmp_path, kwargs, error):
    args = {"out": tmp_path, "stores": 2, "tickets": 100, "seed": 1, **kwargs}
    with pytest.raises(error):
        generate(**args)
    assert not any(tmp_path.iterdir())


def test_out_must_be_a_folder(tmp_path):
    target = tmp_path / "landing"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file"):
        generate(out=target, stores=1, tickets=100, seed=1)


def test_parallel_workers_write_the_same_bytes(tmp_path):
    generate(out=tmp_path / "one", stores=3, tickets=3_000, seed=5, months=6, workers=1)
    generate(out=tmp_path / "two", stores=3, tickets=3_000, seed=5, months=6, workers=2)
    assert _hashes(tmp_path / "one") == _hashes(tmp_path / "two")


def test_cli_generate(tmp_path, capsys):
    from lakehouse.cli import main

    with pytest.raises(SystemExit) as done:
        main(["generate", "--stores", "2", "--rows", "800", "--out", str(tmp_path), "--seed", "3"])
    assert done.value.code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store_01", "store_02"]
    assert "rows/s" in capsys.readouterr().out


def test_a_landing_cut_into_two_batches_and_put_back_together(tmp_path):
    from lakehouse.generate.batches import hold_back_latest, put_back

    landing, held = tmp_path / "landing", tmp_path / "held"
    for rel in ("s1/tickets/20250131.csv", "s1/tickets/20250228.csv", "s1/tickets/20250228.json",
                "s1/locations/20250131.csv", "s1/tickets/.hidden"):
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text(rel)
    moved = hold_back_latest(landing, held)
    # every file of the latest export; a folder with one export keeps it
    assert sorted(map(str, moved)) == ["s1/tickets/20250228.csv", "s1/tickets/20250228.json"]
    assert sorted(p.name for p in (landing / "s1" / "tickets").iterdir()) == [".hidden", "20250131.csv"]
    put_back(held, landing)
    assert not held.exists()
    assert sorted(str(p.relative_to(landing)) for p in landing.rglob("*") if p.is_file()) == [
        "s1/locations/20250131.csv", "s1/tickets/.hidden", "s1/tickets/20250131.csv", "s1/tickets/20250228.csv",
        "s1/tickets/20250228.json",
    ]
