"""The run log, written as work happens: ``batch_run`` → ``zone_run`` → ``table_run`` → ``step_run``
plus ``dq_run``. Every status change is committed at once and announced with
``NOTIFY lakeforge_runs`` so the notifier, the API and the panel can follow runs live.

A running batch holds a Postgres advisory lock on a dedicated connection for as long as its
process lives. When a process dies (SIGKILL, lost node) Postgres drops the lock with the
connection, so :func:`fail_stale_batches` can tell a live batch from an orphaned one. A queued
batch is held the same way by the process that queued it (:func:`claim_queued`) until it starts.
An orphaned batch of a Databricks job run ends as the workspace says its run ended
(:mod:`lakeforge.runtime.jobruns`): its process ran on the run's cluster.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from lakeforge.metadata.db import Connection, Database

if TYPE_CHECKING:
    from lakeforge.runtime.jobruns import BatchEnd, JobRunEnds

CHANNEL = "lakeforge_runs"
# Advisory lock keys: this offset keeps batch locks apart from other users of advisory locks.
_LOCK_BASE = 0x4C46_0000_0000  # "LF"
_MAX_ERROR = 4000


def _lock_key(batch_id: int) -> int:
    return _LOCK_BASE + batch_id


def short_error(error: BaseException | str) -> str:
    text = str(error).strip() or type(error).__name__ if isinstance(error, BaseException) else str(error)
    return text[:_MAX_ERROR]


class StepFacts(dict[str, Any]):
    """What a step reports: ``rows_in``, ``rows_out`` and details. ``step_id`` is its run-log row."""

    step_id: int | None = None


class RunLog:
    """Writes one batch's run-log rows. Ids returned are the rows' primary keys."""

    def __init__(self, db: Database, batch_id: int, group: str) -> None:
        self.db = db
        self.batch_id = batch_id
        self.group = group

    def _notify(self, conn: Connection, level: str, status: str, **extra: Any) -> None:
        payload = {"batch_id": self.batch_id, "level": level, "status": status, "group": self.group}
        payload.update({k: v for k, v in extra.items() if v is not None})
        conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload, default=str)])

    def _exec(self, query: str, params: list[Any], level: str, status: str, **extra: Any) -> int | None:
        with self.db.connection() as conn:
            row = conn.execute(query, params).fetchone()
            self._notify(conn, level, status, **extra)
        return next(iter(row.values())) if row else None

    # -- batch ----------------------------------------------------------------------------
    def batch_status(
        self,
        status: str,
        *,
        error: str | None = None,
        rows_in: int | None = None,
        rows_out: int | None = None,
        engine: str | None = None,
    ) -> None:
        ended = status not in ("running", "queued")
        self._exec(
            "UPDATE lakeforge_log.batch_run SET status = %s, error = %s, rows_in = coalesce(%s, rows_in),"
            " rows_out = coalesce(%s, rows_out), engine = coalesce(%s, engine),"
            # The first start stays: every task of a job run continues the batch in place, so
            # the batch spans its first task's start to its last task's end.
            " started_at = CASE WHEN %s = 'running' THEN coalesce(started_at, now()) ELSE started_at END,"
            " ended_at = CASE WHEN %s THEN now() ELSE NULL END WHERE batch_id = %s RETURNING batch_id",
            [status, error, rows_in, rows_out, engine, status, ended, self.batch_id],
            "batch",
            status,
            error=error,
        )

    def started_no_later_than(self, moment: datetime) -> None:
        """Move the batch's start back to ``moment`` when it began later or not at all: work
        recorded after the fact (a pipeline update read from its event log) began before."""
        with self.db.connection() as conn:
            # LEAST ignores NULL: a batch no task started takes the moment as its start.
            conn.execute(
                "UPDATE lakeforge_log.batch_run SET started_at = least(started_at, %s) WHERE batch_id = %s",
                [moment, self.batch_id],
            )

    # -- zone -----------------------------------------------------------------------------
    def zone_start(self, zone: str) -> int:
        # One zone_run per (batch, zone), shared by every task that works on the zone (one per
        # source in a job run) and by a retry in place: each resets its outcome, but its start
        # stays the first one, so the zone spans all of its tables' work.
        zone_id = self._exec(
            "INSERT INTO lakeforge_log.zone_run (batch_id, zone, status) VALUES (%s, %s, 'running')"
            " ON CONFLICT (batch_id, zone) DO UPDATE SET status = 'running', error = NULL, rows_in = NULL,"
            " rows_out = NULL, bytes = NULL, ended_at = NULL RETURNING id",
            [self.batch_id, zone],
            "zone",
            "running",
            zone=zone,
        )
        assert zone_id is not None
        return zone_id

    def zone_end(self, zone_id: int, zone: str, error: str | None = None) -> str:
        """Close a zone from its tables' latest attempts (several processes may share a zone run,
        e.g. one task per source): failed if any table failed, running while one still runs."""
        with self.db.connection() as conn:
            row = conn.execute(
                "WITH latest AS (SELECT DISTINCT ON (table_name) * FROM lakeforge_log.table_run"
                " WHERE zone_run_id = %s ORDER BY table_name, id DESC)"
                # Another process of the batch may have cancelled it (a table it had open).
                " SELECT CASE WHEN bool_or(status = 'cancelled') THEN 'cancelled'"
                " WHEN bool_or(status = 'failed') THEN 'failed'"
                " WHEN bool_or(status = 'running') THEN 'running'"
                # A zone none of whose tables ran (all skipped) did not succeed either.
                " WHEN bool_and(status = 'skipped') THEN 'skipped' ELSE 'succeeded' END AS status,"
                " sum(rows_in) AS rows_in, sum(rows_out) AS rows_out, sum(bytes) AS bytes,"
                " string_agg(table_name || ': ' || error, '; ') FILTER (WHERE status = 'failed') AS error"
                " FROM latest",
                [zone_id],
            ).fetchone()
            assert row is not None
            status = "failed" if error else (row["status"] or "succeeded")
            message = error or row["error"] or _skipped_reason(conn, zone_id, status)
            conn.execute(
                "UPDATE lakeforge_log.zone_run SET status = %s, rows_in = %s, rows_out = %s, bytes = %s,"
                " error = %s, ended_at = CASE WHEN %s = 'running' THEN NULL ELSE now() END WHERE id = %s",
                [
                    status,
                    row["rows_in"],
                    row["rows_out"],
                    row["bytes"],
                    message and short_error(message),
                    status,
                    zone_id,
                ],
            )
            self._notify(conn, "zone", status, zone=zone, error=message and short_error(message))
        return status

    def outcome(self) -> tuple[str, str | None]:
        """(status, error) the batch would end with now, from its zones, without ending it: what a
        task of a job run that leaves the batch open to the run's last task made of it."""
        with self.db.connection() as conn:
            row = self._zones_outcome(conn)
        return row["status"] or "succeeded", row["error"]

    def _zones_outcome(self, conn: Connection) -> dict[str, Any]:
        row = conn.execute(
            # A batch cancelled part-way ends cancelled, not failed, whatever its zones did.
            "SELECT CASE WHEN bool_or(z.status = 'cancelled') THEN 'cancelled'"
            " WHEN bool_or(z.status = 'failed') THEN 'failed'"
            " WHEN bool_or(z.status = 'running') THEN 'running' ELSE 'succeeded' END AS status,"
            " coalesce(max('cancelled by ' || b.cancelled_by) FILTER (WHERE z.status = 'cancelled'),"
            " string_agg(z.zone || ': ' || z.error, '; ') FILTER (WHERE z.status = 'failed')) AS error"
            " FROM lakeforge_log.zone_run z JOIN lakeforge_log.batch_run b ON b.batch_id = z.batch_id"
            " WHERE z.batch_id = %s",
            [self.batch_id],
        ).fetchone()
        assert row is not None
        return dict(row)

    def batch_end(self, error: str | None = None) -> str:
        """Close the batch from its zones: failed if any failed, running while one still runs."""
        with self.db.connection() as conn:
            row = self._zones_outcome(conn)
            latest = conn.execute(
                "SELECT DISTINCT ON (z.zone, t.table_name) z.zone, t.rows_in, t.rows_out"
                " FROM lakeforge_log.table_run t JOIN lakeforge_log.zone_run z ON z.id = t.zone_run_id"
                " WHERE t.batch_id = %s ORDER BY z.zone, t.table_name, t.id DESC",
                [self.batch_id],
            ).fetchall()
            # In: what Bronze read. Out: what the last data zone (before Gold) wrote.
            zones = [z for z in ("raw", "bronze", "silver") if any(r["zone"] == z for r in latest)]
            counts = {
                "rows_in": sum(r["rows_in"] or 0 for r in latest if r["zone"] == "bronze")
                if "bronze" in zones
                else None,
                "rows_out": sum(r["rows_out"] or 0 for r in latest if r["zone"] == zones[-1])
                if zones
                else None,
            }
            status = "failed" if error else (row["status"] or "succeeded")
            message = error or row["error"]
            conn.execute(
                "UPDATE lakeforge_log.batch_run SET status = %s, error = %s, rows_in = %s, rows_out = %s,"
                " ended_at = CASE WHEN %s = 'running' THEN NULL ELSE now() END WHERE batch_id = %s",
                [
                    status,
                    message and short_error(message),
                    counts["rows_in"],
                    counts["rows_out"],
                    status,
                    self.batch_id,
                ],
            )
            self._notify(conn, "batch", status, error=message and short_error(message))
        return status

    # -- table ----------------------------------------------------------------------------
    def table_start(self, zone_id: int, zone: str, table: str, source: str | None) -> int:
        table_id = self._exec(
            "INSERT INTO lakeforge_log.table_run (batch_id, zone_run_id, source_name, table_name, status)"
            " VALUES (%s, %s, %s, %s, 'running') RETURNING id",
            [self.batch_id, zone_id, source, table],
            "table",
            "running",
            zone=zone,
            table=table,
            source=source,
        )
        assert table_id is not None
        return table_id

    def table_end(
        self,
        table_id: int,
        zone: str,
        table: str,
        source: str | None,
        status: str,
        *,
        rows_in: int | None = None,
        rows_out: int | None = None,
        rows_rejected: int | None = None,
        bytes_: int | None = None,
        delta_version: int | None = None,
        error: str | None = None,
    ) -> None:
        self._exec(
            "UPDATE lakeforge_log.table_run SET status = %s, rows_in = %s, rows_out = %s, rows_rejected = %s,"
            " bytes = %s, delta_version = %s, error = %s, ended_at = now() WHERE id = %s RETURNING id",
            [status, rows_in, rows_out, rows_rejected, bytes_, delta_version, error, table_id],
            "table",
            status,
            zone=zone,
            table=table,
            source=source,
            error=error,
        )

    # -- step -----------------------------------------------------------------------------
    @contextmanager
    def step(self, table_id: int | None, step: str, **details: Any) -> Iterator[StepFacts]:
        """Log one step; the block fills the yielded dict (``rows_in``, ``rows_out``, details)."""
        step_id = self._exec(
            "INSERT INTO lakeforge_log.step_run (batch_id, table_run_id, step, status, details)"
            " VALUES (%s, %s, %s, 'running', %s) RETURNING id",
            [self.batch_id, table_id, step, json.dumps(details, default=str)],
            "step",
            "running",
            step=step,
        )
        facts = StepFacts(details)
        facts.step_id = step_id
        try:
            yield facts
        except BaseException as error:
            self._step_end(step_id, step, "failed", facts, short_error(error))
            raise
        self._step_end(step_id, step, "succeeded", facts, None)

    def step_rows(self, steps: list[StepFacts], *, rows_in: int | None, rows_out: int | None) -> None:
        """Fill in the row counts of finished ``steps`` once they are known.

        Frames are lazy on both engines: reading and conforming run inside the write that consumes
        them, and only the write learns how many rows went through.
        """
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE lakeforge_log.step_run SET rows_in = coalesce(%s, rows_in),"
                " rows_out = coalesce(%s, rows_out) WHERE id = ANY(%s)",
                [rows_in, rows_out, [facts.step_id for facts in steps if facts.step_id is not None]],
            )

    def _step_end(
        self, step_id: int | None, step: str, status: str, facts: dict[str, Any], error: str | None
    ) -> None:
        rows_in, rows_out = facts.pop("rows_in", None), facts.pop("rows_out", None)
        self._exec(
            "UPDATE lakeforge_log.step_run SET status = %s, rows_in = %s, rows_out = %s, details = %s,"
            " error = %s, ended_at = now() WHERE id = %s RETURNING id",
            [status, rows_in, rows_out, json.dumps(facts, default=str), error, step_id],
            "step",
            status,
            step=step,
            error=error,
        )

    # -- dq -------------------------------------------------------------------------------
    def dq(
        self,
        table_id: int | None,
        table: str,
        rule_id: int | None,
        rule_name: str,
        expression: str,
        action: str,
        rows_checked: int,
        rows_failed: int,
        *,
        replace: bool = False,
    ) -> None:
        """Record one rule's result. ``replace`` first removes the batch's earlier rows for the same
        table and rule (results read back from a pipeline's event log may be read more than once)."""
        status = "failed" if rows_failed else "passed"
        delete = (
            "WITH gone AS (DELETE FROM lakeforge_log.dq_run WHERE batch_id = %s AND table_name = %s"
            " AND rule_name = %s) "
            if replace
            else ""
        )
        self._exec(
            delete + "INSERT INTO lakeforge_log.dq_run (batch_id, table_run_id, rule_id, rule_name,"
            " table_name, expression, action, rows_checked, rows_passed, rows_failed, status)"
            # The rule may have been removed while the batch ran: the result is kept, unlinked.
            " VALUES (%s, %s, (SELECT id FROM lakeforge.dq_rule WHERE id = %s),"
            " %s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id",
            [
                *([self.batch_id, table, rule_name] if replace else []),
                self.batch_id,
                table_id,
                rule_id,
                rule_name,
                table,
                expression,
                action,
                rows_checked,
                rows_checked - rows_failed,
                rows_failed,
                status,
            ],
            "dq",
            status,
            table=table,
            rule=rule_name,
            action=action,
            rows_failed=rows_failed,
        )


