"""Jobs API 2.2 through the real databricks-sdk over real HTTP."""

from __future__ import annotations

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue, NotFound, ResourceDoesNotExist, Unauthenticated
from databricks.sdk.service import jobs

from lakeforge.localworkspace.server import LocalWorkspace


def _notebook_task(
    key: str, path: str = "/Shared/lakeforge/noop", depends: tuple[str, ...] = ()
) -> jobs.Task:
    return jobs.Task(
        task_key=key,
        notebook_task=jobs.NotebookTask(notebook_path=path, base_parameters={"group": "sales"}),
        depends_on=[jobs.TaskDependency(task_key=d) for d in depends] or None,
    )


def test_create_get_reset_update_delete(w: WorkspaceClient) -> None:
    created = w.jobs.create(
        name="lakeforge-sales",
        tasks=[_notebook_task("extract"), _notebook_task("load", depends=("extract",))],
        tags={"lakeforge_managed": "true", "lakeforge_key": "group:sales"},
        schedule=jobs.CronSchedule(quartz_cron_expression="0 0 2 * * ?", timezone_id="Europe/Berlin"),
        max_concurrent_runs=1,
    )
    assert created.job_id and created.job_id > 10**10

    job = w.jobs.get(created.job_id)
    assert job.settings.name == "lakeforge-sales"
    assert [t.task_key for t in job.settings.tasks] == ["extract", "load"]
    # Databricks fills in defaults the caller never sent.
    assert job.settings.tasks[1].run_if == jobs.RunIf.ALL_SUCCESS
    assert job.settings.timeout_seconds == 0
    assert job.settings.schedule.pause_status == jobs.PauseStatus.UNPAUSED
    assert job.settings.tags["lakeforge_key"] == "group:sales"
    assert job.next_page_token is None

    w.jobs.reset(
        created.job_id, new_settings=jobs.JobSettings(name="renamed", tasks=[_notebook_task("only")])
    )
    job = w.jobs.get(created.job_id)
    assert job.settings.name == "renamed" and [t.task_key for t in job.settings.tasks] == ["only"]
    assert job.settings.schedule is None

    # update merges tasks by key and removes listed fields
    w.jobs.update(
        created.job_id,
        new_settings=jobs.JobSettings(
            tasks=[_notebook_task("second", depends=("only",))], max_concurrent_runs=3
        ),
    )
    job = w.jobs.get(created.job_id)
    assert [t.task_key for t in job.settings.tasks] == ["only", "second"]
    assert job.settings.max_concurrent_runs == 3
    w.jobs.update(created.job_id, fields_to_remove=["tasks/second"])
    assert [t.task_key for t in w.jobs.get(created.job_id).settings.tasks] == ["only"]

    w.jobs.delete(created.job_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Job {created.job_id} does not exist"):
        w.jobs.get(created.job_id)
    with pytest.raises(InvalidParameterValue):
        w.jobs.delete(created.job_id)


def test_list_paginates_over_many_jobs(w: WorkspaceClient) -> None:
    ids = [w.jobs.create(name=f"job-{i:03d}", tags={"n": str(i)}).job_id for i in range(65)]
    listed = list(w.jobs.list(limit=7))
    assert [j.job_id for j in listed] == ids
    assert len({j.job_id for j in listed}) == 65
    # default page size, and the name filter (exact, case-insensitive)
    assert len(list(w.jobs.list())) == 65
    assert [j.job_id for j in w.jobs.list(name="JOB-042")] == [ids[42]]
    # expand_tasks decides whether tasks are included
    w.jobs.reset(ids[0], new_settings=jobs.JobSettings(name="job-000", tasks=[_notebook_task("t")]))
    plain = next(iter(w.jobs.list(limit=1)))
    expanded = next(iter(w.jobs.list(limit=1, expand_tasks=True)))
    assert not plain.settings.tasks
    assert [t.task_key for t in expanded.settings.tasks] == ["t"]


def test_raw_list_page_shape(workspace: LocalWorkspace, w: WorkspaceClient) -> None:
    for i in range(3):
        w.jobs.create(name=f"j{i}")
    first = w.api_client.do("GET", "/api/2.2/jobs/list", query={"limit": 2})
    assert first["has_more"] is True and len(first["jobs"]) == 2 and first["next_page_token"]
    second = w.api_client.do(
        "GET", "/api/2.2/jobs/list", query={"limit": 2, "page_token": first["next_page_token"]}
    )
    assert second["has_more"] is False and len(second["jobs"]) == 1 and "next_page_token" not in second
    got = w.api_client.do("GET", "/api/2.2/jobs/get", query={"job_id": first["jobs"][0]["job_id"]})
    assert "next_page_token" not in got


def test_job_with_more_than_100_tasks_pages_its_tasks(w: WorkspaceClient) -> None:
    tasks = [_notebook_task(f"t{i:03d}") for i in range(230)]
    job_id = w.jobs.create(name="wide", tasks=tasks).job_id
    job = w.jobs.get(job_id)
    assert [t.task_key for t in job.settings.tasks] == [f"t{i:03d}" for i in range(230)]


BAD_SETTINGS = [
    ({"name": "x", "tasks": [{"task_key": "a"}]}, "exactly one task type"),
    (
        {
            "name": "x",
            "tasks": [
                {
                    "task_key": "a",
                    "notebook_task": {"notebook_path": "/n"},
                    "depends_on": [{"task_key": "zz"}],
                }
            ],
        },
        "depends on zz",
    ),
    (
        {
            "name": "x",
            "tasks": [
                {
                    "task_key": "a",
                    "notebook_task": {"notebook_path": "/n"},
                    "depends_on": [{"task_key": "b"}],
                },
                {
                    "task_key": "b",
                    "notebook_task": {"notebook_path": "/n"},
                    "depends_on": [{"task_key": "a"}],
                },
            ],
        },
        "cycle",
    ),
    (
        {"name": "x", "schedule": {"quartz_cron_expression": "0 2 * * *", "timezone_id": "UTC"}},
        "quartz_cron_expression",
    ),
    (
        {"name": "x", "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "Mars/Olympus"}},
        "timezone_id",
    ),
    ({"name": "x", "max_concurrent_runs": 5000}, "max_concurrent_runs"),
    (
        {
            "name": "x",
            "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/n"}, "job_cluster_key": "c"}],
        },
        "job_cluster_key c, which is not defined",
    ),
]


