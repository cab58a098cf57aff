"""Whole-entity snapshots: how a source, group, system, compute profile or channel looks, by name.

A snapshot is a plain dict that refers to other entities by name, never by id, so it can be
diffed for a plan, stored in ``metadata_revision``, exported to YAML and written back to
restore an earlier revision. ``write`` applies one snapshot change with an optimistic
revision check: if someone else changed the entity since it was read, it raises ``Conflict``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from lakeforge import suggest
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Connection
from lakeforge.metadata.repository import explain_integrity_error

Snapshot = dict[str, Any]


class Conflict(LakeForgeError):
    """Someone changed the same entity first; nothing was applied."""

    # The groups the refused entity belongs to, when the intent does not name them (a batch).
    groups: set[str] | None = None


class Missing(LakeForgeError):
    """A name the command refers to does not exist."""


# -- reading -----------------------------------------------------------------------------------
def _one(conn: Connection, query: str, params: list[Any]) -> dict[str, Any] | None:
    return conn.execute(query, params).fetchone()


# jsonb sorts keys; snapshots keep the order people read them in.
_RULE_KEYS = ("name", "expression", "action", "description", "enabled")
_SCHEDULE_KEYS = ("quartz_cron", "timezone", "paused")
_GOLD_KEYS = ("name", "sql", "target_table", "description")


def load_source(conn: Connection, name: str, *, lock: bool = False) -> Snapshot | None:
    # One round trip: the source, its three zone configs and its rules.
    row = _one(
        conn,
        "SELECT s.*, g.name AS group_name, sy.name AS system_name, "
        "to_jsonb(r) AS raw, to_jsonb(b) AS bronze, to_jsonb(v) AS silver, "
        "(SELECT coalesce(jsonb_agg(jsonb_build_object('name', d.name, 'expression', d.expression, "
        "'action', d.action, 'description', d.description, 'enabled', d.enabled) ORDER BY d.name), '[]') "
        "FROM dq_rule d WHERE d.source_id = s.id) AS rules "
        "FROM source s JOIN source_group g ON g.id = s.source_group_id "
        "LEFT JOIN source_system sy ON sy.id = s.source_system_id "
        "LEFT JOIN raw_config r ON r.source_id = s.id LEFT JOIN bronze_config b ON b.source_id = s.id "
        "LEFT JOIN silver_config v ON v.source_id = s.id WHERE s.name = %s"
        + (" FOR UPDATE OF s" if lock else ""),
        [name],
    )
    if row is None:
        return None
    raw, bronze, silver = row["raw"] or {}, row["bronze"] or {}, row["silver"] or {}
    return {
        "name": row["name"],
        "group": row["group_name"],
        "system": row["system_name"],
        "description": row["description"],
        "format": row["format"],
        "location": row["location"],
        "format_options": row["format_options"] or {},
        "load_mode": row["load_mode"],
        "watermark_column": row["watermark_column"],
        "schema_ddl": row["schema_ddl"],
        "enabled": row["enabled"],
        "raw": {
            "landing_path": raw.get("landing_path"),
            "retention_days": raw.get("retention_days"),
            "options": raw.get("options") or {},
        },
        "bronze": {
            "target_table": bronze.get("target_table"),
            "schema_evolution": bronze.get("schema_evolution", "evolve"),
            "options": bronze.get("options") or {},
        },
        "silver": {
            "target_table": silver.get("target_table"),
            "primary_keys": list(silver.get("primary_keys") or []),
            "scd_type": silver.get("scd_type", 1),
            "sequence_by": silver.get("sequence_by"),
            "dedupe": silver.get("dedupe", True),
            "select_expressions": list(silver.get("select_expressions") or []),
            "where": silver.get("where_clause"),
            "options": silver.get("options") or {},
        },
        "dq_rules": [{k: rule[k] for k in _RULE_KEYS} for rule in row["rules"]],
        "revision": row["revision"],
    }


def load_group(conn: Connection, name: str, *, lock: bool = False) -> Snapshot | None:
    # One round trip: the group, its schedule and its gold definitions.
    row = _one(
        conn,
        "SELECT g.*, p.name AS profile_name, c.name AS channel_name, "
        "(SELECT jsonb_build_object('quartz_cron', sc.quartz_cron, 'timezone', sc.timezone, 'paused', "
        "sc.paused) "
        "FROM schedule sc WHERE sc.source_group_id = g.id) AS schedule_json, "
        "(SELECT coalesce(jsonb_agg(jsonb_build_object('name', gc.name, 'sql', gc.sql, 'target_table', "
        "gc.target_table, 'description', gc.description) ORDER BY gc.name), '[]') "
        "FROM gold_config gc WHERE gc.source_group_id = g.id) AS gold_json "
        "FROM source_group g JOIN compute_profile p ON p.id = g.compute_profile_id "
        "LEFT JOIN notification_channel c ON c.id = g.notification_channel_id WHERE g.name = %s"
        + (" FOR UPDATE OF g" if lock else ""),
        [name],
    )
    if row is None:
        return None
    return {
        "name": row["name"],
        "description": row["description"],
        "owner": row["owner"],
        "compute_profile": row["profile_name"],
        "catalog": row["catalog"],
        "engine": row["engine"],
        "max_concurrent_runs": row["max_concurrent_runs"],
        "timeout_seconds": row["timeout_seconds"],
        "max_retries": row["max_retries"],
        "schedule": {k: row["schedule_json"][k] for k in _SCHEDULE_KEYS} if row["schedule_json"] else None,
        "channel": row["channel_name"],
        "gold": [{k: item[k] for k in _GOLD_KEYS} for item in row["gold_json"]],
        "revision": row["revision"],
    }


_SYSTEM_FIELDS = ("name", "kind", "description", "owner", "connection")
_PROFILE_FIELDS = (
    "name",
    "kind",
    "spark_version",
    "node_type_id",
    "num_workers",
    "autoscale_min_workers",
    "autoscale_max_workers",
    "policy_id",
    "runtime_engine",
    "data_security_mode",
    "spark_conf",
    "custom_tags",
    "description",
)
_CHANNEL_FIELDS = ("name", "kind", "slack_channel_id", "webhook_url", "muted_until")


def _load_plain(conn: Connection, table: str, fields: tuple[str, ...], name: str) -> Snapshot | None:
    row = _one(conn, f"SELECT * FROM {table} WHERE name = %s", [name])
    if row is None:
        return None
    snap = {field: row[field] for field in fields}
    if "muted_until" in snap and snap["muted_until"] is not None:
        snap["muted_until"] = snap["muted_until"].isoformat()
    snap["revision"] = latest_revision(conn, _ENTITY_OF_TABLE[table], name)
    return snap


_ENTITY_OF_TABLE = {
    "source_system": "system",
    "compute_profile": "compute_profile",
    "notification_channel": "channel",
}


def load_system(conn: Connection, name: str) -> Snapshot | None:
    return _load_plain(conn, "source_system", _SYSTEM_FIELDS, name)


def load_profile(conn: Connection, name: str) -> Snapshot | None:
    return _load_plain(conn, "compute_profile", _PROFILE_FIELDS, name)


def load_channel(conn: Connection, name: str) -> Snapshot | None:
    return _load_plain(conn, "notification_channel", _CHANNEL_FIELDS, name)


LOADERS: dict[str, Callable[[Connection, str], Snapshot | None]] = {
    "source": load_source,
    "group": load_group,
    "system": load_system,
    "compute_profile": load_profile,
    "channel": load_channel,
}


def latest_revision(conn: Connection, entity: str, name: str) -> int:
    row = _one(
        conn,
        "SELECT coalesce(max(revision), 0) AS rev FROM metadata_revision WHERE entity_type = %s AND "
        "entity_key = %s",
        [entity, name],
    )
    return int(row["rev"]) if row else 0


# -- names, for suggesting what a mistyped name meant ---------------------------------------
# Read only when a name is missing, never on the way of a command that names what exists.
def group_names(conn: Connection, groups: frozenset[str] | None) -> list[str]:
    """Names of the groups in ``groups`` that exist (every group for None)."""
    if groups is None:
        rows = conn.execute("SELECT name FROM source_group").fetchall()
    else:
        rows = conn.execute("SELECT name FROM source_group WHERE name = ANY(%s)", [sorted(groups)]).fetchall()
    return [row["name"] for row in rows]


def source_names(conn: Connection, groups: frozenset[str] | None) -> list[str]:
    """Names of the sources of the groups in ``groups`` (of every group for None)."""
    query = "SELECT s.name FROM source s JOIN source_group g ON g.id = s.source_group_id"
    if groups is None:
        rows = conn.execute(query).fetchall()
    else:
        rows = conn.execute(f"{query} WHERE g.name = ANY(%s)", [sorted(groups)]).fetchall()
    return [row["name"] for row in rows]


# Entities that belong to no group: systems, compute profiles and channels are shared by all.
SHARED_TABLES = frozenset({"source_system", "compute_profile", "notification_channel"})


def shared_names(conn: Connection, table: str) -> list[str]:
    """Names in one of ``SHARED_TABLES`` (LakeForge's own constants, never user input)."""
    assert table in SHARED_TABLES
    return [row["name"] for row in conn.execute(f"SELECT name FROM {table}").fetchall()]


def _id_of(conn: Connection, table: str, name: str | None, field: str) -> int | None:
    if name is None:
        return None
    row = _one(conn, f"SELECT id FROM {table} WHERE name = %s", [name])
    if row is None:
        # The handlers checked the name a moment ago, so it was removed meanwhile. Shared names
        # may be suggested to anyone; a group's are not (the caller's bindings are not known here).
        candidates = shared_names(conn, table) if table in SHARED_TABLES else []
        raise Missing(
            f"{table.replace('_', ' ')} {name!r} does not exist",
            field=field,
            fix=suggest.did_you_mean(name, candidates, "Create it first."),
        )
    return int(row["id"])


# -- writing -----------------------------------------------------------------------------------
def write(
    conn: Connection, entity: str, before: Snapshot | None, after: Snapshot | None, revision: int
) -> None:
    """Make the stored entity equal ``after`` (None deletes), checking it still equals ``before``."""
    # No savepoint: any database error aborts the whole command, and the caller rolls back.
    try:
        _WRITERS[entity](conn, before, after, revision)
    except psycopg.errors.UniqueViolation as error:
        if before is None:
            raise Conflict(
                f"{entity} {(after or {}).get('name')!r} was created by another command meanwhile",
                field="name",
                fix="Look at it and send an update instead.",
            ) from None
        raise explain_integrity_error(error, entity) from None
    except psycopg.errors.IntegrityError as error:
        raise explain_integrity_error(error, entity) from None


def _insert_or_update(
    conn: Connection,
    table: str,
    entity: str,
    columns: str,
    values: list[Any],
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> int:
    """Insert the row, or update it only if its revision is still the one the plan was made from.

    ``table`` and ``columns`` are LakeForge's own constants, never user input.
    """
    if before is None:
        row = conn.execute(
            f"INSERT INTO {table} (name, {columns}) VALUES (%s, {', '.join(['%s'] * len(values))}) "
            "RETURNING id",
            [after["name"], *values],
        ).fetchone()
    else:
        assignments = ", ".join(f"{c.strip()} = %s" for c in columns.split(","))
        row = conn.execute(
            f"UPDATE {table} SET {assignments}, updated_at = now() WHERE name = %s AND revision = %s "
            "RETURNING id",
            [*values, before["name"], before["revision"]],
        ).fetchone()
        _check_revision(0 if row is None else 1, entity, before["name"], before)
    assert row is not None
    return int(row["id"])


def _check_revision(cursor_rows: int, entity: str, name: str, before: Snapshot) -> None:
    if cursor_rows == 0:
        raise Conflict(
            f"{entity} {name!r} changed since revision {before.get('revision')} was read",
            field="expected_revision",
            fix="Read it again and resend your change against the new revision.",
        )


def _write_source(conn: Connection, before: Snapshot | None, after: Snapshot | None, revision: int) -> None:
    if after is None:
        assert before is not None
        deleted = conn.execute(
            "DELETE FROM source WHERE name = %s AND revision = %s", [before["name"], before["revision"]]
        ).rowcount
        _check_revision(deleted, "source", before["name"], before)
        return
    group_id = _id_of(conn, "source_group", after["group"], "group")
    system_id = _id_of(conn, "source_system", after.get("system"), "system")
    values = [
        group_id,
        system_id,
        after.get("description"),
        after["format"],
        after["location"],
        Jsonb(after.get("format_options") or {}),
        after.get("load_mode", "full"),
        after.get("watermark_column"),
        after.get("schema_ddl"),
        after.get("enabled", True),
        revision,
    ]
    columns = (
        "source_group_id, source_system_id, description, format, location, format_options, "
        "load_mode, watermark_column, schema_ddl, enabled, revision"
    )
    sid = _insert_or_update(conn, "source", "source", columns, values, before, after)
    raw, bronze, silver = after["raw"], after["bronze"], after["silver"]
    conn.execute(
        "INSERT INTO raw_config (source_id, landing_path, retention_days, options) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (source_id) DO UPDATE SET landing_path = EXCLUDED.landing_path, "
        "retention_days = EXCLUDED.retention_days, options = EXCLUDED.options",
        [sid, raw.get("landing_path"), raw.get("retention_days"), Jsonb(raw.get("options") or {})],
    )
    conn.execute(
        "INSERT INTO bronze_config (source_id, target_table, schema_evolution, options) VALUES (%s, %s, "
        "%s, %s) "
        "ON CONFLICT (source_id) DO UPDATE SET target_table = EXCLUDED.target_table, "
        "schema_evolution = EXCLUDED.schema_evolution, options = EXCLUDED.options",
        [
            sid,
            bronze["target_table"],
            bronze.get("schema_evolution", "evolve"),
            Jsonb(bronze.get("options") or {}),
        ],
    )
    conn.execute(
        "INSERT INTO silver_config (source_id, target_table, primary_keys, scd_type, sequence_by, dedupe, "
        "select_expressions, where_clause, options) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (source_id) DO UPDATE SET target_table = EXCLUDED.target_table, "
        "primary_keys = EXCLUDED.primary_keys, scd_type = EXCLUDED.scd_type, sequence_by = "
        "EXCLUDED.sequence_by, "
        "dedupe = EXCLUDED.dedupe, select_expressions = EXCLUDED.select_expressions, "
        "where_clause = EXCLUDED.where_clause, options = EXCLUDED.options",
        [
            sid,
            silver["target_table"],
            list(silver.get("primary_keys") or []),
            silver.get("scd_type", 1),
            silver.get("sequence_by"),
            silver.get("dedupe", True),
            list(silver.get("select_expressions") or []),
            silver.get("where"),
            Jsonb(silver.get("options") or {}),
        ],
    )
    _sync_named(
        conn,
        table="dq_rule",
        owner_column="source_id",
        owner_id=sid,
        wanted=after.get("dq_rules") or [],
        fields=("expression", "action", "description", "enabled"),
    )


def _sync_named(
    conn: Connection,
    *,
    table: str,
    owner_column: str,
    owner_id: int,
    wanted: list[dict[str, Any]],
    fields: tuple[str, ...],
) -> None:
    """Make the named children of one owner (rules, gold) equal ``wanted``; bump changed ones' revision."""
    existing = {
        row["name"]: row
        for row in conn.execute(f"SELECT * FROM {table} WHERE {owner_column} = %s", [owner_id]).fetchall()
    }
    names = {item["name"] for item in wanted}
    for name in existing.keys() - names:
        conn.execute(f"DELETE FROM {table} WHERE {owner_column} = %s AND name = %s", [owner_id, name])
    for item in wanted:
        current = existing.get(item["name"])
        values = [item.get(f) for f in fields]
        if current is None:
            conn.execute(
                f"INSERT INTO {table} ({owner_column}, name, {', '.join(fields)}) "
                f"VALUES (%s, %s, {', '.join(['%s'] * len(fields))})",
                [owner_id, item["name"], *values],
            )
        elif any(current[f] != item.get(f) for f in fields):
            conn.execute(
                f"UPDATE {table} SET {', '.join(f'{f} = %s' for f in fields)}, revision = revision + 1, "
                f"updated_at = now() WHERE {owner_column} = %s AND name = %s",
                [*values, owner_id, item["name"]],
            )


def _write_group(conn: Connection, before: Snapshot | None, after: Snapshot | None, revision: int) -> None:
    if after is None:
        assert before is not None
        deleted = conn.execute(
            "DELETE FROM source_group WHERE name = %s AND revision = %s", [before["name"], before["revision"]]
        ).rowcount
        _check_revision(deleted, "group", before["name"], before)
        return
    profile_id = _id_of(conn, "compute_profile", after["compute_profile"], "compute_profile")
    channel_id = _id_of(conn, "notification_channel", after.get("channel"), "channel")
    values = [
        after.get("description"),
        after.get("owner"),
        profile_id,
        channel_id,
        after.get("catalog", "main"),
        after.get("engine", "auto"),
        after.get("max_concurrent_runs", 1),
        after.get("timeout_seconds", 0),
        after.get("max_retries", 1),
        revision,
    ]
    columns = (
        "description, owner, compute_profile_id, notification_channel_id, catalog, engine, "
        "max_concurrent_runs, timeout_seconds, max_retries, revision"
    )
    gid = _insert_or_update(conn, "source_group", "group", columns, values, before, after)
    schedule = after.get("schedule")
    if schedule is None:
        conn.execute("DELETE FROM schedule WHERE source_group_id = %s", [gid])
    else:
        conn.execute(
            "INSERT INTO schedule (source_group_id, quartz_cron, timezone, paused) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (source_group_id) DO UPDATE SET quartz_cron = EXCLUDED.quartz_cron, "
            "timezone = EXCLUDED.timezone, paused = EXCLUDED.paused, updated_at = now()",
            [gid, schedule["quartz_cron"], schedule.get("timezone", "UTC"), schedule.get("paused", False)],
        )
    _sync_named(
        conn,
        table="gold_config",
        owner_column="source_group_id",
        owner_id=gid,
        wanted=after.get("gold") or [],
        fields=("sql", "target_table", "description"),
    )


def _plain_writer(
    table: str, fields: tuple[str, ...]
) -> Callable[[Connection, Snapshot | None, Snapshot | None, int], None]:
    def writer(conn: Connection, before: Snapshot | None, after: Snapshot | None, revision: int) -> None:
        if after is None:
            assert before is not None
            conn.execute(f"DELETE FROM {table} WHERE name = %s", [before["name"]])
            return
        values = [Jsonb(after.get(f)) if isinstance(after.get(f), dict) else after.get(f) for f in fields]
        updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in fields if f != "name")
        conn.execute(
            f"INSERT INTO {table} ({', '.join(fields)}) VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT (name) DO UPDATE SET {updates}",
            values,
        )

    return writer


_WRITERS: dict[str, Callable[[Connection, Snapshot | None, Snapshot | None, int], None]] = {
    "source": _write_source,
    "group": _write_group,
    "system": _plain_writer("source_system", _SYSTEM_FIELDS),
    "compute_profile": _plain_writer("compute_profile", _PROFILE_FIELDS),
    "channel": _plain_writer("notification_channel", _CHANNEL_FIELDS),
}


def record_revision(
    conn: Connection,
    entity: str,
    key: str,
    revision: int,
    before: Snapshot | None,
    after: Snapshot | None,
    command_id: Any,
    actor: str,
) -> None:
    row = conn.execute(
        "INSERT INTO metadata_revision (entity_type, entity_key, revision, before, after, command_id, actor) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT ON CONSTRAINT metadata_revision_key DO NOTHING "
        "RETURNING id",
        [
            entity,
            key,
            revision,
            Jsonb(before) if before is not None else None,
            Jsonb(after) if after is not None else None,
            command_id,
            actor,
        ],
    ).fetchone()
    if row is None:
        raise Conflict(
            f"{entity} {key!r} was changed by another command at the same time",
            field="expected_revision",
            fix="Read it again and resend your change.",
        )
