"""Pure parts of the reconciler: projection of live specs, field diffs and the token bucket."""

from __future__ import annotations

from lakeforge.orchestration.diffing import diff, project
from lakeforge.orchestration.gateway import TokenBucket

DESIRED = {
    "name": "lakeforge-sales",
    "timeout_seconds": 0,
    "tasks": [{"task_key": "a", "max_retries": 1}, {"task_key": "b", "max_retries": 1}],
}


def test_server_defaults_and_task_order_do_not_count_as_changes():
    live = {
        "name": "lakeforge-sales",
        "format": "MULTI_TASK",
        "tasks": [
            {"task_key": "b", "max_retries": 1, "run_if": "ALL_SUCCESS"},
            {"task_key": "a", "max_retries": 1, "email_notifications": {}},
        ],
    }
    assert project(live, DESIRED) == DESIRED
    assert diff(project(live, DESIRED), DESIRED) == []


def test_edits_added_and_removed_tasks_are_changes_with_paths():
    edited = {**DESIRED, "tasks": [{"task_key": "a", "max_retries": 5}, {"task_key": "b", "max_retries": 1}]}
    assert diff(project(edited, DESIRED), DESIRED) == [
        {"path": "tasks[task_key=a].max_retries", "live": 5, "desired": 1}
    ]
    extra = {**DESIRED, "tasks": [*DESIRED["tasks"], {"task_key": "c"}]}
    assert project(extra, DESIRED) != DESIRED
    assert diff(project(extra, DESIRED), DESIRED)[0]["path"] == "tasks[task_key=c]"
    missing = {**DESIRED, "tasks": DESIRED["tasks"][:1]}
    assert project(missing, DESIRED) != DESIRED


def test_token_bucket_makes_callers_wait_beyond_the_burst():
    bucket = TokenBucket(rate=5.0, burst=1)
    for _ in range(3):
        bucket.take()
    # One token was saved up; the other two each had to wait about 1/5 s for theirs.
    assert bucket.waited > 0.2


def test_fields_lakeforge_leaves_out_still_count_when_set_live():
    from lakeforge.orchestration.diffing import project_job

    live = {
        **DESIRED,
        "schedule": {"quartz_cron_expression": "0 0 1 * * ?", "timezone_id": "UTC"},
        "email_notifications": {},
        "format": "MULTI_TASK",
        "tasks": [
            {"task_key": "a", "max_retries": 1, "depends_on": [{"task_key": "b"}]},
            DESIRED["tasks"][1],
        ],
    }
    projected = project_job(live, DESIRED)
    assert "schedule" in projected and "email_notifications" not in projected and "format" not in projected
    paths = {d["path"] for d in diff(projected, DESIRED)}
    assert paths == {"schedule", "tasks[task_key=a].depends_on"}


def test_a_local_workspace_that_is_not_running_is_one_clear_error():
    import socket

    import pytest

    from lakeforge.errors import UnavailableError
    from lakeforge.orchestration.client import workspace_client
    from lakeforge.settings import load_settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(UnavailableError, match="no local workspace is listening") as error:
        workspace_client(load_settings(workspace_port=free_port))
    assert error.value.field == "LAKEFORGE_WORKSPACE_PORT"
