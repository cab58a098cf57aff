"""The local workspace's state in Postgres (schema ``lakeforge_workspace``), so a restart keeps it.

Rows hold Databricks-shaped JSON (job settings, pipeline specs, task settings) plus the few
columns the server filters on. Times are epoch milliseconds, as the Databricks API reports them.

>>> store = WorkspaceStore(db)
>>> job_id = store.create_job({"name": "nightly"}, creator="me@example.com")
>>> store.get_job(job_id)["settings"]["name"]
'nightly'
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg.types.json import Jsonb

from lakeforge.metadata.db import Connection, Database

Row = dict[str, Any]
ACTIVE_STATES = ("QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY")
_SCHEMA = "lakeforge_workspace"
# Pipeline update states an update never leaves (Databricks' UpdateInfoState).
UPDATE_FINAL = ("COMPLETED", "FAILED", "CANCELED")
# The tables an update refreshes (plain, or with a full refresh); both empty: the whole graph.
SELECTIONS = ("full_refresh_selection", "refresh_selection")


def now_ms() -> int:
    return int(time.time() * 1000)


class WorkspaceStore:
    """Typed access to the ``lakeforge_workspace`` tables; every method is one short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction whose commit does not wait for the disk flush.

        The workspace writes a state transition per task step; waiting for fsync made each ~10 ms.
        Postgres stays consistent; a machine crash can lose the last fraction of a second of run
        state, which for a local stand-in of Databricks is the right trade.
        """
        with self.db.connection() as conn:
            conn.execute("SET LOCAL synchronous_commit TO off")
            yield conn

    def _one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Row | None:
        with self._transaction() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Row]:
        with self.db.connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _exec(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> int:
        with self._transaction() as conn:
            return conn.execute(sql, params).rowcount

    # ---- jobs -------------------------------------------------------------------------------
    def create_job(self, settings: dict[str, Any], creator: str) -> int:
        row = self._one(
            f"INSERT INTO {_SCHEMA}.job (creator_user_name, settings, created_time) "
            "VALUES (%s, %s, %s) RETURNING job_id",
            (creator, Jsonb(settings), now_ms()),
        )
        assert row is not None
        return int(row["job_id"])

    def get_job(self, job_id: int) -> Row | None:
        return self._one(f"SELECT * FROM {_SCHEMA}.job WHERE job_id = %s", (job_id,))

    def list_jobs(self, *, after_id: int, limit: int, name: str | None = None) -> list[Row]:
        """Jobs with ``job_id > after_id`` in id order; ``limit`` rows at most."""
        if name is not None:
            return self._all(
                f"SELECT * FROM {_SCHEMA}.job WHERE job_id > %s AND lower(settings->>'name') = lower(%s) "
                "ORDER BY job_id LIMIT %s",
                (after_id, name, limit),
            )
        return self._all(
            f"SELECT * FROM {_SCHEMA}.job WHERE job_id > %s ORDER BY job_id LIMIT %s", (after_id, limit)
        )

    def scheduled_jobs(self) -> list[Row]:
        return self._all(f"SELECT job_id, settings FROM {_SCHEMA}.job WHERE settings ? 'schedule'")

    def replace_job_settings(self, job_id: int, settings: dict[str, Any]) -> bool:
        return (
            self._exec(f"UPDATE {_SCHEMA}.job SET settings = %s WHERE job_id = %s", (Jsonb(settings), job_id))
            > 0
        )

    def delete_job(self, job_id: int) -> bool:
        return self._exec(f"DELETE FROM {_SCHEMA}.job WHERE job_id = %s", (job_id,)) > 0

    # ---- job runs ---------------------------------------------------------------------------
    def create_run(
        self,
        *,
        job_id: int,
        settings: dict[str, Any],
        trigger: str,
        job_parameters: dict[str, str],
        overriding_parameters: dict[str, Any] | None,
        creator: str,
        life_cycle_state: str,
        idempotency_token: str | None = None,
    ) -> tuple[Row, bool]:
        """Insert a run and number it within its job (one transaction, so numbers never repeat).

        Returns the run and whether it is new: a known ``idempotency_token`` returns the earlier run.
        """
        with self._transaction() as conn:
            if idempotency_token:
                existing = conn.execute(
                    f"SELECT * FROM {_SCHEMA}.job_run WHERE idempotency_token = %s", (idempotency_token,)
                ).fetchone()
                if existing is not None:
                    return existing, False
            numbered = conn.execute(
                f"UPDATE {_SCHEMA}.job SET last_run_number = last_run_number + 1 WHERE job_id = %s "
                "RETURNING last_run_number",
                (job_id,),
            ).fetchone()
            number = int(numbered["last_run_number"]) if numbered else 1
            now = now_ms()
            row = conn.execute(
                f"INSERT INTO {_SCHEMA}.job_run (job_id, number_in_job, run_name, trigger, settings, "
                "job_parameters, overriding_parameters, life_cycle_state, start_time, queued_time, "
                "creator_user_name, idempotency_token) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
                (
                    job_id,
                    number,
                    settings.get("name", "Untitled"),
                    trigger,
                    Jsonb(settings),
                    Jsonb(job_parameters),
                    Jsonb(overriding_parameters) if overriding_parameters is not None else None,
                    life_cycle_state,
                    now,
                    now if life_cycle_state == "QUEUED" else None,
                    creator,
                    idempotency_token,
                ),
            ).fetchone()
        assert row is not None
        return row, True

    def get_run(self, run_id: int) -> Row | None:
        return self._one(f"SELECT * FROM {_SCHEMA}.job_run WHERE run_id = %s", (run_id,))

    def update_run(self, run_id: int, **fields: Any) -> None:
        if not fields:
            return
        values = {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in fields.items()}
        assignments = ", ".join(f"{name} = %({name})s" for name in values)
        self._exec(
            f"UPDATE {_SCHEMA}.job_run SET {assignments} WHERE run_id = %(_run_id)s",
            {**values, "_run_id": run_id},
        )

    def list_runs(
        self,
        *,
        job_id: int | None,
        before_id: int | None,
        limit: int,
        active_only: bool = False,
        completed_only: bool = False,
        start_time_from: int | None = None,
        start_time_to: int | None = None,
    ) -> list[Row]:
        """Runs newest first (Databricks lists runs in descending start order)."""
        where = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        if job_id is not None:
            where.append("job_id = %(job_id)s")
            params["job_id"] = job_id
        if before_id is not None:
            where.append("run_id < %(before)s")
            params["before"] = before_id
        if active_only:
            where.append("life_cycle_state = ANY(%(active)s)")
            params["active"] = list(ACTIVE_STATES)
        if completed_only:
            where.append("NOT (life_cycle_state = ANY(%(active)s))")
            params["active"] = list(ACTIVE_STATES)
        if start_time_from is not None:
            where.append("start_time >= %(from)s")
            params["from"] = start_time_from
        if start_time_to is not None:
            where.append("start_time <= %(to)s")
            params["to"] = start_time_to
        return self._all(
            f"SELECT * FROM {_SCHEMA}.job_run WHERE {' AND '.join(where)} "
            "ORDER BY run_id DESC LIMIT %(limit)s",
            params,
        )

    def active_runs(self, job_id: int | None = None) -> list[Row]:
        if job_id is None:
            return self._all(
                f"SELECT * FROM {_SCHEMA}.job_run WHERE life_cycle_state = ANY(%s) ORDER BY run_id",
                (list(ACTIVE_STATES),),
            )
        return self._all(
            f"SELECT * FROM {_SCHEMA}.job_run WHERE job_id = %s AND life_cycle_state = ANY(%s) "
            "ORDER BY run_id",
            (job_id, list(ACTIVE_STATES)),
        )

    def delete_run(self, run_id: int) -> bool:
        return self._exec(f"DELETE FROM {_SCHEMA}.job_run WHERE run_id = %s", (run_id,)) > 0

    # ---- task runs --------------------------------------------------------------------------
    def create_task_run(
        self, *, job_run_id: int, task_key: str, task: dict[str, Any], attempt: int, repair_id: int | None
    ) -> int:
        row = self._one(
            f"INSERT INTO {_SCHEMA}.task_run (job_run_id, task_key, attempt_number, repair_id, task, "
            "life_cycle_state) VALUES (%s, %s, %s, %s, %s, 'PENDING') RETURNING run_id",
            (job_run_id, task_key, attempt, repair_id, Jsonb(task)),
        )
        assert row is not None
        return int(row["run_id"])

    def update_task_run(self, run_id: int, **fields: Any) -> None:
        if not fields:
            return
        assignments = ", ".join(f"{name} = %({name})s" for name in fields)
        self._exec(
            f"UPDATE {_SCHEMA}.task_run SET {assignments} WHERE run_id = %(_run_id)s",
            {**fields, "_run_id": run_id},
        )

    def task_runs(self, job_run_id: int) -> list[Row]:
        """Every attempt of every task of a run, oldest first."""
        return self._all(
            f"SELECT * FROM {_SCHEMA}.task_run WHERE job_run_id = %s ORDER BY run_id", (job_run_id,)
        )

    def get_task_run(self, run_id: int) -> Row | None:
        return self._one(f"SELECT * FROM {_SCHEMA}.task_run WHERE run_id = %s", (run_id,))

    # ---- pipelines --------------------------------------------------------------------------
    def create_pipeline(self, spec: dict[str, Any], creator: str) -> str:
        pipeline_id = str(uuid.uuid4())
        now = now_ms()
        spec = {**spec, "id": pipeline_id}
        self._exec(
            f"INSERT INTO {_SCHEMA}.pipeline (pipeline_id, name, spec, creator_user_name, created_time, "
            "last_modified) VALUES (%s, %s, %s, %s, %s, %s)",
            (pipeline_id, spec.get("name", ""), Jsonb(spec), creator, now, now),
        )
        return pipeline_id

    def get_pipeline(self, pipeline_id: str) -> Row | None:
        return self._one(f"SELECT * FROM {_SCHEMA}.pipeline WHERE pipeline_id = %s", (pipeline_id,))

    def pipelines_named(self, name: str) -> list[Row]:
        return self._all(f"SELECT * FROM {_SCHEMA}.pipeline WHERE name = %s", (name,))

    def list_pipelines(self, *, after_id: str, limit: int, name_like: str | None = None) -> list[Row]:
        if name_like is not None:
            return self._all(
                f"SELECT * FROM {_SCHEMA}.pipeline WHERE pipeline_id > %s AND name ILIKE %s "
                "ORDER BY pipeline_id LIMIT %s",
                (after_id, name_like, limit),
            )
        return self._all(
            f"SELECT * FROM {_SCHEMA}.pipeline WHERE pipeline_id > %s ORDER BY pipeline_id LIMIT %s",
            (after_id, limit),
        )

    def replace_pipeline_spec(self, pipeline_id: str, spec: dict[str, Any]) -> None:
        self._exec(
            f"UPDATE {_SCHEMA}.pipeline SET spec = %s, name = %s, last_modified = %s WHERE pipeline_id = %s",
            (Jsonb({**spec, "id": pipeline_id}), spec.get("name", ""), now_ms(), pipeline_id),
        )

    def set_pipeline_state(self, pipeline_id: str, state: str) -> None:
        self._exec(f"UPDATE {_SCHEMA}.pipeline SET state = %s WHERE pipeline_id = %s", (state, pipeline_id))

    def delete_pipeline(self, pipeline_id: str) -> bool:
        return self._exec(f"DELETE FROM {_SCHEMA}.pipeline WHERE pipeline_id = %s", (pipeline_id,)) > 0

    def create_update(
        self,
        pipeline_id: str,
        *,
        cause: str,
        full_refresh: bool,
        config: dict[str, Any],
        parameters: dict[str, str] | None,
        full_refresh_selection: Sequence[str] = (),
        refresh_selection: Sequence[str] = (),
    ) -> str:
        update_id = str(uuid.uuid4())
        self._exec(
            f"INSERT INTO {_SCHEMA}.pipeline_update (update_id, pipeline_id, state, cause, full_refresh, "
            "config, parameters, creation_time, full_refresh_selection, refresh_selection)"
            " VALUES (%s, %s, 'QUEUED', %s, %s, %s, %s, %s, %s, %s)",
            (
                update_id,
                pipeline_id,
                cause,
                full_refresh,
                Jsonb(config),
                Jsonb(parameters) if parameters else None,
                now_ms(),
                list(full_refresh_selection),
                list(refresh_selection),
            ),
        )
        return update_id

    def get_update(self, pipeline_id: str, update_id: str) -> Row | None:
        return self._one(
            f"SELECT * FROM {_SCHEMA}.pipeline_update WHERE pipeline_id = %s AND update_id = %s",
            (pipeline_id, update_id),
        )

    def list_updates(self, pipeline_id: str, limit: int, before_time: int | None = None) -> list[Row]:
        return self._all(
            f"SELECT * FROM {_SCHEMA}.pipeline_update WHERE pipeline_id = %s "
            "AND (%s::bigint IS NULL OR creation_time < %s) ORDER BY creation_time DESC, update_id LIMIT %s",
            (pipeline_id, before_time, before_time, limit),
        )

    def active_update(self, pipeline_id: str) -> Row | None:
        return self._one(
            f"SELECT * FROM {_SCHEMA}.pipeline_update WHERE pipeline_id = %s "
            "AND state <> ALL(%s) ORDER BY creation_time DESC LIMIT 1",
            (pipeline_id, list(UPDATE_FINAL)),
        )

    def set_update_state(self, update_id: str, state: str, error: str | None = None) -> None:
        """Move an update to ``state``. A final state is never left, and a ``STOPPING`` update only
        moves on to a final one: a runner's late "RUNNING" must not hide a stop, nor its
        "COMPLETED" undo a stop that ended the update before it began."""
        final = state in UPDATE_FINAL
        settled = list(UPDATE_FINAL) if final else [*UPDATE_FINAL, "STOPPING"]
        self._exec(
            f"UPDATE {_SCHEMA}.pipeline_update SET state = %s, error = COALESCE(%s, error), "
            "end_time = CASE WHEN %s THEN %s ELSE end_time END WHERE update_id = %s AND state <> ALL(%s)",
            (state, error, final, now_ms(), update_id, settled),
        )

    # ---- workspace objects ------------------------------------------------------------------
    def get_object(self, path: str) -> Row | None:
        return self._one(f"SELECT * FROM {_SCHEMA}.workspace_object WHERE path = %s", (path,))

    def put_object(self, path: str, object_type: str, language: str | None, content: bytes | None) -> None:
        now = now_ms()
        self._exec(
            f"INSERT INTO {_SCHEMA}.workspace_object (path, object_type, language, content, created_at, "
            "modified_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET "
            "object_type = EXCLUDED.object_type, language = EXCLUDED.language, content = EXCLUDED.content, "
            "modified_at = EXCLUDED.modified_at",
            (path, object_type, language, content, now, now),
        )

    def children(self, path: str) -> list[Row]:
        prefix = path.rstrip("/") + "/"
        return self._all(
            f"SELECT path, object_id, object_type, language, created_at, modified_at, "
            f"octet_length(content) AS size FROM {_SCHEMA}.workspace_object "
            "WHERE starts_with(path, %s) AND path <> %s AND position('/' IN substr(path, %s)) = 0 "
            "ORDER BY path",
            (prefix, prefix, len(prefix) + 1),
        )

    def delete_tree(self, path: str) -> int:
        prefix = path.rstrip("/") + "/"
        return self._exec(
            f"DELETE FROM {_SCHEMA}.workspace_object WHERE path = %s OR starts_with(path, %s)",
            (path, prefix),
        )
