"""A job run's batch whose process the workspace ended, without LakeForge, ends as the run did.

On Databricks, cancelling a job run (in the UI, or from any Jobs API client), its timeout, or a
lost cluster kills the task's process, so the runner never writes the batch's end. The stale-batch
check then finds the batch without a process and asks the workspace, over the Jobs API, how its
run ended. The ``orphan`` notebook stands in for such a process: it opens its run's batch as the
runtime does and dies without ending it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs

from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.notify import render
from lakeforge.notify.events import load_view
from lakeforge.orchestration.gateway import Gateway
from lakeforge.orchestration.launcher import settle_launched_batches
from lakeforge.runtime.jobruns import JobRunEnds
from lakeforge.runtime.runlog import create_batch, fail_stale_batches, is_orphaned
from lakeforge.settings import Settings
from tests.commands.test_cancel_run import run_log

from .conftest import NOTEBOOKS, free_port
from .test_runs import wait_for

ORPHAN = str(NOTEBOOKS / "orphan.py")


def _start(
    w: WorkspaceClient, db: Database, *, timeout_seconds: int = 0, queue: bool = False, **widgets: str
) -> tuple[int, int]:
    """Run a one-task job of the orphan notebook; (job run id, its batch id) once the batch runs.
    The job runs one run at a time; later runs wait for it when ``queue``, else they are skipped."""
    job_id = w.jobs.create(
        name="lakeforge-sales",
        timeout_seconds=timeout_seconds,
        max_concurrent_runs=1,
        queue=jobs.QueueSettings(enabled=queue),
        tasks=[
            jobs.Task(
                task_key="orders__source_to_raw",
                notebook_task=jobs.NotebookTask(
                    notebook_path=ORPHAN, base_parameters={"job_run_id": "{{job.run_id}}", **widgets}
                ),
            )
        ],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    _until(lambda: _batch_id(db, run_id) is not None)
    batch_id = _batch_id(db, run_id)
    assert batch_id is not None
    return run_id, batch_id


def _batch_id(db: Database, run_id: int) -> int | None:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT batch_id FROM lakeforge_log.batch_run WHERE databricks_run_id = %s", [str(run_id)]
        ).fetchone()
    return int(row["batch_id"]) if row else None


def _batch(db: Database, batch_id: int) -> dict[str, Any]:
    """The batch's row, with its zones' and tables' (name, status) and its steps still open."""
    with db.connection() as conn:
        row = conn.execute("SELECT * FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]).fetchone()
    return {**row, **run_log(db, batch_id)}


def _until_orphaned(db: Database, batch_id: int) -> None:
    """Wait until the notebook's process is gone, as far as the run log can tell (its lock)."""

    def orphaned() -> bool:
        with db.connection() as conn:
            return is_orphaned(conn, batch_id)

    _until(orphaned)


def _until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_job_run_cancelled_in_the_workspace_ends_its_batch_cancelled(
    workspace: LocalWorkspace, db: Database
) -> None:
    w = workspace.client()
    run_id, batch_id = _start(w, db)

    w.jobs.cancel_run(run_id)  # as the Databricks UI does: LakeForge is not asked
    run = wait_for(w, run_id)
    _until_orphaned(db, batch_id)
    ended = fail_stale_batches(db, JobRunEnds(workspace.client))

    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.state.state_message == "This run was cancelled."
    assert ended == [batch_id]
    by = f"Databricks (job run {run_id} cancelled by a user: This run was cancelled)"
    batch = _batch(db, batch_id)
    assert (batch["status"], batch["cancelled_by"], batch["error"]) == ("cancelled", by, f"cancelled by {by}")
    assert batch["ended_at"] is not None
    assert batch["zones"] == [("raw", "cancelled")]
    assert batch["tables"] == [("raw:orders", "cancelled")]
    with db.connection() as conn:
        view = load_view(conn, batch_id)
    assert view is not None
    alert = render.cancelled_reply(view)[0]
    assert f"was cancelled by {by}* in zone *raw*" in alert


def test_a_timed_out_job_run_fails_its_batch_naming_the_timeout(
    workspace: LocalWorkspace, db: Database
) -> None:
    w = workspace.client()
    # The job gives up after 1 s; the notebook's process is gone 3 s in.
    run_id, batch_id = _start(w, db, timeout_seconds=1, hold="3")

    run = wait_for(w, run_id)
    _until_orphaned(db, batch_id)
    ended = fail_stale_batches(db, JobRunEnds(workspace.client))

    assert run.state.result_state == jobs.RunResultState.TIMEDOUT
    assert ended == [batch_id]
    batch = _batch(db, batch_id)
    assert batch["status"] == "failed"
    assert batch["error"].startswith(
        f"job run {run_id} timed out (the job's timeout of 1 s, the group's timeout_seconds):"
    )
    assert "raise the group's timeout_seconds (update_group)" in batch["error"]
    assert batch["zones"] == [("raw", "failed")] and batch["tables"] == [("raw:orders", "failed")]


def test_a_failed_job_run_fails_its_batch_with_the_runs_message_scrubbed(
    workspace: LocalWorkspace, db: Database
) -> None:
    w = workspace.client()
    run_id, batch_id = _start(w, db, hold="0", fail_with="cannot reach postgresql://etl:Hunter2@erp:5432/erp")

    run = wait_for(w, run_id)
    _until_orphaned(db, batch_id)
    ended = fail_stale_batches(db, JobRunEnds(workspace.client))

    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "Hunter2" in run.state.state_message  # the workspace says it as the task raised it
    assert ended == [batch_id]
    batch = _batch(db, batch_id)
    assert batch["status"] == "failed"
    assert batch["error"] == (
        f"job run {run_id} ended FAILED: Task orders__source_to_raw failed with message:"
        " RuntimeError: cannot reach postgresql://etl:***redacted***@erp:5432/erp"
    )
    assert batch["zones"] == [("raw", "failed")] and batch["tables"] == [("raw:orders", "failed")]
    assert "Hunter2" not in str(batch)


def test_a_batch_whose_job_run_is_still_running_is_left_alone(
    workspace: LocalWorkspace, db: Database
) -> None:
    w = workspace.client()
    # Its process lost the batch's lock (a broken Lakebase connection) but runs on in the workspace.
    run_id, batch_id = _start(w, db, lose_lock="yes")
    _until_orphaned(db, batch_id)

    assert fail_stale_batches(db, JobRunEnds(workspace.client)) == []
    batch = _batch(db, batch_id)
    assert (batch["status"], batch["error"], batch["ended_at"]) == ("running", None, None)
    assert batch["zones"] == [("raw", "running")]
    assert w.jobs.get_run(run_id).state.life_cycle_state == jobs.RunLifeCycleState.RUNNING

    w.jobs.cancel_run(run_id)  # once the run has ended, so does the batch
    wait_for(w, run_id)
    assert fail_stale_batches(db, JobRunEnds(workspace.client)) == [batch_id]
    assert _batch(db, batch_id)["status"] == "cancelled"


def _orphan_batch(db: Database, run_id: str) -> int:
    """A running batch of job run ``run_id`` whose process is gone (its connection closed)."""
    with db.dedicated_connection() as holder:
        batch_id = create_batch(
            holder,
            {"group_name": "sales", "trigger": "schedule", "status": "running", "databricks_run_id": run_id},
        )
    # Postgres drops a closed session's locks a moment after the client hung up: wait for that, as
    # a runner that died has long gone by the time anything looks for stale batches.
    deadline = time.monotonic() + 30
    with db.connection() as conn:
        while not is_orphaned(conn, batch_id):
            assert time.monotonic() < deadline, f"batch {batch_id} still held after its session closed"
            time.sleep(0.05)
    return batch_id


def test_a_batch_is_left_running_while_the_workspace_cannot_be_asked(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(name, raising=False)
    nobody = settings.model_copy(update={"workspace_port": free_port(), "databricks_host": None})
    batch_id = _orphan_batch(db, "42")

    assert fail_stale_batches(db, JobRunEnds.of(nobody)) == []
    assert fail_stale_batches(db) == []  # no workspace to ask at all
    assert _batch(db, batch_id)["status"] == "running"


def test_a_batch_whose_job_run_the_workspace_no_longer_knows_fails(
    workspace: LocalWorkspace, db: Database
) -> None:
    batch_id = _orphan_batch(db, "987654")

    assert fail_stale_batches(db, JobRunEnds(workspace.client)) == [batch_id]
    batch = _batch(db, batch_id)
    assert batch["status"] == "failed"
    assert batch["error"].endswith("; its job run 987654 no longer exists")
    assert "stopped before it finished" in batch["error"]


def _queued_batch(db: Database, run_id: int) -> int:
    """A batch queued as job run ``run_id``, as ``JobLauncher`` leaves it once ``run-now`` answered."""
    with db.connection() as conn:
        row = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, trigger, status, databricks_run_id)"
            " VALUES ('sales', 'manual', 'queued', %s) RETURNING batch_id",
            [str(run_id)],
        ).fetchone()
    assert row is not None
    return int(row["batch_id"])


