"""``lakeforge.yaml``: the whole metadata as one reviewable file, applied through the command layer.

``apply`` upserts what the file declares (compute profiles, systems, groups with schedule, gold
and channel, sources with raw/bronze/silver config and rules); it never deletes what the file
leaves out. Each entity is one command (plan, audit, revision); unchanged entities are no-ops.
The whole file is checked first, in a rehearsal the executor rolls back, so a mistake anywhere in
it writes nothing; errors name the place in the file (``lakeforge.yaml.groups.0.name``, line).
``export`` writes the inverse, so export → apply changes nothing.

>>> report = apply_file(db, Path("lakeforge.yaml"), actor, principal, dry_run=True)
>>> print(export_yaml(db))
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakeforge import suggest
from lakeforge.commands import handlers, state
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor, CommandResult, FieldError
from lakeforge.commands.executor import execute, rehearse
from lakeforge.commands.intents import (
    BronzeSpec,
    GoldSpec,
    OptionValue,
    RawSpec,
    RuleSpec,
    ScheduleSpec,
    SilverSpec,
    typed_field_errors,
)
from lakeforge.commands.plans import PlanLine
from lakeforge.commands.yaml_file import DocPath, InvalidFile, Lines, line_of, read_yaml
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


# What each mapping of the file is, as errors name it ("is not a key of a group").
_NOUNS: dict[type[BaseModel], str] = {
    LakeForgeFile: "the top level",
    ProfileDoc: "a compute profile",
    SystemDoc: "a system",
    GroupDoc: "a group",
    SourceDoc: "a source",
    NotifyDoc: "a group's notify",
    ScheduleSpec: "a schedule",
    GoldSpec: "a gold table",
    RawSpec: "a source's raw",
    BronzeSpec: "a source's bronze",
    SilverSpec: "a source's silver",
    RuleSpec: "a rule",
}


@dataclass
class Step:
    """One command of an apply: the intent sent and what came back (or the local plan on dry runs)."""

    entity: str
    name: str
    intent: dict[str, Any]
    path: DocPath = ()  # where the entity is declared in the file, e.g. ("groups", "0", "sources", "1")
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
    # Sources in Lakebase, in a group the file declares, that the file does not declare: apply
    # leaves them alone, so a renamed source keeps loading next to its new name.
    undeclared_sources: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status != "rejected" for step in self.steps)

    @property
    def changes(self) -> int:
        """Entities changed (or, on a dry run, that would change)."""
        done = "planned" if self.dry_run else "applied"
        return sum(1 for step in self.steps if step.status == done and step.changed)


# -- reading the file ----------------------------------------------------------------------------
def read_file(path: Path) -> tuple[LakeForgeFile, Lines]:
    """Parse and validate ``lakeforge.yaml``, with the line of every path for later errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        # An InvalidFile like any other problem of the file, so `apply --json` answers it as JSON.
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        problem = FieldError(field=str(path), message=f"cannot be read ({reason})", fix="Check the path.")
        raise InvalidFile([problem]) from None
    data, lines = read_yaml(text, str(path))
    # An empty file declares nothing, and apply never deletes: it is a valid no-op.
    return parse_document(data if data is not None else {}, source=str(path), lines=lines), lines


def load_file(path: Path) -> LakeForgeFile:
    """Parse and validate ``lakeforge.yaml``; errors name the path inside the file and its line."""
    return read_file(path)[0]


