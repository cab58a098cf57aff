"""Cancelling a job run in the local workspace stops its notebook at the next table, cooperatively,
and ends the batch cancelled; ``cancel_run`` on a job run's batch cancels the run over the Jobs API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.runtime.gate import Gate, gated_api
from tests.runtime.helpers import make_source

from .conftest import free_port
from .test_end_to_end import _notebook
from .test_runs import by_key, wait_for


@pytest.fixture
def gate() -> Iterator[Gate]:
    with gated_api() as opened:
        yield opened


@pytest.fixture
def workspace(
    settings: Settings, db: Database, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalWorkspace]:
    """The local workspace with the data plane's real runners, on the port LakeForge's settings
    name (so the command layer reaches it), and a REST source whose extract waits for the gate."""
    make_source(db, "orders", format="rest", location=gate.url)
    configured = settings.model_copy(update={"workspace_port": free_port()})
    monkeypatch.setattr(launch, "_settings", configured)
    for name in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with LocalWorkspace(configured, db, port=configured.workspace_port) as server:
        yield server


def _start(w: WorkspaceClient, gate: Gate) -> int:
    job_id = w.jobs.create(
        name="lakeforge-sales",
        tasks=[
            _notebook("orders_source_to_raw", "source_to_raw"),
            _notebook("orders_raw_to_bronze", "raw_to_bronze", depends="orders_source_to_raw"),
        ],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    assert gate.arrived.wait(120), "the notebook never reached the feed"
    return run_id


def _batch_of(db: Database, run_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT * FROM lakeforge_log.batch_run WHERE databricks_run_id = %s", [str(run_id)]
        ).fetchone()
        zones = conn.execute(
            "SELECT zone, status FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id",
            [row["batch_id"]],
        ).fetchall()
    return {**row, "zones": [(z["zone"], z["status"]) for z in zones]}


def _task_thread_ended(run: jobs.Run) -> bool:
    """The raw task's notebook thread stopped on its own (cancelled threads are never killed)."""
    task_run_id = by_key(run)["orders_source_to_raw"].run_id
    thread = next((t for t in threading.enumerate() if t.name == f"lakeforge-task-{task_run_id}"), None)
    if thread is not None:
        thread.join(30)  # it set its done event just before returning
    return thread is None or not thread.is_alive()


def _wait_terminating(w: WorkspaceClient, run_id: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while w.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.TERMINATING:
        assert time.monotonic() < deadline, "the run never took the cancel"
        time.sleep(0.05)


def test_cancelling_the_job_run_stops_the_notebook_at_its_next_step(
    workspace: LocalWorkspace, db: Database, gate: Gate
) -> None:
    w = workspace.client()
    run_id = _start(w, gate)

    w.jobs.cancel_run(run_id)
    # The run's loop takes the cancel on its next turn and then says TERMINATING: only then is the
    # task's stop asked for, so the feed opens after it (else the task may finish its work first).
    _wait_terminating(w, run_id)
    gate.opened.set()
    run = wait_for(w, run_id, timeout=120)

    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert by_key(run)["orders_source_to_raw"].state.result_state == jobs.RunResultState.CANCELED
    assert by_key(run)["orders_raw_to_bronze"].state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert _task_thread_ended(run)
    batch = _batch_of(db, run_id)
    assert batch["status"] == "cancelled"
    assert batch["cancelled_by"] == "the workspace (its job run was cancelled)"
    assert batch["zones"] == [("raw", "succeeded")]  # the table under way finished; Bronze never ran


def test_cancel_run_of_a_job_run_batch_cancels_the_run_through_the_jobs_api(
    workspace: LocalWorkspace, db: Database, gate: Gate
) -> None:
    w = workspace.client()
    run_id = _start(w, gate)
    batch_id = _batch_of(db, run_id)["batch_id"]

    answer = execute(
        db,
        {"kind": "cancel_run", "batch_id": batch_id},
        Actor(user="ana", surface="api"),
        principal=Principal(user="ana", bindings=(("operator", "sales"),)),
    )
    gate.opened.set()
    run = wait_for(w, run_id, timeout=120)

    assert answer.status == "applied", answer.errors
    assert [line["entity"] for line in answer.plan] == ["batch", "job_run"]
    assert answer.plan[1]["text"] == f"cancel job run {run_id} in the workspace"
    # Only the Jobs API call cancels the run: the run log's request alone would fail the task.
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED
    assert _task_thread_ended(run)
    batch = _batch_of(db, run_id)
    assert (batch["status"], batch["cancelled_by"], batch["error"]) == (
        "cancelled",
        "ana",
        "cancelled by ana",
    )
