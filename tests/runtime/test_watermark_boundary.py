"""Incremental jdbc and REST loads at the watermark boundary: a row committed late with the saved
high value (or within the look-back) is read by the next batch, and rows read again are landed
once, so Bronze and Silver hold every row exactly once."""

from __future__ import annotations

import psycopg
import pytest

from lakeforge.metadata.repository import WATERMARKS, Repository
from lakeforge.runtime.runner import run_batch
from tests.runtime.boundary import (
    extract_step,
    insert_orders,
    jdbc_orders,
    late_boundary_row_lands_once,
    orders_table,
)
from tests.runtime.helpers import make_source, rows
from tests.runtime.paged_api import PagedApi


def test_jdbc_reads_a_row_committed_late_at_the_saved_watermark_and_lands_each_row_once(
    settings, db, source_db
) -> None:
    late_boundary_row_lands_once(settings, db, source_db)


def test_jdbc_lookback_reads_rows_committed_late_below_the_watermark(settings, db, source_db) -> None:
    orders_table(source_db["url"])
    insert_orders(source_db["url"], (1, "a", "2026-01-01 10:00Z"), (2, "b", "2026-01-01 10:10Z"))
    jdbc_orders(db, source_db, format_options={"watermark_lookback": "5 minutes"})
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    # Late by two minutes: below the saved 10:10, within the five-minute look-back.
    insert_orders(source_db["url"], (3, "late", "2026-01-01 10:08Z"), (4, "outside", "2026-01-01 10:04Z"))
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert first.status == second.status == "succeeded", second.error
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (first.batch_id, "2"),
        (second.batch_id, "3"),
    ]
    assert extract_step(db, second.batch_id)["rows_landed_before"] == 1  # row 2, read again


def test_jdbc_numeric_lookback_and_a_row_changed_at_the_boundary(settings, db, source_db) -> None:
    orders_table(source_db["url"], "bigint")
    insert_orders(source_db["url"], (1, "a", 100), (2, "b", 110))
    jdbc_orders(db, source_db, format_options={"watermark_lookback": 10})
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute("UPDATE shop.orders SET note = 'b2' WHERE id = 2")  # same watermark, new content
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert first.status == second.status == "succeeded", second.error
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id", "note"]) == [
        (first.batch_id, "1", "a"),
        (first.batch_id, "2", "b"),
        (second.batch_id, "2", "b2"),
    ]


def test_jdbc_an_interval_lookback_on_a_numeric_column_fails_naming_the_option(
    settings, db, source_db
) -> None:
    orders_table(source_db["url"], "bigint")
    insert_orders(source_db["url"], (1, "a", 100))
    jdbc_orders(db, source_db, format_options={"watermark_lookback": "5 minutes"})

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "failed"
    assert "format_options.watermark_lookback" in (run.error or "")
    assert "watermark column updated_at is bigint" in (run.error or "")
    with db.connection() as conn:
        assert Repository(conn, WATERMARKS).list() == []


def test_jdbc_state_saved_before_boundary_hashes_keeps_the_exclusive_bound_once(
    settings, db, source_db
) -> None:
    orders_table(source_db["url"])
    insert_orders(source_db["url"], (1, "a", "2026-01-01 10:00Z"))
    jdbc_orders(db, source_db)
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    with db.connection() as conn:  # the state an earlier LakeForge saved: no boundary hashes
        conn.execute("UPDATE lakeforge.watermark_state SET cursor = NULL")
    insert_orders(source_db["url"], (2, "b", "2026-01-02 10:00Z"))
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    insert_orders(source_db["url"], (3, "late", "2026-01-02 10:00Z"))
    third = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert [r.status for r in (first, second, third)] == ["succeeded"] * 3, third.error
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (second.batch_id, "2"),
        (third.batch_id, "3"),
    ]


def test_rest_inclusive_since_lands_the_late_boundary_record_once(settings, db, api) -> None:
    PagedApi.inclusive = True
    make_source(
        db, "api_orders", format="rest", location=api, load_mode="incremental", watermark_column="updated"
    )
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    PagedApi.records = [
        *PagedApi.records,
        {"id": 6, "updated": "2026-01-05"},  # late, at the saved watermark
        {"id": 7, "updated": "2026-01-06"},
    ]
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    third = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert [r.status for r in (first, second, third)] == ["succeeded"] * 3, second.error
    assert rows(settings, "main.sales.api_orders_bronze", ["_batch_id", "id"]) == [
        *[(first.batch_id, i) for i in range(1, 6)],
        (second.batch_id, 6),
        (second.batch_id, 7),
    ]
    assert extract_step(db, second.batch_id)["rows_landed_before"] == 1  # record 5
    assert extract_step(db, third.batch_id)["rows_landed_before"] == 1  # record 7


def test_rest_lookback_moves_since_back_and_skips_what_was_landed(settings, db, api) -> None:
    make_source(
        db,
        "api_orders",
        format="rest",
        location=api,
        load_mode="incremental",
        watermark_column="updated",
        format_options={"watermark_lookback": "1 day"},
    )
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    PagedApi.records = [*PagedApi.records, {"id": 6, "updated": "2026-01-05"}]  # late, in the look-back
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert first.status == second.status == "succeeded", second.error
    assert {"since": "2026-01-04"} in PagedApi.seen  # a date stays a date, one day back
    assert rows(settings, "main.sales.api_orders_bronze", ["_batch_id", "id"]) == [
        *[(first.batch_id, i) for i in range(1, 6)],
        (second.batch_id, 6),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "is neither a number nor an interval"),
        (-5, "must be zero or more"),
        ("3 weeks", "is neither a number nor an interval"),
    ],
)
def test_a_bad_lookback_is_refused_at_registration_naming_the_option(db, value, message) -> None:
    from lakeforge.commands.access import Principal
    from lakeforge.commands.envelope import Actor
    from lakeforge.commands.executor import execute

    admin, actor = Principal.local_admin("admin"), Actor(user="admin", surface="cli")
    assert execute(db, {"kind": "create_group", "name": "crm"}, actor, principal=admin).status == "applied"
    intent = {
        "kind": "register_source",
        "name": "customers",
        "group": "crm",
        "format": "rest",
        "location": "https://api.example.com/customers",
        "load_mode": "incremental",
        "watermark_column": "updated",
        "format_options": {"watermark_lookback": value},
    }

    result = execute(db, intent, actor, principal=admin)

    assert result.status == "rejected"
    error = result.errors[0]
    assert error.field == "intent.format_options.watermark_lookback" and message in error.message
    assert "5 minutes" in (error.fix or "")
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM lakeforge.source").fetchone()["n"] == 0


def test_a_lookback_on_a_full_load_is_refused(db) -> None:
    from lakeforge.commands.access import Principal
    from lakeforge.commands.envelope import Actor
    from lakeforge.commands.executor import execute

    admin, actor = Principal.local_admin("admin"), Actor(user="admin", surface="cli")
    execute(db, {"kind": "create_group", "name": "crm"}, actor, principal=admin)
    intent = {
        "kind": "register_source",
        "name": "customers",
        "group": "crm",
        "format": "csv",
        "location": "/data/customers/",
        "format_options": {"watermark_lookback": "5 minutes"},
    }

    result = execute(db, intent, actor, principal=admin)

    assert result.status == "rejected"
    assert result.errors[0].field == "intent.format_options.watermark_lookback"
    assert "only incremental jdbc and rest sources" in result.errors[0].message
