"""The command layer's vocabulary: one Pydantic model per intent, a union discriminated on ``kind``.

Slack, the panel, the CLI, YAML files and REST clients all send these same shapes.
Unknown fields are refused, names are slugs, SQL is checked, credentials are references.

>>> intent = parse_intent({"kind": "pause_schedule", "group": "retail"})
>>> intent.group
'retail'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lakeforge import suggest
from lakeforge.commands.envelope import FieldError
from lakeforge.commands.secrets import SECRET_REF, inline_secret_in_text, inline_secrets_in_options
from lakeforge.commands.sql_expressions import check_expression, check_query
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.models import DqAction, LoadMode, SchemaEvolution, SourceFormat, Zone
from lakeforge.orchestration import quartz
from lakeforge.runtime.extractors import lookback

SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
COLUMN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$"
CATALOG_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,254}$"
SLACK_CHANNEL_PATTERN = r"^[CGD][A-Z0-9]{5,20}$"
Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_PATTERN),
    Field(
        description="Lower-case letters, digits and underscores, starting with a letter (e.g. sales_orders)."
    ),
]
ColumnName = Annotated[str, StringConstraints(pattern=COLUMN_PATTERN)]
TableName = Annotated[
    str,
    StringConstraints(pattern=TABLE_PATTERN),
    Field(description="catalog.schema.table (or schema.table, or table)."),
]
SecretRef = Annotated[str, StringConstraints(pattern=SECRET_REF.pattern)]
OptionValue = str | int | FiniteFloat | bool
Description = Annotated[str, StringConstraints(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _teach(error: LakeForgeError) -> PydanticCustomError:
    """A LakeForge error inside a validator: keeps its field and fix for ``field_errors``."""
    return PydanticCustomError(
        "lakeforge",
        "{message}",
        {"message": error.message, "field": error.field or "", "fix": error.fix or ""},
    )


_SECRET_FIX = "Store the value in a secret scope and write a reference such as {{secrets/scope/key}}."  # noqa: S105


def _no_inline_secrets(options: dict[str, Any], field: str) -> None:
    bad = inline_secrets_in_options(options)
    if bad:
        # The message says what is wrong and the fix how to mend it, each once.
        message = "holds a credential value, not a secret reference"
        raise _teach(LakeForgeError(message, field=f"{field}.{bad[0]}", fix=_SECRET_FIX))


def _no_secret_in_location(location: str) -> None:
    reason = inline_secret_in_text(location)
    if reason:
        fix = (
            "Take the credential out of the location and pass it as an option holding a secret "
            "reference, e.g. format_options.password: '{{secrets/scope/key}}'."
        )
        raise _teach(LakeForgeError(reason, field="location", fix=fix))


# -- parts -------------------------------------------------------------------------------------
class ScheduleSpec(_Strict):
    """A Quartz schedule for a group's job."""

    quartz_cron: str = Field(
        description="Quartz: 'second minute hour day-of-month month day-of-week [year]'."
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone. Left out of a change to an existing schedule, the group keeps its own.",
    )
    paused: bool = False

    @model_validator(mode="after")
    def _valid_cron(self) -> ScheduleSpec:
        try:
            quartz.validate(self.quartz_cron, self.timezone)
            quartz.check_fires_again(self.quartz_cron, self.timezone)
        except LakeForgeError as error:
            raise _teach(error) from None
        return self


class _ZoneSpec(_Strict):
    """A zone's section of a source: its ``options`` (declared last by each section, where
    readers find them) obey the credential rule of ``format_options``: a password written there
    would be stored, and shown in every plan."""

    @model_validator(mode="after")
    def _no_secrets(self) -> _ZoneSpec:
        _no_inline_secrets(getattr(self, "options", {}), "options")
        return self


class RawSpec(_ZoneSpec):
    landing_path: str | None = Field(default=None, description="Where raw files land; derived when empty.")
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    options: dict[str, OptionValue] = Field(default_factory=dict)


class BronzeSpec(_ZoneSpec):
    target_table: TableName | None = Field(
        default=None, description="Default <catalog>.<group>_bronze.<source>."
    )
    schema_evolution: SchemaEvolution = "evolve"
    options: dict[str, OptionValue] = Field(default_factory=dict)