def _skipped_reason(conn: Connection, zone_id: int, status: str) -> str | None:
    """Why a skipped zone did not run: its tables' reasons, once each."""
    if status != "skipped":
        return None
    row = conn.execute(
        "SELECT string_agg(DISTINCT error, '; ') AS reason FROM lakeforge_log.table_run"
        " WHERE zone_run_id = %s",
        [zone_id],
    ).fetchone()
    return row["reason"] if row else None


def batch_created_at(db: Database, batch_id: int) -> datetime | None:
    """When run-log batch ``batch_id`` was created: its rows' ``_ingested_at`` (None if unknown)."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT created_at FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
    return row["created_at"] if row else None


def create_batch(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a ``batch_run`` row and take its (shared) lock on ``conn`` in the same transaction,
    so no other process ever sees it running without a live owner."""
    columns = list(values)
    query = sql.SQL("INSERT INTO lakeforge_log.batch_run ({}) VALUES ({}) RETURNING batch_id").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns))
    )
    row = conn.execute(query, [values[c] for c in columns]).fetchone()
    assert row is not None
    batch_id = int(row["batch_id"])
    conn.execute("SELECT pg_advisory_lock_shared(%s)", [_lock_key(batch_id)])
    conn.commit()
    return batch_id


def hold_batch(conn: Connection, batch_id: int) -> None:
    """Mark this process as working on the batch (a shared lock: several tasks may work on one
    batch at once), held until released or the connection closes."""
    conn.execute("SELECT pg_advisory_lock_shared(%s)", [_lock_key(batch_id)])
    conn.commit()


