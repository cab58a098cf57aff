"""Metadata → the desired Databricks state, as a pure function of plain values.

Per source group: one job ``lakeforge-<group>`` whose tasks are ``<source>__source_to_raw`` →
``<source>__raw_to_bronze`` for each enabled source, then one ``pipeline`` task running the
group's declarative pipeline (Bronze → Silver → Gold), then ``pipeline_run_log`` which writes the
update's expectation results from the pipeline's event log into the run log. Plus the
``lakeforge-sync-jobs`` job, which runs the reconciler inside the workspace on its own Quartz schedule.

Specs are the Databricks REST JSON (built with the SDK's dataclasses, then ``as_dict()``), so
they can be diffed, hashed and printed without a workspace. A job refers to its pipeline through
the placeholder ``${pipeline:<key>}``; the reconciler swaps in the real id (``resolve``).

>>> state = compile_state(snapshot, CompileOptions())
>>> [r.name for r in state.resources]
['lakeforge-sales', 'lakeforge-sales', 'lakeforge-sync-jobs']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from databricks.sdk.service import compute, jobs, pipelines

from lakeforge.errors import LakeForgeError
from lakeforge.metadata.models import ComputeProfile, NotificationChannel, Schedule, Source, SourceGroup
from lakeforge.orchestration import quartz
from lakeforge.orchestration.compute import (
    JOB_CLUSTER_KEY,
    ComputeDefaults,
    job_compute,
    pipeline_compute,
)

ResourceType = Literal["job", "pipeline"]

MANAGED_TAG = "lakeforge_managed"
KEY_TAG = "lakeforge_key"
HASH_TAG = "lakeforge_spec_hash"
GROUP_TAG = "lakeforge_group"
NAME_PREFIX = "lakeforge-"
SYNC_JOB_KEY = "system.sync_jobs"
SYNC_JOB_NAME = "lakeforge-sync-jobs"
PIPELINE_TASK_KEY = "pipeline"
RUN_LOG_TASK_KEY = "pipeline_run_log"
# The table each group's pipeline publishes its event log to, in the group's catalog and schema.
# The ``event_log('<id>')`` function's reference says it serves only pipelines in the legacy
# publishing mode, and only their owner (docs.databricks.com/sql/language-manual/functions/
# event_log); a published log is a plain table, readable by whoever is granted SELECT on it
# (docs.databricks.com/aws/en/ldp/monitor-event-logs, pipeline setting ``event_log``).
EVENT_LOG_TABLE = "lakeforge_event_log"
MIN_RETRY_INTERVAL_MS = 60_000
DESCRIPTION = "Managed by LakeForge from metadata: edits made here are undone by the next sync."


def group_key(group: str) -> str:
    return f"group.{group}"


def event_log_table(group: SourceGroup) -> str:
    """The full name of the group pipeline's published event log."""
    return f"{group.catalog}.{group.name}.{EVENT_LOG_TABLE}"


def pipeline_placeholder(key: str) -> str:
    return f"${{pipeline:{key}}}"


@dataclass(frozen=True)
class GroupSnapshot:
    """Everything the compiler needs about one source group."""

    group: SourceGroup
    profile: ComputeProfile
    sources: list[Source]
    schedule: Schedule | None = None
    channel: NotificationChannel | None = None


@dataclass(frozen=True)
class MetadataSnapshot:
    groups: list[GroupSnapshot]
    # The profile the sync job runs on (the seeded ``single_node`` one).
    sync_profile: ComputeProfile = field(default_factory=lambda: ComputeProfile(name="single_node"))


@dataclass(frozen=True)
class CompileOptions:
    notebook_dir: str = "/Workspace/Shared/lakeforge/notebooks"
    defaults: ComputeDefaults = field(default_factory=ComputeDefaults)
    pipeline_development: bool = False
    notification_destination_id: str | None = None
    sync_schedule: str = "0 0/15 * * * ?"
    sync_timezone: str = "UTC"
    # Non-secret settings the sync notebook needs to find Lakebase from inside the workspace.
    sync_parameters: dict[str, str] = field(default_factory=dict)

    def notebook(self, name: str) -> str:
        return f"{self.notebook_dir.rstrip('/')}/{name}"


