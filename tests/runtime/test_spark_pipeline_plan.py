"""The declarative pipeline planned from metadata: expectations per action, NULL-key quarantine,
auto-CDC from a stream (incremental loads) or from snapshots (full loads), the newest batch as a
materialized view (full loads without keys), gold."""

from __future__ import annotations

from typing import Any

import pytest

from lakeforge.runtime.config import load_group
from lakeforge.runtime.spark.pipeline import DEDUPE_WINDOW, SEEN_AT, apply_plan, plan_pipeline, silver_rows
from lakeforge.runtime.zones.common import ZoneError
from tests.runtime.helpers import make_gold, make_source


class Recorder:
    """Stands in for Databricks' pipeline module, which only exists inside a pipeline update:
    records each call as (function, name or target, keyword arguments)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            what = kwargs.get("name") or kwargs.get("target") or (args[0] if args else None)
            # A dataset's query function (its first argument) is kept with the keyword arguments.
            query = {"query": args[0]} if args and callable(args[0]) else {}
            self.calls.append((name, what, {**kwargs, **query}))
            return (lambda fn: fn) if name.startswith("expect") else None

        return record

    def names(self) -> list[tuple[str, Any]]:
        return [(name, what) for name, what, _ in self.calls]

    def query(self, name: str) -> Any:
        """The query function registered for dataset ``name``."""
        return next(kwargs["query"] for _, what, kwargs in self.calls if what == name)


class Frame:
    """Stands in for a Spark DataFrame (or a session reading one): records each call as
    (method, arguments) and returns itself, so a query's transformations can be compared."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @property
    def readStream(self) -> Frame:
        return self

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> Frame:
            self.calls.append((name, args))
            return self

        return record


def test_plan_maps_rules_keys_and_gold(db, tmp_path) -> None:
    make_source(
        db,
        "orders",
        location=str(tmp_path),
        load_mode="incremental",
        silver={
            "primary_keys": ["id"],
            "scd_type": 2,
            "sequence_by": "seq",
            "select_expressions": ["id", "seq"],
        },
        rules=[
            ("a", "id > 0", "warn"),
            ("b", "seq IS NOT NULL", "drop"),
            ("c", "id < 9", "fail"),
            ("d", "id <> 5", "quarantine"),
        ],
    )
    make_source(db, "plain", location=str(tmp_path), load_mode="incremental", silver={})
    make_gold(db, "totals", "SELECT count(*) AS n FROM main.sales.orders")

    plan = plan_pipeline(load_group(db, "sales"))

    orders, plain = plan.silver
    assert (orders.bronze_table, orders.silver_table) == ("main.sales.orders_bronze", "main.sales.orders")
    assert [orders.rules_for(action) for action in ("warn", "drop", "fail", "quarantine")] == [
        {"a": "id > 0"},
        {"b": "seq IS NOT NULL"},
        {"c": "id < 9"},
        {"d": "id <> 5"},
    ]
    assert (orders.keys, orders.sequence_by, orders.scd_type) == (("id",), "seq", 2)
    assert (orders.kind, plain.kind) == ("auto_cdc", "append")
    assert orders.null_keys == {"null_key:id": "`id` IS NOT NULL"}
    assert orders.quarantine_table == "main.sales.orders_quarantine"
    # A NULL key quarantines the row as a quarantine rule would, named first in _failed_rules;
    # then, as on the engines, every rule the row failed in name order, whatever its action.
    failing, failed_rules = orders.quarantine_filter()
    assert failing == "NOT coalesce((`id` IS NOT NULL), false) OR NOT coalesce((id <> 5), false)"
    assert failed_rules == (
        "filter(array(CASE WHEN NOT coalesce((`id` IS NOT NULL), false) THEN 'null_key:id' END,"
        " CASE WHEN NOT coalesce((id > 0), false) THEN 'a' END,"
        " CASE WHEN NOT coalesce((seq IS NOT NULL), false) THEN 'b' END,"
        " CASE WHEN NOT coalesce((id < 9), false) THEN 'c' END,"
        " CASE WHEN NOT coalesce((id <> 5), false) THEN 'd' END), x -> x IS NOT NULL) AS _failed_rules"
    )
    assert (plain.keys, plain.select, plain.quarantine_table, plain.null_keys) == ((), ("*",), None, {})
    assert [(g.name, g.target) for g in plan.gold] == [("totals", "main.sales_gold.totals")]

    dp = Recorder()
    apply_plan(plan, dp, spark=None)
    assert dp.names() == [
        ("temporary_view", "orders_silver_input_unchecked"),
        ("expect_all", {"a": "id > 0"}),
        # NULL-key rows never reach the auto-CDC flow.
        ("expect_all_or_drop", {"null_key:id": "`id` IS NOT NULL", "b": "seq IS NOT NULL", "d": "id <> 5"}),
        ("expect_all_or_fail", {"c": "id < 9"}),
        ("temporary_view", "orders_silver_input"),
        ("table", "main.sales.orders_quarantine"),
        ("create_streaming_table", "main.sales.orders"),
        ("create_auto_cdc_flow", "main.sales.orders"),
        ("temporary_view", "plain_silver_input_unchecked"),
        ("temporary_view", "plain_silver_input"),
        ("table", "main.sales.plain"),
        ("materialized_view", "main.sales_gold.totals"),
    ]
    cdc = dp.calls[7][2]
    assert (cdc["source"], cdc["keys"], cdc["sequence_by"], cdc["stored_as_scd_type"]) == (
        "orders_silver_input",
        ["id"],
        "seq",
        2,
    )


