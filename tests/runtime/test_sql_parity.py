"""Spark SQL gives the same values on both engines where DuckDB's own casts would not.

Each case is pinned to Spark's answer (measured on the spark engine), and both engines must give it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakeforge.runtime.engine import EngineError
from lakeforge.runtime.zones.bronze import bronze_select
from lakeforge.settings import load_settings

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 900000, tzinfo=UTC)
BEFORE_EPOCH = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)

# (expression over the frame's columns, Spark's answer for each row)
CASES = [
    # A timestamp cast to an integer is its epoch seconds, rounded down (DuckDB has no such cast).
    ("CAST(at AS BIGINT)", [1767323045, -1]),
    ("CAST(at AS INT)", [1767323045, -1]),
    # ... and cast to a DOUBLE, its epoch seconds with the fraction.
    ("CAST(at AS DOUBLE)", [1767323045.9, -0.5]),
    ("CAST(date_trunc('second', at) AS DOUBLE)", [1767323045.0, -1.0]),
    ("CAST(text AS DOUBLE)", [7.0, 2.5]),
    ("CAST(concat(text, '') AS DOUBLE)", [7.0, 2.5]),
    # As text: the session's zone (UTC) without an offset, the fraction only when there is one.
    ("CAST(at AS STRING)", ["2026-01-02 03:04:05.9", "1969-12-31 23:59:59.5"]),
    (
        "concat('at ', CAST(date_trunc('second', at) AS STRING))",
        ["at 2026-01-02 03:04:05", "at 1969-12-31 23:59:59"],
    ),
    # unix_timestamp of a timestamp is its epoch seconds; of text, the text parsed (NULL if it is not).
    # ... truncated toward zero, where a cast rounds down: Spark's own difference, kept.
    ("unix_timestamp(at)", [1767323045, 0]),
    ("unix_timestamp(CAST(date_trunc('second', at) AS STRING))", [1767323045, -1]),
    ("unix_timestamp(text, 'dd/MM/yyyy')", [None, None]),
    ("unix_timestamp('02/01/2026', 'dd/MM/yyyy')", [1767312000, 1767312000]),
    ("unix_timestamp() > 1700000000", [True, True]),
    # What the integer guard already did stays as it was.
    ("CAST(text AS INT)", [7, None]),
    ("CAST(amount AS BIGINT)", [2, -2]),
    ("CAST(big AS STRING)", ["9007199254740993", "-9007199254740993"]),
    ("CAST(CAST(big AS STRING) AS BIGINT)", [9007199254740993, -9007199254740993]),
    # A DOUBLE as text is Java's Double.toString: scientific notation outside 1e-3 <= |x| < 1e7,
    # for a column (its type known before the query runs) and a computed value alike.
    ("CAST(x AS STRING)", ["1.0E20", "-1.234E-5"]),
    ("CAST(x * 10 AS STRING)", ["1.0E21", "-1.2340000000000002E-4"]),
    ("concat('x=', CAST(x AS STRING))", ["x=1.0E20", "x=-1.234E-5"]),
    ("CAST(CAST(x AS FLOAT) AS STRING)", ["1.0E20", "-1.234E-5"]),
    ("CAST(x * 0 + 100 AS STRING)", ["100.0", "100.0"]),
    # A struct, list or map as text: values without names, NULL inside as null, each value as its
    # own text (doubles and timestamps as above).
    ("CAST(s AS STRING)", ["{2026-01-02 03:04:05.9, [null, 1.0E20]}", None]),
    ("CAST(s.xs AS STRING)", ["[null, 1.0E20]", None]),
    ("CAST(l AS STRING)", ["[1.0E7, null, 0.5]", "[]"]),
    ("CAST(m AS STRING)", ["{k -> 1.0E20, j -> null}", None]),
    # Text predicates the chat writes for "contains", "starts/ends with", "matches", "is not blank"
    # and "is one of", with Spark's backslash escapes in the literals.
    ("contains(text, '.')", [False, True]),
    ("startswith(text, ' ')", [True, False]),
    ("endswith(text, '5')", [False, True]),
    ("text RLIKE '^\\\\d\\\\.\\\\d$'", [False, True]),
    ("text IS NOT NULL AND trim(text) <> ''", [True, True]),
    ("text IN ('2.5', 'it\\'s')", [False, True]),
    # A DATE cast to a number is refused (test below); these are what Spark suggests instead.
    ("unix_timestamp(day)", [1767312000, None]),
    ("datediff(day, DATE'1970-01-01')", [20455, None]),
]

# (value, Spark's CAST(value AS STRING)), measured on the spark engine (Spark 4.2 on Java 17).
DOUBLE_TEXTS = [
    (0.1, "0.1"),
    (100.0, "100.0"),
    (1e7, "1.0E7"),
    (-1e7, "-1.0E7"),
    (12345678.9, "1.23456789E7"),
    (9999999.999999998, "9999999.999999998"),
    (1e-3, "0.001"),
    (9.99e-4, "9.99E-4"),
    (0.0009999999999999998, "9.999999999999998E-4"),
    (1e-4, "1.0E-4"),
    (1.234e-5, "1.234E-5"),
    (-2.5e-10, "-2.5E-10"),
    (1e20, "1.0E20"),
    (1.5e300, "1.5E300"),
    (-0.0, "-0.0"),
    (0.0, "0.0"),
    (float("nan"), "NaN"),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    (1 / 3, "0.3333333333333333"),
    (2 / 3 * 1e10, "6.666666666666666E9"),
    (1e16, "1.0E16"),
    (9999999999999998.0, "9.999999999999998E15"),
    (1.2345678901234567e16, "1.2345678901234568E16"),
    (1e21, "1.0E21"),
    (9.999999999999999e20, "9.999999999999999E20"),
    (1.2345678901234567e21, "1.2345678901234568E21"),
    (2.0**63, "9.223372036854776E18"),
    (1.7976931348623157e308, "1.7976931348623157E308"),
    (2.2250738585072014e-308, "2.2250738585072014E-308"),
    (1e-323, "1.0E-323"),
    (123456.789, "123456.789"),
    (-1.5, "-1.5"),
    (None, None),
]
# Values Java 17 writes with more digits than the shortest that reads back (JDK-4511638, fixed in
# Java 19), or, for the smallest double, with two digits by its own rule: (value, Spark, embedded).
JAVA_17_TEXTS = [
    (1e23, "9.999999999999999E22", "1.0E23"),
    (2e23, "1.9999999999999998E23", "2.0E23"),
    (8.41e21, "8.409999999999999E21", "8.41E21"),
    (5e-324, "4.9E-324", "5.0E-324"),
]
FLOAT_TEXTS = [
    (0.1, "0.1"),
    (100.0, "100.0"),
    (1e7, "1.0E7"),
    (12345678.9, "1.2345679E7"),
    (1e-3, "0.001"),
    (9.99e-4, "9.99E-4"),
    (1.234e-5, "1.234E-5"),
    (1e20, "1.0E20"),
    (3.4028235e38, "3.4028235E38"),
    (16777216.0, "1.6777216E7"),
    (1e10, "1.0E10"),
    (1 / 3, "0.33333334"),
    (-0.0, "-0.0"),
    (float("nan"), "NaN"),
    (float("inf"), "Infinity"),
    (None, None),
]


@pytest.fixture(params=["embedded", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    settings = load_settings(state_dir=tmp_path / "state", engine=request.param)
    if request.param == "spark":
        request.getfixturevalue("spark_session")
        from lakeforge.runtime.spark import SparkEngine

        return SparkEngine(settings)
    from lakeforge.runtime.embedded import EmbeddedEngine

    return EmbeddedEngine(settings)


def test_casts_give_sparks_values_on_every_engine(engine: Any) -> None:
    nested = pa.struct([("at", pa.timestamp("us", tz="UTC")), ("xs", pa.list_(pa.float64()))])
    frame = engine.from_arrow(
        pa.table(
            {
                "at": pa.array([MOMENT, BEFORE_EPOCH], pa.timestamp("us", tz="UTC")),
                "text": [" 7 ", "2.5"],
                "amount": pa.array([2.7, -2.7], pa.float64()),
                "big": pa.array([9007199254740993, -9007199254740993], pa.int64()),
                "x": pa.array([1e20, -1.234e-5], pa.float64()),
                "day": pa.array([date(2026, 1, 2), None], pa.date32()),
                "s": pa.array([{"at": MOMENT, "xs": [None, 1e20]}, None], nested),
                "l": pa.array([[1e7, None, 0.5], []], pa.list_(pa.float64())),
                "m": pa.array([[("k", 1e20), ("j", None)], None], pa.map_(pa.string(), pa.float64())),
            }
        )
    )
    for expression, expected in CASES:
        out = engine.to_arrow(engine.sql(f"SELECT {expression} AS v FROM input", {"input": frame}))
        assert out.column("v").to_pylist() == expected, expression


def test_sums_of_integers_are_bigint_on_every_engine(engine: Any) -> None:
    """Spark sums an integer column into a BIGINT; DuckDB would give a 128-bit integer (an Arrow
    decimal(38, 0)), so a Gold table's schema would differ by engine."""
    frame = engine.from_arrow(
        pa.table({"n": pa.array([1, 2, 3], pa.int32()), "big": pa.array([4, 5, 6], pa.int64())})
    )
    query = (
        "SELECT sum(n) AS s, sum(big) AS `big sum`, sum(n) + 1 AS s1, count(*) AS c,"
        " avg(n) AS a, max(n) AS m FROM input"
    )
    out = engine.to_arrow(engine.sql(query, {"input": frame}))

    assert out.to_pylist() == [{"s": 6, "big sum": 15, "s1": 7, "c": 3, "a": 2.0, "m": 3}]
    types = {field.name: field.type for field in out.schema}
    assert types == {
        "s": pa.int64(),
        "big sum": pa.int64(),
        "s1": pa.int64(),
        "c": pa.int64(),
        "a": pa.float64(),
        "m": pa.int32(),
    }


