"""The fault switch as the SDK experiences it, and state that survives a restart."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs, pipelines
from databricks.sdk.service import workspace as workspace_api

from lakeforge.localworkspace.executor import TaskRunners
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.localworkspace.conftest import free_port, serve_workspace

from .test_runs import wait_for


def test_throttling_and_unavailability_are_retried_by_the_sdk(
    workspace: LocalWorkspace, w: WorkspaceClient
) -> None:
    workspace.faults.queue("throttle", path="/jobs/create", count=2)
    workspace.faults.queue("unavailable", path="/jobs/list")
    job_id = w.jobs.create(name="after-throttling").job_id
    assert [j.job_id for j in w.jobs.list()] == [job_id]  # one job: throttled requests did nothing
    assert workspace.faults.injected == {"throttle": 2, "unavailable": 1}

    workspace.faults.queue("throttle", retry_after=7)
    answer = requests.get(
        f"{workspace.base_url}/api/2.2/jobs/list",
        headers={"Authorization": f"Bearer {workspace.token}"},
        timeout=10,
    )
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_lost_response_makes_a_retried_create_land_twice(
    workspace: LocalWorkspace, w: WorkspaceClient
) -> None:
    workspace.faults.queue("lost_response", path="/api/2.2/jobs/create")
    w.jobs.create(name="twice", tags={"lakeforge_key": "group:a"})
    # The SDK retried the 503; both creates happened, as on Databricks after a lost reply.
    assert [j.settings.name for j in w.jobs.list()] == ["twice", "twice"]
    workspace.faults.queue("lost_response", path="/api/2.0/pipelines$", method="POST")
    w.pipelines.create(name="p", allow_duplicate_names=True)
    assert len(list(w.pipelines.list_pipelines())) == 2


def test_dropped_connection_after_the_create(workspace: LocalWorkspace, w: WorkspaceClient) -> None:
    workspace.faults.queue("drop_connection", path="/jobs/create")
    with pytest.raises(requests.exceptions.RequestException):
        w.jobs.create(name="did-it-land")
    # The client saw an error, yet the job exists: callers must look before creating again.
    assert [j.settings.name for j in w.jobs.list()] == ["did-it-land"]


def test_random_faults_never_break_the_contract(workspace: LocalWorkspace, w: WorkspaceClient) -> None:
    workspace.faults.set_random(0.3, kinds=("throttle", "unavailable"), seed=3)
    ids = [w.jobs.create(name=f"j{i}").job_id for i in range(10)]
    listed = [j.job_id for j in w.jobs.list(limit=3)]
    workspace.faults.clear()
    assert listed == ids
    assert sum(workspace.faults.injected.values()) > 0


def test_restart_keeps_jobs_pipelines_files_and_run_history(
    settings: Settings, db: Database, runners: TaskRunners
) -> None:
    with LocalWorkspace(settings, db, runners=runners) as first:
        w = first.client()
        job_id = w.jobs.create(
            name="kept",
            tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/Shared/missing"))],
        ).job_id
        run_id = w.jobs.run_now(job_id).run_id
        wait_for(w, run_id)
        pipeline_id = w.pipelines.create(name="kept-pipeline", catalog="main", schema="s").pipeline_id
        w.workspace.mkdirs("/Shared/kept")
    with LocalWorkspace(settings, db, runners=runners) as second:
        w = second.client()
        assert w.jobs.get(job_id).settings.name == "kept"
        assert [r.run_id for r in w.jobs.list_runs(job_id=job_id)] == [run_id]
        assert w.jobs.get_run(run_id).state.result_state == jobs.RunResultState.FAILED
        assert w.pipelines.get(pipeline_id).spec.catalog == "main"
        assert w.pipelines.get(pipeline_id).state == pipelines.PipelineState.IDLE
        assert w.workspace.get_status("/Shared/kept").object_type.value == "DIRECTORY"
        # run numbers continue where they stopped
        assert w.jobs.run_now(job_id).response.number_in_job == 2


HANGING_NOTEBOOK = b"""# Databricks notebook source
import time
from lakeforge.metadata.db import open_database
from lakeforge.runtime.runlog import create_batch
from lakeforge.settings import get_settings

dbutils.widgets.text("job_run_id", "")
with open_database(get_settings()) as db, db.connection() as conn:
    create_batch(conn, {"group_name": "sales", "trigger": "schedule", "status": "running",
                        "databricks_run_id": dbutils.widgets.get("job_run_id")})
    time.sleep(600)
"""


def test_a_killed_server_leaves_no_run_or_batch_running_forever(
    database_url: str, settings: Settings, db: Database, runners: TaskRunners, tmp_path: Path
) -> None:
    port = free_port()
    server = serve_workspace(
        database_url, tmp_path, port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        w = WorkspaceClient(host=f"http://127.0.0.1:{port}", token="t0ken", auth_type="pat")
        _until(lambda: _answers(port))
        w.workspace.mkdirs("/Shared")
        w.workspace.import_(
            "/Shared/hang",
            content=base64.b64encode(HANGING_NOTEBOOK).decode(),
            format=workspace_api.ImportFormat.SOURCE,
            language=workspace_api.Language.PYTHON,
        )
        job_id = w.jobs.create(
            name="hangs",
            tasks=[
                jobs.Task(
                    task_key="t",
                    notebook_task=jobs.NotebookTask(
                        notebook_path="/Shared/hang", base_parameters={"job_run_id": "{{job.run_id}}"}
                    ),
                )
            ],
        ).job_id
        run_id = w.jobs.run_now(job_id).run_id
        _until(lambda: _batch_status(db) == "running")
    finally:
        server.kill()  # SIGKILL: no cleanup of any kind, as when a machine dies
        server.wait(30)

    with LocalWorkspace(settings, db, runners=runners) as restarted:
        run = restarted.client().jobs.get_run(run_id)
        assert run.state and run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert _batch_status(db) == "failed"
    with db.connection() as conn:
        error = conn.execute("SELECT error FROM lakeforge_log.batch_run").fetchone()["error"]
    # As the run ended, read from the restarted workspace over the Jobs API.
    assert (
        error
        == f"job run {run_id} ended INTERNAL_ERROR: The local workspace stopped while this run was active"
    )


def _answers(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/.well-known/databricks-config", timeout=1)
    except requests.ConnectionError:
        return False
    return True


def _batch_status(db: Database) -> str | None:
    with db.connection() as conn:
        row = conn.execute("SELECT status FROM lakeforge_log.batch_run").fetchone()
    return row["status"] if row else None


def _until(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