def test_silver_rows_keep_the_engines_columns(db, tmp_path) -> None:
    """The where clause reads Bronze's columns, as the engines' ``SELECT … FROM bronze WHERE``; the
    default select leaves Bronze's own audit columns out and puts ``_batch_id``, ``_ingested_at``
    last. Every view, Silver and quarantine table reads these rows."""
    make_source(
        db, "plain", location=str(tmp_path), load_mode="incremental", silver={"where_clause": "id > 0"}
    )
    # The where clause may read a column the select leaves out (or names otherwise).
    picking = {"select_expressions": ["id", "upper(name) AS n"], "where_clause": "name <> 'x'"}
    make_source(db, "picked", location=str(tmp_path), silver=picking)
    picked, plain = plan_pipeline(load_group(db, "sales")).silver

    # Bronze's columns in any order: the audit columns go, then _batch_id and _ingested_at come last.
    bronze = Frame(
        ["_batch_id", "id", "_source_file", "name", "_ingested_at", "_rescued_data", "_record_hash"]
    )
    silver_rows(plain, bronze)
    assert bronze.calls == [
        ("where", ("id > 0",)),
        ("selectExpr", ("`id`", "`name`", "`_batch_id`", "`_ingested_at`")),
    ]
    bronze.calls.clear()
    silver_rows(picked, bronze)
    assert bronze.calls == [
        ("where", ("name <> 'x'",)),
        ("selectExpr", ("id", "upper(name) AS n", "_batch_id", "_ingested_at")),
    ]


def test_incremental_loads_without_keys_drop_identical_rows_of_a_batch(db, tmp_path) -> None:
    """The append table's query drops identical rows (every column, ``_batch_id`` included, so only
    within a batch) with state bounded by a processing-time watermark; without ``dedupe`` it
    appends the checked view as it is."""
    make_source(db, "events", location=str(tmp_path), load_mode="incremental", silver={})
    make_source(db, "raw", location=str(tmp_path), load_mode="incremental", silver={"dedupe": False})
    plan = plan_pipeline(load_group(db, "sales"))
    events, raw = plan.silver
    assert (events.kind, events.dedupe, raw.kind, raw.dedupe) == ("append", True, "append", False)

    silver = ["id", "name", "_batch_id", "_ingested_at"]
    dp, spark = Recorder(), Frame(silver)
    apply_plan(plan, dp, spark)
    assert ("table", "main.sales.events") in dp.names()
    expected = {
        events.silver_table: [
            ("table", ("events_silver_input",)),
            ("selectExpr", ("*", f"current_timestamp() AS {SEEN_AT}")),
            ("withWatermark", (SEEN_AT, DEDUPE_WINDOW)),
            ("dropDuplicatesWithinWatermark", (silver,)),
            ("drop", (SEEN_AT,)),
        ],
        raw.silver_table: [("table", ("raw_silver_input",))],
    }
    for table, calls in expected.items():
        spark.calls.clear()
        dp.query(table)()  # run as the pipeline runs it
        assert spark.calls == calls