def parse_document(data: Any, source: str = "lakeforge.yaml", lines: Lines | None = None) -> LakeForgeFile:
    """The validated document; ``InvalidFile`` lists every problem with its path (and line)."""
    try:
        doc = LakeForgeFile.model_validate(data)
    except ValidationError as error:
        errors = []
        for located, kind in typed_field_errors(error, prefix=source):
            parts = _parts(located.field, source)
            message, fix = located.message, located.fix
            if kind == "extra_forbidden":
                message, fix = f"is not a key of {_noun(_model_at(parts[:-1]))}", _key_fix(parts)
            elif kind == "missing":
                message, fix = "is missing", _required_fix(parts)
            elif kind in _SCALAR_KINDS:
                message, fix = f"should be {_SCALAR_KINDS[kind]}", _SCALAR_FIXES[_SCALAR_KINDS[kind]]
            elif kind == "model_type":
                # Pydantic names its class ("instance of ScheduleSpec"); the reader wrote YAML.
                message = f"should be a mapping of keys, not {_yaml_kind(_value_at(data, parts))}"
                fix = _keys_hint(parts)
            elif kind == "list_type":
                message = f"should be a list, not {_yaml_kind(_value_at(data, parts))}"
                fix = "Write each item on its own line starting with '- ' (or [a, b]); use [] for none."
            elif kind == "dict_type":
                message = f"should be a mapping of keys, not {_yaml_kind(_value_at(data, parts))}"
                fix = "Write it as key: value lines (or {key: value}); use {} for none."
            placed = _at(FieldError(field="", message=message, fix=fix), source, parts, lines)
            errors.append((line_of(lines, parts) if lines else None, placed))
        # In the order of the file, as a reader fixes them (pydantic goes by the order of fields).
        errors.sort(key=lambda found: found[0] or 0)
        raise InvalidFile([placed for _, placed in errors]) from None
    duplicates = [_at(error, source, parts, lines) for parts, error in _duplicates(doc, lines)]
    if duplicates:
        raise InvalidFile(duplicates)
    return doc


def _parts(field_name: str, source: str) -> DocPath:
    rest = field_name.removeprefix(source).lstrip(".")
    return tuple(rest.split(".")) if rest else ()


def _at(error: FieldError, source: str, parts: DocPath, lines: Lines | None) -> FieldError:
    """``error`` placed in the file: its YAML path, and its line when the file was read from disk."""
    line = line_of(lines, parts) if lines else None
    message = f"{error.message.rstrip('.')} (line {line})" if line else error.message
    return FieldError(field=".".join((source, *parts)), message=message, fix=error.fix)