class SilverSpec(_ZoneSpec):
    target_table: TableName | None = Field(
        default=None, description="Default <catalog>.<group>_silver.<source>."
    )
    primary_keys: list[ColumnName] = Field(default_factory=list, max_length=32)
    scd_type: Literal[1, 2] = 1
    sequence_by: ColumnName | None = None
    dedupe: bool = True
    select_expressions: list[str] = Field(default_factory=list, max_length=500)
    where: str | None = Field(default=None, description="Spark SQL filter applied on the way to silver.")
    options: dict[str, OptionValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid_sql(self) -> SilverSpec:
        for index, text in enumerate(self.select_expressions):
            try:
                check_expression(text, kind="scalar", field=f"select_expressions.{index}")
            except LakeForgeError as error:
                raise _teach(error) from None
        if self.where is not None:
            try:
                check_expression(self.where, kind="predicate", field="where")
            except LakeForgeError as error:
                raise _teach(error) from None
        return self


class RuleSpec(_Strict):
    """A data-quality rule: a Spark SQL condition every row should meet, and what to do if not."""

    name: Slug
    expression: str = Field(max_length=4000, description="Spark SQL condition, e.g. amount >= 0.")
    action: DqAction = "warn"
    description: Description | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _valid_sql(self) -> RuleSpec:
        try:
            check_expression(self.expression, kind="predicate")
        except LakeForgeError as error:
            raise _teach(error) from None
        return self


class GoldSpec(_Strict):
    name: Slug
    sql: str = Field(max_length=20000, description="One Spark SQL SELECT over silver tables.")
    target_table: TableName | None = Field(default=None, description="Default <catalog>.<group>_gold.<name>.")
    description: Description | None = None

    @model_validator(mode="after")
    def _valid_sql(self) -> GoldSpec:
        try:
            check_query(self.sql)
        except LakeForgeError as error:
            raise _teach(error) from None
        return self


# -- intents -----------------------------------------------------------------------------------
class IntentBase(_Strict):
    """Common behaviour; subclasses declare how dangerous they are and show an example."""

    destructive: ClassVar[bool] = False
    read_only: ClassVar[bool] = False
    example: ClassVar[dict[str, Any]] = {}


class _SourceFields(_Strict):
    system: Slug | None = None
    description: Description | None = None
    format: SourceFormat
    location: str = Field(
        min_length=1,
        max_length=4000,
        description="Path, volume, cloud URI, table name, JDBC URL or REST endpoint.",
    )
    format_options: dict[str, OptionValue] = Field(default_factory=dict)
    load_mode: LoadMode = "full"
    watermark_column: ColumnName | None = None
    schema_ddl: str | None = Field(default=None, max_length=20000, description="e.g. 'id INT, name STRING'.")
    enabled: bool = True
    raw: RawSpec = Field(default_factory=RawSpec)
    bronze: BronzeSpec = Field(default_factory=BronzeSpec)
    silver: SilverSpec = Field(default_factory=SilverSpec)
    dq_rules: list[RuleSpec] = Field(default_factory=list, max_length=200)


def check_source_shape(values: dict[str, Any]) -> None:
    """Rules across fields of a source (shared by register and update): raises ValueError."""
    fmt, location = values.get("format"), values.get("location")
    if isinstance(location, str) and fmt:
        _no_secret_in_location(location)
        if fmt == "jdbc" and not location.startswith("jdbc:"):
            raise ValueError(
                "location: a jdbc source needs a JDBC URL such as jdbc:postgresql://host:5432/db"
            )
        options = values.get("format_options") or {}
        if fmt == "jdbc" and not (options.get("dbtable") or options.get("query")):
            # Spark's JDBC reader and LakeForge's extractor both read the table from these options.
            raise ValueError(
                "format_options.dbtable: a jdbc source needs the table to read: set dbtable to "
                "schema.table, or query to a SELECT"
            )
        if fmt == "rest" and not location.startswith(("https://", "http://")):
            raise ValueError("location: a rest source needs an http(s):// endpoint")
    _no_inline_secrets(values.get("format_options") or {}, "format_options")
    if (
        values.get("load_mode") == "incremental"
        and fmt in ("jdbc", "rest", "delta")
        and not values.get("watermark_column")
    ):
        raise ValueError(
            "watermark_column: incremental loads of jdbc, rest and delta sources need a watermark column"
        )
    if values.get("load_mode", "full") == "full" and values.get("watermark_column"):
        # A full load re-reads everything, so a watermark would be kept but never used.
        raise ValueError(
            "watermark_column: only incremental loads read a watermark; set load_mode to "
            "incremental, or leave watermark_column out"
        )
    _check_lookback(values)
    silver = values.get("silver") or {}
    if silver.get("scd_type") == 2 and not silver.get("primary_keys"):
        raise ValueError("silver.primary_keys: SCD type 2 needs at least one primary key")
    if silver.get("scd_type") == 2 and not silver.get("sequence_by"):
        raise ValueError(
            "silver.sequence_by: SCD type 2 needs a column that orders changes (e.g. updated_at)"
        )
    ddl = values.get("schema_ddl")
    if ddl:
        check_schema_ddl(ddl)
    names = [rule.get("name") for rule in values.get("dq_rules") or []]
    if len(names) != len(set(names)):
        raise ValueError("dq_rules: two rules have the same name")


def _check_lookback(values: dict[str, Any]) -> None:
    options = values.get("format_options") or {}
    if lookback.OPTION not in options:
        return
    if values.get("format") not in ("jdbc", "rest") or values.get("load_mode") != "incremental":
        raise _teach(
            LakeForgeError(
                "only incremental jdbc and rest sources read a watermark look-back",
                field=lookback.FIELD,
                fix="Remove the option, or set load_mode to incremental with a watermark_column.",
            )
        )
    try:
        lookback.parse(options[lookback.OPTION])
    except LakeForgeError as error:
        raise _teach(error) from None


def check_schema_ddl(ddl: str) -> None:
    import sqlglot

    try:
        tree = sqlglot.parse_one(f"CREATE TABLE t ({ddl})", read="spark")
    except Exception:
        raise ValueError("schema_ddl: is not a Spark column list such as 'id INT, name STRING'") from None
    if ";" in ddl or tree is None or not tree.find(sqlglot.exp.ColumnDef):
        raise ValueError("schema_ddl: is not a Spark column list such as 'id INT, name STRING'")


class RegisterSource(IntentBase, _SourceFields):
    """Register a new source: where it comes from, how to read it, and how it flows to silver."""

    kind: Literal["register_source"] = "register_source"
    name: Slug
    group: Slug
    schedule: ScheduleSpec | None = Field(default=None, description="Sets the group's schedule too.")
    example: ClassVar[dict[str, Any]] = {
        "kind": "register_source",
        "name": "orders",
        "group": "retail",
        "format": "csv",
        "location": "/Volumes/main/landing/retail/orders/",
        "format_options": {"header": True},
        "silver": {"primary_keys": ["order_id"]},
    }

    @model_validator(mode="after")
    def _shape(self) -> RegisterSource:
        check_source_shape(self.model_dump())
        return self


class UpdateSource(IntentBase):
    """Change some fields of a source; fields left out keep their value (sections merge field by field)."""

    kind: Literal["update_source"] = "update_source"
    name: Slug
    expected_revision: int | None = Field(
        default=None, ge=1, description="Refuse if the source changed since."
    )
    group: Slug | None = None
    system: Slug | None = None
    description: Description | None = None
    format: SourceFormat | None = None
    location: str | None = Field(default=None, min_length=1, max_length=4000)
    format_options: dict[str, OptionValue] | None = None
    load_mode: LoadMode | None = None
    watermark_column: ColumnName | None = None
    schema_ddl: str | None = Field(default=None, max_length=20000)
    enabled: bool | None = None
    raw: RawSpec | None = None
    bronze: BronzeSpec | None = None
    silver: SilverSpec | None = None
    dq_rules: list[RuleSpec] | None = Field(default=None, description="When given, replaces all rules.")
    example: ClassVar[dict[str, Any]] = {
        "kind": "update_source",
        "name": "orders",
        "location": "/Volumes/main/landing/retail/orders_v2/",
    }

    @model_validator(mode="after")
    def _something(self) -> UpdateSource:
        if not self.model_fields_set - {"kind", "name", "expected_revision"}:
            raise ValueError("nothing to change: give at least one field to update")
        if self.location is not None:
            _no_secret_in_location(self.location)
        if self.format_options:
            _no_inline_secrets(self.format_options, "format_options")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the caller set, nested sections only with their set fields."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set - {"kind", "name", "expected_revision"}:
            value = getattr(self, name)
            if isinstance(value, BaseModel):
                out[name] = value.model_dump(include=value.model_fields_set, mode="json")
            elif name == "dq_rules" and value is not None:
                out[name] = [rule.model_dump(mode="json") for rule in value]
            else:
                out[name] = value
        return out


class RemoveSource(IntentBase):
    """Remove a source with its configs and rules (its run history stays). Needs confirmation."""

    kind: Literal["remove_source"] = "remove_source"
    name: Slug
    expected_revision: int | None = Field(default=None, ge=1, le=2**31 - 1)
    destructive: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "remove_source", "name": "orders"}