@dataclass(frozen=True)
class DesiredResource:
    resource_type: ResourceType
    key: str
    name: str
    spec: dict[str, Any]
    spec_hash: str
    # Workspace paths the spec runs (notebooks); they must exist before the resource is written.
    paths: tuple[str, ...] = ()
    # Keys of pipelines the job's spec refers to through placeholders.
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompileError:
    resource_type: ResourceType
    key: str
    name: str
    error: LakeForgeError


@dataclass(frozen=True)
class DesiredState:
    resources: list[DesiredResource]
    errors: list[CompileError]

    def by_key(self) -> dict[tuple[ResourceType, str], DesiredResource]:
        return {(r.resource_type, r.key): r for r in self.resources}

    @property
    def blocked(self) -> set[tuple[ResourceType, str]]:
        """Resources whose metadata failed to compile: left exactly as they are in the workspace."""
        return {(e.resource_type, e.key) for e in self.errors}


# -- canonical JSON and hashes -------------------------------------------------------------
def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no volatile fields: equal specs give equal text."""
    return json.dumps(_without_hash(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _without_hash(spec: Any) -> Any:
    if isinstance(spec, dict) and isinstance(spec.get("tags"), dict) and HASH_TAG in spec["tags"]:
        spec = {**spec, "tags": {k: v for k, v in spec["tags"].items() if k != HASH_TAG}}
    return spec


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (the hash tag itself excluded)."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def with_hash(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its own hash in the ``lakeforge_spec_hash`` tag, ready to send."""
    tags = {**spec.get("tags", {}), HASH_TAG: spec_hash(spec)}
    return {**spec, "tags": tags}


def resolve(spec: Any, pipeline_ids: dict[str, str]) -> Any:
    """Replace ``${pipeline:<key>}`` placeholders by live pipeline ids (unknown ones stay)."""
    if isinstance(spec, dict):
        return {k: resolve(v, pipeline_ids) for k, v in spec.items()}
    if isinstance(spec, list):
        return [resolve(v, pipeline_ids) for v in spec]
    if isinstance(spec, str) and spec.startswith("${pipeline:") and spec.endswith("}"):
        return pipeline_ids.get(spec[len("${pipeline:") : -1], spec)
    return spec


# -- compilation -----------------------------------------------------------------------------
def _tags(key: str, group: str | None) -> dict[str, str]:
    tags = {MANAGED_TAG: "true", KEY_TAG: key}
    if group:
        tags[GROUP_TAG] = group
    return tags


def _schedule(schedule: Schedule | None) -> jobs.CronSchedule | None:
    if schedule is None:
        return None
    quartz.validate(schedule.quartz_cron, schedule.timezone)
    return jobs.CronSchedule(
        quartz_cron_expression=schedule.quartz_cron,
        timezone_id=schedule.timezone,
        pause_status=jobs.PauseStatus.PAUSED if schedule.paused else jobs.PauseStatus.UNPAUSED,
    )


def _notebook_task(
    key: str,
    path: str,
    params: dict[str, str],
    group: SourceGroup,
    depends: list[str],
    run_on: tuple[str | None, list[compute.Library]],
) -> jobs.Task:
    return jobs.Task(
        task_key=key,
        notebook_task=jobs.NotebookTask(
            notebook_path=path, base_parameters=params, source=jobs.Source.WORKSPACE
        ),
        depends_on=[jobs.TaskDependency(task_key=d) for d in depends] or None,
        job_cluster_key=run_on[0],
        libraries=run_on[1] or None,
        max_retries=group.max_retries,
        min_retry_interval_millis=MIN_RETRY_INTERVAL_MS,
        retry_on_timeout=False,
    )


