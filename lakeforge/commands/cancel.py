"""``cancel_run``: stop a queued or running batch, wherever it runs.

The request is written to the run log in the command's transaction, so the runner holding the
batch (the API's thread, a local workspace notebook, a Databricks task) stops at its next table
or zone and ends the batch ``cancelled`` (``lakeforge.runtime.cancel``). A batch that is queued,
or whose process is gone, has nothing to wait for: it ends ``cancelled`` at once. When a job run
carries the batch, that run is cancelled too, after the commit, so the workspace stops the
run's compute and its later tasks; the runner reads the request first, so it names who asked.
"""

from __future__ import annotations

import logging
from typing import Any

from lakeforge.commands import intents as it
from lakeforge.commands import launch
from lakeforge.commands.handlers import Context, Prepared, unknown_batch
from lakeforge.commands.state import Conflict
from lakeforge.fixes import Fix, ref
from lakeforge.runtime import runlog
from lakeforge.runtime.cancel import end_cancelled

log = logging.getLogger(__name__)


def cancel_run(ctx: Context, intent: it.CancelRun) -> Prepared:
    batch_id = intent.batch_id
    row = ctx.conn.execute(
        "SELECT group_name, source_name, status, databricks_run_id FROM lakeforge_log.batch_run"
        " WHERE batch_id = %s",
        [batch_id],
    ).fetchone()
    if row is None:
        raise unknown_batch(batch_id)
    status = row["status"]
    if status not in ("queued", "running"):
        # An operator of the batch's group hears why (handlers.intent_groups finds it).
        raise Conflict(
            f"batch {batch_id} has already ended ({status}); there is nothing to cancel",
            field="intent.batch_id",
            fix=Fix("If you need its data, run it again: ", ref("rerun_batch", batch_id=batch_id), "."),
        )
    # Nobody is working on a queued batch, nor on a running one whose process died: end it now.
    at_once = status == "queued" or runlog.is_orphaned(ctx.conn, batch_id)
    job_run = row["databricks_run_id"] if not (status == "running" and at_once) else None
    zone = _current_zone(ctx, batch_id)
    what = f"batch {batch_id} of {row['group_name']}" + (
        f"/{row['source_name']}" if row["source_name"] else ""
    )
    when = "now" if at_once else "after the table it is writing" + (f" in {zone}" if zone else "")
    plan: list[dict[str, Any]] = [
        {
            "op": "cancel",
            "entity": "batch",
            "key": str(batch_id),
            "field": None,  # a run-log change, not a metadata field: the text says what happens
            "before": status,
            "after": "cancelled",
            "text": f"cancel {what} ({status}): it ends cancelled {when}; tables already written stay",
        }
    ]
    if job_run:
        plan.append(
            {
                "op": "cancel",
                "entity": "job_run",
                "key": str(job_run),
                "field": None,
                "before": None,
                "after": None,
                "text": f"cancel job run {job_run} in the workspace",
            }
        )

    def effect(c: Context) -> dict[str, Any]:
        if at_once:
            end_cancelled(c.conn, batch_id, c.actor.user)
        else:
            # The latest request names who asked; the runner ends the batch at its next boundary.
            c.conn.execute(
                "UPDATE lakeforge_log.batch_run SET cancel_requested_at = now(), cancelled_by = %s"
                " WHERE batch_id = %s",
                [c.actor.user, batch_id],
            )
        if job_run:
            c.after_commit.append(lambda: _cancel_job_run(str(job_run), batch_id))
        return {
            "batch_id": batch_id,
            "status": "cancelled" if at_once else "cancelling",
            "group": row["group_name"],
            "source": row["source_name"],
            "job_run_id": job_run,
        }

    message = (
        f"Batch {batch_id} cancelled."
        if at_once
        else f"Batch {batch_id} is stopping: it ends cancelled {when}."
    )
    return Prepared(extra_plan=plan, groups={row["group_name"]}, message=message, effect=effect)


def _current_zone(ctx: Context, batch_id: int) -> str | None:
    found = ctx.conn.execute(
        "SELECT zone FROM lakeforge_log.zone_run WHERE batch_id = %s AND status = 'running'"
        " ORDER BY id DESC LIMIT 1",
        [batch_id],
    ).fetchone()
    return str(found["zone"]) if found else None


def _cancel_job_run(run_id: str, batch_id: int) -> None:
    # After the commit: the request is already in the run log, which the batch's runner honours
    # on its own, so a workspace that cannot be reached delays the stop, it does not prevent it.
    try:
        launch.cancel_job_run(run_id)
    except Exception as error:
        log.warning(
            "batch %s: job run %s could not be cancelled in the workspace: %s", batch_id, run_id, error
        )
