"""``lakeforge.yaml``: the whole metadata as one reviewable file, applied through the command layer.

``apply`` upserts what the file declares (compute profiles, systems, groups with schedule, gold
and channel, sources with raw/bronze/silver config and rules); it never deletes what the file
leaves out. Each entity is one command (plan, audit, revision); unchanged entities are no-ops.
``export`` writes the inverse, so export → apply changes nothing.

>>> report = apply_file(db, Path("lakeforge.yaml"), actor, principal, dry_run=True)
>>> print(export_yaml(db))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakeforge.commands import handlers, state
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor, CommandResult, FieldError
from lakeforge.commands.executor import execute
from lakeforge.commands.intents import (
    BronzeSpec,
    GoldSpec,
    OptionValue,
    RawSpec,
    RuleSpec,
    ScheduleSpec,
    SilverSpec,
    field_errors,
)
from lakeforge.commands.plans import PlanLine, diff
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.metadata.models import LoadMode, SourceFormat


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceDoc(_Strict):
    name: str
    system: str | None = None
    description: str | None = None
    format: SourceFormat
    location: str
    format_options: dict[str, OptionValue] = Field(default_factory=dict)
    load_mode: LoadMode = "full"
    watermark_column: str | None = None
    schema_ddl: str | None = None
    enabled: bool = True
    raw: RawSpec = Field(default_factory=RawSpec)
    bronze: BronzeSpec = Field(default_factory=BronzeSpec)
    silver: SilverSpec = Field(default_factory=SilverSpec)
    dq_rules: list[RuleSpec] = Field(default_factory=list)


class NotifyDoc(_Strict):
    name: str | None = None
    slack_channel_id: str | None = None
    webhook_url: str | None = None


class GroupDoc(_Strict):
    name: str
    description: str | None = None
    owner: str | None = None
    compute_profile: str = "single_node"
    catalog: str = "main"
    engine: Literal["auto", "embedded", "spark"] = "auto"
    max_concurrent_runs: int = 1
    timeout_seconds: int = 0
    max_retries: int = 1
    schedule: ScheduleSpec | None = None
    notify: NotifyDoc | None = None
    gold: list[GoldSpec] = Field(default_factory=list)
    sources: list[SourceDoc] = Field(default_factory=list)


class SystemDoc(_Strict):
    name: str
    kind: Literal["files", "database", "api", "lakehouse"] = "files"
    description: str | None = None
    owner: str | None = None
    connection: dict[str, OptionValue] = Field(default_factory=dict)


class ProfileDoc(_Strict):
    name: str
    kind: Literal["single_node", "job_cluster", "serverless"] = "single_node"
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


class LakeForgeFile(_Strict):
    """The top level of ``lakeforge.yaml``."""

    version: Literal[1] = 1
    compute_profiles: list[ProfileDoc] = Field(default_factory=list)
    systems: list[SystemDoc] = Field(default_factory=list)
    groups: list[GroupDoc] = Field(default_factory=list)


@dataclass
class Step:
    """One command of an apply: the intent sent and what came back (or the local plan on dry runs)."""

    entity: str
    name: str
    intent: dict[str, Any]
    plan: list[PlanLine] = field(default_factory=list)
    status: str = "planned"
    message: str = ""
    errors: list[FieldError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(line["op"] != "touch" for line in self.plan)


@dataclass
class ApplyReport:
    steps: list[Step] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(step.status != "rejected" for step in self.steps)

    @property
    def changes(self) -> int:
        return sum(1 for step in self.steps if step.changed)


# -- reading the file ----------------------------------------------------------------------------
def load_file(path: Path) -> LakeForgeFile:
    """Parse and validate ``lakeforge.yaml``; errors name the path inside the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise LakeForgeError(
            f"cannot read {path} ({error.strerror})", field="-f", fix="Check the path."
        ) from None
    except yaml.YAMLError as error:
        raise LakeForgeError(
            f"{path} is not valid YAML ({error})", field="-f", fix="Fix the YAML syntax."
        ) from None
    return parse_document(data, source=str(path))


