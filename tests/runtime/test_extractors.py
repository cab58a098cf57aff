"""JDBC (a real Postgres table), REST (a local HTTP server with pages) and Delta sources, end to end
into Bronze, incremental by watermark, cursor or version, with state saved only on success."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pyarrow as pa
from deltalake import write_deltalake

from lakeforge.metadata.repository import WATERMARKS, Repository
from lakeforge.runtime.runner import run_batch
from tests.runtime.boundary import jdbc_orders, jdbc_source
from tests.runtime.helpers import make_source, rows
from tests.runtime.paged_api import PagedApi


def test_jdbc_incremental_by_watermark(settings, db, source_db) -> None:
    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.orders (id int, note text, updated_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO shop.orders VALUES (1, 'a', '2026-01-01'), (2, 'b, with comma', '2026-01-02')"
        )
    jdbc_orders(db, source_db)

    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute("INSERT INTO shop.orders VALUES (3, 'c', '2026-01-03')")
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id", "note"]) == [
        (first.batch_id, "1", "a"),
        (first.batch_id, "2", "b, with comma"),
        (second.batch_id, "3", "c"),
    ]
    with db.connection() as conn:
        state = Repository(conn, WATERMARKS).list()[0]
    assert state.high_value.startswith("2026-01-03") and state.batch_id == second.batch_id


def test_jdbc_missing_table_is_a_clear_error_and_keeps_the_watermark(settings, db, source_db) -> None:
    jdbc_source(db, source_db, "ghost", "shop.ghost")

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "failed"
    assert "table shop.ghost does not exist" in (run.error or "")
    assert "password" not in (run.error or "").lower()
    with db.connection() as conn:
        assert Repository(conn, WATERMARKS).list() == []


def test_a_jdbc_source_registered_through_the_command_layer_loads(settings, db, source_db) -> None:
    """The shape every surface registers: a JDBC URL, the table and credentials as reader options."""
    from lakeforge.commands.access import Principal
    from lakeforge.commands.envelope import Actor
    from lakeforge.commands.executor import execute

    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop; CREATE TABLE shop.customers (id int, name text)")
        conn.execute("INSERT INTO shop.customers VALUES (1, 'Ada'), (2, 'Grace')")
    info = source_db["connection"]
    admin, actor = Principal.local_admin("admin"), Actor(user="admin", surface="cli")
    for intent in (
        {"kind": "create_group", "name": "crm"},
        {
            "kind": "register_source",
            "name": "customers",
            "group": "crm",
            "format": "jdbc",
            "location": f"jdbc:postgresql://{info['host']}:{info['port']}/{info['database']}",
            "format_options": {
                "dbtable": "shop.customers",
                "user": info["user"],
                "password": "{{secrets/src/password}}",
            },
        },
    ):
        assert execute(db, intent, actor, principal=admin).status == "applied"

    run = run_batch(settings, db, "crm", zones=["raw", "bronze"])

    assert run.status == "succeeded", run.error
    assert rows(settings, "main.crm_bronze.customers", ["id", "name"]) == [("1", "Ada"), ("2", "Grace")]


def test_rest_pages_and_incremental_cursor(settings, db, api) -> None:
    make_source(
        db, "api_orders", format="rest", location=api, load_mode="incremental", watermark_column="updated"
    )

    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    PagedApi.records = [*PagedApi.records, {"id": 6, "updated": "2026-01-06"}]
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert rows(settings, "main.sales.api_orders_bronze", ["_batch_id", "id"]) == [
        *[(first.batch_id, i) for i in range(1, 6)],
        (second.batch_id, 6),
    ]
    assert {"since": "2026-01-05"} in PagedApi.seen


def test_rest_failure_mid_pages_writes_nothing_and_keeps_the_cursor(settings, db, api) -> None:
    PagedApi.fail_page = 1
    make_source(
        db, "api_orders", format="rest", location=api, load_mode="incremental", watermark_column="updated"
    )

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "failed" and "503 on page 2" in (run.error or "")
    assert not (settings.lakehouse_path / "main" / "sales" / "api_orders_bronze").exists()
    with db.connection() as conn:
        assert Repository(conn, WATERMARKS).list() == []


def test_delta_source_full_and_change_feed(settings, db, tmp_path: Path) -> None:
    table = tmp_path / "upstream"
    write_deltalake(table, pa.table({"id": [1, 2]}), configuration={"delta.enableChangeDataFeed": "true"})
    make_source(db, "snap", format="delta", location=str(table))
    make_source(
        db, "feed", format="delta", location=str(table), load_mode="incremental", watermark_column="version"
    )

    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    write_deltalake(table, pa.table({"id": [3]}), mode="append")
    second = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert [r[1] for r in rows(settings, "main.sales.feed_bronze", ["_batch_id", "id"])] == [1, 2, 3]
    assert rows(settings, "main.sales.feed_bronze", ["_batch_id", "id"])[-1] == (second.batch_id, 3)
    snap = rows(settings, "main.sales.snap_bronze", ["_batch_id", "id"])
    assert [i for b, i in snap if b == second.batch_id] == [1, 2, 3]


def test_jdbc_keeps_empty_strings_line_breaks_and_counts_rows_without_a_watermark(
    settings, db, source_db
) -> None:
    """An empty string and NULL were one empty CSV field, both read back as NULL; a value with a
    line break counted as two rows; rows whose watermark is NULL were skipped without a word."""
    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute("CREATE TABLE public.notes (id int, note text, updated_at timestamptz)")
        conn.execute(
            "INSERT INTO public.notes VALUES (1, '', '2026-01-01'), (2, NULL, '2026-01-01'),"
            " (3, E'two\\nlines, \"quoted\"', '2026-01-02'), (4, 'never read', NULL)"
        )
    jdbc_source(db, source_db, "notes", "public.notes")

    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert run.status == "succeeded", run.error
    assert rows(settings, "main.sales.notes_bronze", ["id", "note"]) == [
        ("1", ""),
        ("2", None),
        ("3", 'two\nlines, "quoted"'),
    ]
    with db.connection() as conn:
        extract = conn.execute(
            "SELECT rows_out, details FROM lakeforge_log.step_run WHERE batch_id = %s AND step = 'extract'",
            [run.batch_id],
        ).fetchone()
    assert extract["rows_out"] == 3 and extract["details"]["rows_without_watermark"] == 1


def test_rest_watermark_compares_timestamps_with_offsets_as_instants(settings, db, api) -> None:
    """As text, 10:00+02:00 (08:00 UTC) sorted after 09:00Z: the saved watermark was the earlier
    instant's text, above rows the next batch then skipped."""
    PagedApi.records = [
        {"id": 1, "updated": "2026-01-01T09:00:00Z"},
        {"id": 2, "updated": "2026-01-01T10:00:00+02:00"},
    ]
    make_source(
        db, "api_orders", format="rest", location=api, load_mode="incremental", watermark_column="updated"
    )

    run = run_batch(settings, db, "sales", zones=["raw"])

    assert run.status == "succeeded", run.error
    with db.connection() as conn:
        assert Repository(conn, WATERMARKS).list()[0].high_value == "2026-01-01T09:00:00Z"


def test_a_relative_location_that_is_not_there_names_the_folder_it_was_read_from(tmp_path, monkeypatch):
    import pytest

    from lakeforge.errors import LakeForgeError
    from lakeforge.runtime.extractors.files import list_files

    monkeypatch.chdir(tmp_path)
    with pytest.raises(LakeForgeError) as caught:
        list_files("examples/data/orders/", "csv")
    assert (
        caught.value.message
        == f"examples/data/orders/ does not exist in {tmp_path}, the folder this batch runs in"
    )
    assert "absolute path" in (caught.value.fix or "")
    (tmp_path / "examples" / "data" / "orders").mkdir(parents=True)
    (tmp_path / "examples" / "data" / "orders" / "a.csv").write_text("id\n1\n")
    assert list_files("examples/data/orders/", "csv") == [Path("examples/data/orders/a.csv")]