def _texts(engine: Any, values: list[float | None], type_: pa.DataType) -> list[tuple[str, str]]:
    """Each value as text, cast from a column and from a computed value."""
    frame = engine.from_arrow(pa.table({"i": range(len(values)), "v": pa.array(values, type_)}))
    query = "SELECT CAST(v AS STRING) AS a, CAST(coalesce(v, v) AS STRING) AS b FROM input ORDER BY i"
    return [(r["a"], r["b"]) for r in engine.to_arrow(engine.sql(query, {"input": frame})).to_pylist()]


def test_doubles_and_floats_as_text_are_javas_on_every_engine(engine: Any) -> None:
    values = [v for v, _ in DOUBLE_TEXTS]
    assert _texts(engine, values, pa.float64()) == [(t, t) for _, t in DOUBLE_TEXTS]
    floats = [v for v, _ in FLOAT_TEXTS]
    assert _texts(engine, floats, pa.float32()) == [(t, t) for _, t in FLOAT_TEXTS]
    # Where Java 17 is not shortest, the embedded engine writes the shortest digits (as Java 19+).
    expected = [spark if engine.name == "spark" else embedded for _, spark, embedded in JAVA_17_TEXTS]
    assert _texts(engine, [v for v, *_ in JAVA_17_TEXTS], pa.float64()) == [(t, t) for t in expected]