class _GroupFields(_Strict):
    description: Description | None = None
    owner: str | None = Field(default=None, max_length=200)
    compute_profile: Slug = "single_node"
    catalog: Annotated[str, StringConstraints(pattern=CATALOG_PATTERN)] = "main"
    engine: Literal["auto", "embedded", "spark"] = "auto"
    max_concurrent_runs: int = Field(default=1, ge=1, le=1000)
    timeout_seconds: int = Field(default=0, ge=0, le=7 * 24 * 3600)
    max_retries: int = Field(default=1, ge=0, le=10)
    schedule: ScheduleSpec | None = None
    channel: Slug | None = Field(default=None, description="Name of a notification channel.")
    gold: list[GoldSpec] = Field(default_factory=list, max_length=200)


class CreateGroup(IntentBase, _GroupFields):
    """Create a source group: one Databricks job with its schedule, compute profile and channel."""

    kind: Literal["create_group"] = "create_group"
    name: Slug
    example: ClassVar[dict[str, Any]] = {
        "kind": "create_group",
        "name": "retail",
        "schedule": {"quartz_cron": "0 0 2 * * ?", "timezone": "Europe/Paris"},
    }


class UpdateGroup(IntentBase):
    """Change some settings of a group; fields left out keep their value. ``gold`` replaces all."""

    kind: Literal["update_group"] = "update_group"
    name: Slug
    expected_revision: int | None = Field(default=None, ge=1, le=2**31 - 1)
    description: Description | None = None
    owner: str | None = Field(default=None, max_length=200)
    compute_profile: Slug | None = None
    catalog: Annotated[str, StringConstraints(pattern=CATALOG_PATTERN)] | None = None
    engine: Literal["auto", "embedded", "spark"] | None = None
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=1000)
    timeout_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    schedule: ScheduleSpec | None = None
    channel: Slug | None = None
    gold: list[GoldSpec] | None = None
    example: ClassVar[dict[str, Any]] = {"kind": "update_group", "name": "retail", "max_retries": 2}

    @model_validator(mode="after")
    def _something(self) -> UpdateGroup:
        if not self.model_fields_set - {"kind", "name", "expected_revision"}:
            raise ValueError("nothing to change: give at least one field to update")
        return self

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.model_fields_set - {"kind", "name", "expected_revision"}:
            value = getattr(self, name)
            if isinstance(value, BaseModel):
                value = value.model_dump(mode="json")
            elif name == "gold" and value is not None:
                value = [item.model_dump(mode="json") for item in value]
            out[name] = value
        return out


