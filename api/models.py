"""Response models of the read routes: what the panel's generated TypeScript client types.

Each model lists the columns its query in ``api/queries.py`` selects. Models allow extra keys
(``extra="allow"``) so a column added to a query is served before the model names it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from lakeforge.metadata.models import ComputeKind, Role


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- the caller ------------------------------------------------------------------------------
class Health(BaseModel):
    """``GET /health``: the API answers, and whether the metadata store does."""

    status: Literal["ok", "degraded"] = Field(description="ok, or degraded (503) when the store is down.")
    database: str = Field(description="ok, or the kind of error reaching the metadata store.")


class RoleBinding(ReadModel):
    role: Role
    group: str | None = Field(description="The group the role holds for; null: every group.")


class Me(ReadModel):
    """The authenticated caller, its role bindings and the intents it may run somewhere."""

    user: str
    roles: list[RoleBinding]
    allowed_kinds: list[str] = Field(description="Intent kinds this caller may run (on some group).")
    global_kinds: list[str] = Field(description="Intent kinds this caller may run on every group.")
    group_kinds: dict[str, list[str]] = Field(
        description="For each group the caller is bound to by name, the intent kinds it may run there."
    )
    is_admin: bool = Field(description="Holds the global admin role (compute profiles, job sync).")


# -- schedules -------------------------------------------------------------------------------
class SchedulePreview(ReadModel):
    """What a Quartz expression means, before it is saved."""

    quartz_cron: str
    timezone: str
    description: str
    next_fire_times: list[datetime] = Field(description="ISO 8601, with the time zone's offset.")


# -- quarantine ------------------------------------------------------------------------------
class QuarantineColumn(ReadModel):
    name: str
    type: str


class QuarantineSample(ReadModel):
    """The newest rows of a source's ``<silver table>_quarantine`` Delta table."""

    source: str
    table: str = Field(description="The quarantine table, catalog.schema.table.")
    version: int | None = Field(description="The Delta version read.")
    total_rows: int
    by_rule: dict[str, int] = Field(
        default_factory=dict,
        description="Quarantined rows per failed rule, over the whole table (a row failing two rules"
        " counts for both).",
    )
    failed_rules_column: Literal["_failed_rules"] = "_failed_rules"
    columns: list[QuarantineColumn]
    rows: list[dict[str, Any]]


# -- runs ------------------------------------------------------------------------------------
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "skipped"]
RuleAction = Literal["warn", "drop", "fail", "quarantine"]


class BatchRow(ReadModel):
    """One batch of the run log (``lakeforge_log.batch_run``)."""

    batch_id: int = Field(description="The batch's id: GET /runs/{batch_id}.")
    group: str = Field(description="The group the batch ran.")
    source: str | None = Field(description="Set when the batch ran one source; null: the whole group.")
    trigger: str = Field(description="What started it: schedule, manual, rerun or api.")
    rerun_of: int | None = Field(default=None, description="The batch this one reruns.")
    engine: str | None = Field(description="embedded or spark.")
    status: RunStatus
    requested_by: str | None = Field(default=None, description="The user who asked for it.")
    databricks_run_id: str | None = Field(default=None, description="The job run carrying it, if any.")
    rows_in: int | None = Field(description="Rows the batch read; null when unknown.")
    rows_out: int | None = Field(description="Rows the batch wrote; GET /runs/{batch_id} has them per zone.")
    error: str | None = Field(description="Why it failed, or what it waits for while queued.")
    cancel_requested_at: datetime | None = Field(
        default=None, description="When cancel_run asked the batch to stop; it ends at its next table."
    )
    cancelled_by: str | None = Field(default=None, description="Who cancelled the batch.")
    created_at: datetime = Field(description="When it was requested.")
    started_at: datetime | None = Field(description="When it started; null while queued.")
    ended_at: datetime | None = Field(description="When it ended; null while queued or running.")


