"""One group's batches take turns, as its job's runs do on Databricks (``max_concurrent_runs``, queue on).

On Databricks the group's job runs at most ``max_concurrent_runs`` runs at once (1 by default) and
queues the others, so two batches never write the group's tables at the same time. Batches run by
a LakeForge process (the CLI, the API's threads, the local workspace's tasks) keep the same rule
here, in Postgres, so it holds across processes: before its first zone, a batch waits ``queued``
until fewer than ``max_concurrent_runs`` other batches of its group are ahead of it, where ahead
means ``running``, or ``queued`` earlier (a lower batch id) and held by a live process. Batches
start in the order they were queued; the run log says which batches a waiting one waits for.

The turn belongs to the batch, not to a process: every task of one job run continues the same
batch, and a task that finds its batch ``running`` goes straight on. Deciding and taking a turn
happen in one transaction under a per-group transaction lock, so two batches never both see a free
slot. A waiting batch wakes when a batch of its group announces a change (``NOTIFY``) and at least
every ``RECHECK_SECONDS``, when it also runs the stale-batch check, so a batch whose process died
stops holding the group up. It can be cancelled while it waits, and gives up after
``QUEUE_TIMEOUT_SECONDS``, as a Databricks job run leaves the queue after 48 hours.
"""

from __future__ import annotations

import json
import time
from typing import Any

from lakeforge.metadata.db import Connection, Database
from lakeforge.runtime.cancel import CancelWatch
from lakeforge.runtime.runlog import CHANNEL, fail_stale_batches, is_orphaned

# How often a waiting batch looks again without being told (a holder killed sends no NOTIFY).
RECHECK_SECONDS = 2.0
# As long as Databricks keeps a job run in its queue.
QUEUE_TIMEOUT_SECONDS = 48 * 3600.0
# Transaction lock keys per group: apart from the batch locks' range ("LF" at the top).
_GROUP_LOCK = "lakeforge:group-turn:"


class QueueTimeout(Exception):
    """The batch waited in its group's queue longer than ``QUEUE_TIMEOUT_SECONDS``."""


def wait_turn(
    db: Database,
    batch_id: int,
    group: str,
    limit: int,
    watch: CancelWatch,
    *,
    timeout: float | None = None,
) -> None:
    """Return once ``batch_id`` is ``running`` under the group's limit. Raises ``BatchCancelled``
    when it was cancelled while it waited, ``QueueTimeout`` after ``timeout`` seconds
    (``QUEUE_TIMEOUT_SECONDS``)."""
    timeout = QUEUE_TIMEOUT_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + timeout
    listener: Connection | None = None
    try:
        while True:
            ahead = take_turn(db, batch_id, group, limit, watch)
            if not ahead:
                return
            if listener is None:
                listener = db.dedicated_connection()
                listener.execute(f"LISTEN {CHANNEL}")
                continue  # an end announced before LISTEN went unheard: look again first
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f"{timeout / 3600:g} h" if timeout >= 3600 else f"{timeout:g} s"
                raise QueueTimeout(
                    f"waited {waited} in group {group}'s queue for batch"
                    f" {', '.join(map(str, ahead))} to end, without starting; rerun it once the"
                    " group's earlier batches have ended"
                )
            _await_change(listener, group, min(RECHECK_SECONDS, left))
            fail_stale_batches(db)
    finally:
        if listener is not None:
            listener.close()


def take_turn(db: Database, batch_id: int, group: str, limit: int, watch: CancelWatch) -> list[int]:
    """Start ``batch_id`` (status ``running``) if its turn has come and return []; else mark it
    ``queued`` with a note naming the batches ahead of it and return their ids."""
    with db.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_GROUP_LOCK + group])
        me = conn.execute(
            "SELECT status, error FROM lakeforge_log.batch_run WHERE batch_id = %s FOR UPDATE", [batch_id]
        ).fetchone()
        # Cancelled while it waited: it never starts. Read under the row lock, on this connection,
        # so a cancel cannot land between the check and the start (and no second connection is
        # taken from the pool while the group's lock is held).
        watch.check(conn)
        if me is None or me["status"] == "running":
            return []  # another task of this batch took the turn already
        ahead = _ahead(conn, batch_id, group)
        if len(ahead) < max(limit, 1):
            conn.execute(
                "UPDATE lakeforge_log.batch_run SET status = 'running', error = NULL, ended_at = NULL,"
                " started_at = coalesce(started_at, now()) WHERE batch_id = %s",
                [batch_id],
            )
            return []
        note = waiting_note(ahead, group, limit)
        if me["status"] != "queued" or me["error"] != note:
            conn.execute(
                "UPDATE lakeforge_log.batch_run SET status = 'queued', error = %s, ended_at = NULL"
                " WHERE batch_id = %s",
                [note, batch_id],
            )
            payload = {"batch_id": batch_id, "level": "batch", "status": "queued", "group": group}
            conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload | {"error": note})])
        return [batch["batch_id"] for batch in ahead]


def _ahead(conn: Connection, batch_id: int, group: str) -> list[dict[str, Any]]:
    """The group's other batches that go first: every running one (a job run's batch between two
    tasks included), and each one queued before this one that a live process holds (it waits
    its turn too, or its launcher is about to start it). One queued in a Databricks job's queue
    is not held: it takes its place when its task starts."""
    rows = conn.execute(
        "SELECT batch_id, status FROM lakeforge_log.batch_run WHERE group_name = %s AND batch_id <> %s"
        " AND (status = 'running' OR (status = 'queued' AND batch_id < %s)) ORDER BY batch_id",
        [group, batch_id, batch_id],
    ).fetchall()
    return [row for row in rows if row["status"] == "running" or not is_orphaned(conn, row["batch_id"])]


def waiting_note(ahead: list[dict[str, Any]], group: str, limit: int) -> str:
    """What a queued batch shows in the run log: which batches it waits for, and why."""
    named = ", ".join(f"{row['batch_id']} ({row['status']})" for row in ahead)
    noun = "batch" if len(ahead) == 1 else "batches"
    runs = "one batch" if limit <= 1 else f"{limit} batches"
    return (
        f"waiting for {noun} {named} of group {group} to end: {runs} of a group at a time"
        f" (max_concurrent_runs {max(limit, 1)})"
    )


def _await_change(listener: Connection, group: str, seconds: float) -> None:
    """Wait up to ``seconds`` for a batch of ``group`` to announce a change of status."""
    for note in listener.notifies(timeout=seconds):
        try:
            payload = json.loads(note.payload)
        except ValueError:
            continue
        if payload.get("level") == "batch" and payload.get("group") == group:
            return
