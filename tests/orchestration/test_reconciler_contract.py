"""The reconciler with the real databricks-sdk against the local workspace over HTTP."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs, workspace

from lakeforge.errors import LakeForgeError
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.metadata.models import ComputeProfile, Schedule, Source, SourceGroup
from lakeforge.metadata.repository import (
    COMPUTE_PROFILES,
    MANAGED_RESOURCES,
    SCHEDULES,
    SOURCE_GROUPS,
    SOURCES,
    Repository,
)
from lakeforge.orchestration import reconciler
from lakeforge.settings import Settings

NOTEBOOK_DIR = "/Workspace/lakeforge/notebooks"
NOTEBOOKS = ("source_to_raw", "raw_to_bronze", "pipeline_dlt", "pipeline_run_log", "sync_jobs")


@pytest.fixture
def sync_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "workspace_notebook_dir": NOTEBOOK_DIR,
            "sync_requests_per_second": 1000.0,
            "sync_delete_grace_seconds": 0.0,
        }
    )


@pytest.fixture
def local(sync_settings: Settings, db: Database) -> Iterator[LocalWorkspace]:
    server = LocalWorkspace(sync_settings, db, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(local: LocalWorkspace) -> WorkspaceClient:
    client = local.client()
    client.workspace.mkdirs(NOTEBOOK_DIR)
    for name in NOTEBOOKS:
        client.workspace.import_(
            f"{NOTEBOOK_DIR}/{name}",
            content=base64.b64encode(b"# Databricks notebook source\nprint('stub')\n").decode(),
            format=workspace.ImportFormat.SOURCE,
            language=workspace.Language.PYTHON,
            overwrite=True,
        )
    return client


def add_group(db: Database, name: str, sources: list[str], *, cron: str | None = None) -> None:
    with db.connection() as conn:
        profile = Repository(conn, COMPUTE_PROFILES).get(name="single_node")
        group = Repository(conn, SOURCE_GROUPS).insert(
            SourceGroup(name=name, compute_profile_id=profile.id or 0)
        )
        for source in sources:
            add_source(db, name, source, conn=conn)
        if cron:
            Repository(conn, SCHEDULES).insert(Schedule(source_group_id=group.id or 0, quartz_cron=cron))


def add_source(db: Database, group: str, name: str, conn=None) -> None:
    if conn is None:
        with db.connection() as own:
            add_source(db, group, name, conn=own)
        return
    group_row = Repository(conn, SOURCE_GROUPS).get(name=group)
    Repository(conn, SOURCES).insert(
        Source(name=name, source_group_id=group_row.id or 0, format="csv", location=f"/data/{name}")
    )


def remove_group(db: Database, name: str) -> None:
    with db.connection() as conn:
        group = Repository(conn, SOURCE_GROUPS).get(name=name)
        conn.execute("DELETE FROM lakeforge.source WHERE source_group_id = %s", [group.id])
        Repository(conn, SOURCE_GROUPS).delete(group.id)


def live_jobs(client: WorkspaceClient) -> list[jobs.BaseJob]:
    return list(client.jobs.list(expand_tasks=True, limit=100))


def managed_job_keys(client: WorkspaceClient) -> Counter[str]:
    return Counter(
        (j.settings.tags or {}).get("lakeforge_key", "")
        for j in live_jobs(client)
        if j.settings and (j.settings.tags or {}).get("lakeforge_managed") == "true"
    )


def sync(db, client, settings, **kw) -> dict:
    result = reconciler.apply(db, client, settings=settings, **kw)
    return result.to_json()


def test_first_sync_creates_exactly_the_desired_state_and_second_sync_writes_nothing(
    db, client, sync_settings
):
    add_group(db, "sales", ["orders", "customers"], cron="0 0 2 * * ?")
    add_group(db, "hr", ["people"])
    first = sync(db, client, sync_settings)
    assert first["errors"] == []
    assert sorted(first["created"]) == [
        "job:group.hr",
        "job:group.sales",
        "job:system.sync_jobs",
        "pipeline:group.hr",
        "pipeline:group.sales",
    ]
    assert managed_job_keys(client) == Counter({"group.hr": 1, "group.sales": 1, "system.sync_jobs": 1})
    names = sorted(p.name or "" for p in client.pipelines.list_pipelines())
    assert names == ["lakeforge-hr", "lakeforge-sales"]
    sales = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert sales.settings and sales.settings.schedule
    assert sales.settings.schedule.quartz_cron_expression == "0 0 2 * * ?"
    pipeline_task = next(t for t in sales.settings.tasks or [] if t.task_key == "pipeline")
    assert pipeline_task.pipeline_task and pipeline_task.pipeline_task.pipeline_id in {
        p.pipeline_id for p in client.pipelines.list_pipelines()
    }

    second = sync(db, client, sync_settings)
    assert second["api_writes"] == 0
    assert second["created"] == second["updated"] == second["deleted"] == []
    assert len(second["unchanged"]) == 5
    plan = reconciler.plan(db, client, settings=sync_settings).to_json()
    assert plan["create"] == plan["update"] == plan["delete"] == []


def test_changing_one_source_updates_exactly_one_job(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    add_group(db, "hr", ["people"])
    sync(db, client, sync_settings)
    add_source(db, "sales", "refunds")
    plan = reconciler.plan(db, client, settings=sync_settings).to_json()
    assert plan["update"] == ["job:group.sales"]
    change = next(c for c in plan["changes"] if c["resource"] == "job:group.sales")
    assert any("refunds__source_to_raw" in d["path"] for d in change["diff"])
    result = sync(db, client, sync_settings)
    assert result["updated"] == ["job:group.sales"]
    assert result["api_writes"] == 1


def test_removed_group_is_paused_then_deleted_after_the_grace_period(db, client, sync_settings):
    add_group(db, "sales", ["orders"], cron="0 0 2 * * ?")
    add_group(db, "hr", ["people"])
    sync(db, client, sync_settings)
    remove_group(db, "sales")
    paused = sync(db, client, sync_settings)
    assert sorted(paused["paused"]) == ["job:group.sales", "pipeline:group.sales"]
    assert paused["deleted"] == []
    sales = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert sales.settings and sales.settings.schedule
    assert sales.settings.schedule.pause_status == jobs.PauseStatus.PAUSED
    deleted = sync(db, client, sync_settings)
    assert sorted(deleted["deleted"]) == ["job:group.sales", "pipeline:group.sales"]
    assert "group.sales" not in managed_job_keys(client)
    assert [p.name for p in client.pipelines.list_pipelines()] == ["lakeforge-hr"]
    assert sync(db, client, sync_settings)["api_writes"] == 0


def test_grace_period_keeps_the_paused_job(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    sync(db, client, sync_settings)
    remove_group(db, "sales")
    patient = sync_settings.model_copy(update={"sync_delete_grace_seconds": 3600.0})
    assert sync(db, client, patient)["paused"]
    later = sync(db, client, patient)
    assert later["deleted"] == [] and "job:group.sales" in later["waiting"]


def test_a_job_edited_by_hand_is_reported_and_repaired(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    sync(db, client, sync_settings)
    sales = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert sales.job_id and sales.settings
    client.jobs.update(sales.job_id, new_settings=jobs.JobSettings(max_concurrent_runs=7))
    result = sync(db, client, sync_settings)
    assert result["updated"] == ["job:group.sales"]
    assert result["drift"][0]["resource"] == "job:group.sales"
    assert any(d["path"] == "max_concurrent_runs" and d["live"] == 7 for d in result["drift"][0]["diff"])
    assert client.jobs.get(sales.job_id).settings.max_concurrent_runs == 1  # type: ignore[union-attr]
    assert sync(db, client, sync_settings)["api_writes"] == 0


def test_an_untagged_job_with_the_same_name_is_left_alone(db, client, sync_settings):
    theirs = client.jobs.create(
        name="lakeforge-sales",
        tasks=[
            jobs.Task(
                task_key="x", notebook_task=jobs.NotebookTask(notebook_path=f"{NOTEBOOK_DIR}/sync_jobs")
            )
        ],
    )
    add_group(db, "sales", ["orders"])
    result = sync(db, client, sync_settings)
    assert "job:group.sales" in result["created"]
    untouched = client.jobs.get(theirs.job_id)
    assert untouched.settings and [t.task_key for t in untouched.settings.tasks or []] == ["x"]
    remove_group(db, "sales")
    sync(db, client, sync_settings)
    sync(db, client, sync_settings)
    assert client.jobs.get(theirs.job_id).settings.name == "lakeforge-sales"  # type: ignore[union-attr]


def test_a_users_clone_of_a_lakeforge_job_keeps_its_tags_and_is_never_touched(db, client, sync_settings):
    # "Clone job" in the Databricks UI copies every setting, LakeForge's tags included.
    add_group(db, "sales", ["orders"])
    sync(db, client, sync_settings)
    ours = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert ours.job_id and ours.settings
    cloned = client.jobs.get(ours.job_id).settings
    assert cloned is not None and (cloned.tags or {}).get("lakeforge_key") == "group.sales"
    cloned.name, cloned.max_concurrent_runs = "Clone of lakeforge-sales", 3
    clone = client.jobs.create(**{k: v for k, v in vars(cloned).items() if v is not None})
    assert clone.job_id

    again = sync(db, client, sync_settings)
    assert again["errors"] == [] and again["deleted"] == [] and again["api_writes"] == 0
    remove_group(db, "sales")
    assert sync(db, client, sync_settings)["paused"]  # grace 0: the next sync deletes
    assert "job:group.sales" in sync(db, client, sync_settings)["deleted"]
    with pytest.raises(Exception, match="does not exist"):
        client.jobs.get(ours.job_id)
    kept = client.jobs.get(clone.job_id).settings
    assert kept is not None and kept.name == "Clone of lakeforge-sales" and kept.max_concurrent_runs == 3
    assert kept.schedule is None  # not paused either: the sync never wrote to it


def test_a_job_whose_tags_were_removed_by_hand_is_reported_not_duplicated(db, client, sync_settings):
    add_group(db, "sales", ["orders"], cron="0 0 2 * * ?")
    sync(db, client, sync_settings)
    ours = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert ours.job_id
    client.jobs.update(ours.job_id, new_settings=jobs.JobSettings(tags={"team": "sales"}))
    jobs_before = len(live_jobs(client))

    result = sync(db, client, sync_settings)
    assert result["created"] == [] and len(live_jobs(client)) == jobs_before  # no second scheduled job
    error = next(e for e in result["errors"] if e["resource"] == "job:group.sales")
    assert f"job {ours.job_id} lost its lakeforge_managed=true tag" in error["error"]
    untouched = client.jobs.get(ours.job_id).settings
    assert untouched is not None and untouched.tags == {"team": "sales"}

    # Tagged again: managed again, brought back to the desired spec.
    client.jobs.update(ours.job_id, new_settings=jobs.JobSettings(tags={"lakeforge_managed": "true"}))
    again = sync(db, client, sync_settings)
    assert again["errors"] == [] and again["created"] == [] and "job:group.sales" in again["updated"]
    assert managed_job_keys(client)["group.sales"] == 1


def test_a_tagged_job_lost_from_state_is_adopted_not_duplicated(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    sync(db, client, sync_settings)
    with db.connection() as conn:
        conn.execute("DELETE FROM lakeforge.managed_resource")
    result = sync(db, client, sync_settings)
    assert sorted(result["adopted"]) == ["job:group.sales", "job:system.sync_jobs", "pipeline:group.sales"]
    assert result["created"] == []
    assert managed_job_keys(client) == Counter({"group.sales": 1, "system.sync_jobs": 1})
    assert len(list(client.pipelines.list_pipelines())) == 1


def test_faults_on_a_fifth_of_requests_converge_without_duplicates(db, client, local, sync_settings):
    for index in range(6):
        add_group(db, f"g{index}", [f"s{index}a", f"s{index}b"])
    local.faults.set_random(
        0.2, kinds=("throttle", "unavailable", "lost_response", "drop_connection"), seed=11
    )
    for _ in range(4):
        result = sync(db, client, sync_settings)
        if not result["errors"] and result["api_writes"] == 0:
            break
    injected = sum(local.faults.injected.values())
    local.faults.clear()
    assert injected >= 5, local.faults.injected
    final = sync(db, client, sync_settings)
    assert final["errors"] == []
    assert final["api_writes"] == 0
    keys = managed_job_keys(client)
    assert all(count == 1 for count in keys.values()), keys
    assert len(keys) == 7
    pipeline_names = Counter(p.name for p in client.pipelines.list_pipelines())
    assert all(count == 1 for count in pipeline_names.values()), pipeline_names
    assert len(pipeline_names) == 6


def test_a_lost_create_response_does_not_leave_a_duplicate(db, client, local, sync_settings):
    add_group(db, "sales", ["orders"])
    local.faults.queue("lost_response", path="/api/2.2/jobs/create", count=2)
    local.faults.queue("lost_response", path="/api/2.0/pipelines$", method="POST")
    result = sync(db, client, sync_settings)
    assert sum(local.faults.injected.values()) == 3
    assert result["errors"] == []
    assert managed_job_keys(client) == Counter({"group.sales": 1, "system.sync_jobs": 1})
    assert len(list(client.pipelines.list_pipelines())) == 1
    assert sync(db, client, sync_settings)["api_writes"] == 0


def test_invalid_compute_profile_is_reported_and_leaves_the_group_alone(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    sync(db, client, sync_settings)
    with db.connection() as conn:
        bad = Repository(conn, COMPUTE_PROFILES).insert(
            ComputeProfile(
                name="broken",
                kind="job_cluster",
                num_workers=2,
                autoscale_min_workers=1,
                autoscale_max_workers=4,
            )
        )
        conn.execute(
            "UPDATE lakeforge.source_group SET compute_profile_id = %s WHERE name = 'sales'", [bad.id]
        )
    result = sync(db, client, sync_settings)
    errors = {e["resource"]: e["error"] for e in result["errors"]}
    assert "compute_profile.broken.num_workers" in errors["job:group.sales"]
    assert result["paused"] == [] and result["deleted"] == [] and result["api_writes"] == 0
    assert managed_job_keys(client)["group.sales"] == 1


def test_missing_pipeline_library_path_is_reported(db, client, sync_settings):
    client.workspace.delete(f"{NOTEBOOK_DIR}/pipeline_dlt")
    add_group(db, "sales", ["orders"])
    result = sync(db, client, sync_settings)
    errors = {e["resource"]: e["error"] for e in result["errors"]}
    assert "pipeline library path" in errors["pipeline:group.sales"]
    assert f"{NOTEBOOK_DIR}/pipeline_dlt" in errors["pipeline:group.sales"]
    assert "job:group.sales" in errors
    assert result["created"] == ["job:system.sync_jobs"]
    with db.connection() as conn:
        rows = Repository(conn, MANAGED_RESOURCES).list()
    assert [(r.resource_type, r.lakeforge_key) for r in rows] == [("job", "system.sync_jobs")]


def test_a_workspace_that_rejects_a_request_names_the_resource(db, client, sync_settings):
    add_group(db, "big", [])
    with db.connection() as conn:
        group = Repository(conn, SOURCE_GROUPS).get(name="big")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO lakeforge.source (name, source_group_id, format, location)"
                " VALUES (%s, %s, 'csv', '/d')",
                [(f"s{i:03d}", group.id) for i in range(501)],
            )
    result = sync(db, client, sync_settings)
    errors = {e["resource"]: e["error"] for e in result["errors"]}
    assert "INVALID_PARAMETER_VALUE" in errors["job:group.big"]
    assert "1000 tasks" in errors["job:group.big"]
    assert sorted(result["created"]) == ["job:system.sync_jobs", "pipeline:group.big"]
    with db.connection() as conn:
        keys = sorted((r.resource_type, r.lakeforge_key) for r in Repository(conn, MANAGED_RESOURCES).list())
    assert keys == [("job", "system.sync_jobs"), ("pipeline", "group.big")]
    again = sync(db, client, sync_settings)
    assert list(e["resource"] for e in again["errors"]) == ["job:group.big"]
    assert again["created"] == [] and managed_job_keys(client)["group.big"] == 0


def test_a_workspace_that_refuses_the_token_is_one_clear_error(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    bad_token = WorkspaceClient(host=client.config.host, token="wrong", auth_type="pat")
    with pytest.raises(LakeForgeError) as error:
        reconciler.apply(db, bad_token, settings=sync_settings)
    assert client.config.host in error.value.sentence()
    assert "UNAUTHENTICATED" in error.value.sentence() or "token" in error.value.sentence().lower()
    with db.connection() as conn:
        assert Repository(conn, MANAGED_RESOURCES).list() == []


def test_two_syncs_do_not_interleave(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    results: list[dict] = []
    threads = [
        threading.Thread(target=lambda: results.append(sync(db, client, sync_settings))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r["created"]) for r in results) == [0, 3]
    assert managed_job_keys(client) == Counter({"group.sales": 1, "system.sync_jobs": 1})


def test_cli_sync_apply_and_plan_json(db, client, local, sync_settings, database_url, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from lakeforge.cli import app
    from lakeforge.settings import get_settings

    add_group(db, "sales", ["orders"])
    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(tmp_path / "cli-state"))
    monkeypatch.setenv("LAKEFORGE_WORKSPACE_NOTEBOOK_DIR", NOTEBOOK_DIR)
    monkeypatch.setenv("DATABRICKS_TOKEN", local.token)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> dict:
        done = runner.invoke(app, ["sync", *args, "--json", "--host", local.base_url])
        assert done.exit_code == code, done.output
        return json.loads(done.stdout)

    try:
        planned = run("plan")
        assert sorted(planned["create"]) == [
            "job:group.sales",
            "job:system.sync_jobs",
            "pipeline:group.sales",
        ]
        assert planned["api_writes"] == 0
        applied = run("apply")
        assert set(applied) >= {
            "created",
            "updated",
            "deleted",
            "paused",
            "adopted",
            "unchanged",
            "api_writes",
        }
        assert len(applied["created"]) == 3
        assert run("apply")["api_writes"] == 0
        client.workspace.delete(f"{NOTEBOOK_DIR}/raw_to_bronze")
        add_source(db, "sales", "refunds")
        failed = run("apply", code=1)
        assert "raw_to_bronze does not exist" in failed["errors"][0]["error"]
    finally:
        get_settings.cache_clear()


def test_sync_jobs_notebook_runs_the_reconciler(db, client, local, database_url, tmp_path, monkeypatch):
    import json

    from lakeforge.runtime.notebook import run_notebook
    from lakeforge.settings import PROJECT_ROOT

    add_group(db, "sales", ["orders"])
    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(tmp_path / "nb-state"))
    monkeypatch.setenv("DATABRICKS_HOST", local.base_url)
    monkeypatch.setenv("DATABRICKS_TOKEN", local.token)
    exit_value = run_notebook(
        PROJECT_ROOT / "notebooks" / "sync_jobs.py", {"workspace_notebook_dir": NOTEBOOK_DIR}
    )
    summary = json.loads(exit_value)
    assert sorted(summary["created"]) == ["job:group.sales", "job:system.sync_jobs", "pipeline:group.sales"]
    again = json.loads(
        run_notebook(PROJECT_ROOT / "notebooks" / "sync_jobs.py", {"workspace_notebook_dir": NOTEBOOK_DIR})
    )
    assert again["api_writes"] == 0


def test_a_sync_that_fails_midway_resumes_cleanly(db, local, client, sync_settings):
    add_group(db, "sales", ["orders"])
    from databricks.sdk.core import Config

    impatient = WorkspaceClient(
        config=Config(host=local.base_url, token=local.token, auth_type="pat", retry_timeout_seconds=1)
    )
    local.faults.queue("unavailable", path="/api/2.2/jobs/create", count=10_000)
    broken = reconciler.apply(db, impatient, settings=sync_settings).to_json()
    local.faults.clear()
    assert broken["created"] == ["pipeline:group.sales"]
    assert {e["resource"] for e in broken["errors"]} == {"job:group.sales", "job:system.sync_jobs"}
    with db.connection() as conn:
        keys = [(r.resource_type, r.lakeforge_key) for r in Repository(conn, MANAGED_RESOURCES).list()]
    assert keys == [("pipeline", "group.sales")]
    resumed = sync(db, client, sync_settings)
    assert sorted(resumed["created"]) == ["job:group.sales", "job:system.sync_jobs"]
    assert resumed["unchanged"] == ["pipeline:group.sales"]
    assert managed_job_keys(client) == Counter({"group.sales": 1, "system.sync_jobs": 1})
    assert len(list(client.pipelines.list_pipelines())) == 1


def test_deep_plan_finds_a_pipeline_edited_by_hand(db, client, sync_settings):
    add_group(db, "sales", ["orders"])
    sync(db, client, sync_settings)
    pipeline = next(iter(client.pipelines.list_pipelines()))
    spec = client.pipelines.get(pipeline.pipeline_id).spec
    assert spec is not None
    client.pipelines.update(
        pipeline.pipeline_id,
        name=spec.name,
        libraries=spec.libraries,
        catalog=spec.catalog,
        schema=spec.schema,
        configuration={**(spec.configuration or {}), "lakeforge.group": "someone_else"},
        tags=spec.tags,
        clusters=spec.clusters,
        development=spec.development,
        edition=spec.edition,
        channel=spec.channel,
    )
    shallow = reconciler.plan(db, client, settings=sync_settings).to_json()
    assert shallow["update"] == []
    deep = reconciler.plan(db, client, settings=sync_settings, deep=True).to_json()
    assert deep["update"] == ["pipeline:group.sales"] and deep["drift"] == ["pipeline:group.sales"]
    repaired = sync(db, client, sync_settings, deep=True)
    assert repaired["updated"] == ["pipeline:group.sales"]
    assert client.pipelines.get(pipeline.pipeline_id).spec.configuration["lakeforge.group"] == "sales"  # type: ignore[union-attr,index]


def test_a_sync_waiting_too_long_for_the_lock_fails_with_one_sentence(db, client, sync_settings):
    with db.connection() as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [reconciler.LOCK_ID])
        hurried = sync_settings.model_copy(update={"sync_lock_timeout_seconds": 0.3})
        with pytest.raises(reconciler.SyncLockedError, match="another sync is running"):
            reconciler.apply(db, client, settings=hurried)
        holder.execute("SELECT pg_advisory_unlock(%s)", [reconciler.LOCK_ID])
    assert managed_job_keys(client) == Counter()


def test_hand_deleted_job_is_recreated_and_a_group_back_within_grace_is_unpaused(db, client, sync_settings):
    add_group(db, "sales", ["orders"], cron="0 0 2 * * ?")
    sync(db, client, sync_settings)
    sales = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    client.jobs.delete(sales.job_id)
    plan = reconciler.plan(db, client, settings=sync_settings).to_json()
    change = next(c for c in plan["changes"] if c["resource"] == "job:group.sales")
    assert change["action"] == "create" and change["reason"] == "missing in the workspace"
    assert sync(db, client, sync_settings)["created"] == ["job:group.sales"]

    patient = sync_settings.model_copy(update={"sync_delete_grace_seconds": 3600.0})
    remove_group(db, "sales")
    assert "job:group.sales" in sync(db, client, patient)["paused"]
    add_group(db, "sales", ["orders"], cron="0 0 2 * * ?")
    plan = reconciler.plan(db, client, settings=patient).to_json()
    change = next(c for c in plan["changes"] if c["resource"] == "job:group.sales")
    assert change["reason"].startswith("back in metadata") and not change.get("drift")
    # Only what differs: the pause; never the hash tag, which differs whenever anything does.
    assert [d["path"] for d in change["diff"]] == ["schedule.pause_status"]
    back = sync(db, client, patient)
    assert back["updated"] == ["job:group.sales"] and back["created"] == []
    assert back["drift"] == []  # LakeForge paused it; nobody edited it by hand
    sales = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert sales.settings and sales.settings.schedule
    assert sales.settings.schedule.pause_status == jobs.PauseStatus.UNPAUSED
    assert sync(db, client, patient)["api_writes"] == 0
    with db.connection() as conn:
        states = {r.lakeforge_key: r.state for r in Repository(conn, MANAGED_RESOURCES).list()}
    assert states == {"group.sales": "active", "system.sync_jobs": "active"}

    with db.connection() as conn:
        conn.execute("DELETE FROM lakeforge.schedule")
    unscheduled = sync(db, client, patient)
    assert unscheduled["updated"] == ["job:group.sales"] and unscheduled["drift"] == []
    sales = next(j for j in live_jobs(client) if j.settings and j.settings.name == "lakeforge-sales")
    assert sales.settings and sales.settings.schedule is None