def parse_document(data: Any, source: str = "lakeforge.yaml") -> LakeForgeFile:
    try:
        return LakeForgeFile.model_validate(data)
    except ValidationError as error:
        first = field_errors(error, prefix=source)[0]
        raise LakeForgeError(first.message, field=first.field, fix=first.fix) from None


# -- intents for a document --------------------------------------------------------------------
def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def plan_intents(db: Database, doc: LakeForgeFile) -> list[Step]:
    """The commands that make Lakebase match ``doc`` (one per declared entity), in dependency order."""
    steps: list[Step] = []
    with db.connection() as conn:
        for profile in doc.compute_profiles:
            data = profile.model_dump(mode="json")
            intent = {"kind": "upsert_compute_profile", "profile_kind": data.pop("kind"), **data}
            steps.append(Step("compute_profile", profile.name, intent))
        for system in doc.systems:
            data = system.model_dump(mode="json")
            steps.append(
                Step(
                    "system", system.name, {"kind": "upsert_system", "system_kind": data.pop("kind"), **data}
                )
            )
        for group in doc.groups:
            data = group.model_dump(mode="json", exclude={"sources", "notify"})
            current = state.load_group(conn, group.name)
            if current is None:
                steps.append(Step("group", group.name, {"kind": "create_group", **_drop_none(data)}))
            else:
                steps.append(Step("group", group.name, {"kind": "update_group", **data}))
            if group.notify is not None:
                notify = _drop_none(group.notify.model_dump(mode="json"))
                steps.append(
                    Step("channel", group.name, {"kind": "subscribe_channel", "group": group.name, **notify})
                )
            elif current is not None and current.get("channel") is not None:
                steps.append(
                    Step("group", group.name, {"kind": "update_group", "name": group.name, "channel": None})
                )
            for source in group.sources:
                data = {**source.model_dump(mode="json"), "group": group.name}
                if state.load_source(conn, source.name) is None:
                    steps.append(Step("source", source.name, {"kind": "register_source", **data}))
                else:
                    steps.append(Step("source", source.name, {"kind": "update_source", **data}))
    return steps


def _local_plan(db: Database, step: Step, doc: LakeForgeFile) -> list[PlanLine]:
    """What a step would change, computed without applying (dry runs; later steps may depend on earlier)."""
    with db.connection() as conn:
        current = state.LOADERS.get(step.entity, lambda c, n: None)(conn, step.name)
        if step.entity == "source":
            group = next(g for g in doc.groups if any(s.name == step.name for s in g.sources))
            data = {k: v for k, v in step.intent.items() if k != "kind"}
            desired = handlers._source_snapshot(data, group.catalog)
        elif step.entity == "group":
            base = {k: v for k, v in (current or {}).items() if k != "revision"}
            data = {k: v for k, v in step.intent.items() if k != "kind"}
            desired = handlers._group_snapshot({**base, **data})
        elif step.entity in ("system", "compute_profile"):
            data = {k: v for k, v in step.intent.items() if k not in ("kind", "system_kind", "profile_kind")}
            kind = step.intent.get("system_kind") or step.intent.get("profile_kind")
            desired = {"name": step.name, "kind": kind, **data}
        else:
            return []
    strip = {k: v for k, v in (current or {}).items() if k != "revision"} if current else None
    return diff(step.entity, step.name, strip, desired)


def apply_document(
    db: Database,
    doc: LakeForgeFile,
    actor: Actor,
    principal: Principal | None = None,
    *,
    dry_run: bool = False,
) -> ApplyReport:
    """Apply ``doc`` step by step through the executor (stops at the first rejected step)."""
    report = ApplyReport(dry_run=dry_run)
    for step in plan_intents(db, doc):
        report.steps.append(step)
        if dry_run:
            try:
                step.plan = _local_plan(db, step, doc)
                step.status = "planned"
            except LakeForgeError as error:
                step.status, step.message = "rejected", error.sentence()
                errors = getattr(error, "errors", None)
                step.errors = errors or [
                    FieldError(field=error.field or "intent", message=error.message, fix=error.fix)
                ]
                break
            continue
        result: CommandResult = execute(db, step.intent, actor, principal=principal)
        if result.status == "needs_confirmation":  # never for upserts, kept for safety
            result = execute(db, step.intent, actor, principal=principal, confirm_token=result.confirm_token)
        step.plan, step.status, step.message, step.errors = (
            result.plan or [],
            result.status,
            result.message,
            result.errors,
        )
        if result.status == "rejected":
            break
    return report


