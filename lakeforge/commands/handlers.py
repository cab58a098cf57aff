"""What each intent means: validation against Lakebase and the entity changes it would make.

A handler reads the current snapshots, checks names exist or are free, and returns a
``Prepared`` command: the snapshot changes (planned and written generically by the executor),
extra plan lines (Databricks resources touched, batches queued) and, for runs and reads, an
effect that produces the result. Handlers never commit; the executor owns the transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from lakeforge import suggest
from lakeforge.commands import access, launch, rerun_checks, state
from lakeforge.commands import intents as it
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor, FieldError
from lakeforge.commands.plans import PlanLine, touches, workspace_lines
from lakeforge.errors import LakeForgeError
from lakeforge.fixes import Fix, ref
from lakeforge.metadata.db import Connection, Database
from lakeforge.orchestration import quartz
from lakeforge.runtime import quarantine, runlog
from lakeforge.runtime.batch_filter import batch_filter

Snapshot = state.Snapshot


class Invalid(LakeForgeError):
    """The intent is well-formed but does not fit what is in Lakebase."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        fix: str | Fix | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message, field=field, fix=fix)
        # Errors given whole are answered as they are; the one made here is worded per surface.
        self.own_errors = bool(errors)
        self.errors = errors or [
            FieldError(field=f"intent.{field}" if field else "intent", message=message, fix=self.fix)
        ]


class Unknown(Invalid):
    """The intent names a part of an entity that does not exist (a rule, a gold table, a
    revision): rejected as ``not_found``, like an unknown source or group."""


@dataclass
class Change:
    entity: str
    key: str
    before: Snapshot | None
    after: Snapshot | None


@dataclass
class Context:
    db: Database
    conn: Connection
    actor: Actor
    principal: Principal
    command_id: UUID
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # The intent's kind: which of the caller's groups a suggested name may come from.
    kind: str = ""


@dataclass
class Prepared:
    changes: list[Change] = field(default_factory=list)
    extra_plan: list[PlanLine] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)
    message: str = ""
    result: dict[str, Any] | None = None
    # Runs inside the apply transaction (queue a batch, sync jobs); returns the result.
    effect: Callable[[Context], dict[str, Any] | None] | None = None


# -- helpers -----------------------------------------------------------------------------------
def _group(ctx: Context, name: str, field: str = "group", *, lock: bool = False) -> Snapshot:
    snap = state.load_group(ctx.conn, name, lock=lock)
    if snap is None:
        raise Invalid(
            f"group {name!r} does not exist",
            field=field,
            fix=_suggested(
                ctx, name, Fix("Create it first: ", ref("create_group", name=name), "."), state.group_names
            ),
        )
    return snap


def _source(ctx: Context, name: str, field: str = "name") -> Snapshot:
    snap = state.load_source(ctx.conn, name)
    if snap is None:
        raise Invalid(
            f"source {name!r} does not exist",
            field=field,
            fix=_suggested(
                ctx, name, Fix("Check the name: ", ref("list_sources"), " lists them."), state.source_names
            ),
        )
    return snap


def _suggested(
    ctx: Context, name: str, fix: Fix, names: Callable[[Connection, frozenset[str] | None], list[str]]
) -> str | Fix | None:
    """``fix``, led by the closest of the names the caller may see in its groups (``names`` reads
    them: only now, when the name is missing)."""
    groups = ctx.principal.suggestion_groups(ctx.kind)
    if groups is not None and not groups:
        return fix  # no group to look in: nothing to read
    return suggest.did_you_mean(name, names(ctx.conn, groups), fix)


def _missing_shared(ctx: Context, table: str, what: str, name: str, field: str, fix: str) -> Invalid:
    """The refusal of a system, compute profile or channel that does not exist. These belong to no
    group, so any of their names may be suggested."""
    return Invalid(
        f"{what} {name!r} does not exist",
        field=field,
        fix=suggest.did_you_mean(name, state.shared_names(ctx.conn, table), fix),
    )


def _exists(conn: Connection, table: str, name: str | None) -> bool:
    if name is None:
        return True
    return conn.execute(f"SELECT 1 FROM {table} WHERE name = %s", [name]).fetchone() is not None


def _check_expected(before: Snapshot, expected: int | None, entity: str) -> None:
    if expected is not None and before.get("revision") != expected:
        raise state.Conflict(
            f"{entity} {before['name']!r} is at revision {before.get('revision')}, not {expected}",
            field="expected_revision",
            fix="Read it again and resend your change against the new revision.",
        )


def _pipeline_lines(groups: set[str], reason: str) -> list[PlanLine]:
    lines = []
    for group in sorted(groups):
        lines.append(touches("job", f"group:{group}", reason))
        lines.append(touches("pipeline", f"group:{group}", reason))
    return lines


def _job_lines(groups: set[str], reason: str) -> list[PlanLine]:
    return [touches("job", f"group:{group}", reason) for group in sorted(groups)]


