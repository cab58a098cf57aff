"""The pipeline's planned queries, run on the real local Spark session over the Bronze tables the
runtime wrote (spark engine), against what the runtime wrote itself: a full load without keys is its
newest batch, an incremental load without keys keeps identical rows of a batch once, a quarantine
table's ``_failed_rules`` names the same rules in the same order, and Silver and quarantine tables
have the runtime's columns whatever the flow.

The pipeline module only records the query functions here; the test runs them as the pipeline would
(views bound by name, streams drained once). Drop expectations are Databricks' own, so the checked
view's rows are filtered with the plan's own filter of the rows those expectations keep."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lakeforge.metadata.db import Database
from lakeforge.runtime.config import load_group
from lakeforge.runtime.runner import run_batch
from lakeforge.runtime.spark.pipeline import PipelinePlan, SilverFlow, apply_plan, plan_pipeline
from lakeforge.settings import Settings
from tests.runtime.helpers import delta, make_source, rows, write_csv

DDL = "id INT, name STRING, amount INT"
HEADER = ["id", "name", "amount"]
# Names in check order; a row may fail any mix of them.
RULES = [
    ("a_small", "amount < 5", "warn"),
    ("b_named", "name IS NOT NULL", "drop"),
    ("c_positive", "amount > 0", "quarantine"),
]
COMPARED = ["id", "name", "amount", "_batch_id"]


class Registry:
    """Takes the pipeline module's place while the plan is applied: keeps each dataset's query
    function by name. Expectation decorators return the function unchanged."""

    def __init__(self) -> None:
        self.queries: dict[str, Callable[[], Any]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("expect"):
            return lambda rules: lambda query: query

        def register(*args: Any, **kwargs: Any) -> None:
            if args and callable(args[0]):
                self.queries[kwargs["name"]] = args[0]
            elif callable(kwargs.get("source")):
                # A snapshot flow's source function, by the table it fills.
                self.queries[kwargs["target"]] = kwargs["source"]

        return register


class Names:
    """Binds names in the shared session's catalog as the pipeline would resolve them, and drops
    them afterwards: views to frames, tables to Delta folders."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.views: list[str] = []
        self.tables: list[str] = []

    def view(self, name: str, frame: Any) -> None:
        frame.createOrReplaceTempView(name)
        self.views.append(name)

    def table(self, name: str, path: Path) -> None:
        """An external table over ``path``: a stream cannot read a Delta table by path here."""
        self.spark.sql(f"CREATE TABLE {name} USING delta LOCATION '{path}'")
        self.tables.append(name)

    def drop(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)
        for table in self.tables:
            # External: the folder stays.
            self.spark.sql(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def names(spark_session: Any) -> Iterator[Names]:
    bound = Names(spark_session)
    yield bound
    bound.drop()


def drain(names: Names, stream: Any, name: str) -> Any:
    """Everything a streaming query has now, as a batch (what one triggered update appends)."""
    query = stream.writeStream.format("memory").queryName(name).trigger(availableNow=True).start()
    query.awaitTermination()
    names.views.append(name)
    return names.spark.table(name)


def collected(frame: Any, columns: list[str]) -> list[tuple[Any, ...]]:
    """Rows sorted as ``tests.runtime.helpers.rows`` sorts the runtime's."""
    data = [tuple(row) for row in frame.select(*columns).collect()]
    return sorted(data, key=lambda r: tuple((v is None, str(v)) for v in r))


def planned(names: Names, db: Database, settings: Settings) -> tuple[Registry, dict[str, SilverFlow]]:
    """The group's plan over the Bronze tables the runtime wrote, applied to a :class:`Registry`.
    The local session has one catalog and schema: each Bronze table is bound under a bare name."""
    plan = plan_pipeline(load_group(db, "sales"))
    flows = {}
    for flow in plan.silver:
        bronze = f"lf_test_{flow.source}_bronze"
        names.table(bronze, settings.lakehouse_path.joinpath(*flow.bronze_table.split(".")))
        flows[flow.source] = dataclasses.replace(flow, bronze_table=bronze)
    registry = Registry()
    apply_plan(PipelinePlan(plan.group, tuple(flows.values()), ()), registry, names.spark)
    return registry, flows


def run_both_batches(settings: Settings, db: Database, tmp_path: Path) -> int:
    """Two batches through the runtime: ``snap`` (a full load without keys, each batch the whole
    source) and ``orders`` (incremental, keyed); returns the second batch's id."""
    snap, orders = tmp_path / "snap", tmp_path / "orders"
    make_source(
        db, "snap", location=str(snap), schema_ddl=DDL, silver={"where_clause": "id <> 99"}, rules=RULES
    )
    make_source(
        db,
        "orders",
        location=str(orders),
        load_mode="incremental",
        schema_ddl=DDL,
        silver={"primary_keys": ["id"]},
        rules=RULES,
    )
    write_csv(snap / "1.csv", HEADER, [[1, "a", 1], [2, "b", 2], [7, None, -1]])
    write_csv(orders / "1.csv", HEADER, [[1, "a", 1], [None, None, -1], [None, "x", 9], [4, "d", None]])
    first = run_batch(settings, db, "sales")
    assert first.status == "succeeded", first.error
    # The whole source again: a duplicate, rows failing each mix of rules, one the where drops.
    write_csv(
        snap / "1.csv",
        HEADER,
        [
            [3, "c", 1],
            [3, "c", 1],
            [6, None, 9],
            [7, None, -1],
            [8, "h", None],
            [9, None, None],
            [10, "j", 7],
            [99, "z", 1],
        ],
    )
    write_csv(orders / "2.csv", HEADER, [[None, "y", 2]])
    second = run_batch(settings, db, "sales")
    assert second.status == "succeeded", second.error
    assert second.batch_id is not None
    return second.batch_id


def test_planned_queries_give_what_the_runtime_wrote(settings, db, tmp_path, names) -> None:
    newest = run_both_batches(settings, db, tmp_path)
    registry, flows = planned(names, db, settings)
    snap, orders = flows["snap"], flows["orders"]
    queries = registry.queries

    # Silver of the full load without keys: the newest batch only, checked and deduplicated.
    checked = queries[snap.view]()
    assert {row._batch_id for row in checked.select("_batch_id").collect()} == {newest}
    names.view(snap.view, checked.where(snap.keep_filter()))
    silver = queries[snap.silver_table]()
    runtime_silver = delta(settings, snap.silver_table)
    assert silver.columns == runtime_silver.column_names
    assert collected(silver, COMPARED) == rows(settings, snap.silver_table, COMPARED)
    assert sorted(collected(silver, ["id", "name", "amount"])) == [(3, "c", 1), (10, "j", 7)]

    # Quarantine tables: every batch's quarantined rows, every rule each row failed, in order.
    quarantined = [*COMPARED, "_failed_rules"]
    failed = {}
    for flow in (snap, orders):
        assert flow.quarantine_table is not None
        names.view(flow.unchecked_view, queries[flow.unchecked_view]())
        table = drain(names, queries[flow.quarantine_table](), f"lf_test_{flow.source}_quarantine")
        found = collected(table, quarantined)
        assert found == rows(settings, flow.quarantine_table, quarantined)
        assert table.columns == delta(settings, flow.quarantine_table).column_names
        failed |= {(id_, name): rules for id_, name, _, _, rules in found}
    # The auto-CDC flow's Silver (SCD 1) has its source view's columns: the runtime's.
    assert queries[orders.view]().columns == delta(settings, orders.silver_table).column_names

    # A warn or drop rule the row also failed is named, after the NULL key, in rule-name order.
    assert failed == {
        (None, None): ["null_key:id", "b_named", "c_positive"],
        (None, "x"): ["null_key:id", "a_small"],
        (None, "y"): ["null_key:id"],
        (4, "d"): ["a_small", "c_positive"],
        (7, None): ["b_named", "c_positive"],
        (8, "h"): ["a_small", "c_positive"],
        (9, None): ["a_small", "b_named", "c_positive"],
    }


def test_appended_and_snapshot_silver_give_what_the_runtime_wrote(settings, db, tmp_path, names) -> None:
    """An incremental load without keys keeps identical rows once per batch (the runtime's
    ``dedupe``), and a full load with keys applies its snapshots; both Silver tables and their
    quarantine tables have the runtime's rows and columns."""
    events_dir, accounts_dir = tmp_path / "events", tmp_path / "accounts"
    for name, load_mode, keys in (("events", "incremental", []), ("accounts", "full", ["id"])):
        silver = {"primary_keys": keys}
        make_source(
            db,
            name,
            location=str(tmp_path / name),
            load_mode=load_mode,
            schema_ddl=DDL,
            silver=silver,
            rules=RULES,
        )
    # Identical rows within a batch, again in the next batch, and quarantined (where all stay).
    write_csv(
        events_dir / "1.csv", HEADER, [[1, "a", 1], [1, "a", 1], [2, "b", 2], [3, "c", -1], [3, "c", -1]]
    )
    write_csv(accounts_dir / "1.csv", HEADER, [[1, "a", 1], [2, "b", -2]])
    first = run_batch(settings, db, "sales")
    assert first.status == "succeeded", first.error
    write_csv(events_dir / "2.csv", HEADER, [[1, "a", 1], [1, "a", 1], [4, "d", 4]])
    write_csv(accounts_dir / "1.csv", HEADER, [[1, "a2", 1], [3, "c", 3], [4, "d", -1]])
    second = run_batch(settings, db, "sales")
    assert second.status == "succeeded", second.error
    registry, flows = planned(names, db, settings)
    events, accounts = flows["events"], flows["accounts"]
    queries = registry.queries

    for flow in (events, accounts):
        names.view(flow.unchecked_view, queries[flow.unchecked_view]())
    names.view(events.view, queries[events.view]().where(events.keep_filter()))
    appended = drain(names, queries[events.silver_table](), "lf_test_events_silver")
    assert collected(appended, COMPARED) == rows(settings, events.silver_table, COMPARED)
    assert collected(appended, ["id", "_batch_id"]) == [
        (1, first.batch_id),
        (1, second.batch_id),
        (2, first.batch_id),
        (4, second.batch_id),
    ]

    # The snapshots in order; SCD 1 from snapshots leaves Silver holding the last one.
    next_snapshot_and_version = queries[accounts.silver_table]
    versions = [next_snapshot_and_version(None)]
    while versions[-1] is not None:
        versions.append(next_snapshot_and_version(versions[-1][1]))
    snapshot = versions[-2][0]
    assert [v[1] for v in versions[:-1]] == [first.batch_id, second.batch_id]
    assert collected(snapshot, COMPARED) == rows(settings, accounts.silver_table, COMPARED)

    names.view(accounts.view, queries[accounts.view]())
    quarantined = [*COMPARED, "_failed_rules"]
    columns = {}
    for flow, silver in ((events, appended), (accounts, snapshot)):
        assert flow.quarantine_table is not None
        table = drain(names, queries[flow.quarantine_table](), f"lf_test_{flow.source}_quarantine")
        assert collected(table, quarantined) == rows(settings, flow.quarantine_table, quarantined)
        columns[flow.kind] = (silver.columns, table.columns)
    # No Bronze audit column (file, hash, rescue) in Silver or quarantine, whatever the flow.
    assert columns == {
        flow.kind: (
            delta(settings, flow.silver_table).column_names,
            delta(settings, flow.quarantine_table).column_names,
        )
        for flow in (events, accounts)
        if flow.quarantine_table
    }
