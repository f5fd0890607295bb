"""Bronze's Arrow readers, file by file, without Spark: each format's dialect as Spark's readers had it
(CSV records, JSON lines), the reasons a file is bad, and the staged batch a task hands to Spark."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.bronze.cast import CORRUPT_RECORD, Source, error_batch, staged_batch
from lakehouse.bronze.jsonlines import _read_fast, parse_line, read_lines
from lakehouse.bronze.raw import JSON, TEXT
from lakehouse.bronze.read import (
    CORRUPT_PARQUET,
    DUPLICATE_COLUMNS,
    NOT_UTF8,
    UNREADABLE,
    BadFileError,
    Storage,
    read_bytes,
    read_export,
    utf8_valid,
)
from lakehouse.config import ColumnSpec, TableSpec
from lakehouse.contract import RESCUED
from lakehouse.generate import generate

ABC = TableSpec(
    entity="things",
    merge_key=("a",),
    sequence_column=None,
    columns=(ColumnSpec(name="a", type="string"), ColumnSpec(name="b", type="string"), ColumnSpec(name="c", type="string")),
)


def stage(data: bytes, fmt: str, spec: TableSpec = ABC) -> list[dict]:
    """The staged rows of one file's bytes (contract columns, `_malformed`, `_rescued` as a dict)."""
    raw = read_export(pa.py_buffer(data), fmt)
    batch = staged_batch(spec, [(Source("file:/l/s1/things/e1." + fmt, "s1", "e1"), raw)])
    rows = batch.to_pylist()
    keep = [c.name for c in spec.columns] + ["_malformed", RESCUED]
    return [{k: (dict(r[k]) if k == RESCUED else r[k]) for k in keep} for r in rows]


def row(a=None, b=None, c=None, malformed=False, **rescued):
    return {"a": a, "b": b, "c": c, "_malformed": malformed, RESCUED: rescued}


# ---------------------------------------------------------------- CSV: what Spark's CSV reader made of each file

CSV_CASES = {
    "fewer fields": (b"a,b,c\n1,2\n", [row("1", "2", malformed=True, _corrupt_record="1,2")]),
    "more fields": (b"a,b\n1,2,3\n", [row("1", "2", malformed=True, _corrupt_record="1,2,3")]),
    "trailing comma": (b"a,b\n1,2,\n", [row("1", "2", malformed=True, _corrupt_record="1,2,")]),
    "blank lines": (b"a,b\n1,2\n\n3,4\n", [row("1", "2"), row("3", "4")]),
    "white space line": (b"a,b\n1,2\n   \n", [row("1", "2"), row(malformed=True, _corrupt_record="   ")]),
    "crlf": (b"a,b\r\n1,2\r\n", [row("1", "2")]),
    "quoted line breaks": (b'a,b\n"x\r\ny",2\n', [row("x\r\ny", "2")]),
    "doubled quotes": (b'a,b\n"say ""hi""",2\n', [row('say "hi"', "2")]),
    "quote inside a field": (b'a,b\nx"y,2\n', [row('x"y', "2")]),
    "unterminated quote": (b'a,b\n"x,2\n3,4\n', [row("x,2\n3,4", malformed=True, _corrupt_record='"x,2\n3,4')]),
    "empty quoted": (b'a,b\n"",2\n', [row(None, "2")]),
    "no final line break": (b"a,b\n1,2", [row("1", "2")]),
    "bom": (b"\xef\xbb\xbf\"a\",b\n1,2\n", [row("1", "2")]),
    "header padding and case": (b" A , B \n 1 ,2\n", [row("1", "2")]),
    "unnamed column": (b"a,,b\n1,2,3\n", [row("1", "3", _c1="2")]),
    "quoted header": (b'"a,x",b\n1,2\n', [row(None, "2", **{"a,x": "1"})]),
    "only commas": (b"a,b\n,\n", [row()]),
    "U+FFFD is text": ("a,b\n\ufffd,2\n".encode(), [row("\ufffd", "2")]),
    "words are not nulls": (b"a,b\nNULL,NA\n", [row("NULL", "NA")]),
    "header only": (b"a,b", []),
    "header and blank body": (b"a,b\n\t\n\n", []),
    "carriage returns only": (b"a,b\r1,2\r", [row("1", "2")]),  # Spark's reader had these as one header line
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_records_as_spark_read_them(case):
    data, expected = CSV_CASES[case]
    assert stage(data, "csv") == expected


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (b"\xff\xfe\x00garbage\x81", "csv", NOT_UTF8),
        ("sId,v\nc,caf\u00e9\n".encode("cp1252"), "csv", NOT_UTF8),
        ("a\n\u00e9\n".encode("utf-16"), "csv", NOT_UTF8),
        (b'{"a": "\xe9"}\n', "json", NOT_UTF8),
        (b"a,A ,b\n1,2,3\n", "csv", DUPLICATE_COLUMNS),
        (b"PAR1 not really", "parquet", CORRUPT_PARQUET),
        (b"", "parquet", CORRUPT_PARQUET),
    ],
)
def test_files_that_cannot_be_read_say_why(data, fmt, reason):
    with pytest.raises(BadFileError) as caught:
        read_export(pa.py_buffer(data), fmt)
    assert caught.value.reason == reason


