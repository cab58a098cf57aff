"""Spark SQL gives the same values on both engines where DuckDB's own casts would not.

Each case is pinned to Spark's answer (measured on the spark engine), and both engines must give it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakeforge.settings import load_settings

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 900000, tzinfo=UTC)
BEFORE_EPOCH = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)

# (expression over the frame's columns, Spark's answer for each row)
CASES = [
    # A timestamp cast to an integer is its epoch seconds, rounded down (DuckDB has no such cast).
    ("CAST(at AS BIGINT)", [1767323045, -1]),
    ("CAST(at AS INT)", [1767323045, -1]),
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
    frame = engine.from_arrow(
        pa.table(
            {
                "at": pa.array([MOMENT, BEFORE_EPOCH], pa.timestamp("us", tz="UTC")),
                "text": [" 7 ", "2.5"],
                "amount": pa.array([2.7, -2.7], pa.float64()),
                "big": pa.array([9007199254740993, -9007199254740993], pa.int64()),
            }
        )
    )
    for expression, expected in CASES:
        out = engine.to_arrow(engine.sql(f"SELECT {expression} AS v FROM input", {"input": frame}))
        assert out.column("v").to_pylist() == expected, expression