def _notifications(
    snapshot: GroupSnapshot, options: CompileOptions
) -> tuple[jobs.JobEmailNotifications | None, jobs.WebhookNotifications | None]:
    """Failure alerts only when the group has a channel: its owner by email and/or a destination."""
    if snapshot.channel is None:
        return None, None
    owner = snapshot.group.owner
    email = jobs.JobEmailNotifications(on_failure=[owner]) if owner and "@" in owner else None
    webhook = None
    if options.notification_destination_id:
        webhook = jobs.WebhookNotifications(on_failure=[jobs.Webhook(id=options.notification_destination_id)])
    return email, webhook


def compile_group_job(snapshot: GroupSnapshot, options: CompileOptions) -> DesiredResource:
    group = snapshot.group
    key = group_key(group.name)
    job_compute_spec = job_compute(snapshot.profile, options.defaults)
    cluster_key = None if job_compute_spec.serverless else JOB_CLUSTER_KEY
    run_on = (cluster_key, job_compute_spec.libraries)
    tasks: list[jobs.Task] = []
    bronze_keys: list[str] = []
    source_keys: list[str] = []
    for source in sorted((s for s in snapshot.sources if s.enabled), key=lambda s: s.name):
        # job_run_id ties every task of one run to one LakeForge batch in the run log.
        params = {"group": group.name, "source": source.name, "job_run_id": "{{job.run_id}}"}
        # Not the run's last task: the batch stays running for the tasks after it, and
        # pipeline_run_log, which runs last in every run, ends it.
        params["ends_batch"] = "false"
        if group.engine != "auto":
            params["engine"] = group.engine
        raw_key, bronze_key = f"{source.name}__source_to_raw", f"{source.name}__raw_to_bronze"
        tasks.append(_notebook_task(raw_key, options.notebook("source_to_raw"), params, group, [], run_on))
        tasks.append(
            _notebook_task(bronze_key, options.notebook("raw_to_bronze"), params, group, [raw_key], run_on)
        )
        bronze_keys.append(bronze_key)
        source_keys += [raw_key, bronze_key]
    tasks.append(
        jobs.Task(
            task_key=PIPELINE_TASK_KEY,
            pipeline_task=jobs.PipelineTask(pipeline_id=pipeline_placeholder(key), full_refresh=False),
            depends_on=[jobs.TaskDependency(task_key=k) for k in bronze_keys] or None,
            max_retries=group.max_retries,
            min_retry_interval_millis=MIN_RETRY_INTERVAL_MS,
            retry_on_timeout=False,
        )
    )
    # After the update, whatever its outcome: its expectations' results go to the run log, and
    # the run's batch ends. It depends on every task, not only the pipeline, so that it is the
    # last task of any run, also of one limited with `only` to Raw or Bronze tasks (run-now's
    # `only` drops dependencies on tasks left out of the run).
    log_task = _notebook_task(
        RUN_LOG_TASK_KEY,
        options.notebook("pipeline_run_log"),
        {
            "group": group.name,
            "job_run_id": "{{job.run_id}}",
            "pipeline_id": pipeline_placeholder(key),
            "event_log_table": event_log_table(group),
        },
        group,
        [PIPELINE_TASK_KEY, *source_keys],
        run_on,
    )
    log_task.run_if, log_task.max_retries = jobs.RunIf.ALL_DONE, 0
    tasks.append(log_task)
    email, webhook = _notifications(snapshot, options)
    settings = jobs.JobSettings(
        name=f"{NAME_PREFIX}{group.name}",
        description=DESCRIPTION,
        tags=_tags(key, group.name),
        tasks=sorted(tasks, key=lambda t: t.task_key),
        job_clusters=[job_compute_spec.job_cluster] if job_compute_spec.job_cluster else None,
        environments=[job_compute_spec.environment] if job_compute_spec.environment else None,
        schedule=_schedule(snapshot.schedule),
        max_concurrent_runs=group.max_concurrent_runs,
        timeout_seconds=group.timeout_seconds,
        queue=jobs.QueueSettings(enabled=True),
        email_notifications=email,
        webhook_notifications=webhook,
        notification_settings=(
            jobs.JobNotificationSettings(no_alert_for_skipped_runs=True, no_alert_for_canceled_runs=True)
            if email or webhook
            else None
        ),
    )
    spec = settings.as_dict()
    paths: tuple[str, ...] = (
        (options.notebook("source_to_raw"), options.notebook("raw_to_bronze")) if bronze_keys else ()
    )
    paths += (options.notebook("pipeline_run_log"),)
    return DesiredResource("job", key, settings.name or "", spec, spec_hash(spec), paths, (key,))


