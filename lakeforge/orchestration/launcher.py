"""Manual runs and reruns through the group's Databricks job, not in the caller's process.

On Databricks a batch queued by ``run_now`` or ``rerun_batch`` (Slack, panel, CLI, REST) must run
where the scheduled runs do: on the job's compute, under its ``max_concurrent_runs`` and queue,
and visible in its run history. Running it inside the API (a Databricks App) would use the
App's container and the embedded engine, and could overlap a scheduled run of the same tables.

The launcher calls ``jobs/run-now`` on the job LakeForge manages for the group, with the batch id
as a notebook parameter (every task then works on that run-log batch) and
``idempotency_token=lakeforge-batch-<id>``, so a retried request never starts a second run.
A run of some sources or zones runs only their tasks (``only``); Silver and Gold are the group's
pipeline, so asking for either runs the pipeline task. A rerun that reaches Silver also sends
``pipeline_params``: a full refresh of its sources' Silver tables (and Gold's refresh), since the
pipeline's streams skip the Bronze rows a rerun rewrites (:func:`rerun_selection`). A request for
Silver or Gold alone is not taken (``handles``): the pipeline works on the newest batch Bronze
completed and cannot be told another one, so such a run stays with the caller's launcher.

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
from lakeforge.runtime.config import load_group
from lakeforge.runtime.runlog import end_as_run_ended
from lakeforge.runtime.spark.pipeline import plan_pipeline
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


def rerun_selection(db: Database, request: LaunchRequest) -> dict[str, list[str]]:
    """``pipeline_params`` for a rerun that reaches Silver: empty when it is no rerun or stops before.

    The pipeline reads Bronze as a stream that skips the commits a rerun rewrites (and a full load
    with keys applies each snapshot version once), so a rerun's rows never reach Silver by a plain
    update. A full refresh of a table resets its state and recomputes it from all of Bronze
    (Databricks, "How do pipelines refresh?", docs.databricks.com/aws/en/ldp/concepts/refresh: a
    full refresh clears a streaming table's data and its flows' checkpoints and reprocesses every
    record of the source). Replaying Bronze in batch order gives the Silver a rerun gives on the
    engines (docs/zones.md, "Reruns on Databricks").

    Jobs API 2.2 run-now takes ``pipeline_params`` (``full_refresh_selection``,
    ``refresh_selection``; databricks-sdk ``jobs.PipelineParams``) for the job's pipeline task. As
    the Pipelines API's start update says of the same fields (docs.databricks.com/api/pipelines/v2/
    start), "If both refresh_selection and full_refresh_selection are empty, this is a full graph
    update": a non-empty selection updates only the listed tables. So the rerun's sources' Silver
    and quarantine tables are fully refreshed, Gold (downstream of them, and not refreshed unless
    listed) is refreshed when the rerun reaches it, and the group's other sources, whose Bronze the
    run did not touch, are left as they are. Names are the pipeline's own
    (``PipelinePlan.source_tables``): a name it does not declare fails the update
    (``INVALID_REFRESH_SELECTION.TABLE_NOT_FOUND``, docs.databricks.com/en/error-messages/
    invalid-refresh-selection-error-class).
    """
    zones = request.zones
    if request.rerun_of is None or (zones is not None and "silver" not in zones):
        return {}
    plan = plan_pipeline(load_group(db, request.group))
    sources = request.sources if request.sources is not None else [flow.source for flow in plan.silver]
    full = [table for source in sources for table in plan.source_tables(source)]
    refresh = list(plan.gold_tables) if zones is None or "gold" in zones else []
    selection = {"full_refresh_selection": full, "refresh_selection": refresh}
    return {key: tables for key, tables in selection.items() if tables}


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
        selection = rerun_selection(db, request)
        if selection:
            body["pipeline_params"] = selection
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
