"""File sources into Raw and Bronze on the embedded engine: audit columns, incremental files,
schema policies and bad input, each checked in the Delta tables and the run log."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakeforge.runtime.runner import run_batch
from tests.runtime.helpers import delta, make_source, rows, write_csv


def _log(db, batch_id: int, table: str) -> list[dict]:
    with db.connection() as conn:
        return conn.execute(
            f"SELECT * FROM lakeforge_log.{table} WHERE batch_id = %s ORDER BY id", [batch_id]
        ).fetchall()


def test_csv_lands_in_raw_and_bronze_with_audit_columns(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "orders"
    write_csv(land / "a.csv", ["Order ID", "Customer Name", "amount"], [[1, "ann", "1.50"], [2, "bob", None]])
    make_source(db, "orders", location=str(land))

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "succeeded", run.error
    bronze = delta(settings, "main.sales.orders_bronze")
    assert bronze.column_names == [
        "order_id",
        "customer_name",
        "amount",
        "_batch_id",
        "_ingested_at",
        "_source_file",
        "_record_hash",
    ]
    assert rows(settings, "main.sales.orders_bronze", ["order_id", "customer_name", "amount"]) == [
        ("1", "ann", "1.50"),
        ("2", "bob", None),
    ]
    assert set(bronze.column("_batch_id").to_pylist()) == {run.batch_id}
    assert set(bronze.column("_source_file").to_pylist()) == {str(land / "a.csv")}
    expected = hashlib.md5("\x1f".join(["1", "ann", "1.50"]).encode()).hexdigest()
    assert expected in bronze.column("_record_hash").to_pylist()
    # Raw keeps the file as is, and the run log has its name, size and checksum.
    raw_file = next(settings.lakehouse_path.rglob(f"batch_id={run.batch_id}/a.csv"))
    assert raw_file.read_bytes() == (land / "a.csv").read_bytes()
    extract = next(s for s in _log(db, run.batch_id, "step_run") if s["step"] == "extract")
    assert extract["details"]["files"] == [
        {
            "name": "a.csv",
            "size": raw_file.stat().st_size,
            "sha256": hashlib.sha256(raw_file.read_bytes()).hexdigest(),
            "source": str(land / "a.csv"),
        }
    ]


def test_incremental_files_pick_up_only_new_files(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "events"
    write_csv(land / "1.csv", ["id"], [[1], [2]])
    make_source(db, "events", location=str(land), load_mode="incremental")
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    write_csv(land / "2.csv", ["id"], [[3]])
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    third = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    by_batch = rows(settings, "main.sales.events_bronze", ["_batch_id", "id"])
    assert by_batch == [(first.batch_id, "1"), (first.batch_id, "2"), (second.batch_id, "3")]
    assert third.status == "succeeded" and third.rows_in == 0


def test_json_and_parquet_files(settings, db, tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "a.jsonl").write_text('{"id": 1, "tags": "x"}\n{"id": 2, "tags": "y"}\n')
    (tmp_path / "p").mkdir()
    pq.write_table(pa.table({"id": [10, 11], "v": [1.5, 2.5]}), tmp_path / "p" / "a.parquet")
    make_source(db, "js", format="json", location=str(tmp_path / "j"))
    make_source(db, "pq", format="parquet", location=str(tmp_path / "p"))

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "succeeded", run.error
    assert rows(settings, "main.sales.js_bronze", ["id", "tags"]) == [(1, "x"), (2, "y")]
    assert rows(settings, "main.sales.pq_bronze", ["id", "v"]) == [(10, 1.5), (11, 2.5)]


def test_schema_evolve_adds_new_columns(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "c"
    write_csv(land / "1.csv", ["id", "name"], [[1, "a"]])
    make_source(db, "cust", location=str(land), load_mode="incremental", schema_evolution="evolve")
    run_batch(settings, db, "sales", zones=["raw", "bronze"])
    write_csv(land / "2.csv", ["id", "name", "email"], [[2, "b", "b@x"]])
    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "succeeded", run.error
    assert rows(settings, "main.sales.cust_bronze", ["id", "name", "email"]) == [
        ("1", "a", None),
        ("2", "b", "b@x"),
    ]


def test_schema_freeze_fails_the_table_with_the_new_column_and_writes_nothing(
    settings, db, tmp_path: Path
) -> None:
    land = tmp_path / "c"
    write_csv(land / "1.csv", ["id", "name"], [[1, "a"]])
    make_source(db, "cust", location=str(land), load_mode="incremental", schema_evolution="freeze")
    run_batch(settings, db, "sales", zones=["raw", "bronze"])
    write_csv(land / "2.csv", ["id", "name", "email"], [[2, "b", "b@x"]])

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "failed"
    table = next(
        t for t in _log(db, run.batch_id, "table_run") if t["table_name"] == "main.sales.cust_bronze"
    )
    assert table["status"] == "failed"
    assert "email" in table["error"] and "frozen schema" in table["error"]
    assert delta(settings, "main.sales.cust_bronze").num_rows == 1


def test_schema_rescue_keeps_bad_values_and_new_columns_in_rescued_data(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "c"
    write_csv(land / "1.csv", ["id", "amount", "note"], [[1, "2.5", "ok"], [2, "oops", "bad"]])
    make_source(db, "pay", location=str(land), schema_ddl="id INT, amount DOUBLE", schema_evolution="rescue")

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "succeeded", run.error
    got = rows(settings, "main.sales.pay_bronze", ["id", "amount", "_rescued_data"])
    assert [(i, a) for i, a, _ in got] == [(1, 2.5), (2, None)]
    assert json.loads(got[0][2]) == {"note": "ok"}
    assert json.loads(got[1][2]) == {"amount": "oops", "note": "bad"}


def test_bad_inputs_give_clear_errors_and_independent_sources_keep_going(
    settings, db, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    write_csv(good / "a.csv", ["id"], [[1]])
    malformed = tmp_path / "malformed"
    malformed.mkdir()
    (malformed / "a.csv").write_text("id,name\n1,a\n2,b,extra\n")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "a.parquet").write_bytes(b"this is not parquet at all")
    make_source(db, "good", location=str(good))
    make_source(db, "missing", location=str(tmp_path / "nowhere"))
    make_source(db, "malformed", location=str(malformed))
    make_source(db, "corrupt", format="parquet", location=str(corrupt))

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "failed"
    tables = {(t["table_name"], t["status"]): t["error"] for t in _log(db, run.batch_id, "table_run")}
    assert tables[("main.sales.good_bronze", "succeeded")] is None
    assert (
        "does not exist" in tables[("raw:missing", "failed")]
        and "location" in tables[("raw:missing", "failed")]
    )
    assert "skipped" in tables[("main.sales.missing_bronze", "skipped")]
    assert "Expected Number of Columns" in tables[("main.sales.malformed_bronze", "failed")]
    assert "cannot read the input" in tables[("main.sales.corrupt_bronze", "failed")]
    assert rows(settings, "main.sales.good_bronze", ["id"]) == [("1",)]
    # Nothing half-written: the failed tables were never created.
    for name in ("malformed_bronze", "corrupt_bronze", "missing_bronze"):
        assert not (settings.lakehouse_path / "main" / "sales" / name).exists()


def test_a_stream_that_fails_after_its_first_batches_commits_nothing(settings, tmp_path: Path) -> None:
    """Bronze streams the files into Delta; a bad row far into the input (after several batches
    have gone to delta-rs) fails the write with the reader's error and leaves no new version."""
    from lakeforge.runtime.embedded import STREAM_BATCH_ROWS, EmbeddedEngine
    from lakeforge.runtime.engine import EngineError, TableRef

    engine = EmbeddedEngine(settings)
    lines = "".join(f"{i},n{i}\n" for i in range(3 * STREAM_BATCH_ROWS))
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("id,name\n1,a\n")
    bad.write_text("id,name\n" + lines + "7,x,extra\n")
    existing, fresh = TableRef.parse("main.s.existing"), TableRef.parse("main.s.fresh")
    written = engine.write(existing, engine.read_files([str(good)], "csv", {}), mode="append")
    assert written.rows_written == written.rows_in == 1 and written.version == 0

    for table in (existing, fresh):
        frame = engine.sql("SELECT * FROM input", {"input": engine.read_files([str(bad)], "csv", {})})
        try:
            engine.write(table, frame, mode="overwrite", replace_where="id = '1'")
        except EngineError as error:
            assert "cannot read the input" in str(error) and "Expected Number of Columns" in str(error)
        else:
            raise AssertionError("a malformed row must fail the write")

    assert engine.table_version(existing) == 0
    assert engine.to_arrow(engine.read_table(existing)).to_pylist() == [
        {"id": "1", "name": "a", "_source_file": str(good)}
    ]
    assert not Path(engine.table_location(fresh)).exists()