def parquet_bytes(table: pa.Table, **options) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def test_parquet_with_colliding_names_or_damaged_pages_is_bad():
    with pytest.raises(BadFileError) as caught:
        read_export(pa.py_buffer(parquet_bytes(pa.table({"sId": ["a"], " SID": ["b"]}))), "parquet")
    assert caught.value.reason == DUPLICATE_COLUMNS
    data = bytearray(parquet_bytes(pa.table({"a": [f"value {i}" for i in range(1000)]}), compression="snappy"))
    data[200:600] = b"\x00" * 400  # the footer is intact, a data page is not
    with pytest.raises(BadFileError) as caught:
        read_export(pa.py_buffer(bytes(data)), "parquet")
    assert caught.value.reason in (UNREADABLE, CORRUPT_PARQUET)


def test_empty_exports_have_no_rows_and_are_not_bad():
    empty_parquet = parquet_bytes(pa.table({"a": pa.array([], pa.string())}))
    for data, fmt in ((b"", "csv"), (b"a,b\n", "csv"), (b"", "json"), (b"\n\n", "json"), (empty_parquet, "parquet")):
        assert read_export(pa.py_buffer(data), fmt).num_rows == 0


def test_utf8_check_and_local_reads(tmp_path):
    assert utf8_valid(pa.py_buffer("caf\u00e9 \ufffd".encode()))
    assert not utf8_valid(pa.py_buffer(b"caf\xe9"))
    path = tmp_path / "x.csv"
    path.write_bytes(b"a\n1\n")
    assert read_bytes(f"file:{path}", Storage()).to_pybytes() == b"a\n1\n"
    with pytest.raises(OSError):
        read_bytes(f"file:{tmp_path / 'gone.csv'}", Storage())


# ---------------------------------------------------------------- JSON lines: what Spark's from_json made of each line

JSON_LINES = [  # (line, members as Spark read them; None: not an object, malformed)
    ('{"a": "x"} trailing', {"a": "x"}),
    ('{"a": "x"}{"b": 1}', {"a": "x"}),
    ('{"a": "x", "a": "y"}', {"a": "y"}),
    ('{"a": {"b": [1, 2.50, "s", null, true, 1e2, -0]}}', {"a": '{"b":[1,2.5,"s",null,true,100.0,0]}'}),
    ('{"a": 12.50, "b": 1e2, "c": -0, "d": -0.0, "e": 12345678901234567890123, "f": 0.1, "g": 1.0E-5, "h": 123456789.123}',
     {"a": "12.5", "b": "100.0", "c": "0", "d": "-0.0", "e": "12345678901234567890123", "f": "0.1", "g": "1.0E-5",
      "h": "1.23456789123E8"}),
    ('{"a": 1E400, "b": NaN}', {"a": '"Infinity"', "b": '"NaN"'}),
    ('{"a": 1e23, "b": 2.82879384806159E17}', {"a": "9.999999999999999E22", "b": "2.82879384806159008E17"}),
    ('{"a": "tab\there"}', None),
    ('{"a": "\\ud800"}', {"a": "?"}),
    ('{"a": "x\\u0000y", "b": "\\/\\u00e9\\"q"}', {"a": "x\x00y", "b": '/\u00e9"q'}),
    ('{"a": {"z": 1, "y": null}, "b": [], "c": {}}', {"a": '{"z":1,"y":null}', "b": "[]", "c": "{}"}),
    ('{"a": true, "b": false, "c": null}', {"a": "true", "b": "false", "c": None}),
    ("[1, 2]", None),
    ('"str"', None),
    ('{"a": "x",}', None),
    ('{"a": 007}', None),
    ('{"a": +5}', None),
    (' {"a": 1} ', {"a": "1"}),
]


@pytest.mark.parametrize(("line", "expected"), JSON_LINES, ids=[line for line, _ in JSON_LINES])
def test_json_lines_read_as_spark_read_them(line, expected):
    assert parse_line(line) == expected


