"""Cooperative cancellation of a batch: asked for in the run log, honoured between tables and zones.

``cancel_run`` stores the request on ``batch_run`` (``cancel_requested_at``, ``cancelled_by``), so
every process running the batch sees it: the API's thread, a local workspace notebook, a task on
a Databricks cluster. The runner asks :meth:`CancelWatch.check` before each zone and each table;
a table already started runs to its end, so its Delta commit and watermark land together and
nothing is half written. A local workspace cancelling a job run also sets the task's ``event``;
stopping a pipeline update sets its :class:`StopSignal`, on which the runner notes who stopped it.

>>> watch = CancelWatch(db, batch_id=42)
>>> watch.check()            # raises BatchCancelled("ana") once ana asked to cancel batch 42
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime

from lakeforge.metadata.db import Connection, Database
from lakeforge.runtime.runlog import CHANNEL, end_open_runs

# Who stopped a batch whose job run was cancelled in the workspace rather than through LakeForge.
JOB_RUN_CANCELLED = "the workspace (its job run was cancelled)"
# ... and one whose pipeline update was stopped (``POST /pipelines/{id}/stop``).
PIPELINE_STOPPED = "the workspace (its pipeline update was stopped)"
_OPEN = ("queued", "running")


class StopSignal(threading.Event):
    """The local workspace's stop of one pipeline update, and the runtime's answer to it.

    ``POST /pipelines/{id}/stop`` sets it (``by`` names that stopper); it also counts as set once
    ``parent`` is (the stop event of the job run whose pipeline task started the update). Only
    ``is_set`` sees ``parent``: the runtime polls it at table and zone boundaries and never waits
    on it. ``stopped`` is who the runner stopped a batch for: this signal, or a ``cancel_run``
    request read in the run log, which the workspace could not otherwise tell apart from a batch
    that ran to its end.
    """

    def __init__(self, by: str, parent: threading.Event | None = None) -> None:
        super().__init__()
        self.by = by
        self.parent = parent
        self.stopped: str | None = None

    def is_set(self) -> bool:
        return super().is_set() or (self.parent is not None and self.parent.is_set())

    def asked_by(self) -> str:
        """Who set it: this signal's own stopper, else the job run's cancel."""
        return self.by if super().is_set() else JOB_RUN_CANCELLED


class BatchCancelled(Exception):
    """The batch was asked to stop; ``by`` names who asked."""

    def __init__(self, by: str) -> None:
        super().__init__(f"cancelled by {by}")
        self.by = by


@dataclass
class CancelWatch:
    """Answers "was this batch asked to stop?" for the runner, at step boundaries only."""

    db: Database
    batch_id: int
    event: threading.Event | None = None
    # Requests older than this were for an earlier run of the batch (see ``opened``).
    since: datetime | None = None

    @classmethod
    def opened(cls, db: Database, batch_id: int, event: threading.Event | None = None) -> CancelWatch:
        """The watch for a batch the runner just opened. A batch that ran and ended before, now
        continued in place (a pipeline's full refresh replaying it, a repaired job run), is not
        stopped by the cancel that ended it then; one cancelled while queued never starts."""
        with db.connection(autocommit=True) as conn:
            row = conn.execute(
                "SELECT status, started_at, now() AS now FROM lakeforge_log.batch_run WHERE batch_id = %s",
                [batch_id],
            ).fetchone()
        ran_before = row is not None and row["status"] not in _OPEN and row["started_at"] is not None
        return cls(db, batch_id, event, row["now"] if ran_before and row is not None else None)

    def requested_by(self, conn: Connection | None = None) -> str | None:
        """Who asked the batch to stop, or None; read on ``conn`` when given (in its transaction)."""
        if conn is None:
            with self.db.connection(autocommit=True) as own:
                return self.requested_by(own)
        row = conn.execute(
            "SELECT cancelled_by, cancel_requested_at FROM lakeforge_log.batch_run WHERE batch_id = %s",
            [self.batch_id],
        ).fetchone()
        asked = row["cancel_requested_at"] if row is not None else None
        if asked is not None and (self.since is None or asked > self.since):
            return str(row["cancelled_by"] or "someone") if row is not None else None
        if self.event is not None and self.event.is_set():
            return self.event.asked_by() if isinstance(self.event, StopSignal) else JOB_RUN_CANCELLED
        return None

    def check(self, conn: Connection | None = None) -> None:
        by = self.requested_by(conn)
        if by is not None:
            if isinstance(self.event, StopSignal):
                self.event.stopped = by
            raise BatchCancelled(by)


def cancelled_message(by: str) -> str:
    return f"cancelled by {by}"


def end_cancelled(conn: Connection, batch_id: int, by: str) -> str | None:
    """End the batch and its open zone, table and step runs as ``cancelled``, in the caller's
    transaction; announces it like every run-log change. Returns the group, or None when the
    batch had already ended (it is then left as it was)."""
    # The first request names who cancelled, also when a later one (or the runner) ends it.
    row = conn.execute(
        "UPDATE lakeforge_log.batch_run SET status = 'cancelled', ended_at = now(),"
        " cancel_requested_at = coalesce(cancel_requested_at, now()),"
        " cancelled_by = coalesce(cancelled_by, %s), error = 'cancelled by ' || coalesce(cancelled_by, %s)"
        " WHERE batch_id = %s AND status = ANY(%s) RETURNING group_name, cancelled_by",
        [by, by, batch_id, list(_OPEN)],
    ).fetchone()
    if row is None:
        return None
    message = cancelled_message(row["cancelled_by"])
    end_open_runs(conn, batch_id, "cancelled", message)
    payload = {
        "batch_id": batch_id,
        "level": "batch",
        "status": "cancelled",
        "group": row["group_name"],
        "error": message,
    }
    conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload)])
    return str(row["group_name"])