def default_target(catalog: str, group: str, zone: str, name: str) -> str:
    """Derived table names: ``<catalog>.<group>_<zone>.<name>`` (e.g. main.retail_silver.orders)."""
    return f"{catalog}.{group}_{zone}.{name}"


def _validated(model: type[it.IntentBase], data: dict[str, Any]) -> Any:
    """Re-check a merged snapshot with the full model, so updates obey the same rules as creates."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = it.field_errors(error)
        raise Invalid(
            errors[0].message, field=errors[0].field.removeprefix("intent."), errors=errors
        ) from None


def _source_snapshot(data: dict[str, Any], catalog: str) -> Snapshot:
    """A full source snapshot from register-source-shaped data, target names derived where empty."""
    model: it.RegisterSource = _validated(it.RegisterSource, {**data, "kind": "register_source"})
    snap = model.model_dump(mode="json", exclude={"kind", "schedule"})
    snap["dq_rules"] = sorted(snap["dq_rules"], key=lambda rule: rule["name"])
    for zone in ("bronze", "silver"):
        snap[zone]["target_table"] = snap[zone]["target_table"] or default_target(
            catalog, snap["group"], zone, snap["name"]
        )
    return snap


def _group_snapshot(data: dict[str, Any]) -> Snapshot:
    model: it.CreateGroup = _validated(it.CreateGroup, {**data, "kind": "create_group"})
    snap = model.model_dump(mode="json", exclude={"kind"})
    snap["gold"] = sorted(snap["gold"], key=lambda item: item["name"])
    for item in snap["gold"]:
        item["target_table"] = item["target_table"] or default_target(
            snap["catalog"], snap["name"], "gold", item["name"]
        )
    return snap


def _strip(snapshot: Snapshot) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "revision"}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and key not in {"format_options", "connection"}
        ):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _check_refs(ctx: Context, snap: Snapshot) -> None:
    if not _exists(ctx.conn, "source_system", snap.get("system")):
        fix = "Create it with upsert_system first."
        raise _missing_shared(ctx, "source_system", "source system", snap["system"], "system", fix)


def _group_refs(ctx: Context, snap: Snapshot) -> None:
    if not _exists(ctx.conn, "compute_profile", snap.get("compute_profile")):
        fix = "Use single_node or create it with upsert_compute_profile."
        raise _missing_shared(
            ctx, "compute_profile", "compute profile", snap["compute_profile"], "compute_profile", fix
        )
    if not _exists(ctx.conn, "notification_channel", snap.get("channel")):
        fix = "Create it with subscribe_channel."
        raise _missing_shared(ctx, "notification_channel", "channel", snap["channel"], "channel", fix)


# -- sources -----------------------------------------------------------------------------------
def register_source(ctx: Context, intent: it.RegisterSource) -> Prepared:
    group = _group(ctx, intent.group)
    if _exists(ctx.conn, "source", intent.name):
        raise state.Conflict(  # the name is taken: a conflict with what exists (409), not bad input
            f"a source named {intent.name!r} exists already",
            field="name",
            fix=Fix(
                "Source names are unique across LakeForge: choose another name, or change that source: ",
                ref("update_source", name=intent.name),
                ".",
            ),
        )
    snap = _source_snapshot(intent.model_dump(mode="json", exclude={"kind", "schedule"}), group["catalog"])
    _check_refs(ctx, snap)
    changes = [Change("source", intent.name, None, snap)]
    if intent.schedule is not None:
        after = {**group, "schedule": _new_schedule(group["schedule"], intent.schedule)}
        if after != group:
            changes.append(Change("group", intent.group, group, after))
    return Prepared(
        changes=changes,
        extra_plan=_pipeline_lines({intent.group}, "gains tasks for this source"),
        groups={intent.group},
        message=f"Source {intent.name} registered in group {intent.group}.",
    )


def update_source(ctx: Context, intent: it.UpdateSource) -> Prepared:
    before = _source(ctx, intent.name)
    _check_expected(before, intent.expected_revision, "source")
    changes = intent.changes()
    merged = _merge(_strip(before), changes)
    if merged.get("load_mode") == "full" and "watermark_column" not in changes:
        # Switching to a full load drops the watermark it no longer reads; the plan shows it.
        merged["watermark_column"] = None
    group = _group(ctx, merged["group"], "group")
    after = _source_snapshot(merged, group["catalog"])
    _check_refs(ctx, after)
    after["revision"] = before["revision"]
    groups = {before["group"], after["group"]}
    return Prepared(
        changes=[Change("source", intent.name, before, after)],
        extra_plan=_pipeline_lines(groups, "tasks of this source change"),
        groups=groups,
        message=f"Source {intent.name} updated.",
    )


def remove_source(ctx: Context, intent: it.RemoveSource) -> Prepared:
    before = _source(ctx, intent.name)
    _check_expected(before, intent.expected_revision, "source")
    return Prepared(
        changes=[Change("source", intent.name, before, None)],
        extra_plan=_pipeline_lines({before["group"]}, "loses the tasks of this source"),
        groups={before["group"]},
        message=f"Source {intent.name} removed (its run history and tables stay).",
    )


# -- rules -------------------------------------------------------------------------------------
def _with_rules(
    ctx: Context, source: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], message: str
) -> Prepared:
    before = _source(ctx, source, "source")
    after = copy.deepcopy(before)
    after["dq_rules"] = sorted(edit(after["dq_rules"]), key=lambda rule: rule["name"])
    return Prepared(
        changes=[Change("source", source, before, after)],
        extra_plan=_pipeline_lines({before["group"]}, "expectations change"),
        groups={before["group"]},
        message=message,
    )


def add_dq_rule(ctx: Context, intent: it.AddDqRule) -> Prepared:
    rule = it.RuleSpec.model_validate(intent.model_dump(include=set(it.RuleSpec.model_fields))).model_dump(
        mode="json"
    )

    def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(r["name"] == intent.name for r in rules):
            raise Invalid(
                f"source {intent.source!r} already has a rule named {intent.name!r}",
                field="name",
                fix=Fix(
                    "Choose another name, or change that rule: ",
                    ref("update_dq_rule", source=intent.source, name=intent.name),
                    ".",
                ),
            )
        return [*rules, rule]

    return _with_rules(ctx, intent.source, edit, f"Rule {intent.name} added to {intent.source}.")


def _rule_revision(ctx: Context, source: str, name: str) -> int | None:
    row = ctx.conn.execute(
        "SELECT r.revision FROM dq_rule r JOIN source s ON s.id = r.source_id WHERE s.name = %s AND "
        "r.name = %s",
        [source, name],
    ).fetchone()
    return None if row is None else int(row["revision"])


def update_dq_rule(ctx: Context, intent: it.UpdateDqRule) -> Prepared:
    current = _rule_revision(ctx, intent.source, intent.name)
    if intent.expected_revision is not None and current is not None and current != intent.expected_revision:
        raise state.Conflict(
            f"rule {intent.name!r} is at revision {current}, not {intent.expected_revision}",
            field="expected_revision",
            fix="Read it again and resend your change.",
        )
    updates = {
        k: getattr(intent, k)
        for k in intent.model_fields_set & {"expression", "action", "description", "enabled"}
    }

    def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not any(r["name"] == intent.name for r in rules):
            raise Unknown(
                f"source {intent.source!r} has no rule named {intent.name!r}",
                field="name",
                fix=suggest.did_you_mean(
                    intent.name,
                    [r["name"] for r in rules],
                    Fix("Add it instead: ", ref("add_dq_rule", source=intent.source), "."),
                ),
            )
        return [{**r, **updates} if r["name"] == intent.name else r for r in rules]

    return _with_rules(ctx, intent.source, edit, f"Rule {intent.name} of {intent.source} updated.")


def remove_dq_rule(ctx: Context, intent: it.RemoveDqRule) -> Prepared:
    def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not any(r["name"] == intent.name for r in rules):
            raise Unknown(
                f"source {intent.source!r} has no rule named {intent.name!r}",
                field="name",
                fix=suggest.did_you_mean(
                    intent.name,
                    [r["name"] for r in rules],
                    Fix("See its rules: ", ref("show_source", name=intent.source), "."),
                ),
            )
        return [r for r in rules if r["name"] != intent.name]

    return _with_rules(ctx, intent.source, edit, f"Rule {intent.name} removed from {intent.source}.")


# -- groups, schedules, gold, channels ---------------------------------------------------------
def create_group(ctx: Context, intent: it.CreateGroup) -> Prepared:
    if state.load_group(ctx.conn, intent.name) is not None:
        raise state.Conflict(  # the name is taken: a conflict with what exists (409), not bad input
            f"a group named {intent.name!r} exists already",
            field="name",
            fix="Choose another name, or use update_group.",
        )
    snap = _group_snapshot(intent.model_dump(mode="json", exclude={"kind"}))
    _group_refs(ctx, snap)
    return Prepared(
        changes=[Change("group", intent.name, None, snap)],
        extra_plan=_pipeline_lines({intent.name}, "will be created on the next sync"),
        groups=set(),
        message=f"Group {intent.name} created.",
    )


def _group_change(
    ctx: Context,
    name: str,
    edit: dict[str, Any],
    message: str,
    *,
    job_only: bool = False,
    expected: int | None = None,
) -> Prepared:
    before = _group(ctx, name, "name" if "gold" not in edit else "group")
    _check_expected(before, expected, "group")
    after = _group_snapshot(_merge(_strip(before), edit))
    _group_refs(ctx, after)
    after["revision"] = before["revision"]
    lines = (
        _job_lines({name}, "settings change") if job_only else _pipeline_lines({name}, "definition changes")
    )
    return Prepared(
        changes=[Change("group", name, before, after)], extra_plan=lines, groups={name}, message=message
    )


def update_group(ctx: Context, intent: it.UpdateGroup) -> Prepared:
    return _group_change(
        ctx, intent.name, intent.changes(), f"Group {intent.name} updated.", expected=intent.expected_revision
    )


def _new_schedule(current: dict[str, Any] | None, spec: it.ScheduleSpec) -> dict[str, Any]:
    """The schedule ``spec`` asks for. What the caller leaves out is kept: a new cron for a paused
    group keeps it paused (changing when a group runs must not quietly restart it), and "run it
    every hour" keeps the group's time zone instead of moving it to UTC."""
    schedule = {"quartz_cron": spec.quartz_cron, "timezone": spec.timezone, "paused": spec.paused}
    if current is not None:
        for kept in ("timezone", "paused"):
            if kept not in spec.model_fields_set:
                schedule[kept] = current[kept]
    return schedule


