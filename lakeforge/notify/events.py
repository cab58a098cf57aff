"""From a run event to queued alert messages: read the batch from the run log, decide what to say.

The run log is the truth; the NOTIFY payload only says which batch moved. So an event seen
twice, or late, produces the same messages (keyed in the outbox), and nothing depends on
events arriving in order.
"""

from __future__ import annotations

from typing import Any

from lakeforge.metadata.db import Connection
from lakeforge.notify import outbox, render
from lakeforge.notify.render import BatchView, ZoneView


def load_view(conn: Connection, batch_id: int) -> BatchView | None:
    batch = conn.execute("SELECT * FROM lakeforge_log.batch_run WHERE batch_id = %s", (batch_id,)).fetchone()
    if batch is None:
        return None
    zones = conn.execute(
        "SELECT zone, status, rows_in, rows_out, error FROM lakeforge_log.zone_run"
        " WHERE batch_id = %s ORDER BY id",
        (batch_id,),
    ).fetchall()
    tables = conn.execute(
        "SELECT table_name, error FROM lakeforge_log.table_run"
        " WHERE batch_id = %s AND status = 'failed' ORDER BY id",
        (batch_id,),
    ).fetchall()
    checks = conn.execute(
        "SELECT rule_name, table_name, rows_checked, rows_failed, action FROM lakeforge_log.dq_run"
        " WHERE batch_id = %s AND status = 'failed' ORDER BY id",
        (batch_id,),
    ).fetchall()
    # Failed batches of the group just before this one (stops at the first other outcome).
    earlier = conn.execute(
        "SELECT status FROM lakeforge_log.batch_run WHERE group_name = %s AND batch_id < %s"
        " AND status IN ('succeeded', 'failed') ORDER BY batch_id DESC LIMIT 50",
        (batch["group_name"], batch_id),
    ).fetchall()
    streak = 0
    for row in earlier:
        if row["status"] != "failed":
            break
        streak += 1
    return BatchView(
        batch_id=batch_id,
        group=batch["group_name"],
        status=batch["status"],
        source=batch["source_name"],
        trigger=batch["trigger"],
        rerun_of=batch["rerun_of"],
        error=batch["error"],
        rows_in=batch["rows_in"],
        rows_out=batch["rows_out"],
        created_at=batch["created_at"],
        started_at=batch["started_at"],
        ended_at=batch["ended_at"],
        zones=[ZoneView(**z) for z in zones],
        failed_tables=list(tables),
        failed_checks=list(checks),
        previous_failures=streak,
        cancelled_by=batch.get("cancelled_by"),
    )


def channels_for(conn: Connection, group: str) -> list[dict[str, Any]]:
    """The group's alert channel, unless muted there, with ``since``: when it started receiving them.

    ``since`` is the last change of the group's channel or of that channel's target, from the
    metadata revisions (NULL when no revision says: then every batch is the channel's).
    """
    return conn.execute(
        "SELECT c.*, greatest("
        "   (SELECT max(r.created_at) FROM lakeforge.metadata_revision r"
        "     WHERE r.entity_type = 'group' AND r.entity_key = g.name"
        "     AND (r.before ->> 'channel') IS DISTINCT FROM (r.after ->> 'channel')),"
        "   (SELECT max(r.created_at) FROM lakeforge.metadata_revision r"
        "     WHERE r.entity_type = 'channel' AND r.entity_key = c.name"
        "     AND ((r.before ->> 'slack_channel_id') IS DISTINCT FROM (r.after ->> 'slack_channel_id')"
        "       OR (r.before ->> 'webhook_url') IS DISTINCT FROM (r.after ->> 'webhook_url')))"
        " ) AS since"
        " FROM lakeforge.source_group g JOIN lakeforge.notification_channel c"
        " ON c.id = g.notification_channel_id WHERE g.name = %s"
        " AND (c.muted_until IS NULL OR c.muted_until < now())"
        " AND NOT EXISTS (SELECT 1 FROM lakeforge.alert_mute m WHERE m.group_name = g.name"
        "   AND m.channel_id = c.id AND m.muted_until > now())",
        (group,),
    ).fetchall()


def _not_for(conn: Connection, view: BatchView, channel: dict[str, Any]) -> bool:
    """A batch the channel never heard of and is not meant to: it began before the channel was
    subscribed, or while the group's alerts were muted there.

    Without this, the catch-up after a restart (or a reconnect of the LISTEN connection) posted
    every batch of the last hours into a channel subscribed since, and, once a mute had ended,
    every batch it had kept quiet: old failures broadcast as new.
    """
    if view.created_at is None:
        return False
    since = channel.get("since")
    before = since is not None and view.created_at < since
    muted = conn.execute(
        "SELECT 1 FROM lakeforge.alert_mute WHERE group_name = %s AND channel_id = %s"
        " AND %s BETWEEN created_at AND muted_until",
        (view.group, channel["id"], view.created_at),
    ).fetchone()
    if not before and muted is None:
        return False
    started = conn.execute(
        "SELECT 1 FROM lakeforge.alert_outbox WHERE batch_id = %s AND channel_id = %s LIMIT 1",
        (view.batch_id, channel["id"]),
    ).fetchone()
    return started is None


def handle(conn: Connection, event: dict[str, Any], panel_url: str | None) -> int:
    """Queue the messages an event calls for; returns how many were queued or refreshed."""
    batch_id = event.get("batch_id")
    if not isinstance(batch_id, int):
        return 0
    view = load_view(conn, batch_id)
    if view is None:
        return 0
    queued = 0
    for channel in channels_for(conn, view.group):
        if _not_for(conn, view, channel):
            continue
        args = {"channel_id": channel["id"], "batch_id": batch_id, "group": view.group}
        if channel["kind"] == "webhook":
            if view.status in render.TERMINAL:
                queued += outbox.enqueue(
                    conn, **args, op="webhook", key="final", payload=render.webhook_body(view, panel_url)
                )
            continue
        text, blocks = render.parent(view, panel_url)
        if outbox.enqueue(conn, **args, op="parent", key="parent", payload={"text": text, "blocks": blocks}):
            queued += 1
        else:
            outbox.refresh_parent(conn, **args, payload={"text": text, "blocks": blocks})
            queued += 1
        for zone in view.zones:
            if zone.status in render.TERMINAL:
                text, blocks = render.zone_reply(view, zone)
                queued += outbox.enqueue(
                    conn,
                    **args,
                    op="reply",
                    key=f"zone:{zone.zone}",
                    payload={"text": text, "blocks": blocks},
                )
        if view.status == "failed":
            text, blocks = render.failure_reply(view, panel_url, channel["id"])
            queued += outbox.enqueue(
                conn,
                **args,
                op="reply",
                key="final",
                payload={"text": text, "blocks": blocks, "broadcast": True},
            )
        elif view.status == "cancelled":
            text, blocks = render.cancelled_reply(view)
            queued += outbox.enqueue(
                conn, **args, op="reply", key="final", payload={"text": text, "blocks": blocks}
            )
        elif view.status == "succeeded" and view.previous_failures:
            text, blocks = render.recovery_reply(view)
            queued += outbox.enqueue(
                conn,
                **args,
                op="reply",
                key="final",
                payload={"text": text, "blocks": blocks, "broadcast": True},
            )
    return queued