class SetSchedule(IntentBase, ScheduleSpec):
    """Set (or replace) the Quartz schedule of a group."""

    kind: Literal["set_schedule"] = "set_schedule"
    group: Slug
    example: ClassVar[dict[str, Any]] = {
        "kind": "set_schedule",
        "group": "retail",
        "quartz_cron": "0 30 6 ? * MON-FRI",
        "timezone": "Europe/Paris",
    }


class PauseSchedule(IntentBase):
    """Pause a group's schedule (manual runs still work)."""

    kind: Literal["pause_schedule"] = "pause_schedule"
    group: Slug
    example: ClassVar[dict[str, Any]] = {"kind": "pause_schedule", "group": "retail"}


class ResumeSchedule(IntentBase):
    """Resume a paused schedule."""

    kind: Literal["resume_schedule"] = "resume_schedule"
    group: Slug
    example: ClassVar[dict[str, Any]] = {"kind": "resume_schedule", "group": "retail"}


class AddDqRule(IntentBase, RuleSpec):
    """Add a data-quality rule to a source."""

    kind: Literal["add_dq_rule"] = "add_dq_rule"
    source: Slug
    example: ClassVar[dict[str, Any]] = {
        "kind": "add_dq_rule",
        "source": "orders",
        "name": "amount_positive",
        "expression": "amount > 0",
        "action": "drop",
    }


class UpdateDqRule(IntentBase):
    """Change a rule's expression, action, description or enabled flag."""

    kind: Literal["update_dq_rule"] = "update_dq_rule"
    source: Slug
    name: Slug
    expression: str | None = Field(default=None, max_length=4000)
    action: DqAction | None = None
    description: Description | None = None
    enabled: bool | None = None
    expected_revision: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The rule's revision."
    )
    example: ClassVar[dict[str, Any]] = {
        "kind": "update_dq_rule",
        "source": "orders",
        "name": "amount_positive",
        "action": "fail",
    }

    @model_validator(mode="after")
    def _valid(self) -> UpdateDqRule:
        if not self.model_fields_set - {"kind", "name", "source", "expected_revision"}:
            raise ValueError("nothing to change: give expression, action, description or enabled")
        if self.expression is not None:
            try:
                check_expression(self.expression, kind="predicate")
            except LakeForgeError as error:
                raise _teach(error) from None
        return self


class RemoveDqRule(IntentBase):
    """Remove a rule from a source. Needs confirmation."""

    kind: Literal["remove_dq_rule"] = "remove_dq_rule"
    source: Slug
    name: Slug
    destructive: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {
        "kind": "remove_dq_rule",
        "source": "orders",
        "name": "amount_positive",
    }