def test_bad_settings_are_rejected_with_databricks_error_shape(w: WorkspaceClient) -> None:
    for spec, message in BAD_SETTINGS:
        with pytest.raises(InvalidParameterValue, match=message) as caught:
            w.api_client.do("POST", "/api/2.2/jobs/create", body=spec)
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert list(w.jobs.list()) == []  # nothing was created


def test_error_mapping(workspace: LocalWorkspace, w: WorkspaceClient) -> None:
    other = WorkspaceClient(host=workspace.base_url, token="wrong", auth_type="pat")
    with pytest.raises(Unauthenticated, match="Invalid access token"):
        list(other.jobs.list())
    with pytest.raises(ResourceDoesNotExist, match="Run 123 does not exist"):
        w.jobs.get_run(123)
    with pytest.raises(NotFound):
        w.pipelines.get("no-such-pipeline")
    with pytest.raises(NotFound, match=r"No API found for 'GET /api/2\.0/clusters/list'") as caught:
        w.api_client.do("GET", "/api/2.0/clusters/list")
    assert caught.value.error_code == "ENDPOINT_NOT_FOUND"


def test_run_now_idempotency_token_is_at_most_64_characters(w: WorkspaceClient) -> None:
    """As Jobs API 2.2 run-now: a longer token is refused and starts nothing; a token of 64
    characters sent twice gives the one run it started."""
    job_id = w.jobs.create(name="tokens", tasks=[_notebook_task("a")]).job_id
    with pytest.raises(InvalidParameterValue, match="at most 64 characters"):
        w.jobs.run_now(job_id, idempotency_token="t" * 65)
    assert list(w.jobs.list_runs(job_id=job_id)) == []
    first = w.jobs.run_now(job_id, idempotency_token="t" * 64).run_id
    assert w.jobs.run_now(job_id, idempotency_token="t" * 64).run_id == first
    assert [run.run_id for run in w.jobs.list_runs(job_id=job_id)] == [first]