def set_schedule(ctx: Context, intent: it.SetSchedule) -> Prepared:
    group = _group(ctx, intent.group)
    schedule = _new_schedule(group["schedule"], intent)
    text = quartz.describe(intent.quartz_cron)
    prepared = _group_change(
        ctx,
        intent.group,
        {"schedule": schedule},
        f"Group {intent.group} runs {text[0].lower()}{text[1:]} ({schedule['timezone']}).",
        job_only=True,
    )
    prepared.result = {
        "description": text,
        "next_fire_times": [
            t.isoformat() for t in quartz.next_fire_times(intent.quartz_cron, schedule["timezone"], 3)
        ],
    }
    return prepared


def _set_paused(ctx: Context, group: str, paused: bool) -> Prepared:
    before = _group(ctx, group)
    if before["schedule"] is None:
        raise Invalid(
            f"group {group!r} has no schedule",
            field="group",
            fix=Fix("Set one first: ", ref("set_schedule", group=group), "."),
        )
    word = "paused" if paused else "resumed"
    return _group_change(
        ctx,
        group,
        {"schedule": {**before["schedule"], "paused": paused}},
        f"Schedule of {group} {word}.",
        job_only=True,
    )


def pause_schedule(ctx: Context, intent: it.PauseSchedule) -> Prepared:
    return _set_paused(ctx, intent.group, True)


