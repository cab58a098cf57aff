"""The spark engine's primitives on a real local Spark session with Delta Lake."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakeforge.runtime.embedded import EmbeddedEngine
from lakeforge.runtime.engine import EngineError, TableRef
from tests.runtime.helpers import rows, write_csv

ORDERS = TableRef.parse("main.sales.orders")


def test_reads_csv_files_with_their_own_headers_and_source_file(engine, tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", ["id", "name"], [[1, "ann"], [2, None]])
    write_csv(tmp_path / "b c.csv", ["id", "name", "extra"], [[3, "cy", "x"]])
    frame = engine.read_files([str(tmp_path / "a.csv"), str(tmp_path / "b c.csv")], "csv", {})

    data = engine.to_arrow(frame)
    assert data.column_names == ["id", "name", "_source_file", "extra"]
    assert sorted(data.to_pylist(), key=lambda r: r["id"]) == [
        {"id": "1", "name": "ann", "_source_file": str(tmp_path / "a.csv"), "extra": None},
        {"id": "2", "name": None, "_source_file": str(tmp_path / "a.csv"), "extra": None},
        {"id": "3", "name": "cy", "_source_file": str(tmp_path / "b c.csv"), "extra": "x"},
    ]
    typed = engine.read_files([str(tmp_path / "a.csv")], "csv", {}, schema=pa.schema([("id", pa.int64())]))
    assert engine.schema(typed).field("id").type == pa.int64()


def test_a_malformed_csv_row_is_an_error_not_a_silent_drop(engine, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("id,name\n1,ann\n2,bob,extra,fields\n")
    frame = engine.read_files([str(tmp_path / "bad.csv")], "csv", {})
    with pytest.raises(EngineError) as caught:
        engine.count(frame)
    assert caught.value.field == "location"
    with pytest.raises(EngineError, match="does not exist"):
        engine.read_files([str(tmp_path / "missing.csv")], "csv", {})


def test_delta_writes_replace_where_merge_and_delete(engine, settings) -> None:
    first = engine.from_arrow(pa.table({"id": [1, 2], "v": ["a", "b"], "_batch_id": [1, 1]}))
    result = engine.write(ORDERS, first, mode="append")
    assert (result.version, result.rows_written) == (0, 2)
    assert engine.table_location(ORDERS) == str(settings.lakehouse_path / "main" / "sales" / "orders")

    # A rerun of batch 1 replaces exactly batch 1's rows.
    again = engine.from_arrow(pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"], "_batch_id": [1, 1, 1]}))
    result = engine.write(ORDERS, again, mode="overwrite", replace_where="_batch_id = 1")
    assert (result.version, result.rows_written) == (1, 3)

    changes = engine.from_arrow(pa.table({"id": [3, 4], "v": ["C", "d"], "_batch_id": [2, 2]}))
    merged = engine.upsert(ORDERS, changes, ["id"])
    assert (merged.rows_written, merged.rows_updated) == (1, 1)
    deleted = engine.delete(ORDERS, "id = 1")
    assert deleted.rows_deleted == 1 and engine.table_version(ORDERS) == 3

    # Three-part names in Spark SQL resolve to the same Delta folder; delta-rs reads it too.
    total = engine.to_arrow(engine.sql("SELECT count(*) AS n FROM main.sales.orders o WHERE o.v <> 'x'"))
    assert total.to_pylist() == [{"n": 3}]
    assert rows(settings, "main.sales.orders", ["id", "v", "_batch_id"]) == [
        (2, "b", 1),
        (3, "C", 2),
        (4, "d", 2),
    ]

    # Without merge_schema a new column is refused, with it the table evolves.
    wider = engine.from_arrow(pa.table({"id": [5], "v": ["e"], "_batch_id": [3], "extra": ["!"]}))
    with pytest.raises(EngineError):
        engine.write(ORDERS, wider, mode="append")
    engine.write(ORDERS, wider, mode="append", merge_schema=True)
    assert engine.table_schema(ORDERS).names == ["id", "v", "_batch_id", "extra"]


def test_sql_casts_leniently_and_refuses_java_calls(engine) -> None:
    frame = engine.from_arrow(pa.table({"a": ["1", "x"]}))
    out = engine.to_arrow(engine.sql("SELECT CAST(a AS INT) AS n FROM input", {"input": frame}))
    assert out.column("n").to_pylist() == [1, None]
    with pytest.raises(EngineError, match="reflect"):
        engine.sql("SELECT reflect('java.lang.System', 'exit', '0')")
    with pytest.raises(EngineError, match="does not exist"):
        engine.sql("SELECT * FROM main.nope.nothing")


def test_spark_reads_tables_the_embedded_engine_wrote(engine, settings) -> None:
    embedded = EmbeddedEngine(settings)
    table = TableRef.parse("main.shared.events")
    stamp = pa.array([0, 1_700_000_000_000_000], pa.timestamp("us", tz="UTC"))
    data = pa.table({"id": pa.array([1, 2], pa.int64()), "at": stamp, "amount": pa.array([1.5, None])})
    embedded.write(table, data, mode="append")
    embedded.upsert(
        table, pa.table({"id": pa.array([2], pa.int64()), "at": stamp[:1], "amount": [9.0]}), ["id"]
    )

    back = engine.to_arrow(engine.read_table(table)).sort_by("id")
    assert back.column("id").to_pylist() == [1, 2]
    assert back.column("amount").to_pylist() == [1.5, 9.0]
    assert back.column("at").to_pylist() == stamp.to_pylist()[:1] * 2
    assert engine.table_version(table) == embedded.table_version(table) == 1


def test_timestamps_without_an_offset_mean_utc_whatever_the_session_time_zone(
    spark_session, settings
) -> None:
    """A session set to another time zone read '2026-01-01 10:00:00' as local time: 09:00 UTC in
    Berlin, where the embedded engine stores 10:00 UTC."""
    from lakeforge.runtime.spark import SparkEngine

    spark_session.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
    try:
        engine = SparkEngine(settings, spark_session)
        query = (
            "SELECT CAST('2026-01-01 10:00:00' AS TIMESTAMP) AS naive,"
            " CAST('2026-01-01 10:00:00+02:00' AS TIMESTAMP) AS offset"
        )
        spark = engine.to_arrow(engine.sql(query)).to_pylist()[0]
        embedded = EmbeddedEngine(settings)
        assert spark == embedded.to_arrow(embedded.sql(query)).to_pylist()[0]
        assert (spark["naive"].hour, spark["offset"].hour) == (10, 8)
    finally:
        spark_session.conf.set("spark.sql.session.timeZone", "UTC")