def release_batch(conn: Connection, batch_id: int) -> None:
    conn.execute("SELECT pg_advisory_unlock_shared(%s)", [_lock_key(batch_id)])
    conn.commit()


class _Claims:
    """This process's promises to start batches it queued: a shared batch lock each, on one
    connection of its own, taken before the queued row commits and released once the batch's
    runner holds it (or a launcher has handed it on). Should the process die first, Postgres
    drops them with the connection and :func:`fail_stale_batches` can tell."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.mutex = threading.Lock()
        self.conn: Connection | None = None
        self.held: set[int] = set()

    def claim(self, batch_id: int) -> None:
        with self.mutex:
            for attempt in (1, 2):
                if self.conn is None or self.conn.closed:
                    # Claims held on a lost connection were dropped with it: start afresh.
                    self.conn, self.held = self.db.dedicated_connection(), set()
                try:
                    self.conn.execute("SELECT pg_advisory_lock_shared(%s)", [_lock_key(batch_id)])
                    break
                except psycopg.OperationalError:
                    self.conn = None
                    if attempt == 2:
                        raise
            self.held.add(batch_id)

    def release(self, batch_id: int) -> None:
        with self.mutex:
            if batch_id not in self.held or self.conn is None or self.conn.closed:
                return
            self.held.discard(batch_id)
            try:
                self.conn.execute("SELECT pg_advisory_unlock_shared(%s)", [_lock_key(batch_id)])
            except psycopg.OperationalError:
                self.conn = None  # the lock went with the connection


_claims: weakref.WeakKeyDictionary[Database, _Claims] = weakref.WeakKeyDictionary()
_claims_mutex = threading.Lock()


def _claims_of(db: Database) -> _Claims:
    with _claims_mutex:
        return _claims.setdefault(db, _Claims(db))


def claim_queued(db: Database, batch_id: int) -> None:
    """Promise, for as long as this process lives, that it will start the queued ``batch_id``."""
    _claims_of(db).claim(batch_id)


def fail_unstarted(db: Database, batch_id: int, reason: str) -> None:
    """Mark ``batch_id`` failed with ``reason`` if it is still queued: it could not start. A batch a
    runner started records its own end, so only a queued one is touched."""
    with db.connection() as conn:
        conn.execute(
            "UPDATE lakeforge_log.batch_run SET status = 'failed', error = %s, ended_at = now() "
            "WHERE batch_id = %s AND status = 'queued'",
            [reason[:2000], batch_id],
        )


def release_claim(db: Database, batch_id: int) -> None:
    """Drop the promise (idempotent): the runner holds the batch now, or it was handed on."""
    _claims_of(db).release(batch_id)


def _nobody_holds(conn: Connection, batch_id: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", [_lock_key(batch_id)]).fetchone()
    conn.commit()
    return bool(row and row["ok"])


def is_orphaned(conn: Connection, batch_id: int) -> bool:
    """True when no live process holds ``batch_id`` (its runner died). Leaves the transaction and
    the session's locks as they were, so a command may ask while it plans."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS free", [_lock_key(batch_id)]).fetchone()
    if row and row["free"]:
        conn.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(batch_id)])
        return True
    return False