def test_full_loads_with_keys_apply_snapshots(db, tmp_path) -> None:
    """A full load with keys is applied by the snapshot auto-CDC flow; its NULL-key check, drop and
    quarantine rules only count on the view (the snapshot function removes those rows), so the
    quarantine table reads the view. No quarantine rule of its own: the table exists all the same."""
    make_source(db, "customers", location=str(tmp_path), silver={"primary_keys": ["id"]})
    make_source(
        db,
        "lines",
        location=str(tmp_path),
        silver={"primary_keys": ["order_id", "line_no"], "scd_type": 2},
        rules=[("positive", "qty > 0", "drop"), ("known", "sku IS NOT NULL", "fail")],
    )

    customers, lines = plan_pipeline(load_group(db, "sales")).silver

    assert (customers.kind, lines.kind) == ("auto_cdc_from_snapshot", "auto_cdc_from_snapshot")
    assert customers.quarantine_table == "main.sales.customers_quarantine"
    assert customers.quarantine_source == "customers_silver_input"
    assert customers.expectations() == {
        "expect_all": {"null_key:id": "`id` IS NOT NULL"},
        "expect_all_or_fail": {},
    }
    # One expectation for the whole key (its failed rows are the rows with any NULL key column);
    # _failed_rules names each NULL column.
    assert lines.key_expectation == {
        "null_key:order_id,line_no": "`order_id` IS NOT NULL AND `line_no` IS NOT NULL"
    }
    assert list(lines.null_keys) == ["null_key:order_id", "null_key:line_no"]
    assert lines.keep_filter() == (
        "coalesce((`order_id` IS NOT NULL), false) AND coalesce((`line_no` IS NOT NULL), false)"
        " AND coalesce((qty > 0), false)"
    )

    dp = Recorder()
    apply_plan(plan_pipeline(load_group(db, "sales")), dp, spark=None)
    assert dp.names() == [
        ("temporary_view", "customers_silver_input_unchecked"),
        ("expect_all", {"null_key:id": "`id` IS NOT NULL"}),
        ("temporary_view", "customers_silver_input"),
        ("table", "main.sales.customers_quarantine"),
        ("create_streaming_table", "main.sales.customers"),
        ("create_auto_cdc_from_snapshot_flow", "main.sales.customers"),
        ("temporary_view", "lines_silver_input_unchecked"),
        (
            "expect_all",
            {
                "null_key:order_id,line_no": "`order_id` IS NOT NULL AND `line_no` IS NOT NULL",
                "positive": "qty > 0",
            },
        ),
        ("expect_all_or_fail", {"known": "sku IS NOT NULL"}),
        ("temporary_view", "lines_silver_input"),
        ("table", "main.sales.lines_quarantine"),
        ("create_streaming_table", "main.sales.lines"),
        ("create_auto_cdc_from_snapshot_flow", "main.sales.lines"),
    ]
    scd1, scd2 = (kwargs for name, _, kwargs in dp.calls if name == "create_auto_cdc_from_snapshot_flow")
    assert callable(scd1["source"]) and scd1["source"].__name__ == "next_snapshot_and_version"
    assert (scd1["keys"], scd1["stored_as_scd_type"], "track_history_except_column_list" in scd1) == (
        ["id"],
        1,
        False,
    )
    # SCD 2: a new version when the data changes, not because a snapshot stamped its batch.
    assert (scd2["keys"], scd2["stored_as_scd_type"], scd2["track_history_except_column_list"]) == (
        ["order_id", "line_no"],
        2,
        ["_batch_id", "_ingested_at"],
    )