def compile_group_pipeline(snapshot: GroupSnapshot, options: CompileOptions) -> DesiredResource:
    group = snapshot.group
    key = group_key(group.name)
    pipe_compute = pipeline_compute(snapshot.profile, options.defaults)
    library = options.notebook("pipeline_dlt")
    spec = pipelines.PipelineSpec(
        name=f"{NAME_PREFIX}{group.name}",
        libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path=library))],
        catalog=group.catalog,
        schema=group.name,
        configuration={"lakeforge.group": group.name, "lakeforge.catalog": group.catalog},
        event_log=pipelines.EventLogSpec(catalog=group.catalog, schema=group.name, name=EVENT_LOG_TABLE),
        development=options.pipeline_development,
        continuous=False,
        channel="CURRENT",
        edition="ADVANCED",
        photon=pipe_compute.photon,
        serverless=True if pipe_compute.serverless else None,
        clusters=pipe_compute.clusters or None,
        tags=_tags(key, group.name),
    ).as_dict()
    return DesiredResource("pipeline", key, spec["name"], spec, spec_hash(spec), (library,))


def compile_sync_job(snapshot: MetadataSnapshot, options: CompileOptions) -> DesiredResource:
    quartz.validate(options.sync_schedule, options.sync_timezone)
    job_compute_spec = job_compute(snapshot.sync_profile, options.defaults)
    path = options.notebook("sync_jobs")
    task = jobs.Task(
        task_key="sync_jobs",
        notebook_task=jobs.NotebookTask(
            notebook_path=path, base_parameters=dict(options.sync_parameters), source=jobs.Source.WORKSPACE
        ),
        job_cluster_key=None if job_compute_spec.serverless else JOB_CLUSTER_KEY,
        libraries=job_compute_spec.libraries or None,
        max_retries=0,
    )
    settings = jobs.JobSettings(
        name=SYNC_JOB_NAME,
        description=DESCRIPTION,
        tags=_tags(SYNC_JOB_KEY, None),
        tasks=[task],
        job_clusters=[job_compute_spec.job_cluster] if job_compute_spec.job_cluster else None,
        environments=[job_compute_spec.environment] if job_compute_spec.environment else None,
        schedule=jobs.CronSchedule(
            quartz_cron_expression=options.sync_schedule,
            timezone_id=options.sync_timezone,
            pause_status=jobs.PauseStatus.UNPAUSED,
        ),
        # Two syncs never overlap: the second is dropped rather than queued behind the first.
        max_concurrent_runs=1,
        queue=jobs.QueueSettings(enabled=False),
    )
    spec = settings.as_dict()
    return DesiredResource("job", SYNC_JOB_KEY, SYNC_JOB_NAME, spec, spec_hash(spec), (path,))


def compile_state(snapshot: MetadataSnapshot, options: CompileOptions) -> DesiredState:
    """The desired jobs and pipelines; a group whose metadata cannot compile is reported, not dropped."""
    resources: list[DesiredResource] = []
    errors: list[CompileError] = []
    for group_snapshot in sorted(snapshot.groups, key=lambda g: g.group.name):
        name = f"{NAME_PREFIX}{group_snapshot.group.name}"
        key = group_key(group_snapshot.group.name)
        try:
            pipeline = compile_group_pipeline(group_snapshot, options)
            job = compile_group_job(group_snapshot, options)
        except LakeForgeError as error:
            errors += [CompileError("pipeline", key, name, error), CompileError("job", key, name, error)]
            continue
        resources += [pipeline, job]
    try:
        resources.append(compile_sync_job(snapshot, options))
    except LakeForgeError as error:
        errors.append(CompileError("job", SYNC_JOB_KEY, SYNC_JOB_NAME, error))
    return DesiredState(resources, errors)