def end_open_runs(conn: Connection, batch_id: int, status: str, message: str) -> None:
    """End the batch's zone, table and step runs still running with ``status`` and ``message``,
    in the caller's transaction (their process stopped, or the batch was cancelled)."""
    for table in ("zone_run", "table_run", "step_run"):
        conn.execute(
            sql.SQL(
                "UPDATE lakeforge_log.{} SET status = %s, error = %s, ended_at = now()"
                " WHERE batch_id = %s AND status = 'running'"
            ).format(sql.Identifier(table)),
            [status, message, batch_id],
        )


STOPPED_RUNNING = "the process running this batch stopped before it finished (killed or crashed)"
# Failed rather than started late: the request may be hours old, and a rerun is one click away.
STOPPED_QUEUED = (
    "the process that queued this batch stopped before starting it (for example the API was "
    "restarted); nothing of it ran: rerun it or use run_now"
)


def fail_stale_batches(db: Database, job_runs: JobRunEnds | None = None) -> list[int]:
    """End ``running`` batches whose process is gone (and their running zones, tables and steps):
    cancelled when a cancel was asked for them, else failed; and ``queued`` ones that the process
    which queued them never started. A batch queued as a Databricks job run is the sync's to end
    (``orchestration.launcher``). A running batch of a job run ends as ``job_runs`` says its run
    ended (cancelled in the workspace, timed out, failed), and is left running while the run is
    still active or cannot be asked about (also when ``job_runs`` is None). Returns the ids ended."""
    marked: list[int] = []
    with db.connection() as conn:
        stale = conn.execute(
            "SELECT batch_id, status, databricks_run_id FROM lakeforge_log.batch_run"
            " WHERE status = 'running' OR (status = 'queued' AND databricks_run_id IS NULL)"
        ).fetchall()
        conn.commit()
        for batch in stale:
            batch_id = batch["batch_id"]
            if not _nobody_holds(conn, batch_id):
                continue  # a live process is working on it, or promised to start it
            try:
                if _end_orphan(conn, batch_id, batch["status"], batch["databricks_run_id"], job_runs):
                    marked.append(batch_id)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(batch_id)])
                conn.commit()
    return marked


