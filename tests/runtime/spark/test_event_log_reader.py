"""The pipeline_run_log notebook on the real local Spark session, reading a Delta table shaped like
a pipeline's event log (as ``event_log('<pipeline id>')`` returns it on Databricks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lakeforge.metadata.db import Database
from lakeforge.runtime.notebook import run_notebook
from lakeforge.runtime.runlog import RunLog, create_batch
from lakeforge.runtime.tasks import BatchFailed
from lakeforge.settings import PROJECT_ROOT, Settings
from tests.runtime.eventlog_rows import EventLog, failed_update, sales_updates
from tests.runtime.test_pipeline_event_log import dq_rows, sales_group

NOTEBOOK = PROJECT_ROOT / "notebooks" / "pipeline_run_log.py"
SCHEMA = (
    "id STRING, sequence STRING, origin STRUCT<cloud: STRING, region: STRING, pipeline_id: STRING,"
    " pipeline_name: STRING, update_id: STRING, flow_id: STRING, flow_name: STRING, dataset_name: STRING>,"
    " timestamp TIMESTAMP, message STRING, level STRING, maturity_level STRING, error STRING,"
    " details STRING, event_type STRING"
)


def write_event_log(spark: Any, path: Path, log: EventLog, mode: str = "overwrite") -> str:
    spark.createDataFrame(log.rows, SCHEMA).write.format("delta").mode(mode).save(str(path))
    return f"delta.`{path}`"


def batch(db: Database, run_id: str) -> int:
    with db.connection() as conn:
        return create_batch(conn, {"group_name": "sales", "status": "succeeded", "databricks_run_id": run_id})


def run(settings: Settings, run_id: str, source: str) -> dict[str, Any]:
    params = {"group": "sales", "job_run_id": run_id, "pipeline_id": "p-1", "event_log": source}
    return json.loads(run_notebook(NOTEBOOK, params, settings=settings))


def test_reader_writes_each_rule_once_from_the_event_log(spark_session, settings, db, tmp_path) -> None:
    sales_group(db, tmp_path)
    batch_id = batch(db, "5001")
    # A row for the same (batch, table, rule) already there: replaced, never doubled.
    RunLog(db, batch_id, "sales").dq(
        None, "main.sales.orders", None, "has_id", "id IS NOT NULL", "drop", 1, 1
    )
    source = write_event_log(spark_session, tmp_path / "event_log", sales_updates())

    summary = run(settings, "5001", source)
    assert summary["update_id"] == "u2" and summary["recorded_checks"] == 4
    assert summary["status"] == "succeeded"
    first = dq_rows(db, batch_id)
    assert first == {
        ("main.sales.orders", "positive"): ("warn", 10, 8, 2, "failed"),
        ("main.sales.orders", "has_id"): ("drop", 10, 9, 1, "failed"),
        ("main.sales.orders", "not_test"): ("quarantine", 10, 8, 2, "failed"),
        ("main.sales.customers", "has_email"): ("fail", 5, 5, 0, "passed"),
    }
    # The task retried: same rows.
    run(settings, "5001", source)
    assert dq_rows(db, batch_id) == first

    # The next run's update stops on an expect_or_fail rule: its results are recorded and the
    # task fails, so the job run stays failed.
    later = batch(db, "5002")
    write_event_log(
        spark_session, tmp_path / "event_log", failed_update(EventLog(sales_updates().clock)), "append"
    )
    with pytest.raises(BatchFailed, match=r"main\.sales\.customers"):
        run(settings, "5002", source)
    assert dq_rows(db, later)[("main.sales.customers", "has_email")] == ("fail", 5, 3, 2, "failed")
    assert dq_rows(db, batch_id) == first