class RunNow(IntentBase):
    """Queue a manual batch of a whole group, or of one source."""

    kind: Literal["run_now"] = "run_now"
    group: Slug | None = None
    source: Slug | None = None
    zones: list[Zone] | None = None
    engine: Literal["embedded", "spark"] | None = None
    example: ClassVar[dict[str, Any]] = {"kind": "run_now", "group": "retail"}

    @model_validator(mode="after")
    def _target(self) -> RunNow:
        if not self.group and not self.source:
            raise ValueError("group: name a group or a source to run")
        return self


class RerunBatch(IntentBase):
    """Run a finished batch again (same group and source), linked to it by rerun_of."""

    kind: Literal["rerun_batch"] = "rerun_batch"
    batch_id: int = Field(ge=1, le=2**63 - 1)
    zones: list[Zone] | None = None
    example: ClassVar[dict[str, Any]] = {"kind": "rerun_batch", "batch_id": 42}


class CancelRun(IntentBase):
    """Stop a queued or running batch; it ends cancelled after the table it is writing."""

    kind: Literal["cancel_run"] = "cancel_run"
    batch_id: int = Field(ge=1, le=2**63 - 1)
    example: ClassVar[dict[str, Any]] = {"kind": "cancel_run", "batch_id": 42}


class SyncJobs(IntentBase):
    """Bring Databricks jobs and pipelines in line with the metadata (or only show the plan)."""

    kind: Literal["sync_jobs"] = "sync_jobs"
    mode: Literal["apply", "plan"] = "apply"
    example: ClassVar[dict[str, Any]] = {"kind": "sync_jobs"}


class SubscribeChannel(IntentBase):
    """Send a group's run results to a Slack channel or a webhook."""

    kind: Literal["subscribe_channel"] = "subscribe_channel"
    group: Slug
    slack_channel_id: Annotated[str, StringConstraints(pattern=SLACK_CHANNEL_PATTERN)] | None = None
    webhook_url: SecretRef | None = Field(default=None, description="A secret reference holding the URL.")
    name: Slug | None = Field(default=None, description="Channel name in LakeForge; derived when empty.")
    example: ClassVar[dict[str, Any]] = {
        "kind": "subscribe_channel",
        "group": "retail",
        "slack_channel_id": "C0123ABCD",
    }

    @model_validator(mode="after")
    def _one_target(self) -> SubscribeChannel:
        if (self.slack_channel_id is None) == (self.webhook_url is None):
            raise ValueError("slack_channel_id: give exactly one of slack_channel_id or webhook_url")
        return self


EntityType = Literal["source", "group", "system", "compute_profile", "channel"]


class RestoreRevision(IntentBase):
    """Put an entity back as it was at a revision (see ``lakeforge history``). Needs confirmation."""

    kind: Literal["restore_revision"] = "restore_revision"
    entity: EntityType = "source"
    name: Slug
    revision: int = Field(ge=1, le=2**31 - 1)
    destructive: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {
        "kind": "restore_revision",
        "entity": "source",
        "name": "orders",
        "revision": 2,
    }


class UpsertSystem(IntentBase):
    """Create or replace a source system (where sources come from, connection options)."""

    kind: Literal["upsert_system"] = "upsert_system"
    name: Slug
    system_kind: Literal["files", "database", "api", "lakehouse"] = "files"
    description: Description | None = None
    owner: str | None = Field(default=None, max_length=200)
    connection: dict[str, OptionValue] = Field(default_factory=dict)
    example: ClassVar[dict[str, Any]] = {"kind": "upsert_system", "name": "shop", "system_kind": "files"}

    @model_validator(mode="after")
    def _no_secrets(self) -> UpsertSystem:
        _no_inline_secrets(self.connection, "connection")
        return self


class UpsertComputeProfile(IntentBase):
    """Create or replace a compute profile (admin only)."""

    kind: Literal["upsert_compute_profile"] = "upsert_compute_profile"
    name: Slug
    profile_kind: Literal["single_node", "job_cluster", "serverless"] = "single_node"
    spark_version: str | None = Field(default=None, max_length=100)
    node_type_id: str | None = Field(default=None, max_length=100)
    num_workers: int = Field(default=0, ge=0, le=1000)
    autoscale_min_workers: int | None = Field(default=None, ge=0, le=1000)
    autoscale_max_workers: int | None = Field(default=None, ge=0, le=1000)
    policy_id: str | None = Field(default=None, max_length=100)
    runtime_engine: Literal["STANDARD", "PHOTON"] | None = None
    data_security_mode: str | None = Field(default=None, max_length=100)
    spark_conf: dict[str, str] = Field(default_factory=dict)
    custom_tags: dict[str, str] = Field(default_factory=dict)
    description: Description | None = None
    example: ClassVar[dict[str, Any]] = {
        "kind": "upsert_compute_profile",
        "name": "small_cluster",
        "profile_kind": "job_cluster",
        "num_workers": 2,
        "node_type_id": "Standard_D4ds_v5",
    }

    @model_validator(mode="after")
    def _shape(self) -> UpsertComputeProfile:
        if self.profile_kind == "single_node" and self.num_workers:
            raise ValueError("num_workers: a single_node profile has 0 workers")
        if self.autoscale_max_workers is not None and self.autoscale_max_workers < (
            self.autoscale_min_workers or 0
        ):
            raise ValueError("autoscale_max_workers: must be at least autoscale_min_workers")
        _no_inline_secrets(dict(self.spark_conf), "spark_conf")
        return self