def _end_orphan(
    conn: Connection, batch_id: int, status: str, run_id: str | None, job_runs: JobRunEnds | None
) -> bool:
    """End one batch that no process holds (the caller holds its lock); False if it was left."""
    from lakeforge.runtime.cancel import end_cancelled

    asked = conn.execute(
        "SELECT cancelled_by FROM lakeforge_log.batch_run"
        " WHERE batch_id = %s AND cancel_requested_at IS NOT NULL",
        [batch_id],
    ).fetchone()
    if asked is not None:
        # Asked to stop, then stopped (a cancelled Databricks run ends its process).
        end_cancelled(conn, batch_id, asked["cancelled_by"] or "someone")
        conn.commit()
        return True
    if status == "running" and run_id is not None:
        # Its process ran on the job run's cluster: the workspace knows how it ended.
        end = job_runs.batch_end(run_id) if job_runs is not None else None
        return end is not None and end_as_run_ended(conn, batch_id, status, run_id, end)
    message = STOPPED_RUNNING if status == "running" else STOPPED_QUEUED
    return _end_batch(conn, batch_id, status, run_id, "failed", message)


def end_as_run_ended(conn: Connection, batch_id: int, was: str, run_id: str, end: BatchEnd) -> bool:
    """End a batch of job run ``run_id`` as ``jobruns`` says the run ended, and commit; False when
    the batch moved on since it was read as ``was`` (it started, or ended by itself)."""
    from lakeforge.runtime.cancel import end_cancelled

    if end.status == "cancelled":
        # Queued or running alike: a cancelled run stopped whatever it was doing with the batch.
        ended = end_cancelled(conn, batch_id, end.reason) is not None
        conn.commit()
        return ended
    return _end_batch(conn, batch_id, was, run_id, end.status, end.reason)


def _end_batch(
    conn: Connection, batch_id: int, was: str, run_id: str | None, status: str, message: str
) -> bool:
    """End the batch ``status`` (failed or skipped) with ``message``, with its open zone, table and
    step runs, and commit, unless its status or job run changed since it was read (a queued batch
    handed to a job run meanwhile is the run's to end)."""
    ended = conn.execute(
        "UPDATE lakeforge_log.batch_run SET status = %s, error = %s, ended_at = now()"
        " WHERE batch_id = %s AND status = %s AND databricks_run_id IS NOT DISTINCT FROM %s"
        " RETURNING group_name",
        [status, message, batch_id, was, run_id],
    ).fetchone()
    if ended is None:  # it moved on (started, or ran to its end) since the list was read
        conn.commit()
        return False
    end_open_runs(conn, batch_id, status, message)
    payload = {"batch_id": batch_id, "level": "batch", "status": status, "error": message}
    payload["group"] = ended["group_name"]
    conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload)])
    conn.commit()
    return True
