"""Cross-engine conformance: the same metadata and inputs on the embedded and the Spark engine
give the same Delta tables (rows, schemas, audit columns apart from timestamps), the same
quarantine contents and the same ``dq_run`` counts.

Each engine's outputs are checked against the specification below, then against each other.
Tables are read back with delta-rs for both engines, so schemas compare as Delta sees them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from lakeforge.metadata.db import open_database
from lakeforge.runtime.runner import run_batch
from lakeforge.settings import load_settings
from tests.runtime.helpers import delta, make_gold, make_source, rows, write_csv

ENGINES = ["embedded", "spark"]
_SNAPSHOTS: dict[str, dict[str, Any]] = {}

DDL = "id INT, name STRING, amount DECIMAL(10,2), seq INT"
TABLES = [
    "main.sales.orders_bronze",
    "main.sales.orders",
    "main.sales.orders_quarantine",
    "main.sales_gold.by_name",
]


def _type(table: str, data_type: Any) -> str:
    # Known difference, documented in docs/zones.md: sum() of a decimal is decimal(p+10, s) on Spark
    # and decimal(38, s) on DuckDB. Gold aggregates therefore compare decimals by scale only.
    if table.startswith("main.sales_gold.") and str(data_type).startswith("decimal128"):
        return f"decimal(scale={data_type.scale})"
    return str(data_type)


def _table(settings, name: str) -> dict[str, Any]:
    data = delta(settings, name)
    columns = [c for c in data.column_names if c != "_ingested_at"]
    records = []
    for record in data.select(columns).to_pylist():
        if "_source_file" in record:
            record["_source_file"] = Path(record["_source_file"]).name
        records.append(tuple((k, str(v)) for k, v in record.items()))
    schema = [(f.name, _type(name, f.type)) for f in data.schema if f.name != "_ingested_at"]
    return {"schema": schema, "rows": sorted(records)}


@pytest.fixture(params=["embedded", pytest.param("spark", marks=pytest.mark.spark)])
def engine_settings(request, database_url: str, tmp_path: Path):
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    return request.param, load_settings(
        database_url=database_url, state_dir=tmp_path / "state", engine=request.param
    )


def test_zones_behave_the_same_on_every_engine(engine_settings, tmp_path: Path) -> None:
    engine, settings = engine_settings
    land = tmp_path / "orders"
    write_csv(
        land / "1.csv",
        ["ID", "Name", "amount", "seq"],
        [[1, "ann", "10.50", 1], [2, "bob", "oops", 1], [3, None, "-1", 1], [1, "ann", "11.00", 2]],
    )
    with open_database(settings) as db:
        make_source(
            db,
            "orders",
            location=str(land),
            load_mode="incremental",
            schema_ddl=DDL,
            schema_evolution="rescue",
            silver={
                "primary_keys": ["id"],
                "scd_type": 2,
                "sequence_by": "seq",
                "select_expressions": ["id", "upper(name) AS name", "amount", "seq"],
            },
            rules=[
                ("has_name", "name IS NOT NULL", "warn"),
                ("has_amount", "amount IS NOT NULL", "drop"),
                ("positive", "amount > 0", "quarantine"),
            ],
        )
        make_gold(
            db,
            "by_name",
            "SELECT nvl(name, '?') AS name, count(*) AS versions, sum(amount) AS total"
            " FROM main.sales.orders GROUP BY nvl(name, '?')",
        )
        first = run_batch(settings, db, "sales")
        write_csv(land / "2.csv", ["ID", "Name", "amount", "seq", "extra"], [[1, "ann", "12.00", 3, "x"]])
        second = run_batch(settings, db, "sales")
        with db.connection() as conn:
            dq = conn.execute(
                "SELECT batch_id, rule_name, action, rows_checked, rows_passed, rows_failed, status"
                " FROM lakeforge_log.dq_run ORDER BY batch_id, rule_name"
            ).fetchall()

    assert first.status == "succeeded", first.error
    assert second.status == "succeeded", second.error
    assert first.engine == engine
    assert [(d["rule_name"], d["rows_checked"], d["rows_failed"]) for d in dq] == [
        ("has_amount", 4, 1),
        ("has_name", 4, 1),
        ("positive", 4, 2),
        ("has_amount", 1, 0),
        ("has_name", 1, 0),
        ("positive", 1, 0),
    ]
    snapshot = {name: _table(settings, name) for name in TABLES}
    history = sorted(
        (r["id"], r["valid_from"], r["valid_to"], r["is_current"])
        for r in delta(settings, "main.sales.orders").to_pylist()
    )
    assert history == [(1, 1, 2, False), (1, 2, 3, False), (1, 3, None, True)]
    quarantine = sorted(
        (r["id"], tuple(r["_failed_rules"]))
        for r in delta(settings, "main.sales.orders_quarantine").to_pylist()
    )
    assert quarantine == [(2, ("has_amount", "positive")), (3, ("has_name", "positive"))]
    bronze_rescued = {
        r["id"]: r["_rescued_data"] for r in delta(settings, "main.sales.orders_bronze").to_pylist()
    }
    assert bronze_rescued[2] == '{"amount":"oops"}'
    snapshot["dq"] = [tuple(d.values())[1:] for d in dq]
    _SNAPSHOTS[engine] = snapshot


def test_both_engines_wrote_identical_tables() -> None:
    if set(_SNAPSHOTS) != set(ENGINES):
        pytest.skip(f"needs both engines' runs in this session (have {sorted(_SNAPSHOTS)})")
    embedded, spark = _SNAPSHOTS["embedded"], _SNAPSHOTS["spark"]
    for name in [*TABLES, "dq"]:
        assert embedded[name] == spark[name], name


_EDGE_SNAPSHOTS: dict[str, dict[str, Any]] = {}
EDGE_TABLES = [
    "main.edge.events_bronze",
    "main.edge.events",
    "main.edge.typed_bronze",
    "main.edge.people",
    "main.edge.exported_bronze",
    "main.edge.readings_bronze",
]


def test_input_edges_behave_the_same_on_every_engine(engine_settings, tmp_path: Path) -> None:
    """Inputs where the engines' readers and casts differ unless LakeForge aligns them: JSON strings
    that look like dates, times or timestamps stay strings (DuckDB typed them); a CSV null_value
    with quoted and unquoted empties; strings cast to INT ('2.5' and '1e3' are NULL, DuckDB rounded
    to 3 and read 1000); a JSON column changing type (rescued, or refused by name); JSON objects
    (fields ordered by name at every depth) and doubles written with exponents, both in the row
    hash; a first batch with no files; and an SCD 2 rerun without sequence_by."""
    engine, settings = engine_settings
    events, typed, people = tmp_path / "events", tmp_path / "typed", tmp_path / "people"
    for folder in (events, typed, people):
        folder.mkdir()
    (events / "1.jsonl").write_text(
        '{"id": 1, "at": "2026-01-01T10:00:00Z", "day": "2026-01-02", "time": "10:00:00",'
        ' "ref": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "n": 5}\n'
    )
    (typed / "1.jsonl").write_text('{"id": 1, "n": 5}\n')
    (people / "1.csv").write_text('id,name,note\n1,"",x\n2.5,,NA\n 7 ,NA,"NA"\n1e3,z,\n')
    with open_database(settings) as db:
        common = {"group": "edge", "load_mode": "incremental"}
        make_source(db, "events", format="json", location=str(events), schema_evolution="rescue",
                    silver={}, **common)  # fmt: skip
        make_source(db, "typed", format="json", location=str(typed), **common)
        make_source(db, "people", location=str(people), schema_ddl="id INT, name STRING, note STRING",
                    format_options={"null_value": "NA"}, silver={"primary_keys": ["id"], "scd_type": 2},
                    **common)  # fmt: skip
        make_source(db, "later", location=str(tmp_path / "later_empty"), silver={}, **common)
        # As the JDBC extractor lands a table: every value quoted, NULL as \N, line breaks kept.
        exported = tmp_path / "exported"
        exported.mkdir()
        (exported / "part-0000.csv").write_text('"id","note"\n"1",""\n"2",\\N\n"3","two\nlines"\n')
        exported_options = {"null_value": "\\N", "multiline": True}
        make_source(db, "exported", location=str(exported), format_options=exported_options, **common)
        readings = tmp_path / "readings"
        readings.mkdir()
        (readings / "1.jsonl").write_text(
            '{"id": 1, "reading": {"unit": "m", "value": 1e20, "at": {"t": 2.5e-7, "tags": ["a"]}},'
            ' "samples": [{"v": 1.5e-5, "k": "a"}, {"k": "b"}], "ratio": 12345678.9}\n'
            '{"id": 2, "reading": null, "samples": [], "ratio": -0.0}\n'
        )
        make_source(db, "readings", format="json", location=str(readings), **common)
        (tmp_path / "later_empty").mkdir()
        first = run_batch(settings, db, "edge")
        (events / "2.jsonl").write_text('{"id": 2, "n": "five"}\n')
        (typed / "2.jsonl").write_text('{"id": 2, "n": 2.5}\n')
        second = run_batch(settings, db, "edge")
        rerun = run_batch(settings, db, "edge", rerun_of=first.batch_id, sources=["people"])
        with db.connection() as conn:
            tables = conn.execute(
                "SELECT table_name, status, rows_in, rows_out, error FROM lakeforge_log.table_run"
                " WHERE batch_id = %s ORDER BY table_name",
                [second.batch_id],
            ).fetchall()

    assert first.status == "succeeded", first.error
    assert second.status == "failed" and rerun.status == "succeeded", rerun.error
    errors = {t["table_name"]: t["error"] for t in tables if t["status"] == "failed"}
    assert list(errors) == ["main.edge.typed_bronze"]
    assert (
        "column n of main.edge.typed_bronze is BIGINT but this batch has DOUBLE"
        in errors["main.edge.typed_bronze"]
    )
    bronze = {r["id"]: r for r in delta(settings, "main.edge.events_bronze").to_pylist()}
    assert (bronze[1]["at"], bronze[1]["day"], bronze[1]["time"]) == (
        "2026-01-01T10:00:00Z",
        "2026-01-02",
        "10:00:00",
    )
    assert (bronze[2]["n"], bronze[2]["_rescued_data"]) == (None, '{"n":"five"}')
    people_rows = sorted(
        ((r["id"], r["name"], r["note"]) for r in delta(settings, "main.edge.people_bronze").to_pylist()),
        key=str,
    )
    assert people_rows == sorted(
        [(1, "", "x"), (None, None, None), (7, None, None), (None, "z", None)], key=str
    )
    exported_rows = sorted(
        (r["id"], r["note"]) for r in delta(settings, "main.edge.exported_bronze").to_pylist()
    )
    assert exported_rows == [("1", ""), ("2", None), ("3", "two\nlines")]
    readings_schema = delta(settings, "main.edge.readings_bronze").schema
    assert readings_schema.names[:4] == ["id", "ratio", "reading", "samples"]
    assert [f.name for f in readings_schema.field("reading").type] == ["at", "unit", "value"]
    assert [f.name for f in readings_schema.field("samples").type.value_type] == ["k", "v"]
    history = delta(settings, "main.edge.people").to_pylist()
    assert sorted((r["id"], r["is_current"]) for r in history if r["id"] is not None) == [
        (1, True),
        (7, True),
    ]
    snapshot = {name: _table(settings, name) for name in EDGE_TABLES}
    for name in ("main.edge.people",):
        snapshot[name]["rows"] = [
            tuple(kv for kv in row if kv[0] not in ("valid_from", "valid_to"))
            for row in snapshot[name]["rows"]
        ]
    _EDGE_SNAPSHOTS[engine] = snapshot


def test_both_engines_handled_the_input_edges_alike() -> None:
    if set(_EDGE_SNAPSHOTS) != set(ENGINES):
        pytest.skip(f"needs both engines' runs in this session (have {sorted(_EDGE_SNAPSHOTS)})")
    for name in EDGE_TABLES:
        embedded, spark = _EDGE_SNAPSHOTS["embedded"][name], _EDGE_SNAPSHOTS["spark"][name]
        assert embedded["schema"] == spark["schema"], name
        assert [r for r in embedded["rows"] if r not in spark["rows"]] == [], name
        assert [r for r in spark["rows"] if r not in embedded["rows"]] == [], name


_SNAPSHOT_RUNS: dict[str, dict[str, Any]] = {}
SNAPSHOT_TABLES = [
    "main.snap.customers",
    "main.snap.customers_quarantine",
    "main.snap.accounts",
    "main.snap.lines",
    "main.snap.lines_quarantine",
]


def _merge_steps(db, batch_id: int) -> dict[str, dict[str, Any]]:
    """Each Silver table's run of a batch: its counts and its merge step's details."""
    with db.connection() as conn:
        found = conn.execute(
            "SELECT t.table_name, t.status, t.error, t.rows_in, t.rows_out, t.rows_rejected, s.details"
            " FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " LEFT JOIN lakeforge_log.step_run s ON s.table_run_id = t.id AND s.step = 'merge'"
            " WHERE t.batch_id = %s AND z.zone = 'silver'",
            [batch_id],
        ).fetchall()
    return {r["table_name"]: r for r in found}


def test_snapshots_and_null_keys_behave_the_same_on_every_engine(engine_settings, tmp_path: Path) -> None:
    """Full loads with keys: a key missing from a snapshot is deleted (SCD 1) or its current version
    closed at the batch's time (SCD 2), and a key that comes back opens a new version. An empty
    snapshot fails instead of wiping Silver. A rerun of an older snapshot changes nothing (a key a
    newer snapshot closed stays closed, for good or until it came back). Rows with
    a NULL key column (single or composite key) are quarantined, naming the column, not merged."""
    engine, settings = engine_settings
    customers, accounts, lines = tmp_path / "customers", tmp_path / "accounts", tmp_path / "lines"
    header = ["id", "name"]
    write_csv(customers / "1.csv", header, [[1, "a"], [2, "b"], [3, "c"], [None, "x"], [None, "y"]])
    write_csv(accounts / "1.csv", header, [[1, "a"], [2, "b"], [3, "c"]])
    write_csv(
        lines / "1.csv",
        ["order_id", "line_no", "qty"],
        [[1, 1, 5], [1, None, 5], [None, None, -1], [None, 2, 5]],
    )
    with open_database(settings) as db:
        snapshot = {"group": "snap", "load_mode": "full", "schema_ddl": "id INT, name STRING"}
        make_source(db, "customers", location=str(customers), silver={"primary_keys": ["id"]}, **snapshot)
        make_source(db, "accounts", location=str(accounts), silver={"primary_keys": ["id"], "scd_type": 2},
                    **snapshot)  # fmt: skip
        make_source(db, "lines", group="snap", location=str(lines), load_mode="incremental",
                    schema_ddl="order_id INT, line_no INT, qty INT",
                    silver={"primary_keys": ["order_id", "line_no"]},
                    rules=[("positive", "qty > 0", "quarantine")])  # fmt: skip
        first = run_batch(settings, db, "snap")
        write_csv(customers / "1.csv", header, [[1, "a2"], [3, "c"]])
        write_csv(accounts / "1.csv", header, [[1, "a"]])
        second = run_batch(settings, db, "snap")
        write_csv(accounts / "1.csv", header, [[1, "a"], [2, "b2"]])
        third = run_batch(settings, db, "snap")
        after_third = {name: _table(settings, name) for name in SNAPSHOT_TABLES}
        write_csv(customers / "1.csv", header, [])
        write_csv(accounts / "1.csv", header, [])
        empty = run_batch(settings, db, "snap")
        after_empty = {name: _table(settings, name) for name in SNAPSHOT_TABLES}
        rerun = run_batch(settings, db, "snap", rerun_of=second.batch_id, sources=["customers", "accounts"])
        after_rerun = {name: _table(settings, name) for name in SNAPSHOT_TABLES}
        oldest = run_batch(settings, db, "snap", rerun_of=first.batch_id, sources=["customers", "accounts"])
        after_oldest = {name: _table(settings, name) for name in SNAPSHOT_TABLES}
        runs = [first, second, third, empty, rerun, oldest]
        steps = {run.batch_id: _merge_steps(db, run.batch_id) for run in runs}

    assert [r.status for r in runs] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
        "succeeded",
        "succeeded",
    ], [r.error for r in runs]
    assert rows(settings, "main.snap.customers", ["id", "name"]) == [(1, "a2"), (3, "c")]
    assert rows(settings, "main.snap.customers_quarantine", ["id", "name", "_failed_rules"]) == [
        (None, "x", ["null_key:id"]),
        (None, "y", ["null_key:id"]),
    ]
    # SCD 2 in batch numbers: key 2 closed by the second snapshot, opened again by the third; key 3
    # closed by the second for good.
    bronze = delta(settings, "main.snap.accounts_bronze").to_pylist()
    when = {t: i for i, t in enumerate(sorted({r["_ingested_at"] for r in bronze}), 1)}
    history = sorted(
        (r["id"], r["name"], when[r["valid_from"]], when.get(r["valid_to"]), r["is_current"])
        for r in delta(settings, "main.snap.accounts").to_pylist()
    )
    assert history == [
        (1, "a", 1, 2, False),
        (1, "a", 2, 3, False),
        (1, "a", 3, None, True),
        (2, "b", 1, 2, False),
        (2, "b2", 3, None, True),
        (3, "c", 1, 2, False),
    ]
    assert rows(settings, "main.snap.lines", ["order_id", "line_no", "qty"]) == [(1, 1, 5)]
    assert rows(settings, "main.snap.lines_quarantine", ["order_id", "line_no", "_failed_rules"]) == [
        (1, None, ["null_key:line_no"]),
        (None, 2, ["null_key:order_id"]),
        (None, None, ["null_key:order_id", "null_key:line_no", "positive"]),
    ]
    # The empty snapshot failed both full loads by name and wrote nothing; the reruns of the second
    # and first snapshots, older than the table's, left every table as the third batch did.
    failed = steps[empty.batch_id]
    for source, what in (("customers", "delete"), ("accounts", "close")):
        assert failed[f"main.snap.{source}"]["status"] == "failed"
        assert (
            f"source {source}: full-load batch {empty.batch_id} brought no rows"
            in (failed[f"main.snap.{source}"]["error"])
        )
        assert f"rows this snapshot would {what}" in failed[f"main.snap.{source}"]["error"]
    assert after_empty == after_third and after_rerun == after_third and after_oldest == after_third
    # The run log: what each snapshot removed, null keys as quarantined, and counts that add up.
    removed = {
        (b, t.split(".")[-1]): s["details"]["removed"]
        for b, tables in steps.items()
        for t, s in tables.items()
        if s["details"] and s["status"] == "succeeded"
    }
    assert removed[(second.batch_id, "customers")] == 1 and removed[(second.batch_id, "accounts")] == 2
    assert removed[(third.batch_id, "accounts")] == 0 and removed[(rerun.batch_id, "customers")] == 0
    assert steps[first.batch_id]["main.snap.customers"]["rows_rejected"] == 2
    assert steps[first.batch_id]["main.snap.lines"]["rows_rejected"] == 3
    assert steps[rerun.batch_id]["main.snap.customers"]["details"]["stale"] == 2
    for tables in steps.values():
        for run in tables.values():
            if run["status"] == "succeeded":
                details = run["details"]
                assert run["rows_in"] == (
                    run["rows_out"] + run["rows_rejected"] + details["duplicates"] + details["stale"]
                ), run
    snapshot_rows = {name: after_rerun[name] for name in SNAPSHOT_TABLES if name != "main.snap.accounts"}
    snapshot_rows["main.snap.accounts"] = {"rows": history}
    _SNAPSHOT_RUNS[engine] = snapshot_rows


def test_both_engines_handled_snapshots_and_null_keys_alike() -> None:
    if set(_SNAPSHOT_RUNS) != set(ENGINES):
        pytest.skip(f"needs both engines' runs in this session (have {sorted(_SNAPSHOT_RUNS)})")
    for name in SNAPSHOT_TABLES:
        assert _SNAPSHOT_RUNS["embedded"][name] == _SNAPSHOT_RUNS["spark"][name], name


CATCH_UP_TABLES = [
    "main.catch.events",
    "main.catch.events_quarantine",
    "main.catch.stock",
    "main.catch_gold.sizes",
]
_CATCH_UP_RUNS: dict[str, dict[str, Any]] = {}


def test_silver_alone_catches_up_the_same_on_every_engine(engine_settings, tmp_path: Path) -> None:
    """Two batches through Bronze only, then Silver and Gold alone: Silver applies both, oldest
    first (SCD 2 history, a snapshot's deleted key), and a second run with nothing pending writes
    no Silver commit."""
    engine, settings = engine_settings
    events, stock = tmp_path / "events", tmp_path / "stock"
    write_csv(events / "1.csv", ["id", "state", "seq"], [[1, "new", 1], [2, "new", 1], [3, "bad", 1]])
    write_csv(stock / "1.csv", ["sku", "qty"], [["a", 1], ["b", 2]])
    with open_database(settings) as db:
        make_source(db, "events", group="catch", location=str(events), load_mode="incremental",
                    schema_ddl="id INT, state STRING, seq INT",
                    silver={"primary_keys": ["id"], "sequence_by": "seq", "scd_type": 2},
                    rules=[("known", "state <> 'bad'", "quarantine")])  # fmt: skip
        make_source(db, "stock", group="catch", location=str(stock), load_mode="full",
                    schema_ddl="sku STRING, qty INT", silver={"primary_keys": ["sku"]})  # fmt: skip
        sizes = ("SELECT (SELECT count(*) FROM main.catch.events) AS events,"
                 " (SELECT sum(qty) FROM main.catch.stock) AS stock")  # fmt: skip
        make_gold(db, "sizes", sizes, group="catch")
        bronze = [run_batch(settings, db, "catch", zones=["raw", "bronze"])]
        write_csv(events / "2.csv", ["id", "state", "seq"], [[1, "paid", 2], [4, "new", 2]])
        write_csv(stock / "1.csv", ["sku", "qty"], [["a", 5]])
        bronze.append(run_batch(settings, db, "catch", zones=["raw", "bronze"]))
        caught = run_batch(settings, db, "catch", zones=["silver", "gold"])
        after = {name: _table(settings, name) for name in CATCH_UP_TABLES}
        versions = {name: _version(settings, name) for name in CATCH_UP_TABLES[:3]}
        again = run_batch(settings, db, "catch", zones=["silver", "gold"])

    assert [r.status for r in [*bronze, caught, again]] == ["succeeded"] * 4, caught.error
    assert rows(settings, "main.catch.events", ["id", "state", "is_current"]) == [
        (1, "new", False),
        (1, "paid", True),
        (2, "new", True),
        (4, "new", True),
    ]
    assert rows(settings, "main.catch.stock", ["sku", "qty"]) == [("a", 5)]  # b left the snapshot
    assert rows(settings, "main.catch_gold.sizes", ["events", "stock"]) == [(4, 5)]
    assert {name: _version(settings, name) for name in versions} == versions
    _CATCH_UP_RUNS[engine] = after


def _version(settings, name: str) -> int:
    return DeltaTable(str(settings.lakehouse_path.joinpath(*name.split(".")))).version()


def test_both_engines_caught_silver_up_alike() -> None:
    if set(_CATCH_UP_RUNS) != set(ENGINES):
        pytest.skip(f"needs both engines' runs in this session (have {sorted(_CATCH_UP_RUNS)})")
    for name in CATCH_UP_TABLES:
        assert _CATCH_UP_RUNS["embedded"][name] == _CATCH_UP_RUNS["spark"][name], name