def apply_file(
    db: Database, path: Path, actor: Actor, principal: Principal | None = None, *, dry_run: bool = False
) -> ApplyReport:
    return apply_document(db, load_file(path), actor, principal, dry_run=dry_run)


# -- export ------------------------------------------------------------------------------------
def _trim(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Leave out values equal to the defaults, so the file says only what was chosen."""
    out = {}
    for key, value in data.items():
        if key in defaults and defaults[key] == value:
            continue
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            inner = _trim(value, defaults[key])
            if inner:
                out[key] = inner
            continue
        out[key] = value
    return out


def export_document(db: Database) -> dict[str, Any]:
    """Everything in Lakebase as a ``lakeforge.yaml`` document (plain data)."""
    source_defaults = SourceDoc(name="x", format="csv", location="x").model_dump(mode="json")
    group_defaults = GroupDoc(name="x").model_dump(mode="json")
    with db.connection() as conn:
        names = {
            table: [row["name"] for row in conn.execute(f"SELECT name FROM {table} ORDER BY name").fetchall()]
            for table in ("compute_profile", "source_system", "source_group")
        }
        profiles = []
        for name in names["compute_profile"]:
            snap = state.load_profile(conn, name)
            assert snap is not None
            snap.pop("revision", None)
            profiles.append(_trim(snap, {**ProfileDoc(name=name).model_dump(mode="json"), "name": None}))
        systems = []
        for name in names["source_system"]:
            snap = state.load_system(conn, name)
            assert snap is not None
            snap.pop("revision", None)
            systems.append(_trim(snap, {**SystemDoc(name=name).model_dump(mode="json"), "name": None}))
        groups = []
        for name in names["source_group"]:
            group = state.load_group(conn, name)
            assert group is not None
            group.pop("revision", None)
            channel_name = group.pop("channel")
            for item in group["gold"]:
                if item["target_table"] == handlers.default_target(
                    group["catalog"], name, "gold", item["name"]
                ):
                    item.pop("target_table")
                for key in [k for k, v in item.items() if v is None]:
                    item.pop(key)
            doc = _trim(group, {**group_defaults, "name": None})
            if channel_name:
                channel = state.load_channel(conn, channel_name)
                assert channel is not None
                doc["notify"] = _drop_none(
                    {
                        "name": channel_name,
                        "slack_channel_id": channel["slack_channel_id"],
                        "webhook_url": channel["webhook_url"],
                    }
                )
            sources = []
            for row in conn.execute(
                "SELECT s.name FROM source s JOIN source_group g ON g.id = s.source_group_id "
                "WHERE g.name = %s ORDER BY s.name",
                [name],
            ).fetchall():
                snap = state.load_source(conn, row["name"])
                assert snap is not None
                snap.pop("revision", None)
                snap.pop("group", None)
                for zone in ("bronze", "silver"):
                    if snap[zone]["target_table"] == handlers.default_target(
                        group["catalog"], name, zone, snap["name"]
                    ):
                        snap[zone]["target_table"] = None
                snap["dq_rules"] = [
                    {k: v for k, v in rule.items() if v is not None and not (k == "enabled" and v is True)}
                    for rule in snap["dq_rules"]
                ]
                sources.append(
                    _trim(snap, {**source_defaults, "name": None, "format": None, "location": None})
                )
            if sources:
                doc["sources"] = sources
            groups.append(doc)
    out: dict[str, Any] = {"version": 1}
    if profiles:
        out["compute_profiles"] = profiles
    if systems:
        out["systems"] = systems
    if groups:
        out["groups"] = groups
    return out


def export_yaml(db: Database) -> str:
    return yaml.safe_dump(export_document(db), sort_keys=False, allow_unicode=True, width=100)