def resume_schedule(ctx: Context, intent: it.ResumeSchedule) -> Prepared:
    return _set_paused(ctx, intent.group, False)


def upsert_gold(ctx: Context, intent: it.UpsertGold) -> Prepared:
    before = _group(ctx, intent.group)
    item = it.GoldSpec.model_validate(intent.model_dump(include=set(it.GoldSpec.model_fields))).model_dump(
        mode="json"
    )
    gold = [g for g in before["gold"] if g["name"] != intent.name] + [item]
    return _group_change(
        ctx, intent.group, {"gold": gold}, f"Gold table {intent.name} of {intent.group} saved."
    )


def remove_gold(ctx: Context, intent: it.RemoveGold) -> Prepared:
    before = _group(ctx, intent.group)
    if not any(g["name"] == intent.name for g in before["gold"]):
        raise Unknown(
            f"group {intent.group!r} has no gold table {intent.name!r}",
            field="name",
            fix=suggest.did_you_mean(
                intent.name,
                [g["name"] for g in before["gold"]],
                "The group's gold tables are listed with its sources (show_source).",
            ),
        )
    gold = [g for g in before["gold"] if g["name"] != intent.name]
    return _group_change(
        ctx, intent.group, {"gold": gold}, f"Gold table {intent.name} removed from {intent.group}."
    )


def subscribe_channel(ctx: Context, intent: it.SubscribeChannel) -> Prepared:
    group = _group(ctx, intent.group)
    if intent.slack_channel_id:
        name = intent.name or f"slack_{intent.slack_channel_id.lower()}"
        channel = {
            "name": name,
            "kind": "slack",
            "slack_channel_id": intent.slack_channel_id,
            "webhook_url": None,
        }
    else:
        name = intent.name or f"webhook_{intent.group}"
        channel = {
            "name": name,
            "kind": "webhook",
            "slack_channel_id": None,
            "webhook_url": intent.webhook_url,
        }
    current = state.load_channel(ctx.conn, name)
    channel["muted_until"] = current["muted_until"] if current else None
    changes = []
    if current is None or _strip(current) != channel:
        changes.append(Change("channel", name, current, channel))
    after = {**group, "channel": name}
    if after != group:
        changes.append(Change("group", intent.group, group, after))
    return Prepared(
        changes=changes,
        extra_plan=[],
        groups={intent.group},
        message=f"Run results of {intent.group} go to {name}.",
    )