def test_full_loads_without_keys_are_a_materialized_view_of_the_newest_batch(db, tmp_path) -> None:
    """A full load without keys replaces Silver on the engines: in the pipeline it is a materialized
    view over a checked batch view (expectations drop and count as for a streaming flow), while its
    quarantine table streams Bronze so it keeps every batch's rows. Without a quarantine table
    nothing streams Bronze."""
    make_source(
        db,
        "prices",
        location=str(tmp_path),
        silver={"dedupe": False},
        rules=[("listed", "sku IS NOT NULL", "quarantine"), ("positive", "price > 0", "drop")],
    )
    make_source(db, "rates", location=str(tmp_path), silver={}, rules=[("known", "rate > 0", "warn")])

    prices, rates = plan_pipeline(load_group(db, "sales")).silver

    assert (prices.kind, rates.kind) == ("materialized_view", "materialized_view")
    assert (prices.dedupe, rates.dedupe) == (False, True)
    assert prices.expectations() == {
        "expect_all": {},
        "expect_all_or_drop": {"listed": "sku IS NOT NULL", "positive": "price > 0"},
        "expect_all_or_fail": {},
    }
    assert (prices.quarantine_table, prices.quarantine_source) == (
        "main.sales.prices_quarantine",
        "prices_silver_input_unchecked",
    )
    assert (prices.streams_bronze, rates.streams_bronze, rates.quarantine_table) == (True, False, None)

    dp = Recorder()
    apply_plan(plan_pipeline(load_group(db, "sales")), dp, spark=None)
    assert dp.names() == [
        ("temporary_view", "prices_silver_input_unchecked"),
        ("expect_all_or_drop", {"listed": "sku IS NOT NULL", "positive": "price > 0"}),
        ("temporary_view", "prices_silver_input"),
        ("table", "main.sales.prices_quarantine"),
        ("materialized_view", "main.sales.prices"),
        ("expect_all", {"known": "rate > 0"}),
        ("temporary_view", "rates_silver_input"),
        ("materialized_view", "main.sales.rates"),
    ]


def test_a_pipeline_module_without_snapshot_flows_is_refused_by_name(db, tmp_path) -> None:
    """The open-source pipeline module has auto-CDC from a stream, not from snapshots."""
    make_source(db, "customers", location=str(tmp_path), silver={"primary_keys": ["id"]})

    class OpenSource(Recorder):
        __name__ = "pyspark.pipelines"

        def __getattr__(self, name: str) -> Any:
            if "snapshot" in name:
                raise AttributeError(name)
            return super().__getattr__(name)

    dp = OpenSource()
    with pytest.raises(ZoneError, match=r"source customers: main\.sales\.customers is a full load") as error:
        apply_plan(plan_pipeline(load_group(db, "sales")), dp, spark=None)
    assert error.value.field == "load_mode" and "pyspark.pipelines" in str(error.value)
    assert dp.calls == []  # nothing declared


def test_the_older_dlt_module_gets_its_own_names(db, tmp_path) -> None:
    """Runtimes without ``pyspark.pipelines`` import ``dlt``, whose temporary view is ``view``,
    whose materialized view is a batch ``table`` and whose auto-CDC flow is ``apply_changes``."""
    make_source(
        db, "orders", location=str(tmp_path), load_mode="incremental", silver={"primary_keys": ["id"]}
    )
    make_source(
        db,
        "prices",
        location=str(tmp_path),
        silver={"dedupe": False},
        rules=[("positive", "price > 0", "drop")],
    )

    class Dlt(Recorder):
        __name__ = "dlt"

        def __getattr__(self, name: str) -> Any:
            if name in ("temporary_view", "materialized_view", "create_auto_cdc_flow"):
                raise AttributeError(name)
            return super().__getattr__(name)

    dp = Dlt()
    apply_plan(plan_pipeline(load_group(db, "sales")), dp, spark=None)
    called = {name for name, _ in dp.names()}
    assert {"view", "table", "apply_changes"} <= called
    assert not called & {"temporary_view", "materialized_view", "create_auto_cdc_flow"}
    assert ("table", "main.sales.prices") in dp.names()  # the newest batch, recomputed
