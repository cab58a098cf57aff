"""Read models: the SQL behind the API's GET routes, apart from the routes themselves.

Every function takes an open connection and returns plain JSON-able rows. Values are
always bound parameters; no user input is formatted into SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lakeforge.metadata.db import Connection
from lakeforge.runtime.batch_filter import batch_filter
from lakeforge.runtime.registry import DEFAULT_EXTRACTOR

Row = dict[str, Any]


# -- config ----------------------------------------------------------------------------------
_SOURCE_SUMMARY = """
SELECT s.name, g.name AS "group", sy.name AS system, s.description, s.format, s.location,
       s.load_mode, s.watermark_column, s.enabled, s.revision, s.created_at, s.updated_at
FROM lakeforge.source s
JOIN lakeforge.source_group g ON g.id = s.source_group_id
LEFT JOIN lakeforge.source_system sy ON sy.id = s.source_system_id
"""


def list_sources(conn: Connection, group: str | None = None) -> list[Row]:
    if group is None:
        return conn.execute(_SOURCE_SUMMARY + " ORDER BY s.name").fetchall()
    return conn.execute(_SOURCE_SUMMARY + " WHERE g.name = %s ORDER BY s.name", (group,)).fetchall()


def get_source(conn: Connection, name: str, *, runs: int = 10, revisions: int = 20) -> Row | None:
    """One source with its zone configs, rules, schedule, recent runs and revision history."""
    source = conn.execute(
        """SELECT s.*, g.name AS "group", sy.name AS system FROM lakeforge.source s
           JOIN lakeforge.source_group g ON g.id = s.source_group_id
           LEFT JOIN lakeforge.source_system sy ON sy.id = s.source_system_id
           WHERE s.name = %s""",
        (name,),
    ).fetchone()
    if source is None:
        return None
    source_id = source.pop("id")
    group_id = source.pop("source_group_id")
    source.pop("source_system_id", None)

    def one(table: str) -> Row | None:
        row = conn.execute(f"SELECT * FROM lakeforge.{table} WHERE source_id = %s", (source_id,)).fetchone()
        if row:
            row.pop("source_id", None)
        return row

    source["raw"] = one("raw_config")
    source["bronze"] = one("bronze_config")
    source["silver"] = one("silver_config")
    source["gold"] = conn.execute(
        """SELECT name, target_table, sql, description, revision, updated_at
           FROM lakeforge.gold_config WHERE source_group_id = %s ORDER BY name""",
        (group_id,),
    ).fetchall()
    source["dq_rules"] = conn.execute(
        """SELECT name, expression, action, description, enabled, revision, updated_at
           FROM lakeforge.dq_rule WHERE source_id = %s ORDER BY name""",
        (source_id,),
    ).fetchall()
    source["watermark"] = one("watermark_state")
    source["files"] = _files_loaded(conn, name) if reads_files(source) else None
    source["schedule"] = conn.execute(
        "SELECT quartz_cron, timezone, paused FROM lakeforge.schedule WHERE source_group_id = %s",
        (group_id,),
    ).fetchone()
    source["last_runs"] = _source_runs(conn, name, source["group"], runs)
    source["revisions"] = conn.execute(
        """SELECT revision, entity_type, before, after, command_id, actor, created_at
           FROM lakeforge.metadata_revision WHERE entity_type = 'source' AND entity_key = %s
           ORDER BY id DESC LIMIT %s""",
        (name, revisions),
    ).fetchall()
    return source


def reads_files(source: Row) -> bool:
    """Whether the files extractor reads the source, so the file ledger says what it loaded."""
    chosen = source.get("extractor") or DEFAULT_EXTRACTOR.get(source["format"])
    return chosen == "files"


def _files_loaded(conn: Connection, name: str) -> Row:
    """What the file ledger holds for a source: how many files, their bytes, and the newest.

    Both parts read the ledger's (source_name, batch_id) index; the newest file is the one of the
    highest batch modified last, with the time its batch recorded it.
    """
    row = conn.execute(
        """SELECT agg.files, agg.bytes, newest.path AS newest_path, newest.batch_id AS newest_batch_id,
                  newest.created_at AS newest_loaded_at
           FROM (SELECT count(*) AS files, sum(size_bytes) AS bytes
                 FROM lakeforge_log.file_ledger WHERE source_name = %(name)s) agg
           LEFT JOIN LATERAL (
               SELECT path, batch_id, created_at FROM lakeforge_log.file_ledger
               WHERE source_name = %(name)s ORDER BY batch_id DESC, mtime DESC, id DESC LIMIT 1
           ) newest ON true""",
        {"name": name},
    ).fetchone()
    assert row is not None  # an aggregate always answers one row
    return row


def _source_runs(conn: Connection, name: str, group: str, runs: int) -> list[Row]:
    """The newest batches of the source alone or of its whole group, with the source's own rows.

    A group batch's ``rows_out`` counts every source of the group, so each batch also carries
    what this source wrote: its Silver table's rows out, or its Bronze table's when Silver wrote
    none (not configured, skipped, failed or not reached yet), and which zone that was. The
    lateral join reads ``table_run`` by its batch index, once for each of the ``runs`` batches.
    """
    return conn.execute(
        """SELECT b.batch_id, b.group_name AS "group", b.source_name AS source, b.trigger, b.status,
                  b.engine, b.rows_in, b.rows_out, b.error, b.created_at, b.started_at, b.ended_at,
                  own.rows_out AS source_rows_out, own.zone AS source_rows_zone
           FROM lakeforge_log.batch_run b
           LEFT JOIN LATERAL (
               SELECT z.zone, t.rows_out
               FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id
               WHERE t.batch_id = b.batch_id AND t.source_name = %(name)s
                 AND z.zone IN ('bronze', 'silver') AND t.rows_out IS NOT NULL
               ORDER BY z.zone = 'silver' DESC, t.id DESC LIMIT 1
           ) own ON true
           WHERE b.batch_id IN (
               (SELECT batch_id FROM lakeforge_log.batch_run WHERE source_name = %(name)s
                ORDER BY batch_id DESC LIMIT %(n)s)
               UNION ALL
               (SELECT batch_id FROM lakeforge_log.batch_run
                WHERE group_name = %(group)s AND source_name IS NULL ORDER BY batch_id DESC LIMIT %(n)s))
           ORDER BY b.batch_id DESC LIMIT %(n)s""",
        {"name": name, "group": group, "n": runs},
    ).fetchall()


def list_groups(conn: Connection) -> list[Row]:
    return conn.execute(
        """SELECT g.name, g.description, g.owner, g.catalog, g.engine, g.max_concurrent_runs,
                  g.timeout_seconds, g.max_retries, g.revision, cp.name AS compute_profile,
                  nc.name AS channel, sc.quartz_cron, sc.timezone, sc.paused,
                  (SELECT count(*) FROM lakeforge.source s WHERE s.source_group_id = g.id) AS source_count,
                  last.batch_id AS last_batch_id, last.status AS last_status, last.ended_at AS last_ended_at
           FROM lakeforge.source_group g
           JOIN lakeforge.compute_profile cp ON cp.id = g.compute_profile_id
           LEFT JOIN lakeforge.notification_channel nc ON nc.id = g.notification_channel_id
           LEFT JOIN lakeforge.schedule sc ON sc.source_group_id = g.id
           LEFT JOIN LATERAL (
               SELECT batch_id, status, ended_at FROM lakeforge_log.batch_run b
               WHERE b.group_name = g.name ORDER BY batch_id DESC LIMIT 1) last ON true
           ORDER BY g.name"""
    ).fetchall()


def get_group(conn: Connection, name: str) -> Row | None:
    return next((group for group in list_groups(conn) if group["name"] == name), None)


def list_schedules(conn: Connection) -> list[Row]:
    return conn.execute(
        """SELECT g.name AS "group", sc.quartz_cron, sc.timezone, sc.paused, sc.updated_at
           FROM lakeforge.schedule sc JOIN lakeforge.source_group g ON g.id = sc.source_group_id
           ORDER BY g.name"""
    ).fetchall()


def list_dq_rules(conn: Connection, source: str | None = None, trend: int = 10) -> list[Row]:
    """Rules with their last ``trend`` outcomes (newest first) from the run log."""
    rules = conn.execute(
        """SELECT r.id, r.name, s.name AS source, r.expression, r.action, r.description, r.enabled,
                  r.revision, r.updated_at
           FROM lakeforge.dq_rule r JOIN lakeforge.source s ON s.id = r.source_id
           WHERE %(source)s::text IS NULL OR s.name = %(source)s
           ORDER BY s.name, r.name""",
        {"source": source},
    ).fetchall()
    if not rules:
        return rules
    runs = conn.execute(
        """SELECT rule_id, batch_id, status, rows_checked, rows_failed, created_at FROM (
               SELECT d.*, row_number() OVER (PARTITION BY rule_id ORDER BY batch_id DESC) AS n
               FROM lakeforge_log.dq_run d WHERE rule_id = ANY(%s)) ranked
           WHERE n <= %s ORDER BY rule_id, batch_id DESC""",
        ([rule["id"] for rule in rules], trend),
    ).fetchall()
    by_rule: dict[int, list[Row]] = {}
    for run in runs:
        by_rule.setdefault(run.pop("rule_id"), []).append(run)
    for rule in rules:
        history = by_rule.get(rule.pop("id"), [])
        rule["trend"] = history
        rule["passed"] = sum(1 for run in history if run["status"] == "passed")
        rule["failed"] = len(history) - rule["passed"]
    return rules


def list_compute_profiles(conn: Connection) -> list[Row]:
    rows = conn.execute("SELECT * FROM lakeforge.compute_profile ORDER BY name").fetchall()
    for row in rows:
        row.pop("id", None)
    return rows


def list_channels(conn: Connection) -> list[Row]:
    return conn.execute(
        """SELECT c.name, c.kind, c.slack_channel_id, c.webhook_url, c.muted_until, c.created_at,
                  coalesce(array_agg(g.name::text ORDER BY g.name) FILTER (WHERE g.name IS NOT NULL),
                           '{}'::text[]) AS groups
           FROM lakeforge.notification_channel c
           LEFT JOIN lakeforge.source_group g ON g.notification_channel_id = c.id
           GROUP BY c.id ORDER BY c.name"""
    ).fetchall()


# -- runs ------------------------------------------------------------------------------------
def list_runs(
    conn: Connection,
    *,
    limit: int,
    before: int | None = None,
    status: str | None = None,
    group: str | None = None,
    source: str | None = None,
    since: datetime | None = None,
) -> list[Row]:
    """Newest first, keyset-paginated on batch_id (``before``): index scans, never OFFSET.

    ``source`` matches batches of that source alone and batches of its whole group.
    """
    condition, params = batch_filter(group=group, source=source, status=status, since=since)
    params["limit"] = limit
    if before is not None:
        condition += " AND b.batch_id < %(before)s"
        params["before"] = before
    query = f"""SELECT b.batch_id, b.group_name AS "group", b.source_name AS source, b.trigger, b.rerun_of,
                       b.engine, b.status, b.requested_by, b.databricks_run_id, b.rows_in, b.rows_out,
                       b.error, b.cancel_requested_at, b.cancelled_by, b.created_at, b.started_at, b.ended_at
                FROM lakeforge_log.batch_run b WHERE {condition}
                ORDER BY b.batch_id DESC LIMIT %(limit)s"""
    return conn.execute(query, params).fetchall()


def get_run(conn: Connection, batch_id: int) -> Row | None:
    """One batch with its zones → tables → steps and the DQ results."""
    batch = conn.execute(
        """SELECT batch_id, group_name AS "group", source_name AS source, trigger, rerun_of, engine, status,
                  requested_by, databricks_run_id, rows_in, rows_out, error, cancel_requested_at,
                  cancelled_by, created_at, started_at, ended_at
           FROM lakeforge_log.batch_run WHERE batch_id = %s""",
        (batch_id,),
    ).fetchone()
    if batch is None:
        return None
    zones = conn.execute(
        "SELECT * FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id", (batch_id,)
    ).fetchall()
    tables = conn.execute(
        "SELECT * FROM lakeforge_log.table_run WHERE batch_id = %s ORDER BY id", (batch_id,)
    ).fetchall()
    steps = conn.execute(
        "SELECT * FROM lakeforge_log.step_run WHERE batch_id = %s ORDER BY id", (batch_id,)
    ).fetchall()
    dq = conn.execute(
        """SELECT table_run_id, rule_name, table_name, expression, action, rows_checked, rows_passed,
                  rows_failed, status, created_at
           FROM lakeforge_log.dq_run WHERE batch_id = %s ORDER BY id""",
        (batch_id,),
    ).fetchall()
    steps_by_table: dict[int | None, list[Row]] = {}
    for step in steps:
        steps_by_table.setdefault(step.pop("table_run_id"), []).append(step)
    dq_by_table: dict[int | None, list[Row]] = {}
    for result in dq:
        dq_by_table.setdefault(result.pop("table_run_id"), []).append(result)
    tables_by_zone: dict[int, list[Row]] = {}
    for table in tables:
        table["steps"] = steps_by_table.pop(table["id"], [])
        table["dq_results"] = dq_by_table.get(table["id"], [])
        tables_by_zone.setdefault(table.pop("zone_run_id"), []).append(table)
    for zone in zones:
        zone["tables"] = tables_by_zone.get(zone["id"], [])
    batch["zones"] = zones
    batch["steps"] = steps_by_table.get(None, [])  # batch-level steps, outside any table
    batch["dq_results"] = dq
    errors: list[Row] = []
    # A queued batch's text says what it waits for (its group's earlier batches), not what failed.
    if batch.get("error") and batch["status"] != "queued":
        errors.append({"level": "batch", "where": batch["group"], "error": batch["error"]})
    for level, rows, where in (
        ("zone", zones, "zone"),
        ("table", tables, "table_name"),
        ("step", steps, "step"),
    ):
        errors.extend(
            {"level": level, "where": row[where], "error": row["error"]} for row in rows if row["error"]
        )
    batch["errors"] = errors
    return batch


# -- control ---------------------------------------------------------------------------------
def list_audit(
    conn: Connection,
    *,
    limit: int,
    before: datetime | None = None,
    actor: str | None = None,
    kind: str | None = None,
    outcome: str | None = None,
    at: datetime | None = None,
) -> list[Row]:
    """Commands newest first, older than ``before``; ``at`` keeps those of that one instant."""
    return conn.execute(
        """SELECT id AS command_id, idempotency_key, actor, surface, channel, raw_text, kind, intent, plan,
                  outcome, message, duration_ms, created_at
           FROM lakeforge.command_audit
           WHERE (%(before)s::timestamptz IS NULL OR created_at < %(before)s)
             AND (%(at)s::timestamptz IS NULL OR created_at = %(at)s)
             AND (%(actor)s::text IS NULL OR actor = %(actor)s)
             AND (%(kind)s::text IS NULL OR kind = %(kind)s)
             AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)
           ORDER BY created_at DESC LIMIT %(limit)s""",
        {"before": before, "at": at, "actor": actor, "kind": kind, "outcome": outcome, "limit": limit},
    ).fetchall()
