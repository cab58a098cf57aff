"""How a job-run batch whose process is gone ends, for run states as the Jobs API reports them.

The local workspace tests (tests/localworkspace/test_job_run_end.py) go through real HTTP; these
cover the states it does not produce, parsed by the SDK from ``jobs/runs/get`` bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
from databricks.sdk.service import jobs

from lakeforge.runtime.jobruns import BatchEnd, end_of_run
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
