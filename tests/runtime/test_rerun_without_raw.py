"""Rerunning a batch whose Raw folder is gone: a database or REST source is refused (by the command
layer before anything is queued, and by the Raw zone), a file source lands exactly the files the
batch took, and a batch whose Raw never landed may still be rerun."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.repository import WATERMARKS, Repository
from lakeforge.runtime.runner import run_batch
from tests.runtime.boundary import jdbc_orders
from tests.runtime.helpers import make_source, rows, write_csv

ADMIN, ACTOR = Principal.local_admin("admin"), Actor(user="admin", surface="cli")


@pytest.fixture
def launched(settings) -> Iterator[list[launch.LaunchRequest]]:
    """Batches the command layer queues are recorded, not run."""
    seen: list[launch.LaunchRequest] = []
    launch.configure(settings)
    launch.set_launcher(lambda db, request: seen.append(request))
    yield seen
    launch.set_launcher(None)


def _raw_folder(settings, source: str, batch_id: int) -> Path:
    return settings.lakehouse_path / "_volumes" / "main" / "sales" / "raw" / source / f"batch_id={batch_id}"


def _batches(db) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM lakeforge_log.batch_run").fetchone()["n"]


def _jdbc_orders_table(source_db: dict[str, Any]) -> None:
    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop; CREATE TABLE shop.orders (id int, updated_at int)")
        conn.execute("INSERT INTO shop.orders VALUES (1, 1), (2, 2)")


def _jdbc_orders(db, source_db: dict[str, Any]) -> None:
    _jdbc_orders_table(source_db)
    jdbc_orders(db, source_db)


def test_the_raw_zone_refuses_to_extract_a_database_batch_again(settings, db, source_db) -> None:
    _jdbc_orders(db, source_db)
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    with psycopg.connect(source_db["url"], autocommit=True) as conn:
        conn.execute("INSERT INTO shop.orders VALUES (3, 3)")
    shutil.rmtree(_raw_folder(settings, "orders", first.batch_id))

    rerun = run_batch(settings, db, "sales", rerun_of=first.batch_id, zones=["raw", "bronze"])

    assert rerun.status == "failed"
    assert f"the Raw files of batch {first.batch_id} for source orders are gone" in (rerun.error or "")
    with db.connection() as conn:
        table = conn.execute(
            "SELECT error FROM lakeforge_log.table_run WHERE batch_id = %s AND table_name = 'raw:orders'",
            [rerun.batch_id],
        ).fetchone()
        state = Repository(conn, WATERMARKS).list()[0]
    assert "run_now" in table["error"]
    assert state.high_value == "2" and state.batch_id == first.batch_id  # row 3 is the next batch's
    assert not _raw_folder(settings, "orders", first.batch_id).exists()
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (first.batch_id, "2"),
    ]


def test_rerun_batch_of_a_rest_batch_without_raw_is_refused_before_queueing(
    settings, db, api, launched
) -> None:
    make_source(
        db, "api_orders", format="rest", location=api, load_mode="incremental", watermark_column="updated"
    )
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    kept = execute(db, {"kind": "rerun_batch", "batch_id": first.batch_id}, ACTOR, principal=ADMIN)
    assert kept.status == "applied", kept  # Raw is there: the rerun replays it
    shutil.rmtree(_raw_folder(settings, "api_orders", first.batch_id))
    before = _batches(db)

    result = execute(db, {"kind": "rerun_batch", "batch_id": first.batch_id}, ACTOR, principal=ADMIN)

    assert result.status == "rejected"
    error = result.errors[0]
    assert error.field == "intent.batch_id"
    assert "are gone" in error.message and "a rest source cannot be read again" in error.message
    assert "run_now" in (error.fix or "")
    assert _batches(db) == before and len(launched) == 1
    # From Bronze on, Raw is not extracted: the check leaves that to Bronze, which reads the manifest.
    later = execute(
        db,
        {"kind": "rerun_batch", "batch_id": first.batch_id, "zones": ["bronze", "silver", "gold"]},
        ACTOR,
        principal=ADMIN,
    )
    assert later.status == "applied"


def test_a_batch_whose_raw_never_landed_can_be_rerun(settings, db, source_db, launched) -> None:
    jdbc_orders(db, source_db)  # not created yet: Raw fails
    failed = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    assert failed.status == "failed"
    _jdbc_orders_table(source_db)

    result = execute(db, {"kind": "rerun_batch", "batch_id": failed.batch_id}, ACTOR, principal=ADMIN)
    rerun = run_batch(settings, db, "sales", rerun_of=failed.batch_id, zones=["raw", "bronze"])

    assert result.status == "applied" and len(launched) == 1
    assert rerun.status == "succeeded", rerun.error
    assert rows(settings, "main.sales.orders_bronze", ["_batch_id", "id"]) == [
        (failed.batch_id, "1"),
        (failed.batch_id, "2"),
    ]


def test_a_file_batch_without_raw_lands_the_same_files_again(settings, db, tmp_path, launched) -> None:
    land = tmp_path / "land"
    write_csv(land / "a.csv", ["id"], [[1], [2]])
    make_source(db, "files", location=str(land), load_mode="incremental")
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    write_csv(land / "b.csv", ["id"], [[3]])  # arrives later: the next batch's
    shutil.rmtree(_raw_folder(settings, "files", first.batch_id))

    accepted = execute(db, {"kind": "rerun_batch", "batch_id": first.batch_id}, ACTOR, principal=ADMIN)
    rerun = run_batch(settings, db, "sales", rerun_of=first.batch_id, zones=["raw", "bronze"])
    after = run_batch(settings, db, "sales", zones=["raw", "bronze"])

    assert accepted.status == "applied"
    assert rerun.status == after.status == "succeeded", (rerun.error, after.error)
    assert rows(settings, "main.sales.files_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (first.batch_id, "2"),
        (after.batch_id, "3"),
    ]


def test_a_file_batch_whose_file_is_gone_is_not_landed_from_what_is_left(settings, db, tmp_path) -> None:
    land = tmp_path / "land"
    write_csv(land / "a.csv", ["id"], [[1]])
    write_csv(land / "b.csv", ["id"], [[2]])
    make_source(db, "files", location=str(land), load_mode="incremental")
    first = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    shutil.rmtree(_raw_folder(settings, "files", first.batch_id))
    (land / "b.csv").unlink()

    rerun = run_batch(settings, db, "sales", rerun_of=first.batch_id, zones=["raw", "bronze"])

    assert rerun.status == "failed"
    assert f"b.csv of batch {first.batch_id} is gone" in (rerun.error or "")
    assert rows(settings, "main.sales.files_bronze", ["_batch_id", "id"]) == [
        (first.batch_id, "1"),
        (first.batch_id, "2"),
    ]
