"""The landing contract as the generator sees it: entities, their columns, logical types and merge keys.

Columns, logical types, required flags, enumeration values and merge keys come from the contract
(`conf/tables/*.yaml`, through `lakehouse.config.load_tables`), so a column added there is generated
too (as nulls, unless the generator learns its values). The generator builds
every export as a *logical* Arrow table first, with one fixed Arrow type per logical type, and only then
encodes it the way one store's export happens to look (`lakehouse.generate.encode`).
"""

from __future__ import annotations

import pyarrow as pa

from lakehouse.config import ColumnSpec, load_tables

# The entities the generator builds, in the order their random streams are drawn (a new entity
# goes last, so the other entities' files stay the same for a seed).
ENTITY_ORDER = (
    "locations",
    "customers",
    "memberships",
    "tickets",
    "payments",
    "billing_attempts",
    "house_accounts",
    "prepaid_books",
)
_CONTRACT = load_tables()  # conf/tables/*.yaml of the project (lakehouse.config.project_root)

ENTITIES: dict[str, tuple[ColumnSpec, ...]] = {entity: _CONTRACT[entity].columns for entity in ENTITY_ORDER}
MERGE_KEYS: dict[str, tuple[str, ...]] = {entity: _CONTRACT[entity].merge_key for entity in ENTITY_ORDER}

# The row id column of each entity: the part of the merge key that identifies a row within a location.
ID_COLUMN: dict[str, str] = {entity: keys[-1] for entity, keys in MERGE_KEYS.items()}

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


def columns(entity: str) -> tuple[ColumnSpec, ...]:
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
