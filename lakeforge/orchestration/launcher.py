"""Manual runs and reruns through the group's Databricks job, not in the caller's process.

On Databricks a batch queued by ``run_now`` or ``rerun_batch`` (Slack, panel, CLI, REST) must run
where the scheduled runs do: on the job's compute, under its ``max_concurrent_runs`` and queue,
and visible in its run history. Running it inside the API (a Databricks App) would use the
App's container and the embedded engine, and could overlap a scheduled run of the same tables.

The launcher calls ``jobs/run-now`` on the job LakeForge manages for the group, with the batch id
as a notebook parameter (every task then works on that run-log batch) and
``idempotency_token=lakeforge-batch-<id>``, so a retried request never starts a second run.
A run of some sources or zones runs only their tasks (``only``); Silver and Gold are the group's
pipeline, so asking for either runs the pipeline task; every run also runs the run-log task,
the run's last, which ends its batch (without the pipeline it reads no event log). Which of
the pipeline's tables the pipeline task updates is sent as ``pipeline_params`` (:func:`pipeline_selection`):
a run from Raw or Bronze updates the whole pipeline, as a scheduled run does; a rerun that reaches
Silver fully refreshes its sources' Silver tables, since the pipeline's streams skip the Bronze
rows a rerun rewrites, and a full refresh recomputes them from all of Bronze, which gives the
engines' Silver (docs/zones.md, "Reruns on Databricks"); a run or rerun of Silver or Gold alone
updates only the tables of its sources and zones, as the engines' run of those zones writes only
them. The pipeline is never told a batch and needs none, so Silver or Gold alone runs on the job
like any batch. Only a request for Silver or Gold alone that names none of the pipeline's tables
(Gold of a group without Gold tables) stays with the caller (``handles``): an empty selection
would be a full graph update, and the engines' run of it writes no data.

>>> launch.set_launcher(JobLauncher(settings, lambda: workspace_client(settings)))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from databricks.sdk import WorkspaceClient

from lakeforge.commands.launch import LaunchRequest
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.metadata.models import Zone
from lakeforge.metadata.repository import MANAGED_RESOURCES, Repository
from lakeforge.orchestration.compiler import PIPELINE_TASK_KEY, RUN_LOG_TASK_KEY, group_key
from lakeforge.orchestration.gateway import Gateway
from lakeforge.runtime.config import load_group
from lakeforge.runtime.runlog import end_as_run_ended
from lakeforge.runtime.spark.pipeline import plan_pipeline
from lakeforge.settings import Settings

log = logging.getLogger(__name__)

_ZONE_SUFFIX = {"raw": "__source_to_raw", "bronze": "__raw_to_bronze"}
_ZONES: tuple[str, ...] = get_args(Zone)


def task_keys(all_keys: list[str], sources: list[str] | None, zones: list[str] | None) -> list[str] | None:
    """The job's task keys a request runs, or None for all of them."""
    wanted: set[str] = set()
    for zone in zones or _ZONES:
        if zone in _ZONE_SUFFIX:
            suffix = _ZONE_SUFFIX[zone]
            wanted |= {
                key
                for key in all_keys
                if key.endswith(suffix) and (sources is None or key.removesuffix(suffix) in sources)
            }
        else:
            wanted |= {PIPELINE_TASK_KEY, RUN_LOG_TASK_KEY} & set(all_keys)
    if wanted and RUN_LOG_TASK_KEY in all_keys:
        # The run's last task, whatever else it runs: it ends the run's batch.
        wanted.add(RUN_LOG_TASK_KEY)
    chosen = [key for key in all_keys if key in wanted]
    return None if len(chosen) == len(all_keys) else chosen


