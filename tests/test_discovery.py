"""Landing discovery reports every file it does not merge, with a reason; links stay inside the landing root."""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.bronze.discover import discover
from lakehouse.fs import LocalFileSystem

ENTITIES = {"tickets", "payments"}
FORMATS = ("csv", "parquet", "json")


def touch(path: Path, text: str = "sTicketId\nt1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def found(landing: Path) -> dict[str, tuple[str | None, str | None]]:
    """relative path -> (entity, problem) of every discovered file."""
    base = f"file:{landing}/"
    return {e.path.removeprefix(base): (e.entity, e.problem) for e in discover(LocalFileSystem(), str(landing), ENTITIES, FORMATS)}


def test_every_file_is_an_export_or_reported_with_a_reason(tmp_path):
    landing = tmp_path / "landing"
    touch(landing / "s1" / "tickets" / "e1.csv")
    touch(landing / "s1" / "Tickets " / "e2.csv")  # a case / space variant of the entity folder: merged
    touch(landing / "s1" / "refunds" / "e1.csv")
    touch(landing / "s1" / "loose.csv")
    touch(landing / "stray.csv")
    touch(landing / "s1" / "tickets" / "old" / "e0.csv")
    touch(landing / "S-1" / "tickets" / "e1.csv")
    touch(landing / "s1" / "tickets" / "e3.txt")
    touch(landing / "s1" / "tickets" / ".e4.csv.crc")  # hidden: never an export
    touch(landing / "s1" / "tickets" / "_SUCCESS")  # a marker: never an export
    touch(landing / ".generated")
    got = found(landing)
    assert got["s1/tickets/e1.csv"] == ("tickets", None)
    assert got["s1/Tickets /e2.csv"] == ("tickets", None)
    assert got["s1/refunds/e1.csv"] == (None, "folder 'refunds' is not an entity of the contract (payments, tickets)")
    assert got["s1/loose.csv"] == (None, "a file directly in store folder 's1': exports go in <store>/<entity>/")
    assert got["stray.csv"] == (None, "a file at the landing root: exports go in <store>/<entity>/")
    assert got["s1/tickets/old/e0.csv"] == ("tickets", "not directly in <store>/tickets/ (sub-folders are not exports)")
    assert got["S-1/tickets/e1.csv"] == ("tickets", "store folder 'S-1' is not a store id ([a-z0-9_]+)")
    assert got["s1/tickets/e3.txt"][1] == "extension '.txt' is not one of .csv, .parquet, .json"
    assert len(got) == 8  # the hidden file, the marker and .generated are not there


def test_links_are_followed_inside_the_root_and_reported_outside_it_or_in_a_loop(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "elsewhere"
    touch(landing / "s1" / "tickets" / "e1.csv")
    touch(outside / "e9.csv")
    touch(landing / "shared" / "e5.csv")
    os.symlink(landing / "shared" / "e5.csv", landing / "s1" / "tickets" / "e5.csv")  # inside: followed
    os.symlink(outside / "e9.csv", landing / "s1" / "tickets" / "e9.csv")  # outside: reported
    os.symlink(outside, landing / "s2")  # a folder outside: reported, not walked
    os.symlink(landing / "s1", landing / "s1" / "tickets" / "again")  # a loop: reported, no crash
    os.symlink(landing / "gone.csv", landing / "s1" / "tickets" / "e6.csv")  # broken
    got = found(landing)
    assert got["s1/tickets/e5.csv"] == ("tickets", None)
    assert got["s1/tickets/e9.csv"] == ("tickets", f"a link to {outside / 'e9.csv'}, outside the landing root")
    assert got["s2"] == (None, f"a link to {outside}, outside the landing root")
    assert got["s1/tickets/again"] == ("tickets", "a link loop: this folder is listed already")
    assert got["s1/tickets/e6.csv"] == ("tickets", f"a broken link (to {landing / 'gone.csv'})")
    assert not any(path.startswith("s1/tickets/again/") for path in got)