def _plain_upsert(ctx: Context, entity: str, name: str, snap: Snapshot, message: str) -> Prepared:
    before = state.LOADERS[entity](ctx.conn, name)
    lines: list[PlanLine] = []
    column = "compute_profile" if entity == "compute_profile" else None
    if column and before is not None:
        users = ctx.conn.execute(
            "SELECT g.name FROM source_group g JOIN compute_profile p ON p.id = g.compute_profile_id "
            "WHERE p.name = %s",
            [name],
        ).fetchall()
        lines = _job_lines({row["name"] for row in users}, "cluster settings change")
    return Prepared(
        changes=[Change(entity, name, before, snap)], extra_plan=lines, groups=set(), message=message
    )


def upsert_system(ctx: Context, intent: it.UpsertSystem) -> Prepared:
    snap = {
        "name": intent.name,
        "kind": intent.system_kind,
        "description": intent.description,
        "owner": intent.owner,
        "connection": intent.connection,
    }
    return _plain_upsert(ctx, "system", intent.name, snap, f"Source system {intent.name} saved.")


def upsert_compute_profile(ctx: Context, intent: it.UpsertComputeProfile) -> Prepared:
    data = intent.model_dump(mode="json", exclude={"kind", "profile_kind"})
    snap = {
        "name": intent.name,
        "kind": intent.profile_kind,
        **{k: v for k, v in data.items() if k != "name"},
    }
    return _plain_upsert(ctx, "compute_profile", intent.name, snap, f"Compute profile {intent.name} saved.")


# -- restore -----------------------------------------------------------------------------------
def restore_revision(ctx: Context, intent: it.RestoreRevision) -> Prepared:
    row = ctx.conn.execute(
        "SELECT after FROM metadata_revision WHERE entity_type = %s AND entity_key = %s AND revision = %s",
        [intent.entity, intent.name, intent.revision],
    ).fetchone()
    if row is None:
        raise Unknown(
            f"{intent.entity} {intent.name!r} has no revision {intent.revision}",
            field="revision",
            fix=f"List revisions with: lakeforge history {intent.name}",
        )
    current = state.LOADERS[intent.entity](ctx.conn, intent.name)
    target = row["after"]
    if target is not None:
        target = {k: v for k, v in target.items() if k != "revision"}
        if current is not None:
            target["revision"] = current.get("revision")
        if intent.entity == "source":
            _group(ctx, target["group"], "revision")
            _check_refs(ctx, target)
        elif intent.entity == "group":
            _group_refs(ctx, target)
    groups: set[str] = set()
    for snap in (current, target):
        if snap is not None and intent.entity == "source":
            groups.add(snap["group"])
        if snap is not None and intent.entity == "group":
            groups.add(snap["name"])
    if current is None and target is None:
        raise Invalid(
            f"{intent.entity} {intent.name!r} is already absent, as in revision {intent.revision}",
            field="revision",
        )
    return Prepared(
        changes=[Change(intent.entity, intent.name, current, target)],
        extra_plan=_pipeline_lines(groups, "definition restored"),
        groups=groups,
        message=f"{intent.entity.replace('_', ' ').capitalize()} {intent.name} restored to "
        f"revision {intent.revision}.",
    )