def test_json_lines_names_per_line_and_malformed_lines():
    data = '\ufeff{" A ": "1", "b": 2}\n\n{"A": "3", "a": "4"}\nnot json\n   \n{"c": "5", "Extra": [1]}\n'.encode()
    rows = stage(data, "json")
    assert rows == [
        row("1", "2"),
        row(malformed=True, _corrupt_record='{"A": "3", "a": "4"}'),  # one column named twice
        row(malformed=True, _corrupt_record="not json"),
        row(c="5", extra="[1]"),
    ]


def test_json_fast_path_reads_what_the_line_reader_reads(tmp_path):
    """Every JSON export of a generated sample: Arrow's reader (when it may) and the line reader stage alike."""
    generate(tmp_path / "landing", stores=2, tickets=4000, seed=3)
    from lakehouse.config import load_tables

    specs = load_tables(Path(__file__).resolve().parents[1] / "conf")
    files = sorted((tmp_path / "landing").glob("*/*/*.json"))
    fast_files = 0
    for path in files:
        data = path.read_bytes()
        if not data.strip():
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        fast = _read_fast(pa.py_buffer(data), data)
        if fast is None:
            continue
        fast_files += 1
        slow = read_lines(data.decode("utf-8"))
        assert (fast.kind, slow.kind) == (JSON, TEXT)
        spec = specs[path.parent.name]
        source = Source(str(path), "s", path.stem)
        assert staged_batch(spec, [(source, fast)]).to_pylist() == staged_batch(spec, [(source, slow)]).to_pylist(), path
    assert fast_files >= len(files) // 2


def test_json_whose_member_changes_type_between_lines_is_read_line_by_line():
    data = b'{"a": "k1", "b": 1}\n{"a": "k2", "b": "x"}\n'  # Arrow refuses a column that is a number, then text
    assert _read_fast(pa.py_buffer(data), data) is None
    assert stage(data, "json") == [row("k1", "1"), row("k2", "x")]


def test_json_numbers_keep_their_int_or_double_form():
    # 7 and 7.0 both read as 7.0 in one Arrow column: the file is read line by line
    data = b'{"a": "k1", "b": 7}\n{"a": "k2", "b": 7.5}\n'
    assert _read_fast(pa.py_buffer(data), data) is None
    assert stage(data, "json") == [row("k1", "7"), row("k2", "7.5")]


# ---------------------------------------------------------------- the batch a task hands to Spark


def test_staged_batch_lines_up_files_of_every_kind_in_file_order():
    spec = TableSpec(entity="t", merge_key=("a",), sequence_column=None,
                     columns=(ColumnSpec(name="a", type="string"), ColumnSpec(name="n", type="decimal"),
                              ColumnSpec(name="d", type="timestamp")))
    files = [
        (Source("p1", "s1", "e1"), read_export(pa.py_buffer(parquet_bytes(pa.table(
            {"A": ["x"], "N": pa.array([1250], pa.int64()), "d": pa.array([0], pa.timestamp("s"))}))), "parquet")),
        (Source("c1", "s1", "e2"), read_export(pa.py_buffer(b"a,n,junk\ny,$1.50,j1\nz,,\n"), "csv")),
        (Source("p2", "s2", "e3"), read_export(pa.py_buffer(parquet_bytes(pa.table({"a": ["w"], "n": [2.5]}))), "parquet")),
        (Source("j1", "s2", "e4"), read_export(pa.py_buffer(json.dumps({"a": "v", "d": 1709301909000}).encode() + b"\n"), "json")),
    ]
    got = staged_batch(spec, files).to_pylist()
    assert [(r["a"], r["n"], r["d"], r["_source_file"], r["_store_id"], r["_export_id"], dict(r[RESCUED])) for r in got] == [
        ("x", "1250", "1970-01-01T00:00:00.000000Z", "p1", "s1", "e1", {}),
        ("y", "1.5", None, "c1", "s1", "e2", {"junk": "j1"}),
        ("z", None, None, "c1", "s1", "e2", {}),
        ("w", "2.5", None, "p2", "s2", "e3", {}),
        ("v", None, "2024-03-01T14:05:09.000000Z", "j1", "s2", "e4", {}),  # epoch ms as a JSON number
    ]
    errors = error_batch(spec, [(Source("bad", "s3", "e5"), NOT_UTF8, "holds bytes that are not UTF-8 text")]).to_pylist()
    assert [(r["_source_file"], r["_file_error"], r["a"]) for r in errors] == [
        ("bad", "not_utf8: holds bytes that are not UTF-8 text", None)]
    assert CORRUPT_RECORD == "_corrupt_record"