class UpsertGold(IntentBase, GoldSpec):
    """Create or replace a gold table definition of a group."""

    kind: Literal["upsert_gold"] = "upsert_gold"
    group: Slug
    example: ClassVar[dict[str, Any]] = {
        "kind": "upsert_gold",
        "group": "retail",
        "name": "daily_revenue",
        "sql": "SELECT order_date, sum(amount) AS revenue FROM main.retail_silver.orders GROUP BY order_date",
    }


class RemoveGold(IntentBase):
    """Remove a gold definition (the table itself is left in place). Needs confirmation."""

    kind: Literal["remove_gold"] = "remove_gold"
    group: Slug
    name: Slug
    destructive: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "remove_gold", "group": "retail", "name": "daily_revenue"}


class ShowSource(IntentBase):
    """Show a source with its configs, rules, group schedule and latest runs."""

    kind: Literal["show_source"] = "show_source"
    name: Slug
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "show_source", "name": "orders"}


class ShowGroup(IntentBase):
    """Show a group: its schedule (in words, with the next fire times), sources, gold tables and
    latest runs."""

    kind: Literal["show_group"] = "show_group"
    name: Slug
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "show_group", "name": "retail"}


class ListSources(IntentBase):
    """List the sources you may see (or one group's): name, group, format, load mode, enabled."""

    kind: Literal["list_sources"] = "list_sources"
    group: Slug | None = None
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "list_sources", "group": "retail"}


class ShowQuarantine(IntentBase):
    """Show a source's quarantined rows: how many its ``<silver>_quarantine`` table holds, per
    failed rule, and the newest few (credentials in values masked)."""

    kind: Literal["show_quarantine"] = "show_quarantine"
    source: Slug
    limit: int = Field(default=5, ge=1, le=100, description="Newest rows to show, newest batch first.")
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "show_quarantine", "source": "orders"}


class ListRuns(IntentBase):
    """List recent batches, newest first."""

    kind: Literal["list_runs"] = "list_runs"
    group: Slug | None = None
    source: Slug | None = None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "skipped"] | None = None
    since: AwareDatetime | None = Field(
        default=None, description="Only batches created at or after this time (ISO 8601 with a zone)."
    )
    limit: int = Field(default=20, ge=1, le=200)
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "list_runs", "group": "retail", "status": "failed"}


class ShowRun(IntentBase):
    """Show one batch with its zones, tables, steps and DQ results."""

    kind: Literal["show_run"] = "show_run"
    batch_id: int = Field(ge=1, le=2**63 - 1)
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "show_run", "batch_id": 42}


class Help(IntentBase):
    """List what you may ask, with an example each."""

    kind: Literal["help"] = "help"
    read_only: ClassVar[bool] = True
    example: ClassVar[dict[str, Any]] = {"kind": "help"}


INTENT_TYPES: tuple[type[IntentBase], ...] = (
    RegisterSource,
    UpdateSource,
    RemoveSource,
    CreateGroup,
    UpdateGroup,
    SetSchedule,
    PauseSchedule,
    ResumeSchedule,
    AddDqRule,
    UpdateDqRule,
    RemoveDqRule,
    RunNow,
    RerunBatch,
    CancelRun,
    SyncJobs,
    SubscribeChannel,
    RestoreRevision,
    UpsertSystem,
    UpsertComputeProfile,
    UpsertGold,
    RemoveGold,
    ShowSource,
    ShowGroup,
    ListSources,
    ShowQuarantine,
    ListRuns,
    ShowRun,
    Help,
)
INTENTS_BY_KIND: dict[str, type[IntentBase]] = {cls.model_fields["kind"].default: cls for cls in INTENT_TYPES}

Intent = Annotated[
    RegisterSource
    | UpdateSource
    | RemoveSource
    | CreateGroup
    | UpdateGroup
    | SetSchedule
    | PauseSchedule
    | ResumeSchedule
    | AddDqRule
    | UpdateDqRule
    | RemoveDqRule
    | RunNow
    | RerunBatch
    | CancelRun
    | SyncJobs
    | SubscribeChannel
    | RestoreRevision
    | UpsertSystem
    | UpsertComputeProfile
    | UpsertGold
    | RemoveGold
    | ShowSource
    | ShowGroup
    | ListSources
    | ShowQuarantine
    | ListRuns
    | ShowRun
    | Help,
    Field(discriminator="kind"),
]
IntentAdapter: TypeAdapter[Intent] = TypeAdapter(Intent)


