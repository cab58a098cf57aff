"""The declarative pipeline planned from metadata: expectations per action, auto-CDC, quarantine, gold."""

from __future__ import annotations

from typing import Any

from lakeforge.runtime.config import load_group
from lakeforge.runtime.spark.pipeline import apply_plan, plan_pipeline
from tests.runtime.helpers import make_gold, make_source


def test_plan_maps_rules_keys_and_gold(db, tmp_path) -> None:
    make_source(
        db,
        "orders",
        location=str(tmp_path),
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
    make_source(db, "plain", location=str(tmp_path), silver={})
    make_gold(db, "totals", "SELECT count(*) AS n FROM main.sales.orders")

    plan = plan_pipeline(load_group(db, "sales"))

    orders, plain = plan.silver
    assert (orders.bronze_table, orders.silver_table) == ("main.sales.orders_bronze", "main.sales.orders")
    assert (orders.warn, orders.drop, orders.fail, orders.quarantine) == (
        {"a": "id > 0"},
        {"b": "seq IS NOT NULL"},
        {"c": "id < 9"},
        {"d": "id <> 5"},
    )
    assert (orders.keys, orders.sequence_by, orders.scd_type) == (("id",), "seq", 2)
    assert orders.quarantine_table == "main.sales.orders_quarantine"
    assert orders.quarantine_filter()[0] == "NOT coalesce((id <> 5), false)"
    assert (plain.keys, plain.select, plain.quarantine_table) == ((), ("*",), None)
    assert [(g.name, g.target) for g in plan.gold] == [("totals", "main.sales_gold.totals")]

    calls: list[tuple[str, Any]] = []

    class Recorder:
        """Stands in for Databricks' pipeline module, which only exists inside a pipeline update."""

        def __getattr__(self, name: str) -> Any:
            def record(*args: Any, **kwargs: Any) -> Any:
                calls.append(
                    (name, kwargs.get("name") or kwargs.get("target") or (args[0] if args else None))
                )
                return (lambda fn: fn) if name.startswith("expect") else None

            return record

    apply_plan(plan, Recorder(), spark=None)
    assert calls == [
        ("temporary_view", "orders_silver_input_unchecked"),
        ("expect_all", {"a": "id > 0"}),
        ("expect_all_or_drop", {"b": "seq IS NOT NULL", "d": "id <> 5"}),
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