def pipeline_selection(db: Database, request: LaunchRequest) -> dict[str, list[str]] | None:
    """``pipeline_params`` for the job's pipeline task: ``{}`` for a full graph update (or when the
    request does not reach the pipeline), None when it asks the pipeline for Silver or Gold alone
    and the pipeline declares none of the tables that would take.

    The engines' run of some zones writes only those zones' tables, for the request's sources (all
    of them when it names none); a rerun replaces batch N's rows there. The pipeline task is told
    the same tables:

    - a rerun that reaches Silver: ``full_refresh_selection`` = its sources' Silver and quarantine
      tables. The pipeline reads Bronze as a stream that skips the commits a rerun rewrites (and a
      full load with keys applies each snapshot version once), so a rerun's rows never reach
      Silver by a plain update. A full refresh of a table resets its state and recomputes it from
      all of Bronze (Databricks, "How do pipelines refresh?", docs.databricks.com/aws/en/ldp/
      concepts/refresh: a full refresh clears a streaming table's data and its flows' checkpoints
      and reprocesses every record of the source). Replaying Bronze in batch order gives the
      Silver a rerun gives on the engines (docs/zones.md, "Reruns on Databricks"). This holds
      whether or not the rerun's Bronze was rewritten in the same run, so a rerun of Silver alone
      is the same refresh without the Bronze tasks;
    - a run (not a rerun) of Silver alone: ``refresh_selection`` = its sources' Silver and
      quarantine tables: they take the Bronze rows they have not read yet, as the engines' run of
      Silver alone applies the Bronze batches Silver has not applied (``runtime.zones.catchup``),
      and Gold is left as it is, as the engines' run of Silver leaves it;
    - Gold (a rerun or run that reaches it): ``refresh_selection`` += the group's Gold tables,
      materialized views recomputed from today's Silver, as the engines rebuild every Gold table.
      A request whose zones leave Gold out does not refresh it;
    - a run from Raw or Bronze that is no rerun: nothing, a full graph update, as a scheduled
      run's; so is a selection that would name every table of the pipeline.

    Jobs API 2.2 run-now takes ``pipeline_params`` (``full_refresh_selection``,
    ``refresh_selection``; databricks-sdk ``jobs.PipelineParams``) for the job's pipeline task. As
    the Pipelines API's start update says of the same fields (docs.databricks.com/api/pipelines/v2/
    start), "If both refresh_selection and full_refresh_selection are empty, this is a full graph
    update": a non-empty selection updates only the listed tables, and the group's other sources
    are left as they are. Names are the pipeline's own (``PipelinePlan.source_tables``): a name it
    does not declare fails the update (``INVALID_REFRESH_SELECTION.TABLE_NOT_FOUND``,
    docs.databricks.com/en/error-messages/invalid-refresh-selection-error-class).
    """
    zones = set(request.zones or _ZONES)
    rerun = request.rerun_of is not None
    pipeline_only = not {"raw", "bronze"} & zones
    if not {"silver", "gold"} & zones or not (rerun or pipeline_only):
        return {}
    plan = plan_pipeline(load_group(db, request.group))
    sources = request.sources if request.sources is not None else [flow.source for flow in plan.silver]
    silver = (
        [table for source in sources for table in plan.source_tables(source)] if "silver" in zones else []
    )
    gold = list(plan.gold_tables) if "gold" in zones else []
    if pipeline_only and not silver + gold:
        return None  # nothing to select, and no selection means every table
    if rerun:
        selection = {"full_refresh_selection": silver, "refresh_selection": gold}
        return {key: tables for key, tables in selection.items() if tables}
    if set(silver + gold) == set(plan.table_sources()):
        return {}  # every table: a full graph update says the same
    return {"refresh_selection": silver + gold}


@dataclass
class JobLauncher:
    """A ``lakeforge.commands.launch`` launcher that runs batches as runs of the group's job."""

    settings: Settings
    client: Callable[[], WorkspaceClient]

    @staticmethod
    def handles(db: Database, request: LaunchRequest) -> bool:
        """Whether the job can run this request: all but Silver or Gold alone with no table of the
        pipeline to update (see the module doc and :func:`pipeline_selection`)."""
        return pipeline_selection(db, request) is not None

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
        if only is not None and PIPELINE_TASK_KEY not in only:
            # The run-log task only ends the batch: no update of this run is in the event log,
            # and an older one found there is not this batch's.
            params["pipeline_id"] = ""
        body: dict[str, Any] = {
            "job_id": job_id,
            "notebook_params": params,
            "idempotency_token": f"lakeforge-batch-{request.batch_id}",
        }
        if only is not None:
            body["only"] = only
        selection = pipeline_selection(db, request)
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