# Nested objects in a file's own field order; Spark orders the inferred fields by name, at every
# depth (objects inside lists too). Values include doubles written with exponents.
NESTED_JSON = [
    {"id": 1, "zeta": {"y": 1, "b": "x", "a": {"z": 2.5e-7, "c": [1, 2]}}, "items": [{"q": 1, "k": "a"},
     {"k": "b", "q": 2, "m": 1e20}], "big": 1e20, "tiny": 1.5e-5},
    {"id": 2, "zeta": {"b": "y"}, "items": [], "big": 12345678.9, "tiny": None},
    {"id": 3, "zeta": None, "items": None, "big": -0.0, "tiny": 0.5},
]  # fmt: skip
# Measured on the spark engine: the inferred columns and fields, and Bronze's _record_hash per id.
NESTED_JSON_FIELDS = [
    ("big", "double"),
    ("id", "int64"),
    ("items", [{"k": "string", "m": "double", "q": "int64"}]),
    ("tiny", "double"),
    ("zeta", {"a": {"c": ["int64"], "z": "double"}, "b": "string", "y": "int64"}),
    ("_source_file", "string"),
]
NESTED_JSON_HASHES = {
    1: "872a8388d49a1495116761c537081b49",
    2: "23f43394f9a302419242eaf079fa7f27",
    3: "7b67bc7f7511f58dd0700d8d18d5c518",
}


def _fields(type_: pa.DataType) -> Any:
    if pa.types.is_struct(type_):
        return {f.name: _fields(f.type) for f in type_}
    if pa.types.is_list(type_):
        return [_fields(type_.value_type)]
    return str(type_)


def test_json_objects_are_read_and_hashed_as_spark_reads_them(engine: Any, tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in NESTED_JSON))
    frame = engine.read_files([str(path)], "json", {})
    schema = engine.schema(frame)
    # Dict order is the field order: compared as lists, so the order counts.
    as_lists = [(f.name, _fields(f.type)) for f in schema]
    assert json.dumps(as_lists) == json.dumps(NESTED_JSON_FIELDS)
    read = [name for name in schema.names if name != "_source_file"]
    record_hash = bronze_select([(n, n) for n in read], [], None, "evolve", 1, {})[-1]
    out = engine.to_arrow(engine.sql(f"SELECT id, {record_hash} FROM input", {"input": frame}))
    assert {r["id"]: r["_record_hash"] for r in out.to_pylist()} == NESTED_JSON_HASHES


@pytest.mark.parametrize(
    "expression", ["CAST(day AS BIGINT)", "CAST(day AS DOUBLE)", "CAST(to_date('2026-01-02') AS INT)"]
)
def test_a_date_cast_to_a_number_is_refused_on_every_engine(engine: Any, expression: str) -> None:
    frame = engine.from_arrow(pa.table({"day": pa.array([date(2026, 1, 2)], pa.date32())}))
    with pytest.raises(EngineError) as caught:
        engine.to_arrow(engine.sql(f"SELECT {expression} AS v FROM input", {"input": frame}))
    if engine.name == "spark":
        assert 'cannot cast "DATE" to' in str(caught.value)
    else:
        refusal = f"{expression} casts a DATE to a number, which Spark refuses"
        assert refusal.lower() in str(caught.value).lower()
        assert "unix_timestamp(<date>)" in str(caught.value)
