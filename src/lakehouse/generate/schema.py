"""The landing contract as the generator sees it: entities, their columns, logical types and merge keys.

This mirrors DOMAIN.md §1 and `conf/tables/*.yaml` (a test checks that they agree). The generator builds
every export as a *logical* Arrow table first, with one fixed Arrow type per logical type, and only then
encodes it the way one store's export happens to look (`lakehouse.generate.encode`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """One contract column: its source name, logical type and whether a value is required."""

    name: str
    type: str
    required: bool = False


def _cols(*specs: str) -> tuple[Column, ...]:
    """Columns from compact specs `name:type` with a trailing `*` for required ones."""
    out = []
    for spec in specs:
        name, kind = spec.split(":")
        out.append(Column(name, kind.rstrip("*"), kind.endswith("*")))
    return tuple(out)


ENTITIES: dict[str, tuple[Column, ...]] = {
    "locations": _cols(
        "sLocationId:string*",
        "sName:string*",
        "sRegion:string",
        "dOpened:date*",
        "dClosed:date",
        "dtUpdated:timestamp",
    ),
    "customers": _cols(
        "sCustomerId:string*",
        "sEmail:string",
        "sPhone:string",
        "dtCreated:timestamp*",
        "sHomeLocationId:string",
        "dtUpdated:timestamp",
    ),
    "memberships": _cols(
        "sMembershipId:string*",
        "sCustomerId:string*",
        "sLocationId:string*",
        "sPlan:enum*",
        "nMonthlyPrice:decimal*",
        "dStarted:date*",
        "dCancelled:date",
        "dtUpdated:timestamp",
    ),
    "tickets": _cols(
        "sTicketId:string*",
        "sLocationId:string*",
        "sCustomerId:string",
        "dtCreated:timestamp*",
        "sWashType:string*",
        "nAmount:decimal*",
        "bIsMember:boolean*",
        "sPaymentMethod:enum*",
        "dtUpdated:timestamp",
    ),
    "payments": _cols(
        "sPaymentId:string*",
        "sLocationId:string*",
        "sTicketId:string",
        "sMembershipId:string",
        "nAmount:decimal*",
        "dtPaid:timestamp*",
        "sMethod:enum*",
        "dtUpdated:timestamp",
    ),
    "billing_attempts": _cols(
        "sAttemptId:string*",
        "sMembershipId:string*",
        "sLocationId:string*",
        "dtAttempted:timestamp*",
        "nAmount:decimal*",
        "sOutcome:enum*",
        "dtUpdated:timestamp",
    ),
    "house_accounts": _cols(
        "sAccountNumber:string",
        "sAccountName:string*",
        "sEmail:string",
        "sLocationId:string*",
        "nBalance:decimal*",
        "dtUpdated:timestamp",
    ),
    "prepaid_books": _cols(
        "sBookId:string*",
        "sCustomerId:string*",
        "sLocationId:string*",
        "dtPurchased:timestamp*",
        "nWashesTotal:integer*",
        "nWashesUsed:integer*",
        "bSendWash:boolean*",
        "dtUpdated:timestamp",
    ),
}

MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "locations": ("sLocationId",),
    "customers": ("sCustomerId",),
    "memberships": ("sMembershipId",),
    "tickets": ("sLocationId", "sTicketId"),
    "payments": ("sPaymentId",),
    "billing_attempts": ("sAttemptId",),
    "house_accounts": ("sAccountNumber",),
    "prepaid_books": ("sBookId",),
}

# The row id column of each entity: the part of the merge key that identifies a row within a location.
ID_COLUMN: dict[str, str] = {entity: keys[-1] for entity, keys in MERGE_KEYS.items()}

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "sPlan": ("basic", "deluxe", "ultimate"),
    "sOutcome": ("success", "declined", "error"),
    "sPaymentMethod": ("cash", "card", "membership", "prepaid", "house_account"),
    "sMethod": ("cash", "card", "membership", "prepaid", "house_account"),
}

# Logical Arrow type of each logical type: timestamps are epoch seconds, dates epoch days, money cents.
LOGICAL_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "enum": pa.string(),
    "timestamp": pa.int64(),
    "date": pa.int32(),
    "decimal": pa.int64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}

# Prefix of the hidden column that carries a raw text override (a value that must not parse).
RAW_PREFIX = "__raw__"


def columns(entity: str) -> tuple[Column, ...]:
    """The contract columns of `entity`, in contract order."""
    return ENTITIES[entity]


def column_types(entity: str) -> dict[str, str]:
    """Column name -> logical type for `entity`."""
    return {c.name: c.type for c in ENTITIES[entity]}


def logical_schema(entity: str) -> pa.Schema:
    """The Arrow schema of a logical (not yet encoded) frame of `entity`."""
    return pa.schema([pa.field(c.name, LOGICAL_ARROW[c.type]) for c in ENTITIES[entity]])


def logical_table(entity: str, data: dict[str, object], n: int | None = None) -> pa.Table:
    """A logical frame of `entity` from column arrays; missing columns are all-null."""
    schema = logical_schema(entity)
    if n is None:
        n = len(next(iter(data.values())))
    arrays = []
    for field in schema:
        value = data.get(field.name)
        if value is None:
            arrays.append(pa.nulls(n, field.type))
        elif isinstance(value, pa.Array | pa.ChunkedArray):
            arrays.append(value if value.type == field.type else value.cast(field.type))
        else:
            arrays.append(pa.array(value, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