def _model_at(parts: DocPath) -> type[BaseModel] | None:
    """The document model that describes the mapping at ``parts`` (list indices are skipped)."""
    model: type[BaseModel] | None = LakeForgeFile
    for part in parts:
        if part.isdigit() or model is None:
            continue
        info = model.model_fields.get(part)
        model = _inner_model(info.annotation) if info else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _value_at(data: Any, parts: DocPath) -> Any:
    for part in parts:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _yaml_kind(value: Any) -> str:
    """What was written instead, never the value itself (it might be a pasted credential)."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a single value"
    return "empty" if value is None else f"a {type(value).__name__}"


def _keys_hint(parts: DocPath) -> str | None:
    model = _model_at(parts)
    return f"Write it as key: value lines; allowed keys: {', '.join(model.model_fields)}." if model else None


def _key_fix(parts: DocPath) -> str:
    """For a key that is not allowed: where it belongs when it is a key of another part of the
    file (mis-indented, the common case), else the closest allowed key; then the whole list."""
    model = _model_at(parts[:-1])
    if model is None:
        return "Remove this key."
    allowed = list(model.model_fields)
    elsewhere = [
        place for other, place in _PLACES.items() if other is not model and parts[-1] in other.model_fields
    ]
    close = suggest.closest(parts[-1], allowed)
    if elsewhere:
        hint = f"{parts[-1]!r} belongs {' or '.join(elsewhere)}: check its indentation. "
    elif close:
        hint = f"{suggest.hint(close)} "
    else:
        hint = "Remove it or fix its name. "
    return f"{hint}Allowed here: {', '.join(allowed)}."


def _required_fix(parts: DocPath) -> str | None:
    model = _model_at(parts[:-1])
    if model is None:
        return None
    needed = [name for name, info in model.model_fields.items() if info.is_required()]
    keys = " and ".join([", ".join(needed[:-1]), needed[-1]] if len(needed) > 1 else needed)
    return f"Add {parts[-1]}: to it; {_noun(model)} needs {keys}."


# Pydantic's type and bound errors in the file's words (the intents' fixes speak of JSON).
_SCALAR_KINDS = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
}
_SCALAR_FIXES = {
    "a whole number": "Write digits only, e.g. 2.",
    "a number": "Write a number, e.g. 0.5.",
    "true or false": "Write true or false.",
    "text": "Write one value; quote it if it contains ': ' or starts with '{' or '['.",
}


def _noun(model: type[BaseModel] | None) -> str:
    return _NOUNS.get(model, "this mapping") if model is not None else "this mapping"


def _places(model: type[BaseModel], path: tuple[str, ...] = ()) -> dict[type[BaseModel], str]:
    """Where in the file each kind of mapping is written, e.g. SilverSpec: under groups → sources → silver."""
    found = {model: f"under {' → '.join(path)}" if path else "at the top level of the file"}
    for name, info in model.model_fields.items():
        inner = _inner_model(info.annotation)
        if inner is not None:
            for deeper, place in _places(inner, (*path, name)).items():
                found.setdefault(deeper, place)
    return found


_PLACES = _places(LakeForgeFile)


def _duplicates(doc: LakeForgeFile, lines: Lines | None) -> list[tuple[DocPath, FieldError]]:
    """Names declared twice: applying both would silently keep the later one."""
    found: list[tuple[DocPath, FieldError]] = []

    def check(kind: str, named: Sequence[tuple[DocPath, str]], scope: str) -> None:
        first: dict[str, DocPath] = {}
        for path, name in named:
            if name in first:
                line = line_of(lines, first[name]) if lines else None
                earlier = f"line {line}" if line else ".".join(first[name])
                error = FieldError(
                    field="",
                    message=f"{kind} {name!r} is declared twice, first at {earlier}",
                    fix=f"{kind.capitalize()} names are unique {scope}: rename one or merge them.",
                )
                found.append(((*path, "name"), error))
            else:
                first.setdefault(name, path)

    check(
        "compute profile",
        [(("compute_profiles", str(i)), p.name) for i, p in enumerate(doc.compute_profiles)],
        "in LakeForge",
    )
    check("system", [(("systems", str(i)), s.name) for i, s in enumerate(doc.systems)], "in LakeForge")
    check("group", [(("groups", str(i)), g.name) for i, g in enumerate(doc.groups)], "in LakeForge")
    check(
        "source",
        [
            (("groups", str(i), "sources", str(j)), s.name)
            for i, g in enumerate(doc.groups)
            for j, s in enumerate(g.sources)
        ],
        "across all groups",
    )
    for i, group in enumerate(doc.groups):
        check(
            "gold table",
            [(("groups", str(i), "gold", str(k)), t.name) for k, t in enumerate(group.gold)],
            "in a group",
        )
        for j, src in enumerate(group.sources):
            rules = [
                (("groups", str(i), "sources", str(j), "dq_rules", str(k)), r.name)
                for k, r in enumerate(src.dq_rules)
            ]
            check("rule", rules, "in a source")
    return found


# -- intents for a document --------------------------------------------------------------------
def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def plan_intents(db: Database, doc: LakeForgeFile) -> list[Step]:
    """The commands that make Lakebase match ``doc`` (one per declared entity), in dependency order."""
    steps: list[Step] = []
    with db.connection() as conn:
        for i, profile in enumerate(doc.compute_profiles):
            data = profile.model_dump(mode="json")
            intent = {"kind": "upsert_compute_profile", "profile_kind": data.pop("kind"), **data}
            steps.append(Step("compute_profile", profile.name, intent, ("compute_profiles", str(i))))
        for i, system in enumerate(doc.systems):
            data = system.model_dump(mode="json")
            intent = {"kind": "upsert_system", "system_kind": data.pop("kind"), **data}
            steps.append(Step("system", system.name, intent, ("systems", str(i))))
        for i, group in enumerate(doc.groups):
            at: DocPath = ("groups", str(i))
            data = group.model_dump(mode="json", exclude={"sources", "notify"})
            current = state.load_group(conn, group.name)
            if current is None:
                steps.append(Step("group", group.name, {"kind": "create_group", **_drop_none(data)}, at))
            else:
                steps.append(Step("group", group.name, {"kind": "update_group", **data}, at))
            if group.notify is not None:
                notify = _drop_none(group.notify.model_dump(mode="json"))
                intent = {"kind": "subscribe_channel", "group": group.name, **notify}
                steps.append(Step("channel", group.name, intent, (*at, "notify")))
            elif current is not None and current.get("channel") is not None:
                intent = {"kind": "update_group", "name": group.name, "channel": None}
                steps.append(Step("group", group.name, intent, at))
            for j, source in enumerate(group.sources):
                data = {**source.model_dump(mode="json"), "group": group.name}
                kind = "register_source" if state.load_source(conn, source.name) is None else "update_source"
                steps.append(Step("source", source.name, {"kind": kind, **data}, (*at, "sources", str(j))))
    return steps


# Intent fields named differently in the file, and fixes that speak of the file, not of intents.
_FILE_KEYS = {"system_kind": "kind", "profile_kind": "kind", "channel": "notify"}
_FILE_FIXES = {
    "Create it with upsert_system first.": "Declare it under systems: (in this file or in Lakebase already).",
    "Use single_node or create it with upsert_compute_profile.": (
        "Use single_node, or declare it under compute_profiles: (in this file or in Lakebase already)."
    ),
}


def _in_file(error: FieldError, step: Step, source: str, lines: Lines | None) -> FieldError:
    """An executor error (``intent.system``) as the place in the file that caused it."""
    parts = error.field.split(".")
    parts = parts[1:] if parts[0] == "intent" else parts
    if parts[:1] == ["group"] and step.entity in ("source", "channel"):
        path: DocPath = (*step.path[:2], "name")  # the enclosing group's name
    else:
        head = [_FILE_KEYS.get(parts[0], parts[0]), *parts[1:]] if parts else []
        path = (*step.path, *head)
    # The suggestion of a close name leads the fix; the rest is reworded for the file.
    hint, rest = suggest.split_hint(error.fix)
    fix = f"{hint}{_FILE_FIXES.get(rest or '', rest) or ''}".strip() or None
    return _at(FieldError(field="", message=error.message, fix=fix), source, path, lines)


def apply_document(
    db: Database,
    doc: LakeForgeFile,
    actor: Actor,
    principal: Principal | None = None,
    *,
    dry_run: bool = False,
    source: str = "lakeforge.yaml",
    lines: Lines | None = None,
) -> ApplyReport:
    """Apply ``doc`` through the executor, all or nothing as far as checks go.

    Every entity is first planned and checked in one rehearsal that is rolled back (each planned
    after the ones before it, so a source may use a system declared above it). A dry run stops
    there; a real apply writes nothing unless every entity passed, then applies them one command
    each and stops at the first one rejected (only a concurrent edit can cause that now).
    """
    report = ApplyReport(dry_run=dry_run, undeclared_sources=_undeclared_sources(db, doc))
    report.steps = plan_intents(db, doc)
    rehearsed = rehearse(db, [step.intent for step in report.steps], actor, principal=principal)
    for step, planned in zip(report.steps, rehearsed, strict=True):
        _record(step, planned, source, lines)
    if dry_run or not report.ok:
        return report
    for step in report.steps:
        result: CommandResult = execute(db, step.intent, actor, principal=principal)
        if result.status == "needs_confirmation":  # never for upserts, kept for safety
            result = execute(db, step.intent, actor, principal=principal, confirm_token=result.confirm_token)
        _record(step, result, source, lines)
        if result.status == "rejected":
            break
    return report


def _undeclared_sources(db: Database, doc: LakeForgeFile) -> list[str]:
    declared = [source.name for group in doc.groups for source in group.sources]
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT s.name FROM source s JOIN source_group g ON g.id = s.source_group_id "
            "WHERE g.name = ANY(%s) AND NOT s.name = ANY(%s) ORDER BY s.name",
            [[group.name for group in doc.groups], declared],
        ).fetchall()
    return [row["name"] for row in rows]


def _record(step: Step, result: CommandResult, source: str, lines: Lines | None) -> None:
    step.plan, step.status, step.message = result.plan or [], result.status, result.message
    step.errors = [_in_file(error, step, source, lines) for error in result.errors]
    if step.errors:  # the executor's message names intent fields; say it as the file does
        first = step.errors[0]
        more = f" (and {len(step.errors) - 1} more)" if len(step.errors) > 1 else ""
        step.message = LakeForgeError(first.message + more, field=first.field, fix=first.fix).sentence()


def apply_file(
    db: Database, path: Path, actor: Actor, principal: Principal | None = None, *, dry_run: bool = False
) -> ApplyReport:
    doc, lines = read_file(path)
    return apply_document(db, doc, actor, principal, dry_run=dry_run, source=str(path), lines=lines)


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


def export_document(db: Database, only_group: str | None = None) -> dict[str, Any]:
    """Everything in Lakebase as a ``lakeforge.yaml`` document (plain data).

    With ``only_group``, that group alone (its sources, rules, schedule, gold and channel) plus the
    compute profile and systems it uses, so the file applies on its own to another store.
    """
    source_defaults = SourceDoc(name="x", format="csv", location="x").model_dump(mode="json")
    group_defaults = GroupDoc(name="x").model_dump(mode="json")
    schedule_defaults = {
        name: field.default for name, field in ScheduleSpec.model_fields.items() if not field.is_required()
    }
    with db.connection() as conn:
        names = {
            table: [row["name"] for row in conn.execute(f"SELECT name FROM {table} ORDER BY name").fetchall()]
            for table in ("compute_profile", "source_system", "source_group")
        }
        if only_group is not None:
            names["source_group"] = [_require_group(conn, only_group)]
            used = _used_by_group(conn, only_group)
            names["compute_profile"] = [n for n in names["compute_profile"] if n in used["compute_profile"]]
            names["source_system"] = [n for n in names["source_system"] if n in used["source_system"]]
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
            if doc.get("schedule"):
                doc["schedule"] = _trim(doc["schedule"], schedule_defaults)  # no "timezone: UTC"
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


def _require_group(conn: Any, name: str) -> str:
    """``name`` when a group has it; else an error naming the closest group."""
    groups = state.group_names(conn, None)
    if name not in groups:
        raise LakeForgeError(
            f"group {name!r} does not exist",
            field="--group",
            fix=suggest.did_you_mean(name, groups, "`lakeforge export` without --group shows every group."),
        )
    return name


def _used_by_group(conn: Any, name: str) -> dict[str, set[str]]:
    """The compute profile and the systems a group's definition refers to."""
    profile = conn.execute(
        "SELECT p.name FROM source_group g JOIN compute_profile p ON p.id = g.compute_profile_id "
        "WHERE g.name = %s",
        [name],
    ).fetchall()
    systems = conn.execute(
        "SELECT DISTINCT y.name FROM source s JOIN source_group g ON g.id = s.source_group_id "
        "JOIN source_system y ON y.id = s.source_system_id WHERE g.name = %s",
        [name],
    ).fetchall()
    return {
        "compute_profile": {row["name"] for row in profile},
        "source_system": {row["name"] for row in systems},
    }


def export_yaml(db: Database, only_group: str | None = None) -> str:
    return yaml.safe_dump(export_document(db, only_group), sort_keys=False, allow_unicode=True, width=100)
