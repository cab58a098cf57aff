"""What the notebooks call: read widgets, open the metadata store, run zones, fail the task on a
failed batch. Keeps the notebooks thin and identical on Databricks and locally."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from lakeforge.errors import LakeForgeError
from lakeforge.metadata import models
from lakeforge.metadata.db import Database, open_database
from lakeforge.runtime.runlog import RunLog
from lakeforge.runtime.runner import run_batch
from lakeforge.settings import Settings, get_settings

PARAMS = ("group", "source", "batch_id", "engine", "job_run_id", "ends_batch")


class BatchFailed(LakeForgeError):
    """The batch (or this task's part of it) failed; the run log holds the details."""


def widget(dbutils: Any, name: str) -> str | None:
    try:
        value = dbutils.widgets.get(name)
    except Exception:
        return None
    return str(value).strip() or None


def latest_batch_with(db: Database, group: str, zone: str, source: str | None) -> int | None:
    """The newest batch of ``group`` whose ``zone`` succeeded for ``source`` (any source if None)."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT t.batch_id FROM lakeforge_log.table_run t"
            " JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
            " JOIN lakeforge_log.batch_run b ON b.batch_id = t.batch_id"
            " WHERE b.group_name = %s AND z.zone = %s"
            " AND t.status = 'succeeded' AND (%s::text IS NULL OR t.source_name = %s)"
            " ORDER BY t.batch_id DESC LIMIT 1",
            [group, zone, source, source],
        ).fetchone()
    return int(row["batch_id"]) if row else None


def run_zone_task(dbutils: Any, zones: list[str], *, settings: Settings | None = None) -> str:
    """Run ``zones`` for the widgets' group/source/batch; returns a JSON summary for
    ``dbutils.notebook.exit`` and sets the task value ``batch_id`` for later tasks."""
    group = widget(dbutils, "group")
    if not group:
        raise LakeForgeError("the notebook needs a group", field="group", fix="Pass --param group=NAME.")
    source = widget(dbutils, "source")
    batch = widget(dbutils, "batch_id")
    settings = settings or getattr(dbutils, "lakeforge_settings", None) or get_settings()
    with open_database(settings) as db:
        batch_id = int(batch) if batch else None
        if batch_id is None and "raw" not in zones and widget(dbutils, "job_run_id") is None:
            # A later zone without a batch id continues the newest batch the earlier zone completed.
            batch_id = latest_batch_with(db, group, "raw" if "bronze" in zones else "bronze", source)
        run: models.BatchRun = run_batch(
            settings,
            db,
            group,
            sources=[source] if source else None,
            zones=zones,
            engine=widget(dbutils, "engine"),
            trigger="schedule" if widget(dbutils, "job_run_id") else "manual",
            batch_id=batch_id,
            databricks_run_id=widget(dbutils, "job_run_id"),
            # Set by the local workspace when the job run is cancelled (not part of Databricks' dbutils).
            cancel=getattr(dbutils, "lakeforge_cancel", None),
            # "false" from the compiler on every task but the job's last (``pipeline_run_log``).
            ends_batch=widget(dbutils, "ends_batch") != "false",
        )
        status: str = run.status
        error = run.error
        if status == "running":  # left open for the run's later tasks: what did this task's part do?
            status, error = RunLog(db, int(run.batch_id or 0), group).outcome()
    # Task values exist only inside jobs.
    with contextlib.suppress(Exception):
        dbutils.jobs.taskValues.set(key="batch_id", value=run.batch_id)
    summary = {
        "batch_id": run.batch_id,
        "status": status,
        "rows_in": run.rows_in,
        "rows_out": run.rows_out,
    }
    if status == "failed":
        raise BatchFailed(
            f"batch {run.batch_id} failed: {error}",
            field="batch_id",
            fix=f"See `lakeforge runs` for batch {run.batch_id}, fix the cause, then rerun it.",
        )
    if status == "cancelled":
        # The task must not succeed: the job's later tasks would carry on with a stopped batch.
        raise BatchFailed(
            f"batch {run.batch_id} was {error}",
            field="batch_id",
            fix=f"Run it again with `lakeforge rerun {run.batch_id}` when you want it.",
        )
    return json.dumps(summary)