# -- runs --------------------------------------------------------------------------------------
def _queue(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    row = ctx.conn.execute(
        "INSERT INTO lakeforge_log.batch_run (source_group_id, group_name, source_name, trigger, "
        "rerun_of, engine, "
        "status, requested_by) VALUES ((SELECT id FROM source_group WHERE name = %s), %s, %s, %s, %s, %s, "
        "'queued', %s) "
        "RETURNING batch_id",
        [
            request["group"],
            request["group"],
            request["source"],
            request["trigger"],
            request["rerun_of"],
            request["engine"],
            ctx.actor.user,
        ],
    ).fetchone()
    assert row is not None
    batch_id = int(row["batch_id"])
    launch.claim(ctx.db, batch_id)  # before the row commits: no moment queued without an owner
    launch_request = launch.LaunchRequest(
        batch_id=batch_id,
        group=request["group"],
        sources=[request["source"]] if request["source"] else None,
        zones=request["zones"],
        engine=request["engine"],
        trigger=request["trigger"],
        rerun_of=request["rerun_of"],
        requested_by=ctx.actor.user,
    )
    db = ctx.db

    def start() -> None:
        try:
            launch.launch(db, launch_request)
        except Exception as error:  # the batch is queued but cannot start: say so in the run log
            runlog.fail_unstarted(db, batch_id, str(error))

    ctx.after_commit.append(start)
    return {"batch_id": batch_id, "status": "queued", "group": request["group"], "source": request["source"]}


def run_now(ctx: Context, intent: it.RunNow) -> Prepared:
    group = intent.group
    if intent.source:
        source = _source(ctx, intent.source, "source")
        if group and group != source["group"]:
            raise Invalid(
                f"source {intent.source!r} is in group {source['group']!r}, not {group!r}", field="group"
            )
        group = source["group"]
    assert group is not None
    _group(ctx, group)
    request = {
        "group": group,
        "source": intent.source,
        "trigger": "manual",
        "rerun_of": None,
        "engine": intent.engine,
        "zones": intent.zones,
    }
    what = f"source {intent.source}" if intent.source else f"group {group}"
    return Prepared(
        extra_plan=[
            {
                "op": "run",
                "entity": "batch",
                "key": group,
                "field": None,
                "before": None,
                "after": request,
                "text": f"queue a manual batch of {what}",
            }
        ],
        groups={group},
        message=f"Batch of {what} queued.",
        effect=lambda c: _queue(c, request),
    )


def rerun_batch(ctx: Context, intent: it.RerunBatch) -> Prepared:
    row = ctx.conn.execute(
        "SELECT * FROM lakeforge_log.batch_run WHERE batch_id = %s", [intent.batch_id]
    ).fetchone()
    if row is None:
        raise unknown_batch(intent.batch_id)
    # A "running" batch whose process died is not running: it is marked failed when the rerun
    # starts (the runner fails orphaned batches first), so it must not block its own rerun.
    live = row["status"] == "queued" or (
        row["status"] == "running" and not runlog.is_orphaned(ctx.conn, intent.batch_id)
    )
    if live:
        raise Invalid(
            f"batch {intent.batch_id} is still {row['status']}",
            field="batch_id",
            fix="Wait for it to finish before running it again.",
        )
    if not _exists(ctx.conn, "source_group", row["group_name"]):
        raise Invalid(
            f"group {row['group_name']!r} of batch {intent.batch_id} no longer exists", field="batch_id"
        )
    if not _exists(ctx.conn, "source", row["source_name"]):
        raise Invalid(
            f"source {row['source_name']!r} of batch {intent.batch_id} no longer exists",
            field="batch_id",
            fix=Fix(
                "Restore the source with ",
                ref("restore_revision", entity="source", name=row["source_name"]),
                ", or register it again, then rerun.",
            ),
        )
    refusal = rerun_checks.raw_replay_refusal(ctx.db, ctx.conn, row, intent.zones)
    if refusal is not None:
        raise Invalid(refusal[0], field="batch_id", fix=refusal[1])
    request = {
        "group": row["group_name"],
        "source": row["source_name"],
        "trigger": "rerun",
        "rerun_of": intent.batch_id,
        "engine": row["engine"],
        "zones": intent.zones,
    }
    return Prepared(
        extra_plan=[
            {
                "op": "run",
                "entity": "batch",
                "key": row["group_name"],
                "field": None,
                "before": None,
                "after": request,
                "text": f"queue a rerun of batch {intent.batch_id}",
            }
        ],
        groups={row["group_name"]},
        message=f"Batch {intent.batch_id} queued again.",
        effect=lambda c: _queue(c, request),
    )


def cancel_run(ctx: Context, intent: it.CancelRun) -> Prepared:
    # Its own module, which builds on this one's Context and Prepared: imported when first used.
    from lakeforge.commands import cancel

    return cancel.cancel_run(ctx, intent)


def sync_jobs(ctx: Context, intent: it.SyncJobs) -> Prepared:
    """``apply`` plans against the workspace first: its plan lines are the jobs and pipelines that
    will change, so a confirm token applies only the plan that was shown."""
    # The plan reads the workspace: a caller who may not sync is refused before that.
    access.check(ctx.principal, intent.kind)
    if intent.mode == "apply":
        lines = workspace_lines(launch.to_jsonable(_sync(ctx.db, "plan"))) or [
            touches("workspace", "all", "nothing to change: jobs and pipelines match the metadata")
        ]
    else:
        lines = [touches("workspace", "all", "compute the job and pipeline sync plan")]

    def effect(c: Context) -> dict[str, Any]:
        return {"mode": intent.mode, "sync": launch.to_jsonable(_sync(c.db, intent.mode))}

    return Prepared(
        extra_plan=lines,
        groups=set(),
        message="Jobs and pipelines synced." if intent.mode == "apply" else "Sync plan computed.",
        effect=effect,
    )


def _sync(db: Database, mode: str) -> Any:
    try:
        return launch.sync(db, mode)
    except LakeForgeError:
        raise
    except Exception as error:  # the workspace is down or refuses: say so, do not crash the caller
        raise LakeForgeError(
            f"the sync did not finish ({type(error).__name__}: {error})",
            field="kind",
            fix="Check the workspace connection (LAKEFORGE_DATABRICKS_HOST) and sync again.",
        ) from None


# -- reads -------------------------------------------------------------------------------------
def _schedule_view(schedule: dict[str, Any] | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    view = dict(schedule)
    view["description"] = quartz.describe(schedule["quartz_cron"])
    view["next_fire_times"] = (
        []
        if schedule["paused"]
        else [t.isoformat() for t in quartz.next_fire_times(schedule["quartz_cron"], schedule["timezone"], 3)]
    )
    return view


def _jsonable_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in rows]


def show_source(ctx: Context, intent: it.ShowSource) -> Prepared:
    snap = _source(ctx, intent.name)
    group = _group(ctx, snap["group"])
    result = {
        "source": snap,
        "schedule": _schedule_view(group["schedule"]),
        "recent_runs": _recent_runs(ctx.conn, source=intent.name),
    }
    return Prepared(
        result=result, message=f"Source {intent.name} ({snap['format']} from {snap['location']})."
    )


def show_group(ctx: Context, intent: it.ShowGroup) -> Prepared:
    group = _group(ctx, intent.name, "name")
    sources = ctx.conn.execute(
        "SELECT s.name, s.format, s.load_mode, s.enabled FROM source s "
        "JOIN source_group g ON g.id = s.source_group_id WHERE g.name = %s ORDER BY s.name",
        [intent.name],
    ).fetchall()
    schedule = _schedule_view(group["schedule"])
    if schedule is None:
        when = "no schedule (it runs when asked)"
    else:
        paused = ", paused" if schedule["paused"] else ""
        when = f"{schedule['description']} ({schedule['timezone']}){paused}"
    result = {
        "group": group,
        "schedule": schedule,
        "sources": [dict(row) for row in sources],
        "recent_runs": _recent_runs(ctx.conn, group=intent.name),
    }
    return Prepared(result=result, message=f"Group {intent.name}: {len(sources)} source(s); {when}.")


def list_sources(ctx: Context, intent: it.ListSources) -> Prepared:
    """Every source, or one group's: metadata, which everyone may read (as ``GET /sources``)."""
    if intent.group is not None:
        _group(ctx, intent.group)
    query = (
        'SELECT s.name, g.name AS "group", s.format, s.load_mode, s.enabled FROM source s '
        "JOIN source_group g ON g.id = s.source_group_id WHERE TRUE"
    )
    params: dict[str, Any] = {}
    if intent.group is not None:
        query += " AND g.name = %(group)s"
        params["group"] = intent.group
    rows = [dict(row) for row in ctx.conn.execute(query + " ORDER BY g.name, s.name", params).fetchall()]
    where = f" in group {intent.group}" if intent.group else ""
    return Prepared(
        result={"sources": rows, "group_name": intent.group}, message=f"{len(rows)} source(s){where}."
    )


def show_quarantine(ctx: Context, intent: it.ShowQuarantine) -> Prepared:
    """The source's quarantine: rows held, per failed rule, and the newest few (short, scrubbed)."""
    found = quarantine.find_table(ctx.conn, intent.source)
    # A group-bound caller learns nothing of another group's source, not even that it is missing.
    access.check_readable(ctx.principal, intent.kind, found.group if found else None)
    if found is None:
        raise Invalid(
            f"source {intent.source!r} does not exist",
            field="source",
            fix=Fix("Check the name: ", ref("list_sources"), " lists them."),
        )
    try:
        rows = quarantine.read_rows(quarantine.engine_for(launch.current_settings()), found, intent.limit)
    except quarantine.NoQuarantineTable as error:
        empty: dict[str, Any] = {"source": found.source, "group": found.group, "table": None, "total_rows": 0}
        empty |= {"by_rule": {}, "columns": [], "rows": [], "note": error.fix}
        return Prepared(
            result={"quarantine": empty}, message=f"Source {found.source}: nothing quarantined yet."
        )
    columns = quarantine.shown_columns(rows.columns)
    view = {
        "source": found.source,
        "group": found.group,
        "table": rows.table,
        "total_rows": rows.total_rows,
        "by_rule": rows.by_rule,
        "columns": columns,
        "rows": [quarantine.shown_row(row, columns) for row in rows.rows],
    }
    return Prepared(
        result={"quarantine": view}, message=f"Source {found.source}: {rows.total_rows} quarantined row(s)."
    )


def _recent_runs(conn: Connection, *, group: str | None = None, source: str | None = None) -> list[Any]:
    condition, params = batch_filter(group=group, source=source)
    rows = conn.execute(
        "SELECT batch_id, source_name, status, trigger, created_at, started_at, ended_at, rows_in, "
        f"rows_out, error FROM lakeforge_log.batch_run b WHERE {condition} ORDER BY batch_id DESC LIMIT 5",
        params,
    ).fetchall()
    return _jsonable_rows(rows)


def list_runs(ctx: Context, intent: it.ListRuns) -> Prepared:
    condition, params = batch_filter(
        group=intent.group, source=intent.source, status=intent.status, since=intent.since
    )
    rows = ctx.conn.execute(
        f"SELECT * FROM lakeforge_log.batch_run b WHERE {condition} ORDER BY batch_id DESC LIMIT %(limit)s",
        {**params, "limit": intent.limit},
    ).fetchall()
    period = f" since {intent.since:%Y-%m-%d %H:%M %Z}".rstrip() if intent.since else ""
    return Prepared(result={"runs": _jsonable_rows(rows)}, message=f"{len(rows)} run(s){period}.")


def show_run(ctx: Context, intent: it.ShowRun) -> Prepared:
    batch = ctx.conn.execute(
        "SELECT * FROM lakeforge_log.batch_run WHERE batch_id = %s", [intent.batch_id]
    ).fetchone()
    if batch is None:
        raise unknown_batch(intent.batch_id)
    parts = {}
    for table in ("zone_run", "table_run", "step_run", "dq_run"):
        parts[table.removesuffix("_run") + "s"] = _jsonable_rows(
            ctx.conn.execute(
                f"SELECT * FROM lakeforge_log.{table} WHERE batch_id = %s ORDER BY id", [intent.batch_id]
            ).fetchall()
        )
    return Prepared(
        result={"batch": _jsonable_rows([batch])[0], **parts},
        message=f"Batch {intent.batch_id}: {batch['status']}.",
    )


def help_intent(ctx: Context, intent: it.Help) -> Prepared:
    kinds = ctx.principal.allowed_kinds()
    items = [
        {
            "kind": kind,
            # The docstring's first paragraph, which may wrap over several lines.
            "summary": " ".join((it.INTENTS_BY_KIND[kind].__doc__ or "").strip().split("\n\n")[0].split()),
            "example": it.INTENTS_BY_KIND[kind].example,
        }
        for kind in kinds
    ]
    return Prepared(result={"intents": items}, message=f"You may use {len(items)} commands.")


HANDLERS: dict[str, Callable[[Context, Any], Prepared]] = {
    "register_source": register_source,
    "update_source": update_source,
    "remove_source": remove_source,
    "create_group": create_group,
    "update_group": update_group,
    "set_schedule": set_schedule,
    "pause_schedule": pause_schedule,
    "resume_schedule": resume_schedule,
    "add_dq_rule": add_dq_rule,
    "update_dq_rule": update_dq_rule,
    "remove_dq_rule": remove_dq_rule,
    "run_now": run_now,
    "rerun_batch": rerun_batch,
    "cancel_run": cancel_run,
    "sync_jobs": sync_jobs,
    "subscribe_channel": subscribe_channel,
    "restore_revision": restore_revision,
    "upsert_system": upsert_system,
    "upsert_compute_profile": upsert_compute_profile,
    "upsert_gold": upsert_gold,
    "remove_gold": remove_gold,
    "show_source": show_source,
    "show_group": show_group,
    "list_sources": list_sources,
    "show_quarantine": show_quarantine,
    "list_runs": list_runs,
    "show_run": show_run,
    "help": help_intent,
}


# Intents whose ``name`` is a source's or a group's name (restore_revision says which by ``entity``).
_NAMES_A_SOURCE = frozenset({"update_source", "remove_source", "show_source"})
_NAMES_A_GROUP = frozenset({"update_group", "show_group"})


def intent_groups(conn: Connection, intent: Any) -> set[str]:
    """The groups an intent acts on, for the permission check when its validation fails.

    A group-bound caller must hear why its command on its own group is wrong, not that it needs a
    global role, so a source, rule or batch named by the intent is looked up to its group. What
    does not exist has no group: only a global role hears about it, except a batch id that no
    batch has (``names_unknown_batch``), which names nothing of any group.
    """
    groups = {value for value in (getattr(intent, "group", None),) if isinstance(value, str)}
    kind = intent.kind
    entity = getattr(intent, "entity", None)
    if kind in _NAMES_A_GROUP or (kind == "restore_revision" and entity == "group"):
        groups.add(intent.name)
    source = getattr(intent, "source", None)
    if kind in _NAMES_A_SOURCE or (kind == "restore_revision" and entity == "source"):
        source = intent.name
    if isinstance(source, str):
        row = conn.execute(
            "SELECT g.name FROM source s JOIN source_group g ON g.id = s.source_group_id WHERE s.name = %s",
            [source],
        ).fetchone()
        groups.update([row["name"]] if row else [])
    batch_id = getattr(intent, "batch_id", None)
    batch_group = _batch_group(conn, batch_id) if isinstance(batch_id, int) else None
    groups.update([batch_group] if batch_group else [])
    return groups


def names_unknown_batch(conn: Connection, intent: Any) -> bool:
    """True when the intent names a batch id that no batch has (so it belongs to no group)."""
    batch_id = getattr(intent, "batch_id", None)
    return isinstance(batch_id, int) and _batch_group(conn, batch_id) is None


def _batch_group(conn: Connection, batch_id: int) -> str | None:
    row = conn.execute(
        "SELECT group_name FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
    ).fetchone()
    return str(row["group_name"]) if row else None


def unknown_batch(batch_id: int) -> Unknown:
    """The refusal of a batch id that no batch has: names the id and where the valid ones are."""
    return Unknown(
        f"batch {batch_id} does not exist",
        field="batch_id",
        fix=Fix("Find batch ids: ", ref("list_runs"), " lists them."),
    )