def test_a_queued_batch_whose_job_run_was_cancelled_before_starting_it_ends_cancelled_naming_who(
    workspace: LocalWorkspace, db: Database
) -> None:
    w = workspace.client()
    busy, _ = _start(w, db, queue=True)  # holds the job's one slot: the next run waits
    run_id = w.jobs.run_now(w.jobs.get_run(busy).job_id).run_id
    assert w.jobs.get_run(run_id).state.life_cycle_state == jobs.RunLifeCycleState.QUEUED
    batch_id = _queued_batch(db, run_id)
    gateway = Gateway(w)
    assert settle_launched_batches(db, gateway) == []  # still waiting in the job's queue
    assert (_batch(db, batch_id)["status"], gateway.reads) == ("queued", 1)

    w.jobs.cancel_run(run_id)  # in the Databricks UI, before any task started the batch
    assert wait_for(w, run_id).state.result_state == jobs.RunResultState.CANCELED
    try:
        assert settle_launched_batches(db, gateway) == [batch_id]
    finally:
        w.jobs.cancel_run(busy)

    # Cancelled as a running batch's run would be: by whom, and in the alert.
    by = f"Databricks (job run {run_id} cancelled by a user: This run was cancelled)"
    batch = _batch(db, batch_id)
    assert (batch["status"], batch["cancelled_by"], batch["error"]) == ("cancelled", by, f"cancelled by {by}")
    assert batch["ended_at"] is not None and batch["zones"] == []
    with db.connection() as conn:
        view = load_view(conn, batch_id)
    assert view is not None
    assert f"was cancelled by {by}" in render.cancelled_reply(view)[0]
    assert settle_launched_batches(db, gateway) == [] and gateway.reads == 2  # nothing left to read


def test_a_queued_batch_whose_job_run_was_skipped_ends_skipped(
    workspace: LocalWorkspace, db: Database
) -> None:
    w = workspace.client()
    busy, _ = _start(w, db)  # holds the job's one slot, with no queue: the next run is skipped
    run_id = w.jobs.run_now(w.jobs.get_run(busy).job_id).run_id
    batch_id = _queued_batch(db, run_id)
    try:
        assert wait_for(w, run_id).state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
        assert settle_launched_batches(db, Gateway(w)) == [batch_id]
    finally:
        w.jobs.cancel_run(busy)

    batch = _batch(db, batch_id)
    assert (batch["status"], batch["error"]) == (
        "skipped",
        f"job run {run_id} was skipped before this batch started: Skipping this run because the limit of 1"
        " maximum concurrent runs has been reached",
    )
    assert batch["ended_at"] is not None
