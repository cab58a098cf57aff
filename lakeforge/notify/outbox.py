"""The alert outbox in Postgres: messages are queued before any delivery is tried, and stay until sent.

Rows of one (batch, channel) go out in order (the parent before its updates and thread), keyed
messages are queued at most once, and a pending update of the parent is rewritten in place
rather than queued again, so a Slack outage ends with one update, not hundreds.
"""

from __future__ import annotations

from typing import Any, Literal

from psycopg.types.json import Jsonb

from lakeforge.metadata.db import Connection

Op = Literal["parent", "update", "reply", "webhook"]


def enqueue(
    conn: Connection,
    *,
    channel_id: int,
    batch_id: int,
    group: str,
    op: Op,
    payload: dict[str, Any],
    key: str | None = None,
) -> bool:
    """Queue one message; False when a message with this key was queued before."""
    row = conn.execute(
        "INSERT INTO lakeforge.alert_outbox (channel_id, batch_id, group_name, op, payload, key)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (channel_id, batch_id, group, op, Jsonb(payload), key),
    ).fetchone()
    return row is not None


def refresh_parent(
    conn: Connection, *, channel_id: int, batch_id: int, group: str, payload: dict[str, Any]
) -> None:
    """Show the batch's latest state: rewrite the queued parent or update, or queue one update."""
    pending = conn.execute(
        "SELECT id FROM lakeforge.alert_outbox"
        " WHERE batch_id = %s AND channel_id = %s AND delivered_at IS NULL"
        " AND op IN ('parent', 'update') ORDER BY id DESC LIMIT 1 FOR UPDATE",
        (batch_id, channel_id),
    ).fetchone()
    later = None
    if pending is not None:
        # Only rewrite it when nothing queued after it (a thread reply) expects the older state first.
        later = conn.execute(
            "SELECT 1 FROM lakeforge.alert_outbox WHERE batch_id = %s AND channel_id = %s AND id > %s"
            " AND delivered_at IS NULL",
            (batch_id, channel_id, pending["id"]),
        ).fetchone()
    if pending is not None and later is None:
        conn.execute(
            "UPDATE lakeforge.alert_outbox SET payload = %s WHERE id = %s", (Jsonb(payload), pending["id"])
        )
        return
    shown = conn.execute(
        "SELECT payload FROM lakeforge.alert_outbox WHERE batch_id = %s AND channel_id = %s"
        " AND op IN ('parent', 'update') ORDER BY id DESC LIMIT 1",
        (batch_id, channel_id),
    ).fetchone()
    if shown is not None and shown["payload"] == payload:
        return  # the parent already says this
    enqueue(conn, channel_id=channel_id, batch_id=batch_id, group=group, op="update", payload=payload)


def due(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Messages ready to send: due now, and first in line for their (batch, channel)."""
    return conn.execute(
        "SELECT o.*, c.kind AS channel_kind, c.slack_channel_id, c.webhook_url, t.ts AS thread_ts"
        " FROM lakeforge.alert_outbox o"
        " JOIN lakeforge.notification_channel c ON c.id = o.channel_id"
        " LEFT JOIN lakeforge.alert_thread t ON t.batch_id = o.batch_id AND t.channel_id = o.channel_id"
        " WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()"
        " AND NOT EXISTS (SELECT 1 FROM lakeforge.alert_outbox p WHERE p.batch_id = o.batch_id"
        "   AND p.channel_id = o.channel_id AND p.delivered_at IS NULL AND p.id < o.id)"
        " ORDER BY o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED",
        (limit,),
    ).fetchall()


def delivered(conn: Connection, row_id: int) -> None:
    conn.execute(
        "UPDATE lakeforge.alert_outbox SET delivered_at = now(), last_error = NULL WHERE id = %s", (row_id,)
    )


def retry_later(conn: Connection, row_id: int, seconds: float, error: str) -> None:
    conn.execute(
        "UPDATE lakeforge.alert_outbox SET attempts = attempts + 1, last_error = %s,"
        " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
        (error[:1000], seconds, row_id),
    )


def hold_channel(conn: Connection, channel_id: int, seconds: float) -> None:
    """Slack said slow down (429): nothing more to this channel until Retry-After has passed."""
    conn.execute(
        "UPDATE lakeforge.alert_outbox"
        " SET next_attempt_at = greatest(next_attempt_at, now() + make_interval(secs => %s))"
        " WHERE channel_id = %s AND delivered_at IS NULL",
        (seconds, channel_id),
    )


def pending_count(conn: Connection) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM lakeforge.alert_outbox WHERE delivered_at IS NULL"
    ).fetchone()
    return int(row["n"]) if row else 0
