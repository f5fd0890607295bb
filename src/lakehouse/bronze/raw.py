"""An export as a Spark task read it, before casting: its columns as written, and how their values become text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lakehouse.encodings import WHITE_SPACE

# how a column's values become text: by their Arrow type (Parquet), as text (CSV, JSON line by
# line) or as the JSON values Arrow read (JSON lines, fast path)
TYPED, TEXT, JSON = "typed", "text", "json"


@dataclass
class RawExport:
    """One export as read: its columns (names as written), how to read their values, and its malformed records."""

    names: list[str]
    columns: list[pa.Array]
    kind: str  # TYPED (Parquet), TEXT (CSV and JSON read line by line), JSON (JSON values as Arrow read them)
    num_rows: int
    malformed: np.ndarray | None = None  # per row: the record could not be split into columns
    corrupt: pa.Array | None = None  # per row: the raw text of a malformed record (null elsewhere)



def normalize_name(name: str) -> str:
    """A column name as the contract compares it: surrounding white space removed, lower case."""
    return name.strip(WHITE_SPACE).lower()



def duplicate_names(names: Sequence[str]) -> list[str]:
    """Names that collide once normalized (`sAmount` and ` SAMOUNT `): the file is ambiguous."""
    seen: dict[str, str] = {}
    dups = []
    for name in names:
        key = normalize_name(name)
        if key in seen:
            dups.append(f"{seen[key]!r}/{name!r}")
        else:
            seen[key] = name
    return dups
