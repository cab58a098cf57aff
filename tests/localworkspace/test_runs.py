"""Runs execute notebook and pipeline tasks: dependencies, run_if, retries, timeouts, queueing, repair."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs, pipelines, workspace

from lakeforge.localworkspace.executor import TaskRunners
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings

from .conftest import NOTEBOOKS, notebook_runner

STEP = str(NOTEBOOKS / "step.py")


def wait_for(w: WorkspaceClient, run_id: int, timeout: float = 30) -> jobs.Run:
    """Poll runs/get until the run ends (the SDK's own waiter backs off to 10 s, too slow for tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = w.jobs.get_run(run_id)
        if run.state.life_cycle_state in (
            jobs.RunLifeCycleState.TERMINATED,
            jobs.RunLifeCycleState.SKIPPED,
            jobs.RunLifeCycleState.INTERNAL_ERROR,
        ):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s: {w.jobs.get_run(run_id).state}")


def step(
    key: str, out: Path, *, depends: tuple[str, ...] = (), run_if: str | None = None, **params: Any
) -> jobs.Task:
    return jobs.Task(
        task_key=key,
        notebook_task=jobs.NotebookTask(
            notebook_path=STEP,
            base_parameters={"out": str(out), "step": key, **{k: str(v) for k, v in params.items()}},
        ),
        depends_on=[jobs.TaskDependency(task_key=d) for d in depends] or None,
        run_if=jobs.RunIf(run_if) if run_if else None,
    )


def by_key(run: jobs.Run) -> dict[str, jobs.RunTask]:
    return {t.task_key: t for t in run.tasks}


def test_two_notebook_tasks_run_in_dependency_order(w: WorkspaceClient, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    job_id = w.jobs.create(
        name="two-steps",
        tasks=[step("load", out, depends=("extract",)), step("extract", out)],
        parameters=[jobs.JobParameterDefinition(name="group", default="sales")],
    ).job_id
    started = w.jobs.run_now(job_id)
    run = wait_for(w, started.run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    assert out.read_text().splitlines() == ["extract sales", "load sales"]
    tasks = by_key(run)
    assert tasks["extract"].end_time <= tasks["load"].start_time
    assert run.number_in_job == 1 and run.trigger == jobs.TriggerType.ONE_TIME
    # job parameters given at run-now reach the notebooks
    again = wait_for(w, w.jobs.run_now(job_id, job_parameters={"group": "hr"}).run_id)
    assert again.number_in_job == 2 and again.state.result_state == jobs.RunResultState.SUCCESS
    assert out.read_text().splitlines()[-2:] == ["extract hr", "load hr"]
    listed = list(w.jobs.list_runs(job_id=job_id))
    assert [r.run_id for r in listed] == [again.run_id, run.run_id]


def test_run_if_and_failure_propagation(w: WorkspaceClient, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    job_id = w.jobs.create(
        name="failing",
        tasks=[
            step("bad", out, fail_times=99),
            step("after", out, depends=("bad",)),
            step("cleanup", out, depends=("bad",), run_if="AT_LEAST_ONE_FAILED"),
            step("always", out, depends=("after",), run_if="ALL_DONE"),
        ],
    ).job_id
    run = wait_for(w, w.jobs.run_now(job_id).run_id)
    tasks = by_key(run)
    assert tasks["bad"].state.result_state == jobs.RunResultState.FAILED
    assert "failed on purpose" in tasks["bad"].state.state_message
    assert tasks["after"].state.result_state == jobs.RunResultState.UPSTREAM_FAILED
    assert tasks["cleanup"].state.result_state == jobs.RunResultState.SUCCESS
    assert tasks["always"].state.result_state == jobs.RunResultState.SUCCESS
    # the leaves succeeded, an earlier task failed
    assert run.state.result_state == jobs.RunResultState.SUCCESS_WITH_FAILURES
    assert sorted(out.read_text().splitlines()) == ["always ", "cleanup "]


def test_retries_then_success_and_repair(w: WorkspaceClient, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    flaky = step("flaky", out, fail_times=2)
    flaky.max_retries = 2
    flaky.min_retry_interval_millis = 200
    job_id = w.jobs.create(name="flaky", tasks=[flaky]).job_id
    run = wait_for(w, w.jobs.run_now(job_id).run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert by_key(run)["flaky"].attempt_number == 2

    # no retries: the run fails; a repair reruns the failed task and succeeds
    out2 = tmp_path / "out2.txt"
    job2 = w.jobs.create(
        name="repairable", tasks=[step("first", out2), step("second", out2, depends=("first",), fail_times=1)]
    ).job_id
    failed = wait_for(w, w.jobs.run_now(job2).run_id)
    assert failed.state.result_state == jobs.RunResultState.FAILED
    assert failed.status.termination_details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
    w.jobs.repair_run(failed.run_id, rerun_all_failed_tasks=True)
    repaired = wait_for(w, failed.run_id)
    assert repaired.state.result_state == jobs.RunResultState.SUCCESS
    assert out2.read_text().splitlines() == ["first ", "second "]  # first was not rerun
    history = w.jobs.get_run(failed.run_id, include_history=True).repair_history
    assert [h.type for h in history] == [
        jobs.RepairHistoryItemType.ORIGINAL,
        jobs.RepairHistoryItemType.REPAIR,
    ]


def test_timeout_and_cancel(w: WorkspaceClient, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    slow = step("slow", out, sleep=5)
    slow.timeout_seconds = 1
    job_id = w.jobs.create(name="slow", tasks=[slow]).job_id
    run = wait_for(w, w.jobs.run_now(job_id).run_id)
    assert by_key(run)["slow"].state.result_state == jobs.RunResultState.TIMEDOUT
    assert run.state.result_state == jobs.RunResultState.FAILED

    job2 = w.jobs.create(name="cancel-me", tasks=[step("slow", out, sleep=5)]).job_id
    run_id = w.jobs.run_now(job2).run_id
    time.sleep(0.3)
    w.jobs.cancel_run(run_id)
    cancelled = wait_for(w, run_id)
    assert cancelled.state.result_state == jobs.RunResultState.CANCELED
    assert cancelled.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED


def test_max_concurrent_runs_skips_or_queues(w: WorkspaceClient, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    job_id = w.jobs.create(
        name="one-at-a-time", tasks=[step("s", out, sleep=1)], max_concurrent_runs=1
    ).job_id
    first = w.jobs.run_now(job_id).run_id
    second = w.jobs.run_now(job_id).run_id
    skipped = wait_for(w, second)
    assert skipped.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert skipped.state.result_state == jobs.RunResultState.MAXIMUM_CONCURRENT_RUNS_REACHED
    wait_for(w, first)

    w.jobs.update(job_id, new_settings=jobs.JobSettings(queue=jobs.QueueSettings(enabled=True)))
    first = w.jobs.run_now(job_id).run_id
    queued = w.jobs.run_now(job_id).run_id
    state = w.jobs.get_run(queued)
    assert state.state.life_cycle_state == jobs.RunLifeCycleState.QUEUED
    assert state.status.queue_details.code == jobs.QueueDetailsCodeCode.MAX_CONCURRENT_RUNS_REACHED
    first_run = wait_for(w, first)
    assert first_run.state.result_state == jobs.RunResultState.SUCCESS
    queued_run = wait_for(w, queued)
    assert queued_run.state.result_state == jobs.RunResultState.SUCCESS
    # It waited for the first run's slot: it started when that run ended, and says how long it queued.
    assert queued_run.start_time >= first_run.end_time
    assert queued_run.queue_duration and queued_run.queue_duration > 0


def test_notebook_imported_into_the_workspace_runs(w: WorkspaceClient, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    w.workspace.mkdirs("/Shared/lakeforge/notebooks")
    w.workspace.import_(
        "/Shared/lakeforge/notebooks/step",
        content=base64.b64encode(Path(STEP).read_bytes()).decode(),
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
        overwrite=True,
    )
    task = jobs.Task(
        task_key="imported",
        notebook_task=jobs.NotebookTask(
            notebook_path="/Shared/lakeforge/notebooks/step",
            base_parameters={"out": str(out), "step": "{{job.id}}-{{task.name}}"},
        ),
    )
    job_id = w.jobs.create(name="imported", tasks=[task]).job_id
    run = wait_for(w, w.jobs.run_now(job_id).run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert out.read_text().strip() == f"{job_id}-imported"

    missing = jobs.Task(task_key="m", notebook_task=jobs.NotebookTask(notebook_path="/Shared/none"))
    run = wait_for(w, w.jobs.run_now(w.jobs.create(name="missing", tasks=[missing]).job_id).run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "Notebook not found: /Shared/none" in by_key(run)["m"].state.state_message


def test_pipeline_task_runs_an_update_for_the_group(settings: Settings, db: Database) -> None:
    calls: list[dict[str, Any]] = []

    def pipeline_runner(settings: Settings, db: Database, group: str, *, full_refresh: bool = False) -> None:
        calls.append({"group": group, "full_refresh": full_refresh})
        if group == "broken":
            raise ValueError("table bronze.orders is missing")

    runners = TaskRunners(notebook=notebook_runner(), pipeline=pipeline_runner)
    with LocalWorkspace(settings, db, runners=runners) as server:
        w = server.client()
        good = w.pipelines.create(
            name="lakeforge-sales",
            catalog="main",
            schema="sales",
            configuration={"lakeforge.group": "sales"},
            libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/Shared/p"))],
        ).pipeline_id
        bad = w.pipelines.create(
            name="lakeforge-broken", configuration={"lakeforge.group": "broken"}
        ).pipeline_id
        job_id = w.jobs.create(
            name="with-pipeline",
            tasks=[
                jobs.Task(
                    task_key="silver_gold",
                    pipeline_task=jobs.PipelineTask(pipeline_id=good, full_refresh=True),
                )
            ],
        ).job_id
        run = wait_for(w, w.jobs.run_now(job_id).run_id)
        assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
        assert calls == [{"group": "sales", "full_refresh": True}]
        updates = w.pipelines.list_updates(good).updates
        assert [u.state for u in updates] == [pipelines.UpdateInfoState.COMPLETED]
        assert updates[0].cause == pipelines.UpdateInfoCause.JOB_TASK

        update_id = w.pipelines.start_update(bad).update_id
        deadline = time.monotonic() + 10
        while w.pipelines.get_update(bad, update_id).update.state != pipelines.UpdateInfoState.FAILED:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert w.pipelines.get(bad).health.value == "UNHEALTHY"
