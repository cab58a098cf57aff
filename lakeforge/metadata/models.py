"""Rows of the metadata store as typed values (one Pydantic model per table).

Field names match the column names, so ``Model.model_validate(row)`` reads a row and
``model.model_dump()`` feeds an INSERT. Ids and timestamps are filled in by Postgres.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

SourceFormat = Literal["csv", "json", "parquet", "delta", "jdbc", "rest"]
LoadMode = Literal["full", "incremental"]
SchemaEvolution = Literal["evolve", "freeze", "rescue"]
DqAction = Literal["warn", "drop", "fail", "quarantine"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "skipped"]
Zone = Literal["raw", "bronze", "silver", "gold"]
Role = Literal["viewer", "operator", "editor", "admin"]
Surface = Literal["slack", "web", "cli", "api", "yaml", "system"]
EngineChoice = Literal["auto", "embedded", "spark"]
ComputeKind = Literal["single_node", "job_cluster", "serverless"]


class Row(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="ignore")


# -- config ------------------------------------------------------------------------------
class ComputeProfile(Row):
    id: int | None = None
    name: str
    kind: ComputeKind = "single_node"
    spark_version: str | None = None
    node_type_id: str | None = None
    num_workers: int = 0
    autoscale_min_workers: int | None = None
    autoscale_max_workers: int | None = None
    policy_id: str | None = None
    runtime_engine: Literal["STANDARD", "PHOTON"] | None = None
    data_security_mode: str | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    custom_tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class NotificationChannel(Row):
    id: int | None = None
    name: str
    kind: Literal["slack", "webhook"]
    slack_channel_id: str | None = None
    webhook_url: str | None = None
    muted_until: datetime | None = None
    created_at: datetime | None = None


class SourceSystem(Row):
    id: int | None = None
    name: str
    kind: Literal["files", "database", "api", "lakehouse"] = "files"
    description: str | None = None
    owner: str | None = None
    connection: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SourceGroup(Row):
    id: int | None = None
    name: str
    description: str | None = None
    owner: str | None = None
    compute_profile_id: int
    notification_channel_id: int | None = None
    catalog: str = "main"
    engine: EngineChoice = "auto"
    max_concurrent_runs: int = 1
    timeout_seconds: int = 0
    max_retries: int = 1
    revision: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Schedule(Row):
    id: int | None = None
    source_group_id: int
    quartz_cron: str
    timezone: str = "UTC"
    paused: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Source(Row):
    id: int | None = None
    name: str
    source_group_id: int
    source_system_id: int | None = None
    description: str | None = None
    format: SourceFormat
    location: str
    format_options: dict[str, Any] = Field(default_factory=dict)
    load_mode: LoadMode = "full"
    watermark_column: str | None = None
    schema_ddl: str | None = None
    extractor: str | None = None
    enabled: bool = True
    revision: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RawConfig(Row):
    source_id: int
    landing_path: str | None = None
    retention_days: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class BronzeConfig(Row):
    source_id: int
    target_table: str
    schema_evolution: SchemaEvolution = "evolve"
    options: dict[str, Any] = Field(default_factory=dict)


class SilverConfig(Row):
    source_id: int
    target_table: str
    primary_keys: list[str] = Field(default_factory=list)
    scd_type: Literal[1, 2] = 1
    sequence_by: str | None = None
    dedupe: bool = True
    select_expressions: list[str] = Field(default_factory=list)
    where_clause: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class GoldConfig(Row):
    id: int | None = None
    source_group_id: int
    name: str
    target_table: str
    sql: str
    description: str | None = None
    revision: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DqRule(Row):
    id: int | None = None
    source_id: int
    name: str
    expression: str
    action: DqAction = "warn"
    description: str | None = None
    enabled: bool = True
    revision: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WatermarkState(Row):
    source_id: int
    watermark_column: str | None = None
    high_value: str | None = None
    value_type: str | None = None
    cursor: dict[str, Any] | None = None
    batch_id: int | None = None
    updated_at: datetime | None = None


# -- control -----------------------------------------------------------------------------
class ManagedResource(Row):
    id: int | None = None
    resource_type: Literal["job", "pipeline"]
    lakeforge_key: str
    databricks_id: str | None = None
    spec_hash: str | None = None
    spec: dict[str, Any] | None = None
    state: Literal["active", "paused", "pending_delete", "deleted"] = "active"
    paused_at: datetime | None = None
    delete_after: datetime | None = None
    last_synced_at: datetime | None = None
    last_error: str | None = None


class AppUser(Row):
    id: int | None = None
    name: str
    display_name: str | None = None
    email: str | None = None
    slack_user_id: str | None = None
    disabled: bool = False
    created_at: datetime | None = None


class RoleBinding(Row):
    id: int | None = None
    user_id: int
    role: Role
    source_group_id: int | None = None
    created_at: datetime | None = None


class ApiToken(Row):
    id: int | None = None
    user_id: int
    token_hash: str
    token_prefix: str
    name: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class CommandAudit(Row):
    id: UUID
    idempotency_key: str | None = None
    actor: str
    surface: Surface
    channel: str | None = None
    raw_text: str | None = None
    kind: str
    intent: dict[str, Any]
    plan: Any = None
    outcome: Literal["applied", "planned", "needs_confirmation", "rejected", "failed"]
    message: str | None = None
    response: dict[str, Any] | None = None
    duration_ms: float | None = None
    created_at: datetime | None = None


class MetadataRevision(Row):
    id: int | None = None
    entity_type: str
    entity_key: str
    revision: int
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    command_id: UUID | None = None
    actor: str
    created_at: datetime | None = None


# -- run log -----------------------------------------------------------------------------
class BatchRun(Row):
    batch_id: int | None = None
    source_group_id: int | None = None
    group_name: str
    source_name: str | None = None
    trigger: Literal["schedule", "manual", "rerun", "api"] = "manual"
    rerun_of: int | None = None
    engine: Literal["embedded", "spark"] | None = None
    status: RunStatus = "queued"
    requested_by: str | None = None
    databricks_run_id: str | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    error: str | None = None
    cancel_requested_at: datetime | None = None
    cancelled_by: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class ZoneRun(Row):
    id: int | None = None
    batch_id: int
    zone: Zone
    status: RunStatus = "running"
    rows_in: int | None = None
    rows_out: int | None = None
    bytes: int | None = None
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class TableRun(Row):
    id: int | None = None
    batch_id: int
    zone_run_id: int
    source_name: str | None = None
    table_name: str
    status: RunStatus = "running"
    rows_in: int | None = None
    rows_out: int | None = None
    rows_rejected: int | None = None
    bytes: int | None = None
    delta_version: int | None = None
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class StepRun(Row):
    id: int | None = None
    batch_id: int
    table_run_id: int | None = None
    step: str
    status: RunStatus = "running"
    rows_in: int | None = None
    rows_out: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class DqRun(Row):
    id: int | None = None
    batch_id: int
    table_run_id: int | None = None
    rule_id: int | None = None
    rule_name: str
    table_name: str
    expression: str
    action: DqAction
    rows_checked: int
    rows_passed: int
    rows_failed: int
    status: Literal["passed", "failed"]
    created_at: datetime | None = None
