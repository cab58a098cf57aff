"""Incremental jdbc scenarios at the watermark boundary, shared by the embedded and Spark suites."""

from __future__ import annotations

from typing import Any

import psycopg

from lakeforge.metadata.db import Database
from lakeforge.runtime.runner import run_batch
from lakeforge.settings import Settings
from tests.runtime.helpers import make_source, rows


def jdbc_source(db: Database, source_db: dict[str, Any], name: str, table: str, **options: Any) -> None:
    """Source ``name`` in group sales over ``table`` of the source database, incremental by
    ``updated_at``."""
    make_source(
        db,
        name,
        format="jdbc",
        location=table,
        load_mode="incremental",
        watermark_column="updated_at",
        connection=source_db["connection"],
        **options,
    )


def jdbc_orders(db: Database, source_db: dict[str, Any], **options: Any) -> None:
    """Source ``orders`` in group sales: table shop.orders, incremental by ``updated_at``."""
    jdbc_source(db, source_db, "orders", "shop.orders", **options)


def orders_table(url: str, column_type: str = "timestamptz") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA shop;"
            f" CREATE TABLE shop.orders (id int PRIMARY KEY, note text, updated_at {column_type})"
        )


def insert_orders(url: str, *values: tuple[int, str, Any]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for value in values:
            conn.execute("INSERT INTO shop.orders VALUES (%s, %s, %s)", value)


def extract_step(db, batch_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT rows_out, details FROM lakeforge_log.step_run WHERE batch_id = %s AND step = 'extract'",
            [batch_id],
        ).fetchone()
    return {"rows": row["rows_out"], **row["details"]}


def late_boundary_row_lands_once(settings: Settings, db: Database, source_db: dict[str, Any]) -> None:
    """A row committed after a batch's snapshot with the watermark that batch saved is read by the
    next batch; the boundary row both batches read is in Bronze and Silver once."""
    orders_table(source_db["url"])
    insert_orders(source_db["url"], (1, "a", "2026-01-01 10:00Z"), (2, "b", "2026-01-02 10:00Z"))
    jdbc_orders(db, source_db, silver={"primary_keys": ["id"]})
    first = run_batch(settings, db, "sales")
    # Committed after the first batch's snapshot, with the value it saved as its high watermark.
    insert_orders(source_db["url"], (3, "late", "2026-01-02 10:00Z"), (4, "d", "2026-01-03 10:00Z"))
    second = run_batch(settings, db, "sales")
    third = run_batch(settings, db, "sales")  # nothing new: the boundary row is read and skipped

    assert [r.status for r in (first, second, third)] == ["succeeded"] * 3, second.error
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (first.batch_id, "2"),
        (second.batch_id, "3"),
        (second.batch_id, "4"),
    ]
    assert rows(settings, "main.sales.orders", ["id", "note"]) == [
        ("1", "a"),
        ("2", "b"),
        ("3", "late"),
        ("4", "d"),
    ]
    extract = extract_step(db, second.batch_id)
    assert (extract["rows"], extract["rows_landed_before"]) == (2, 1)  # rows 3 and 4; row 2 skipped
    assert extract_step(db, third.batch_id)["rows"] == 0
    assert extract_step(db, third.batch_id)["rows_landed_before"] == 1
