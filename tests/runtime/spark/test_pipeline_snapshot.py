"""The function a full load's snapshot auto-CDC flow calls on Databricks
(``next_snapshot_and_version``), run on the real local Spark session over a real Delta Bronze table:
the batches in order as snapshots (transforms, checks, one row per key), then None; a snapshot left
empty, or failing a ``fail`` rule, stops the update with the reason."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lakeforge.metadata.db import Database
from lakeforge.runtime.config import load_group
from lakeforge.runtime.spark.pipeline import Rule, SilverFlow, plan_pipeline, silver_rows, snapshot_source
from lakeforge.runtime.zones.common import ZoneError
from tests.runtime.helpers import make_source

BRONZE = (
    "id INT, name STRING, seq INT, _batch_id BIGINT, _ingested_at TIMESTAMP,"
    " _source_file STRING, _record_hash STRING"
)
BATCHES = {
    # Key 2 twice (the newest seq wins), a NULL key, a quarantined and a dropped row.
    1: [(1, "a", 1), (2, "b", 1), (2, "b2", 2), (None, "x", 1), (4, "test", 1), (5, None, 1)],
    2: [(1, "a2", 3), (3, "c", 1)],
}


def write_bronze(spark: Any, path: Path, batch: int, rows: list[tuple[Any, ...]]) -> None:
    stamped = [
        (*row, batch, datetime(2025, 1, batch), f"orders_{batch}.csv", f"h{batch}{i}")
        for i, row in enumerate(rows)
    ]
    spark.createDataFrame(stamped, BRONZE).write.format("delta").mode("append").save(str(path))


def planned_flow(db: Database, tmp_path: Path, bronze: Path) -> SilverFlow:
    make_source(
        db,
        "orders",
        location=str(tmp_path),
        silver={"primary_keys": ["id"], "sequence_by": "seq"},
        rules=[("no_test", "name <> 'test'", "quarantine"), ("has_name", "name IS NOT NULL", "drop")],
    )
    (flow,) = plan_pipeline(load_group(db, "sales")).silver
    assert flow.kind == "auto_cdc_from_snapshot"
    # The local session has no metastore: Bronze by path, as the spark engine reads it.
    return dataclasses.replace(flow, bronze_table=f"delta.`{bronze}`")


def rows_of(frame: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in frame.collect()), key=repr)


def test_snapshots_are_the_bronze_batches_in_order(spark_session, db, tmp_path) -> None:
    bronze = tmp_path / "orders_bronze"
    for batch, rows in BATCHES.items():
        write_bronze(spark_session, bronze, batch, rows)
    flow = planned_flow(db, tmp_path, bronze)
    next_snapshot_and_version = snapshot_source(flow, spark_session)

    first = next_snapshot_and_version(None)
    assert first is not None
    frame, version = first
    assert version == 1
    assert frame.columns == ["id", "name", "seq", "_batch_id", "_ingested_at"]
    assert rows_of(frame.select("id", "name", "seq")) == [(1, "a", 1), (2, "b2", 2)]

    second = next_snapshot_and_version(1)
    assert second is not None
    assert second[1] == 2
    assert rows_of(second[0].select("id", "name", "_batch_id")) == [(1, "a2", 2), (3, "c", 2)]

    assert next_snapshot_and_version(2) is None

    # The quarantine table's SQL on the same batch: the NULL key named; a NULL fails a rule, and
    # the drop rule the row also failed is named too, as on the engines.
    failing, failed_rules = flow.quarantine_filter()
    batch_1 = silver_rows(flow, spark_session.read.table(flow.bronze_table).where("_batch_id = 1"))
    quarantined = batch_1.where(failing).selectExpr("id", "name", failed_rules)
    assert rows_of(quarantined) == [
        (4, "test", ["no_test"]),
        (5, None, ["has_name", "no_test"]),
        (None, "x", ["null_key:id"]),
    ]


def test_an_empty_snapshot_or_a_failed_rule_stops_the_update(spark_session, db, tmp_path) -> None:
    bronze = tmp_path / "orders_bronze"
    write_bronze(spark_session, bronze, 1, BATCHES[1])
    # Every row of batch 2 is quarantined: applied, it would delete every key of Silver.
    write_bronze(spark_session, bronze, 2, [(None, "y", 1), (6, "test", 1)])
    flow = planned_flow(db, tmp_path, bronze)
    next_snapshot_and_version = snapshot_source(flow, spark_session)

    with pytest.raises(ZoneError, match="full-load batch 2 brought no rows to the snapshot") as error:
        next_snapshot_and_version(1)
    assert "its 2 rows were all dropped or quarantined" in str(error.value)
    assert "main.sales.orders" in str(error.value) and error.value.field == "load_mode"
    # Before any snapshot was applied an empty one deletes nothing: it is applied as it is.
    emptied = dataclasses.replace(flow, where="id > 100")
    first = snapshot_source(emptied, spark_session)(None)
    assert first is not None and (first[0].count(), first[1]) == (0, 1)

    strict = dataclasses.replace(flow, rules=(*flow.rules, Rule("small", "id < 3", "fail")))
    with pytest.raises(ZoneError, match=r"rule\(s\) with action fail did not hold: small \(3 rows\)"):
        snapshot_source(strict, spark_session)(None)
