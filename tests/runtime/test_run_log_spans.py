"""A batch continued task by task (as a job run does, one task per source) keeps its first start:
the batch spans its zones and each zone spans its tables, on a real Postgres and the embedded engine."""

from __future__ import annotations

import time
from pathlib import Path

from lakeforge.runtime.runner import run_batch
from tests.runtime.helpers import make_source, write_csv


def _spans(db, batch_id: int) -> tuple[dict, list[dict], list[dict]]:
    with db.connection() as conn:
        batch = conn.execute(
            "SELECT status, started_at, ended_at FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
        zones = conn.execute(
            "SELECT id, zone, status, started_at, ended_at FROM lakeforge_log.zone_run"
            " WHERE batch_id = %s ORDER BY id",
            [batch_id],
        ).fetchall()
        tables = conn.execute(
            "SELECT zone_run_id, table_name, started_at, ended_at FROM lakeforge_log.table_run"
            " WHERE batch_id = %s ORDER BY id",
            [batch_id],
        ).fetchall()
    return batch, zones, tables


def test_tasks_of_one_batch_keep_the_first_start_of_the_batch_and_of_each_zone(
    settings, db, tmp_path: Path
) -> None:
    for name in ("orders", "customers"):
        write_csv(tmp_path / name / "1.csv", ["id", "amount"], [[1, 5], [2, 7]])
        make_source(db, name, location=str(tmp_path / name), schema_ddl="id INT, amount INT")

    first = run_batch(settings, db, "sales", sources=["orders"], zones=["raw", "bronze"])
    time.sleep(0.5)  # the second task starts well after the first one ended
    second = run_batch(
        settings, db, "sales", sources=["customers"], zones=["raw", "bronze"], batch_id=first.batch_id
    )
    assert first.batch_id is not None and second.batch_id == first.batch_id
    batch, zones, tables = _spans(db, first.batch_id)

    assert batch["status"] == "succeeded"
    assert [z["zone"] for z in zones] == ["raw", "bronze"]
    for zone in zones:
        own = [t for t in tables if t["zone_run_id"] == zone["id"]]
        assert len(own) == 2, own  # one table per source, from two tasks
        assert zone["started_at"] <= min(t["started_at"] for t in own), (zone, own)
        assert zone["ended_at"] >= max(t["ended_at"] for t in own), (zone, own)
    assert batch["started_at"] <= min(z["started_at"] for z in zones)
    assert batch["ended_at"] >= max(z["ended_at"] for z in zones)
    # The first task's raw table started before the second task began: the batch kept that start.
    orders_raw = next(
        t for t in tables if t["table_name"].endswith("orders") and t["zone_run_id"] == zones[0]["id"]
    )
    assert batch["started_at"] <= orders_raw["started_at"]