def parse_intent(data: Any) -> Intent:
    """Validate a dict (or JSON string, or an intent) into an intent; raises ``ValidationError``."""
    if isinstance(data, IntentBase):
        return data  # type: ignore[return-value]
    if isinstance(data, str | bytes):
        return IntentAdapter.validate_json(data)
    return IntentAdapter.validate_python(data)


def intent_json_schema() -> dict[str, Any]:
    """The JSON Schema of the union (what the OpenAPI spec publishes)."""
    return IntentAdapter.json_schema()


def field_errors(error: ValidationError, prefix: str = "intent") -> list[FieldError]:
    """Pydantic's errors as ``FieldError``s that name the field and say how to fix it."""
    return [found for found, _ in typed_field_errors(error, prefix)]


# A value that may be one of several scalar types (OptionValue) fails once per member, each with
# the member's name appended to the path (format_options.header.str, .int, ...): one mistake,
# reported as one error at the real path.
_UNION_MEMBERS = {"str": "text", "int": "a number", "float": "a number", "bool": "true/false"}


def typed_field_errors(error: ValidationError, prefix: str = "intent") -> list[tuple[FieldError, str]]:
    """``field_errors`` with each error's pydantic type (``union`` for merged union members)."""
    out: list[tuple[FieldError, str]] = []
    members: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        # The discriminated union puts the kind in the path: intent.register_source.name → intent.name.
        if location and location[0] in INTENTS_BY_KIND:
            location = location[1:]
        message = str(item["msg"]).removeprefix("Value error, ")
        if len(location) > 1 and location[-1] in _UNION_MEMBERS:
            field = ".".join([prefix, *location[:-1]])
            if field not in members:
                members[field] = []
                out.append((FieldError(field=field, message=""), "union"))
            members[field].append(_UNION_MEMBERS[location[-1]])
            continue
        if item["type"] == "union_tag_not_found":
            # The intent has no kind: that field is the one to add.
            location, message = [*location, "kind"], "missing: every intent names its kind"
        field = ".".join([prefix, *location]) if location else prefix
        if item["type"] == "lakeforge":
            context = item.get("ctx") or {}
            path = [prefix, *location, *([context["field"]] if context.get("field") else [])]
            found = FieldError(field=".".join(path), message=message, fix=context.get("fix") or None)
            out.append((found, item["type"]))
            continue
        # Model validators name their field as "field: message": move it into the path.
        head, sep, rest = message.partition(": ")
        if sep and " " not in head and head.replace(".", "").replace("_", "").isalnum():
            field, message = ".".join([prefix, *location, head]), rest
        if item["type"] == "string_pattern_mismatch":
            # Pydantic shows the regex; a reader needs to hear what the value is not.
            message = pattern_message((item.get("ctx") or {}).get("pattern", ""), item.get("input"))
        elif item["type"] == "literal_error":
            # Pydantic lists the choices, which the fix lists too: say what was sent instead.
            message = f"{_written(item.get('input'))} is not one of the allowed values"
        elif item["type"] in _OUT_OF_BOUNDS:
            # Pydantic's "Input should be greater than or equal to 1" is what the fix says already.
            message = _OUT_OF_BOUNDS[item["type"]]
        out.append((FieldError(field=field, message=message, fix=_fix_for(item)), item["type"]))
    for found, kind in out:
        if kind == "union":
            kinds = list(dict.fromkeys(members[found.field]))
            found.message = (
                "should be " + (", ".join(kinds[:-1]) + " or " if len(kinds) > 1 else "") + kinds[-1]
            )
            found.fix = "Write one plain value (text, a number or true/false), not a list or a mapping."
    return out


# Each pattern says what it expects; one generic hint would tell a secret reference to be a slug.
_PATTERN_FIXES = {
    SLUG_PATTERN: "Use lower-case letters, digits and underscores, starting with a letter "
    "(e.g. sales_orders).",
    SECRET_REF.pattern: "Store the value in a Databricks secret scope and write "
    "'{{secrets/scope/key}}' instead.",
    COLUMN_PATTERN: "Use a plain column name: letters, digits and underscores, not starting with a digit.",
    TABLE_PATTERN: "Use catalog.schema.table (or schema.table, or table): letters, digits and underscores.",
    CATALOG_PATTERN: "Use letters, digits and underscores, not starting with a digit.",
    SLACK_CHANNEL_PATTERN: "Use the Slack channel id (e.g. C0123ABCD, in the channel details), not its name.",
}


