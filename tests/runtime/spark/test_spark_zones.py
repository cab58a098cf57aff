"""Whole batches on the spark engine: Bronze, Silver (SCD1, SCD2, every DQ action), Gold and the
run log, checked in the Delta tables (read back with delta-rs, as the embedded engine reads them)."""

from __future__ import annotations

from pathlib import Path

from lakeforge.runtime.embedded import EmbeddedEngine
from lakeforge.runtime.engine import TableRef
from lakeforge.runtime.runner import run_batch
from lakeforge.runtime.spark import SparkEngine
from tests.runtime.helpers import delta, make_gold, make_source, rows, write_csv


def _dq(db, batch_id: int) -> list[tuple]:
    with db.connection() as conn:
        found = conn.execute(
            "SELECT rule_name, action, rows_checked, rows_passed, rows_failed, status"
            " FROM lakeforge_log.dq_run WHERE batch_id = %s ORDER BY rule_name",
            [batch_id],
        ).fetchall()
    return [tuple(r.values()) for r in found]


def test_batch_through_every_zone_with_scd1_quality_rules_and_gold(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "orders"
    write_csv(
        land / "1.csv",
        ["Order ID", "customer", "amount", "updated"],
        [[1, "ann", "10.5", 1], [2, "bob", "-3", 1], [3, None, "7", 1], [4, "dan", "x", 1]],
    )
    make_source(
        db,
        "orders",
        location=str(land),
        load_mode="incremental",
        silver={
            "primary_keys": ["order_id"],
            "sequence_by": "updated",
            "select_expressions": [
                "CAST(order_id AS BIGINT) AS order_id",
                "customer",
                "CAST(amount AS DECIMAL(12,2)) AS amount",
                "CAST(updated AS INT) AS updated",
            ],
        },
        rules=[
            ("amount_positive", "amount > 0", "quarantine"),
            ("has_customer", "customer IS NOT NULL", "drop"),
            ("amount_small", "amount < 100", "warn"),
        ],
    )
    make_gold(db, "revenue", "SELECT count(*) AS orders, sum(amount) AS revenue FROM main.sales.orders")

    first = run_batch(settings, db, "sales")

    assert first.status == "succeeded", first.error
    assert first.engine == "spark"
    bronze = delta(settings, "main.sales.orders_bronze")
    assert bronze.column_names[:4] == ["order_id", "customer", "amount", "updated"]
    assert set(bronze.column_names[4:]) == {"_batch_id", "_ingested_at", "_source_file", "_record_hash"}
    assert set(bronze.column("_source_file").to_pylist()) == {str(land / "1.csv")}
    assert rows(settings, "main.sales.orders", ["order_id", "customer"]) == [(1, "ann")]
    assert str(delta(settings, "main.sales.orders").column("amount")[0]) == "10.50"
    quarantine = delta(settings, "main.sales.orders_quarantine").to_pylist()
    assert sorted((r["order_id"], r["_failed_rules"]) for r in quarantine) == [
        (2, ["amount_positive"]),
        (4, ["amount_positive", "amount_small"]),
    ]
    # rows checked, passed, failed per rule; NULL (the bad amount) fails a rule.
    assert _dq(db, first.batch_id) == [
        ("amount_positive", "quarantine", 4, 2, 2, "failed"),
        ("amount_small", "warn", 4, 3, 1, "failed"),
        ("has_customer", "drop", 4, 3, 1, "failed"),
    ]
    assert rows(settings, "main.sales_gold.revenue", ["orders"]) == [(1,)]

    # The next file updates order 1 (newer sequence) and re-sends an older version of it.
    write_csv(
        land / "2.csv",
        ["Order ID", "customer", "amount", "updated"],
        [[1, "ann", "12", 2], [5, "eve", "1", 1]],
    )
    second = run_batch(settings, db, "sales")
    assert second.status == "succeeded", second.error
    assert rows(settings, "main.sales.orders", ["order_id", "updated"]) == [(1, 2), (5, 1)]
    assert rows(settings, "main.sales_gold.revenue", ["orders"]) == [(2,)]
    # Bronze keeps both batches, each once.
    assert (
        sorted(delta(settings, "main.sales.orders_bronze").column("_batch_id").to_pylist())
        == [first.batch_id] * 4 + [second.batch_id] * 2
    )

    # The run log has the whole tree.
    with db.connection() as conn:
        zones = conn.execute(
            "SELECT zone, status FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id",
            [second.batch_id],
        ).fetchall()
    assert [(z["zone"], z["status"]) for z in zones] == [
        ("raw", "succeeded"),
        ("bronze", "succeeded"),
        ("silver", "succeeded"),
        ("gold", "succeeded"),
    ]

    # The embedded engine reads what Spark wrote.
    assert (
        EmbeddedEngine(settings).count(
            EmbeddedEngine(settings).read_table(TableRef.parse("main.sales.orders"))
        )
        == 2
    )


def test_scd2_keeps_every_version_with_validity(settings, db, tmp_path: Path) -> None:
    land = tmp_path / "customers"
    write_csv(land / "1.csv", ["id", "city", "seq"], [[1, "oslo", 1], [2, "rome", 1]])
    make_source(
        db,
        "customers",
        location=str(land),
        load_mode="incremental",
        silver={
            "primary_keys": ["id"],
            "scd_type": 2,
            "sequence_by": "seq",
            "select_expressions": ["CAST(id AS INT) AS id", "city", "CAST(seq AS INT) AS seq"],
        },
    )
    assert run_batch(settings, db, "sales").status == "succeeded"
    write_csv(land / "2.csv", ["id", "city", "seq"], [[1, "bergen", 2], [1, "paris", 3]])
    second = run_batch(settings, db, "sales")
    assert second.status == "succeeded", second.error

    assert rows(settings, "main.sales.customers", ["id", "city", "valid_from", "valid_to", "is_current"]) == [
        (1, "bergen", 2, 3, False),
        (1, "oslo", 1, 2, False),
        (1, "paris", 3, None, True),
        (2, "rome", 1, None, True),
    ]


def test_freeze_and_fail_rules_fail_their_table_and_write_nothing(settings, db, tmp_path: Path) -> None:
    write_csv(tmp_path / "a" / "1.csv", ["id", "surprise"], [[1, "x"]])
    make_source(db, "frozen", location=str(tmp_path / "a"), schema_ddl="id INT", schema_evolution="freeze")
    write_csv(tmp_path / "b" / "1.csv", ["id"], [[1], [-1]])
    make_source(db, "strict", location=str(tmp_path / "b"), silver={}, rules=[("positive", "id > 0", "fail")])

    run = run_batch(settings, db, "sales")

    assert run.status == "failed"
    with db.connection() as conn:
        tables = conn.execute(
            "SELECT t.table_name, t.status, t.error FROM lakeforge_log.table_run t"
            " JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " WHERE t.batch_id = %s AND z.zone IN ('bronze', 'silver') ORDER BY t.id",
            [run.batch_id],
        ).fetchall()
    by_table = {t["table_name"]: t for t in tables}
    assert by_table["main.sales.frozen_bronze"]["status"] == "failed"
    assert "surprise" in by_table["main.sales.frozen_bronze"]["error"]
    assert by_table["main.sales.strict"]["status"] == "failed"
    assert "positive" in by_table["main.sales.strict"]["error"]
    assert not (settings.lakehouse_path / "main" / "sales" / "frozen_bronze").exists()
    assert not (settings.lakehouse_path / "main" / "sales" / "strict" / "_delta_log").exists()


def test_spark_reads_back_what_the_embedded_engine_wrote(settings, db, tmp_path: Path) -> None:
    write_csv(tmp_path / "items" / "1.csv", ["id", "name"], [[1, "a"], [2, "b"], [2, "b"]])
    make_source(
        db,
        "items",
        location=str(tmp_path / "items"),
        silver={"primary_keys": ["id"], "select_expressions": ["CAST(id AS INT) AS id", "name"]},
    )
    run = run_batch(settings, db, "sales", engine="embedded")
    assert run.status == "succeeded" and run.engine == "embedded", run.error

    spark = SparkEngine(settings)
    for name in ("main.sales.items_bronze", "main.sales.items"):
        table = TableRef.parse(name)
        from_spark = spark.to_arrow(spark.read_table(table))
        from_rs = delta(settings, name)
        assert from_spark.column_names == from_rs.column_names
        key = from_rs.column_names[:2]
        assert sorted(from_spark.select(key).to_pylist(), key=str) == sorted(
            from_rs.select(key).to_pylist(), key=str
        )
    assert spark.table_version(TableRef.parse("main.sales.items")) == 0