def test_a_type_change_fails_by_name_a_narrower_type_is_cast_and_rescue_keeps_the_values(
    settings, db, tmp_path: Path
) -> None:
    """A column whose inferred type changes between batches: a wider or different type fails the
    table naming the column (before, 2.5 was written as 2 into a BIGINT column); a narrower one is
    cast; under rescue the values that do not fit are kept in _rescued_data."""
    land, kept = tmp_path / "p", tmp_path / "k"
    land.mkdir()
    kept.mkdir()
    pq.write_table(pa.table({"id": pa.array([1], pa.int64()), "tag": [{"a": 1}]}), land / "1.parquet")
    (kept / "1.jsonl").write_text('{"id": 1, "n": 5}\n')
    make_source(db, "typed", format="parquet", location=str(land), load_mode="incremental")
    make_source(
        db, "kept", format="json", location=str(kept), load_mode="incremental", schema_evolution="rescue"
    )
    run_batch(settings, db, "sales", zones=["raw", "bronze"])
    pq.write_table(pa.table({"id": pa.array([2.5], pa.float64())}), land / "2.parquet")
    (kept / "2.jsonl").write_text('{"id": 2, "n": "five"}\n{"id": 3, "n": "6"}\n')

    failed = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    tables = {t["table_name"]: t for t in _log(db, failed.batch_id, "table_run")}
    error = tables["main.sales.typed_bronze"]["error"]
    assert tables["main.sales.typed_bronze"]["status"] == "failed"
    assert "column id of main.sales.typed_bronze is BIGINT but this batch has DOUBLE" in error
    assert "schema_ddl" in error and "rescue" in error
    assert rows(settings, "main.sales.typed_bronze", ["id"]) == [(1,)]
    assert tables["main.sales.kept_bronze"]["status"] == "succeeded"
    assert rows(settings, "main.sales.kept_bronze", ["id", "n", "_rescued_data"]) == [
        (1, 5, None),
        (2, None, '{"n":"five"}'),
        (3, 6, None),
    ]

    # A narrower type fits: INT into the BIGINT column; the nested column the batch lacks is NULL.
    pq.write_table(pa.table({"id": pa.array([3], pa.int32())}), land / "3.parquet")
    (land / "2.parquet").unlink()
    narrower = run_batch(settings, db, "sales", sources=["typed"], zones=["raw", "bronze"])

    assert narrower.status == "succeeded", narrower.error
    assert rows(settings, "main.sales.typed_bronze", ["id", "tag"]) == [(1, {"a": 1}), (3, None)]
    assert delta(settings, "main.sales.typed_bronze").schema.field("id").type == pa.int64()


def test_a_touched_file_is_not_loaded_twice_and_a_changed_one_is(settings, db, tmp_path: Path) -> None:
    """The ledger keyed files by path, size and modification time only: a `touch` (or a copy that
    keeps the content) loaded the same rows again. Same size and content now means not new."""
    land = tmp_path / "e"
    write_csv(land / "1.csv", ["id"], [[1], [2]])
    make_source(db, "events", location=str(land), load_mode="incremental")
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    later = (land / "1.csv").stat().st_mtime + 60
    os.utime(land / "1.csv", (later, later))

    touched = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert touched.status == "succeeded", touched.error
    assert rows(settings, "main.sales.events_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (first.batch_id, "2"),
    ]
    extract = next(s for s in _log(db, touched.batch_id, "step_run") if s["step"] == "extract")
    assert extract["details"]["unchanged"] == [str(land / "1.csv")]

    write_csv(land / "1.csv", ["id"], [[1], [3]])  # same size, new content
    changed = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert rows(settings, "main.sales.events_bronze", ["_batch_id", "id"])[2:] == [
        (changed.batch_id, "1"),
        (changed.batch_id, "3"),
    ]
