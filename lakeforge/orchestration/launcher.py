"""Manual runs and reruns through the group's Databricks job, not in the caller's process.

On Databricks a batch queued by ``run_now`` or ``rerun_batch`` (Slack, panel, CLI, REST) must run
where the scheduled runs do: on the job's compute, under its ``max_concurrent_runs`` and queue,
and visible in its run history. Running it inside the API (a Databricks App) would use the
App's container and the embedded engine, and could overlap a scheduled run of the same tables.

The launcher calls ``jobs/run-now`` on the job LakeForge manages for the group, with the batch id
as a notebook parameter (every task then works on that run-log batch) and
``idempotency_token=lakeforge-batch-<id>``, so a retried request never starts a second run.
A run of some sources or zones runs only their tasks (``only``); Silver and Gold are the group's
pipeline, so asking for either runs the pipeline task. A request for Silver or Gold alone is not
taken (``handles``): the pipeline works on the newest batch Bronze completed and cannot be told
another one, so such a run stays with the caller's launcher.

>>> launch.set_launcher(JobLauncher(settings, lambda: workspace_client(settings)))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from databricks.sdk import WorkspaceClient

from lakeforge.commands.launch import LaunchRequest
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.metadata.repository import MANAGED_RESOURCES, Repository
from lakeforge.orchestration.compiler import PIPELINE_TASK_KEY, RUN_LOG_TASK_KEY, group_key
from lakeforge.orchestration.gateway import Gateway
from lakeforge.runtime.runlog import end_as_run_ended
from lakeforge.settings import Settings

log = logging.getLogger(__name__)

_ZONE_SUFFIX = {"raw": "__source_to_raw", "bronze": "__raw_to_bronze"}


def task_keys(all_keys: list[str], sources: list[str] | None, zones: list[str] | None) -> list[str] | None:
    """The job's task keys a request runs, or None for all of them."""
    wanted: set[str] = set()
    for zone in zones or ["raw", "bronze", "silver", "gold"]:
        if zone in _ZONE_SUFFIX:
            suffix = _ZONE_SUFFIX[zone]
            wanted |= {
                key
                for key in all_keys
                if key.endswith(suffix) and (sources is None or key.removesuffix(suffix) in sources)
            }
        else:
            wanted |= {PIPELINE_TASK_KEY, RUN_LOG_TASK_KEY} & set(all_keys)
    chosen = [key for key in all_keys if key in wanted]
    return None if len(chosen) == len(all_keys) else chosen


@dataclass
class JobLauncher:
    """A ``lakeforge.commands.launch`` launcher that runs batches as runs of the group's job."""

    settings: Settings
    client: Callable[[], WorkspaceClient]

    @staticmethod
    def handles(request: LaunchRequest) -> bool:
        """Whether the job can run this request: it starts at Raw or Bronze (see the module doc)."""
        return request.zones is None or bool({"raw", "bronze"} & set(request.zones))

    def __call__(self, db: Database, request: LaunchRequest) -> None:
        with db.connection() as conn:
            row = Repository(conn, MANAGED_RESOURCES).find(
                resource_type="job", lakeforge_key=group_key(request.group)
            )
        if row is None or row.state != "active" or not row.databricks_id:
            raise LakeForgeError(
                f"group {request.group} has no job in the workspace yet, so batch {request.batch_id}"
                " cannot run there",
                field="group",
                fix="Sync the jobs (`lakeforge sync apply`, or wait for lakeforge-sync-jobs) and run again.",
            )
        client = self.client()
        job_id = int(row.databricks_id)
        job = client.jobs.get(job_id)
        all_keys = [t.task_key for t in (job.settings.tasks if job.settings else None) or []]
        only = task_keys(all_keys, request.sources, request.zones)
        if only == []:
            raise LakeForgeError(
                f"the job of group {request.group} has no task for {request.sources} in {request.zones}",
                field="source",
                fix="Sync the jobs so new sources get their tasks, then run again.",
            )
        params = {"batch_id": str(request.batch_id)}
        if request.engine:
            params["engine"] = request.engine
        body: dict[str, Any] = {
            "job_id": job_id,
            "notebook_params": params,
            "idempotency_token": f"lakeforge-batch-{request.batch_id}",
        }
        if only is not None:
            body["only"] = only
        # The raw call: `only` is recent and not every SDK version takes it as an argument.
        answer = client.api_client.do("POST", "/api/2.2/jobs/run-now", body=body)
        run_id = answer.get("run_id") if isinstance(answer, dict) else None
        with db.connection() as conn:
            conn.execute(
                "UPDATE lakeforge_log.batch_run SET databricks_run_id = %s WHERE batch_id = %s",
                (str(run_id) if run_id is not None else None, request.batch_id),
            )


def settle_launched_batches(db: Database, gateway: Gateway) -> list[int]:
    """End queued batches whose job run ended without ever starting them; returns their ids.

    A run that was cancelled or skipped while queued, or that failed before any task ran (a
    missing notebook, a cluster that never started), leaves its batch ``queued`` for good: no
    alert, and ``rerun_batch`` refuses a batch that is still queued. The sync (every 15 minutes
    in the workspace) reads the run of each such batch and ends it as the run ended, by the
    mapping the stale-batch check uses for running batches (``runtime.jobruns``, queued phase);
    one read per queued launched batch, none when there is none.
    """
    with db.connection() as conn:
        waiting = conn.execute(
            "SELECT batch_id, databricks_run_id FROM lakeforge_log.batch_run"
            " WHERE status = 'queued' AND databricks_run_id IS NOT NULL ORDER BY batch_id"
        ).fetchall()
    if not waiting:
        return []
    runs = gateway.job_run_ends()
    settled: list[int] = []
    for batch in waiting:
        end = runs.batch_end(batch["databricks_run_id"], phase="queued")
        if end is None:
            continue  # still queued or running in the workspace, or it could not be asked
        with db.connection() as conn:
            if not end_as_run_ended(conn, batch["batch_id"], "queued", batch["databricks_run_id"], end):
                continue  # a task picked it up meanwhile
        log.info("batch %s ended %s: %s", batch["batch_id"], end.status, end.reason)
        settled.append(int(batch["batch_id"]))
    return settled
