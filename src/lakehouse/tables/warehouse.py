"""What a warehouse folder declares about itself: the table format its tables are in (`<warehouse>/_lakehouse.json`).

A warehouse is written in one format. The first job that writes it records the format; a later
job asked to write it in the other format stops with one line instead of mixing the two, and
read-only commands open it in the format it declares, whatever the environment's default is.
"""

from __future__ import annotations

import json
from typing import Any

from lakehouse.config import LAYERS, Settings
from lakehouse.errors import UserError
from lakehouse.fs import OBJECT_STORES, file_system, join, scheme

MARKER = "_lakehouse.json"


def check_writable(settings: Settings) -> None:
    """UserError when the settings' table format cannot be written where the warehouse is: Parquet publishes a
    version by renaming it into place, which object stores (gs://) do not do atomically. Reading is fine."""
    if settings.table_format != "parquet":
        return
    for root in (settings.warehouse, *settings.layer_roots.values()):
        if scheme(root) in OBJECT_STORES:
            raise UserError(
                f"table_format parquet cannot keep a warehouse on {scheme(root)}:// ({root}): publishing a version "
                f"there is not atomic; use table_format: delta for object stores (conf/env/{settings.env}.yaml or "
                "--table-format delta)"
            )


def declared_format(warehouse: str, spark: Any = None) -> str | None:
    """The table format the warehouse declares, None when it declares none (new, or written before markers)."""
    fs = file_system(warehouse, spark)
    path = join(warehouse, MARKER)
    if not fs.exists(path):
        return None
    try:
        return json.loads(fs.read_text(path)).get("table_format")
    except (ValueError, AttributeError):
        raise UserError(f"{path} is not the JSON lakehouse writes; move it away") from None


def check_folders(settings: Settings, spark: Any) -> None:
    """UserError when the warehouse (or a layer root on its file system) is a file rather than a folder."""
    fs = file_system(settings.warehouse, spark)
    for root in sorted({settings.warehouse, *(settings.layer_root(layer) for layer in LAYERS)}):
        if scheme(root) == scheme(settings.warehouse) and fs.exists(root) and not fs.is_dir(root):
            raise UserError(f"warehouse folder {root} is a file: pass --warehouse with a folder, or move the file away")


def declare_format(settings: Settings, spark: Any) -> None:
    """Record the settings' table format in the warehouse, or stop when it declares the other one."""
    check_folders(settings, spark)
    declared = declared_format(settings.warehouse, spark)
    if declared is None:
        file_system(settings.warehouse, spark).write_text(
            join(settings.warehouse, MARKER), json.dumps({"table_format": settings.table_format}) + "\n"
        )
    elif declared != settings.table_format:
        raise UserError(
            f"warehouse {settings.warehouse} holds {declared} tables, not {settings.table_format}: "
            f"pass --table-format {declared} (or LAKEHOUSE_TABLE_FORMAT={declared}), or use another --warehouse"
        )


def reading_settings(settings: Settings, spark: Any = None) -> Settings:
    """The settings to read the warehouse with: its declared table format wins over the environment's."""
    declared = declared_format(settings.warehouse, spark)
    return settings if declared in (None, settings.table_format) else settings.model_copy(update={"table_format": declared})
