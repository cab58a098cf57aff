"""How a job-run batch whose process is gone ends, for run states as the Jobs API reports them.

The local workspace tests (tests/localworkspace/test_job_run_end.py) go through real HTTP; these
cover the states it does not produce, parsed by the SDK from ``jobs/runs/get`` bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
from databricks.sdk.service import jobs

from lakeforge.runtime.jobruns import BatchEnd, end_of_run, gone_end
from lakeforge.runtime.runlog import STOPPED_RUNNING


def _run(life: str, result: str | None = None, message: str = "", **extra: Any) -> jobs.Run:
    state: dict[str, Any] = {"life_cycle_state": life, "state_message": message}
    if result:
        state["result_state"] = result
    return jobs.Run.from_dict({"run_id": 5, "job_id": 9, "state": state, **extra})


@pytest.mark.parametrize(
    "life", ["QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY"]
)
def test_an_active_run_leaves_its_batch_alone(life: str) -> None:
    assert end_of_run(5, _run(life)) is None


def test_a_run_the_platform_cancelled_says_so() -> None:
    run = _run(
        "TERMINATED",
        "CANCELED",
        "Run cancelled.",
        status={"state": "TERMINATED", "termination_details": {"code": "CANCELED", "type": "CLIENT_ERROR"}},
    )
    assert end_of_run(5, run) == BatchEnd(
        "cancelled", "Databricks (job run 5 cancelled by the platform: Run cancelled)"
    )


def test_a_cancelled_run_that_says_nothing_more_is_named_by_its_id() -> None:
    assert end_of_run(5, _run("TERMINATED", "CANCELED")) == BatchEnd(
        "cancelled", "Databricks (job run 5 cancelled)"
    )


def test_a_lost_cluster_fails_the_batch_with_the_runs_message_without_credentials() -> None:
    message = (
        "Cluster 0101-abc terminated. Reason: Driver unreachable (token dapi0123456789abcdef0123456789abcdef)"
    )
    end = end_of_run(5, _run("INTERNAL_ERROR", "FAILED", message))
    assert end == BatchEnd(
        "failed",
        "job run 5 ended INTERNAL_ERROR: Cluster 0101-abc terminated. Reason: Driver unreachable"
        " (token ***redacted***)",
    )


def test_a_task_timeout_is_named() -> None:
    run = _run(
        "TERMINATED",
        "TIMEDOUT",
        tasks=[
            {
                "task_key": "a",
                "timeout_seconds": 600,
                "state": {"life_cycle_state": "TERMINATED", "result_state": "TIMEDOUT"},
            },
            {"task_key": "b", "state": {"life_cycle_state": "SKIPPED", "result_state": "UPSTREAM_FAILED"}},
        ],
    )
    end = end_of_run(5, run, job_timeout=3600)
    assert end is not None and end.status == "failed"
    assert end.reason.startswith("job run 5 timed out (task a's timeout of 600 s). If the batch")


def test_a_run_that_succeeded_without_ending_its_batch_fails_it_as_stopped() -> None:
    assert end_of_run(5, _run("TERMINATED", "SUCCESS")) == BatchEnd(
        "failed", f"{STOPPED_RUNNING} (its job run 5 ended SUCCESS)"
    )


# A batch still queued when its run ended (the sync's case): the same mapping, in the queued phase.


def test_a_queued_batch_whose_run_was_cancelled_names_who_as_a_running_one_does() -> None:
    run = _run(
        "TERMINATED",
        "CANCELED",
        "This run was cancelled.",
        status={"state": "TERMINATED", "termination_details": {"code": "USER_CANCELED"}},
    )
    assert (
        end_of_run(5, run, phase="queued")
        == end_of_run(5, run)
        == BatchEnd("cancelled", "Databricks (job run 5 cancelled by a user: This run was cancelled)")
    )


def test_a_queued_batch_whose_run_failed_first_says_so_without_credentials() -> None:
    message = "Notebook not found: /Workspace/x (token dapi0123456789abcdef0123456789abcdef)"
    assert end_of_run(5, _run("INTERNAL_ERROR", "FAILED", message), phase="queued") == BatchEnd(
        "failed",
        "job run 5 ended INTERNAL_ERROR before this batch started: Notebook not found: /Workspace/x"
        " (token ***redacted***)",
    )


def test_a_queued_batch_of_a_skipped_run_is_skipped() -> None:
    run = _run(
        "SKIPPED",
        message="Skipping this run because the limit of 1 maximum concurrent runs has been reached.",
    )
    assert end_of_run(5, run, phase="queued") == BatchEnd(
        "skipped",
        "job run 5 was skipped before this batch started: Skipping this run because the limit of 1 maximum"
        " concurrent runs has been reached",
    )
    assert end_of_run(5, run) == BatchEnd(  # a running batch cannot have a skipped run: it fails
        "failed",
        "job run 5 ended SKIPPED: Skipping this run because the limit of 1 maximum concurrent runs has been"
        " reached",
    )


def test_a_queued_batch_whose_run_succeeded_without_it_fails_as_never_started() -> None:
    assert end_of_run(5, _run("TERMINATED", "SUCCESS"), phase="queued") == BatchEnd(
        "failed", "job run 5 ended SUCCESS before this batch started"
    )


def test_a_queued_batch_whose_run_timed_out_names_the_limit() -> None:
    end = end_of_run(5, _run("TERMINATED", "TIMEDOUT"), job_timeout=60, phase="queued")
    assert end is not None and end.status == "failed"
    assert end.reason.startswith("job run 5 timed out before this batch started (the job's timeout of 60 s,")


@pytest.mark.parametrize("run_id", ["987", "not-a-run"])
def test_a_batch_whose_run_is_unknown_fails_saying_what_it_was_doing(run_id: str) -> None:
    assert gone_end(run_id, "queued") == BatchEnd(
        "failed", f"job run {run_id} no longer exists; it never started this batch"
    )
    assert gone_end(run_id, "running") == BatchEnd(
        "failed", f"{STOPPED_RUNNING}; its job run {run_id} no longer exists"
    )


def _status_only(state: str, code: str | None = None, message: str = "") -> jobs.Run:
    """A run as a Jobs API that no longer sends the deprecated ``state`` would report it."""
    status: dict[str, Any] = {"state": state}
    if code:
        status["termination_details"] = {"code": code, "type": "CLIENT_ERROR", "message": message}
    return jobs.Run.from_dict({"run_id": 5, "job_id": 9, "status": status})


@pytest.mark.parametrize("state", ["QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING"])
def test_without_state_an_active_status_leaves_the_batch_alone(state: str) -> None:
    assert end_of_run(5, _status_only(state)) is None


def test_without_state_the_termination_code_ends_the_batch() -> None:
    cancelled = end_of_run(5, _status_only("TERMINATED", "USER_CANCELED", "Run cancelled."))
    assert cancelled == BatchEnd("cancelled", "Databricks (job run 5 cancelled by a user: Run cancelled)")
    failed = end_of_run(5, _status_only("TERMINATED", "RUN_EXECUTION_ERROR", "Task pipeline failed."))
    assert failed == BatchEnd("failed", "job run 5 ended FAILED: Task pipeline failed")
    skipped = end_of_run(
        5, _status_only("TERMINATED", "MAX_CONCURRENT_RUNS_EXCEEDED", "Skipped."), phase="queued"
    )
    assert skipped is not None and skipped.status == "skipped"
    broken = end_of_run(5, _status_only("TERMINATED", "INTERNAL_ERROR", "Jobs service failed."))
    assert broken == BatchEnd("failed", "job run 5 ended INTERNAL_ERROR: Jobs service failed")
    done = end_of_run(5, _status_only("TERMINATED", "SUCCESS"))
    assert done is not None and done.status == "failed" and "ended SUCCESS" in done.reason