class RunsPage(ReadModel):
    items: list[BatchRow] = Field(description="Batches, newest first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


class StepRow(ReadModel):
    id: int
    batch_id: int
    step: str
    status: RunStatus
    rows_in: int | None
    rows_out: int | None
    details: dict[str, Any]
    error: str | None
    started_at: datetime
    ended_at: datetime | None


class DqResultRow(ReadModel):
    rule_name: str
    table_name: str
    expression: str
    action: RuleAction
    rows_checked: int
    rows_passed: int
    rows_failed: int
    status: Literal["passed", "failed"]
    created_at: datetime


class TableRow(ReadModel):
    id: int
    batch_id: int
    source_name: str | None
    table_name: str
    status: RunStatus
    rows_in: int | None
    rows_out: int | None
    rows_rejected: int | None
    bytes: int | None
    delta_version: int | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    steps: list[StepRow]
    dq_results: list[DqResultRow]


class ZoneRow(ReadModel):
    id: int
    batch_id: int
    zone: Literal["raw", "bronze", "silver", "gold"]
    status: RunStatus
    rows_in: int | None
    rows_out: int | None
    bytes: int | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    tables: list[TableRow]


class RunError(ReadModel):
    level: Literal["batch", "zone", "table", "step"]
    where: str
    error: str


class BatchDetail(BatchRow):
    """One batch: zones → tables → steps, the DQ results and every error with where it happened."""

    zones: list[ZoneRow]
    steps: list[StepRow] = Field(description="Batch-level steps, outside any table.")
    dq_results: list[DqResultRow]
    errors: list[RunError]


# -- config ----------------------------------------------------------------------------------
class SourceSummary(ReadModel):
    name: str
    group: str
    system: str | None
    description: str | None
    format: str
    location: str
    load_mode: str
    watermark_column: str | None
    enabled: bool
    revision: int
    created_at: datetime
    updated_at: datetime


class DqTrendPoint(ReadModel):
    batch_id: int
    status: Literal["passed", "failed"]
    rows_checked: int
    rows_failed: int
    created_at: datetime


class DqRuleRow(ReadModel):
    """A rule; ``/dq-rules`` adds its source, recent outcomes (newest first) and pass/fail counts."""

    name: str
    source: str | None = None
    expression: str
    action: RuleAction
    description: str | None
    enabled: bool
    revision: int
    updated_at: datetime
    trend: list[DqTrendPoint] | None = None
    passed: int | None = None
    failed: int | None = None


class RevisionRow(ReadModel):
    revision: int
    entity_type: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    command_id: UUID | None
    actor: str
    created_at: datetime


class GoldRow(ReadModel):
    name: str
    target_table: str
    sql: str
    description: str | None
    revision: int
    updated_at: datetime


class ScheduleRef(ReadModel):
    quartz_cron: str
    timezone: str
    paused: bool


class SourceRunRow(BatchRow):
    """A batch on a source's page, with what this source wrote in it."""

    source_rows_out: int | None = Field(
        description="Rows this source wrote in the batch: its Silver table's rows out, or its Bronze "
        "table's when Silver wrote none (see source_rows_zone); null when neither did."
    )
    source_rows_zone: Literal["silver", "bronze"] | None = Field(
        description="The zone source_rows_out was counted in."
    )


class FilesLoaded(ReadModel):
    """What the file ledger (``lakeforge_log.file_ledger``) holds for a source read by the files
    extractor: an incremental one loads only files no successful batch loaded before."""

    files: int = Field(description="Files loaded by the source's batches so far.")
    bytes: int | None = Field(description="Their total size; null when no file is loaded yet.")
    newest_path: str | None = Field(description="The newest file: of the highest batch, modified last.")
    newest_batch_id: int | None = Field(description="The batch that loaded the newest file.")
    newest_loaded_at: datetime | None = Field(description="When that batch recorded the file.")


class SourceDetail(SourceSummary):
    """A source with its zone configs, the group's gold, rules, schedule, runs and revisions."""

    format_options: dict[str, Any]
    schema_ddl: str | None
    extractor: str | None
    raw: dict[str, Any] | None
    bronze: dict[str, Any] | None
    silver: dict[str, Any] | None
    gold: list[GoldRow]
    dq_rules: list[DqRuleRow]
    watermark: dict[str, Any] | None
    files: FilesLoaded | None = Field(
        description="For a source read by the files extractor (csv, json, parquet): the files its "
        "batches loaded; null for other sources."
    )
    schedule: ScheduleRef | None
    last_runs: list[SourceRunRow]
    revisions: list[RevisionRow]


class GroupRow(ReadModel):
    name: str
    description: str | None
    owner: str | None
    catalog: str
    engine: str
    max_concurrent_runs: int
    timeout_seconds: int
    max_retries: int
    revision: int
    compute_profile: str
    channel: str | None
    quartz_cron: str | None
    timezone: str | None
    paused: bool | None
    source_count: int
    last_batch_id: int | None
    last_status: RunStatus | None
    last_ended_at: datetime | None


class ScheduleRow(ReadModel):
    group: str
    quartz_cron: str
    timezone: str
    paused: bool
    updated_at: datetime
    description: str
    next_fire_times: list[datetime] = Field(description="Empty while paused.")


# -- control ---------------------------------------------------------------------------------
class ComputeProfileRow(ReadModel):
    """A compute profile: the cluster (or single node) a group's job runs on."""

    name: str
    kind: ComputeKind
    spark_version: str | None
    node_type_id: str | None
    num_workers: int
    autoscale_min_workers: int | None
    autoscale_max_workers: int | None
    policy_id: str | None
    runtime_engine: Literal["STANDARD", "PHOTON"] | None = Field(
        description="Null for the workspace default."
    )
    data_security_mode: str | None
    spark_conf: dict[str, Any]
    custom_tags: dict[str, Any]
    description: str | None
    created_at: datetime
    updated_at: datetime


class ChannelRow(ReadModel):
    """A notification channel and the groups that post their run results to it."""

    name: str
    kind: Literal["slack", "webhook"]
    slack_channel_id: str | None
    webhook_url: str | None = Field(description="A secret reference (never the URL itself).")
    muted_until: datetime | None
    created_at: datetime
    groups: list[str] = Field(description="Names of the groups posting to this channel.")


class AuditRow(ReadModel):
    command_id: UUID
    idempotency_key: str | None
    actor: str
    surface: str
    channel: str | None
    raw_text: str | None
    kind: str
    intent: dict[str, Any]
    plan: list[dict[str, Any]] | None
    outcome: Literal["applied", "planned", "needs_confirmation", "rejected", "failed"]
    message: str | None
    duration_ms: float | None
    created_at: datetime


class AuditPage(ReadModel):
    items: list[AuditRow] = Field(description="Commands, newest first.")
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last (as on /runs)."
    )
    next_before: datetime | None = Field(
        description="The same position as a time, for ?before= (kept for older clients); null on the last."
    )