def pattern_message(pattern: str, value: Any) -> str:
    """What a value that does not match one of the intents' patterns is not, in words: "'C123'
    is not a Slack channel id". The fixes (``_PATTERN_FIXES``) say what to write instead."""
    if pattern == SECRET_REF.pattern:
        # Never echoed: the value written where a reference belongs is likely the secret itself.
        return "is not a secret reference"
    shown = _shown(value)
    if pattern == SLUG_PATTERN:
        return f"{shown} is not a LakeForge name: it {_slug_problem(str(value))}"
    what = _PATTERN_NAMES.get(pattern)
    return f"{shown} is not {what}" if what else f"{shown} does not have the expected form"


_PATTERN_NAMES = {
    COLUMN_PATTERN: "a plain column name",
    TABLE_PATTERN: "a table name",
    CATALOG_PATTERN: "a catalog name",
    SLACK_CHANNEL_PATTERN: "a Slack channel id",
}


def _written(value: Any) -> str:
    """A plain value as sent (a choice such as 'delete'); anything else only by its kind."""
    if isinstance(value, str | int | float | bool):
        return _shown(value, limit=40)
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else "this value"


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}…{text[-1]}"


def _slug_problem(value: str) -> str:
    """The first way ``value`` breaks the slug rule, in the order a reader would fix them."""
    if not value:
        return "is empty"
    if len(value) > 63:
        return f"is {len(value)} characters long (at most 63)"
    if any(char.isupper() for char in value):
        return "has upper-case letters"
    if not ("a" <= value[0] <= "z"):
        return "does not start with a letter"
    bad = next((char for char in value if not (char.isascii() and (char.isalnum() or char == "_"))), None)
    if bad is None:
        return "is not made of lower-case letters, digits and underscores"
    return f"has {'a space' if bad == ' ' else repr(bad)}, which names cannot hold"


def _fix_for(item: Any) -> str | None:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "Remove this field; see the intent's JSON schema for the allowed fields."
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        return f"Use one of: {', '.join(INTENTS_BY_KIND)}."
    if kind == "missing":
        return "Give this field a value."
    if kind == "string_pattern_mismatch":
        pattern = item.get("ctx", {}).get("pattern", "")
        return _PATTERN_FIXES.get(pattern, f"Match the pattern {pattern}.")
    if kind == "literal_error":
        expected = str(item.get("ctx", {}).get("expected", "an allowed value"))
        sent = item.get("input")
        choices = re.findall(r"'([^']*)'", expected)  # pydantic's "'warn', 'drop' or 'fail'"
        use = f"Use {expected}."
        return suggest.did_you_mean(sent, choices, use) if isinstance(sent, str) else use
    return fix_for_type(kind, item.get("ctx"))


def fix_for_type(kind: str, ctx: Mapping[str, Any] | None) -> str | None:
    """The fix for a pydantic error type (wrong type, out of bounds), said the way a caller
    applies it, never with pydantic's own type names; None for other types. Shared by the
    command layer and the API's request validation."""
    if kind in _FIX_BY_TYPE:
        return _FIX_BY_TYPE[kind]
    bound = _BOUNDS.get(kind)
    if bound is not None:
        return f"{bound[0]} {(ctx or {}).get(bound[1])}."
    return None


# What a value out of its bounds is; the fix (``_BOUNDS``) names the bound.
_OUT_OF_BOUNDS = {
    "greater_than_equal": "is out of range",
    "greater_than": "is out of range",
    "less_than_equal": "is out of range",
    "less_than": "is out of range",
    "string_too_short": "is too short",
    "string_too_long": "is too long",
    "too_short": "has too few items",
    "too_long": "has too many items",
}
# Pydantic's error types as the fix a caller applies (the message already says what is wrong).
_FIX_BY_TYPE = {
    "list_type": 'Send a JSON array, e.g. ["order_id"].',
    "dict_type": "Send a JSON object.",
    "model_type": "Send a JSON object.",
    "model_attributes_type": "Send a JSON object.",
    "string_type": "Send a string.",
    "int_type": "Send a whole number.",
    "int_parsing": "Send a whole number.",
    "int_from_float": "Send a whole number.",
    "float_type": "Send a number.",
    "float_parsing": "Send a number.",
    "bool_type": "Send true or false.",
    "bool_parsing": "Send true or false.",
}
_BOUNDS = {
    "greater_than_equal": ("Use a value of at least", "ge"),
    "greater_than": ("Use a value greater than", "gt"),
    "less_than_equal": ("Use a value of at most", "le"),
    "less_than": ("Use a value less than", "lt"),
    "string_too_short": ("Use at least this many characters:", "min_length"),
    "string_too_long": ("Use at most this many characters:", "max_length"),
    "too_short": ("Give at least this many items:", "min_length"),
    "too_long": ("Give at most this many items:", "max_length"),
}
