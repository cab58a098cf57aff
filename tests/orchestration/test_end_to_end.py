"""A compiled, synced job runs in the local workspace and moves data through every zone."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from databricks.sdk.service import jobs, workspace
from deltalake import DeltaTable

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.repository import MANAGED_RESOURCES, Repository
from lakeforge.orchestration import reconciler
from lakeforge.orchestration.launcher import JobLauncher, pipeline_selection
from lakeforge.runtime.runner import run_batch
from tests.runtime.helpers import delta, make_gold, make_source, rows, write_csv

NOTEBOOK_DIR = "/Workspace/lakeforge/notebooks"


def _sync_settings(settings):
    return settings.model_copy(
        update={"workspace_notebook_dir": NOTEBOOK_DIR, "sync_requests_per_second": 1000.0}
    )


@contextmanager
def _jobs_synced(sync_settings, db) -> Iterator[LocalWorkspace]:
    """A started local workspace holding the metadata's jobs and pipelines, with manual runs and
    reruns launched as runs of the group's job; stopped (and the launcher reset) at the end."""
    server = LocalWorkspace(sync_settings, db, port=0)
    server.start()
    launch.set_launcher(JobLauncher(sync_settings, server.client))
    try:
        client = server.client()
        reconciler.upload_notebooks(client, NOTEBOOK_DIR)
        _import_stub(client, f"{NOTEBOOK_DIR}/pipeline_dlt")
        assert reconciler.apply(db, client, settings=sync_settings).errors == []
        yield server
    finally:
        launch.set_launcher(None)
        server.stop()


def _orders_to_gold(settings, db, tmp_path):
    """A group with one csv source and a gold table; the settings to sync it into a local workspace."""
    sync_settings = _sync_settings(settings)
    land = tmp_path / "landing" / "orders"
    write_csv(land / "1.csv", ["id", "amount"], [[1, 5], [2, 7], [3, 30]])
    make_source(
        db, "orders", location=str(land), schema_ddl="id INT, amount INT", silver={"primary_keys": ["id"]}
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    return sync_settings


def test_synced_group_job_runs_source_to_gold(settings, db, tmp_path):
    sync_settings = _orders_to_gold(settings, db, tmp_path)
    server = LocalWorkspace(sync_settings, db, port=0)
    server.start()
    try:
        client = server.client()
        uploaded = reconciler.upload_notebooks(client, NOTEBOOK_DIR)
        assert f"{NOTEBOOK_DIR}/source_to_raw" in uploaded
        if f"{NOTEBOOK_DIR}/pipeline_dlt" not in uploaded:
            # The declarative pipeline notebook is only read by Databricks; locally the
            # pipeline update runs the data plane from the pipeline's configuration.
            _import_stub(client, f"{NOTEBOOK_DIR}/pipeline_dlt")
        result = reconciler.apply(db, client, settings=sync_settings)
        assert result.errors == [] and "job:group.sales" in result.created
        with db.connection() as conn:
            job_id = Repository(conn, MANAGED_RESOURCES).get(resource_type="job", lakeforge_key="group.sales")
        run = client.jobs.run_now(int(job_id.databricks_id or 0)).result(timeout=timedelta(minutes=4))
        assert run.state and run.state.result_state == jobs.RunResultState.SUCCESS, run.state
        assert sorted(t.task_key for t in run.tasks or []) == [
            "orders__raw_to_bronze",
            "orders__source_to_raw",
            "pipeline",
            "pipeline_run_log",
        ]
        assert rows(sync_settings, "main.sales_gold.total", ["total"]) == [(42,)]
        with db.connection() as conn:
            batches = conn.execute(
                "SELECT b.status, array_agg(DISTINCT z.zone ORDER BY z.zone) AS zones"
                " FROM lakeforge_log.batch_run b JOIN lakeforge_log.zone_run z USING (batch_id)"
                " GROUP BY b.batch_id, b.status"
            ).fetchall()
        assert batches == [{"status": "succeeded", "zones": ["bronze", "gold", "raw", "silver"]}]
    finally:
        server.stop()


def test_a_manual_run_and_a_rerun_go_through_the_groups_job(settings, db, tmp_path):
    """run_now and rerun_batch start the synced job (its compute, concurrency and queue) for the batch."""
    sync_settings = _orders_to_gold(settings, db, tmp_path)
    with _jobs_synced(sync_settings, db) as server:
        client = server.client()
        job_id = _job_id(db)
        actor, admin = Actor(user="ana", surface="slack"), Principal.local_admin("ana")

        ran = execute(db, {"kind": "run_now", "group": "sales"}, actor, principal=admin)
        assert ran.status == "applied", ran
        batch = _finished_batch(db, client, job_id, count=1)
        assert batch["status"] == "succeeded" and batch["trigger"] == "manual"
        run = client.jobs.get_run(int(batch["databricks_run_id"]))
        assert run.job_id == job_id and len(run.tasks or []) == 4  # the whole group, in its job
        assert rows(sync_settings, "main.sales_gold.total", ["total"]) == [(42,)]

        # A rerun from bronze runs only the bronze and pipeline tasks of the job, for a new linked batch.
        zones = ["bronze", "silver", "gold"]
        again = execute(
            db,
            {"kind": "rerun_batch", "batch_id": batch["batch_id"], "zones": zones},
            actor,
            principal=admin,
        )
        assert again.status == "applied", again
        rerun = _finished_batch(db, client, job_id, count=2)
        assert rerun["status"] == "succeeded" and rerun["rerun_of"] == batch["batch_id"]
        tasks = client.jobs.get_run(int(rerun["databricks_run_id"])).tasks or []
        assert sorted(t.task_key for t in tasks) == ["orders__raw_to_bronze", "pipeline", "pipeline_run_log"]
        assert rows(sync_settings, "main.sales_gold.total", ["total"]) == [(42,)]  # replaced, not doubled

        # The same batch launched twice (a retried request) starts one run, not two.
        request = launch.LaunchRequest(
            batch_id=rerun["batch_id"],
            group="sales",
            sources=None,
            zones=zones,
            engine=None,
            trigger="rerun",
            rerun_of=batch["batch_id"],
            requested_by="ana",
        )
        JobLauncher(sync_settings, server.client)(db, request)
        assert len(list(client.jobs.list_runs(job_id=job_id))) == 2
        # Silver or Gold alone runs on the job too: its pipeline task is told which tables.
        assert JobLauncher.handles(db, dataclasses.replace(request, zones=["silver", "gold"]))
        assert JobLauncher.handles(db, dataclasses.replace(request, zones=["gold"]))


def _import_stub(client, path: str) -> None:
    client.workspace.import_(
        path,
        content=base64.b64encode(b"# Databricks notebook source\n").decode(),
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
        overwrite=True,
    )


def _job_id(db) -> int:
    with db.connection() as conn:
        row = Repository(conn, MANAGED_RESOURCES).get(resource_type="job", lakeforge_key="group.sales")
    return int(row.databricks_id or 0)


def _finished_batch(db, client, job_id: int, count: int) -> dict:
    """The newest batch once the job's runs have ended (``count`` runs of the job so far)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        runs = list(client.jobs.list_runs(job_id=job_id))
        if len(runs) == count and all(r.state and r.state.result_state for r in runs):
            break
        time.sleep(0.2)
    with db.connection() as conn:
        return conn.execute("SELECT * FROM lakeforge_log.batch_run ORDER BY batch_id DESC LIMIT 1").fetchone()


def test_a_batch_whose_job_run_ended_before_starting_it_is_ended_by_the_next_sync(settings, db, tmp_path):
    sync_settings = _sync_settings(settings)
    make_source(db, "orders", location=str(tmp_path / "landing"), schema_ddl="id INT")
    with db.connection() as conn:  # no retry a minute later: the run ends at its first failure
        conn.execute("UPDATE lakeforge.source_group SET max_retries = 0")
    with _jobs_synced(sync_settings, db) as server:
        client = server.client()
        job_id = _job_id(db)
        # The run fails before any task reaches the batch (on Databricks: a cluster that never
        # started, or a notebook missing): here, a notebook path edited by hand.
        edited = client.jobs.get(job_id).settings
        assert edited is not None
        for task in edited.tasks or []:
            if task.notebook_task:
                task.notebook_task.notebook_path = "/Workspace/nowhere/missing"
        client.jobs.reset(job_id, edited)
        actor, admin = Actor(user="ana", surface="slack"), Principal.local_admin("ana")
        assert execute(db, {"kind": "run_now", "group": "sales"}, actor, principal=admin).status == "applied"
        batch = _finished_batch(db, client, job_id, count=1)
        assert batch["status"] == "queued" and batch["databricks_run_id"]  # stuck, before the fix

        result = reconciler.apply(db, client, settings=sync_settings)
        assert result.errors == [] and "job:group.sales" in result.updated  # the edit is undone too
        with db.connection() as conn:
            ended = conn.execute(
                "SELECT status, error FROM lakeforge_log.batch_run WHERE batch_id = %s", (batch["batch_id"],)
            ).fetchone()
        assert ended["status"] == "failed"
        assert (
            f"job run {batch['databricks_run_id']} ended FAILED before this batch started: " in ended["error"]
        )
        assert "missing" in ended["error"]  # the run's own reason
        assert reconciler.apply(db, client, settings=sync_settings).api_reads == 2  # nothing left to read


def test_a_rerun_through_the_job_fully_refreshes_its_sources_silver(settings, db, tmp_path):
    """The pipeline's streams skip the Bronze rows a rerun rewrites, so the job's run asks its
    pipeline task for a full refresh of the rerun source's Silver tables and a refresh of Gold;
    the group's other source is left alone, and Silver ends as the engines' rerun leaves it."""
    sync_settings = _sync_settings(settings)
    orders = tmp_path / "landing" / "orders"
    header = ["id", "amount", "seq"]
    write_csv(orders / "a.csv", header, [[1, 5, 1], [2, 7, 1], [3, -1, 1]])
    make_source(
        db,
        "orders",
        location=str(orders),
        load_mode="incremental",
        schema_ddl="id INT, amount INT, seq INT",
        silver={"primary_keys": ["id"], "sequence_by": "seq"},
        rules=[("non_negative", "amount >= 0", "quarantine")],
    )
    write_csv(tmp_path / "landing" / "customers" / "c.csv", ["id", "name"], [[1, "ana"]])
    make_source(
        db,
        "customers",
        location=str(tmp_path / "landing" / "customers"),
        load_mode="incremental",
        schema_ddl="id INT, name STRING",
        silver={"primary_keys": ["id"]},
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    with _jobs_synced(sync_settings, db) as server:
        client = server.client()
        job_id = _job_id(db)
        actor, admin = Actor(user="ana", surface="slack"), Principal.local_admin("ana")

        assert execute(db, {"kind": "run_now", "group": "sales"}, actor, principal=admin).status == "applied"
        first = _finished_batch(db, client, job_id, count=1)
        write_csv(orders / "b.csv", header, [[2, 8, 2], [4, 1, 2]])
        ran = execute(db, {"kind": "run_now", "group": "sales", "source": "orders"}, actor, principal=admin)
        assert ran.status == "applied", ran
        second = _finished_batch(db, client, job_id, count=2)
        assert first["status"] == second["status"] == "succeeded"
        assert rows(sync_settings, "main.sales_gold.total", ["total"]) == [(14,)]  # 5 + 8 + 1
        customers = _delta_version(sync_settings, "main.sales.customers")

        # Batch 2's Raw is corrected (2 → 9, 4 → -3, now quarantined) and the batch rerun.
        raw = sync_settings.lakehouse_path / "_volumes/main/sales/raw/orders"
        for landed in (raw / f"batch_id={second['batch_id']}").rglob("b.csv"):
            write_csv(landed, header, [[2, 9, 2], [4, -3, 2]])
        again = execute(db, {"kind": "rerun_batch", "batch_id": second["batch_id"]}, actor, principal=admin)
        assert again.status == "applied", again
        rerun = _finished_batch(db, client, job_id, count=3)
        assert rerun["status"] == "succeeded" and rerun["rerun_of"] == second["batch_id"], rerun

        run = client.jobs.get_run(int(rerun["databricks_run_id"]))
        assert sorted(t.task_key for t in run.tasks or []) == [
            "orders__raw_to_bronze",
            "orders__source_to_raw",
            "pipeline",
            "pipeline_run_log",
        ]
        asked = run.overriding_parameters and run.overriding_parameters.pipeline_params
        assert asked and asked.full_refresh_selection == ["main.sales.orders", "main.sales.orders_quarantine"]
        assert asked.refresh_selection == ["main.sales_gold.total"] and not asked.full_refresh
        pipeline_id = next(iter(client.pipelines.list_pipelines())).pipeline_id
        assert pipeline_id is not None
        newest = (client.pipelines.list_updates(pipeline_id).updates or [])[0]
        update = client.pipelines.get_update(pipeline_id, newest.update_id or "").update
        assert update and update.state and update.state.value == "COMPLETED"
        assert update.full_refresh_selection == asked.full_refresh_selection
        assert update.refresh_selection == asked.refresh_selection

        # Silver holds the corrected batch; the source's other batch was replayed from Bronze.
        assert rows(sync_settings, "main.sales.orders", ["id", "amount"]) == [(1, 5), (2, 9)]
        quarantined = rows(sync_settings, "main.sales.orders_quarantine", ["id", "_batch_id"])
        assert quarantined == [(3, first["batch_id"]), (4, second["batch_id"])]
        assert rows(sync_settings, "main.sales_gold.total", ["total"]) == [(14,)]  # 5 + 9
        assert _delta_version(sync_settings, "main.sales.customers") == customers  # not selected

        # The engines' own rerun of the batch, in this process, leaves Silver exactly as it is.
        tables = ["main.sales.orders", "main.sales.orders_quarantine"]
        silver = {t: _all_rows(sync_settings, t) for t in tables}
        engines = run_batch(sync_settings, db, "sales", sources=["orders"], rerun_of=second["batch_id"])
        assert engines.status == "succeeded", engines.error
        assert {t: _all_rows(sync_settings, t) for t in silver} == silver

        # Silver alone, through the job: only its pipeline tasks, a full refresh of the source's
        # Silver, Gold and the other source left as they are, as the engines' rerun leaves them.
        versions = {t: _delta_version(sync_settings, t) for t in [*tables, "main.sales.customers", GOLD]}
        only_silver = _rerun_through_job(db, client, job_id, second["batch_id"], ["silver"], count=4)
        assert only_silver.full_refresh_selection == tables and not only_silver.refresh_selection
        assert {t: _all_rows(sync_settings, t) for t in silver} == silver
        assert all(_delta_version(sync_settings, t) > versions[t] for t in tables)  # recomputed
        unchanged = ["main.sales.customers", GOLD]
        assert [_delta_version(sync_settings, t) for t in unchanged] == [versions[t] for t in unchanged]
        in_process = run_batch(
            sync_settings, db, "sales", sources=["orders"], zones=["silver"], rerun_of=second["batch_id"]
        )
        assert {t: _all_rows(sync_settings, t) for t in silver} == silver
        # The same zones and tables; the job's full refresh replayed every batch of orders' Bronze
        # into its batch, so its counts are those of all of them (the engines' rerun read batch 2).
        job_log = _run_log(db, _newest_rerun(db, second["batch_id"], skip=1))
        assert _without_counts(job_log) == _without_counts(_run_log(db, in_process.batch_id))
        bronze = delta(sync_settings, "main.sales.orders_bronze")
        assert [t["rows_in"] for t in job_log["tables"]] == [bronze.num_rows]

        # Gold alone: a refresh of the Gold tables only.
        versions = {t: _delta_version(sync_settings, t) for t in [*tables, "main.sales.customers", GOLD]}
        only_gold = _rerun_through_job(db, client, job_id, first["batch_id"], ["gold"], count=5)
        assert only_gold.refresh_selection == [GOLD] and not only_gold.full_refresh_selection
        assert _delta_version(sync_settings, GOLD) > versions[GOLD]
        assert rows(sync_settings, GOLD, ["total"]) == [(14,)]
        silver_tables = [*tables, "main.sales.customers"]
        assert [_delta_version(sync_settings, t) for t in silver_tables] == [
            versions[t] for t in silver_tables
        ]
        in_process = run_batch(sync_settings, db, "sales", zones=["gold"], rerun_of=first["batch_id"])
        assert _run_log(db, _newest_rerun(db, first["batch_id"], skip=1)) == _run_log(db, in_process.batch_id)

        # A run (no rerun) of Silver alone takes the Bronze rows the source's Silver has not read
        # (none: Silver has applied every batch), as the engines' catch-up does, and leaves Gold and
        # the other source as they are.
        versions = {t: _delta_version(sync_settings, t) for t in ["main.sales.customers", GOLD]}
        ran = execute(
            db,
            {"kind": "run_now", "group": "sales", "source": "orders", "zones": ["silver"]},
            actor,
            principal=admin,
        )
        assert ran.status == "applied", ran
        manual = _finished_batch(db, client, job_id, count=6)
        run = client.jobs.get_run(int(manual["databricks_run_id"]))
        assert sorted(t.task_key for t in run.tasks or []) == ["pipeline", "pipeline_run_log"]
        params = run.overriding_parameters and run.overriding_parameters.pipeline_params
        assert params and params.refresh_selection == tables and not params.full_refresh_selection
        assert {t: _delta_version(sync_settings, t) for t in versions} == versions
        in_process = run_batch(sync_settings, db, "sales", sources=["orders"], zones=["silver"])
        assert _run_log(db, manual["batch_id"]) == _run_log(db, in_process.batch_id)
        assert _run_log(db, manual["batch_id"])["batch"]["status"] == "succeeded"


def test_the_pipeline_is_asked_for_the_tables_of_the_requests_sources_and_zones(db, tmp_path):
    """The job's pipeline task updates what the engines' run of the same zones writes."""
    orders = ["main.sales.orders", "main.sales.orders_quarantine"]
    customers = ["main.sales.customers", "main.sales.customers_quarantine"]  # keys: a quarantine
    make_source(
        db,
        "orders",
        location=str(tmp_path),
        load_mode="incremental",
        silver={"primary_keys": ["id"]},
        rules=[("non_negative", "amount >= 0", "quarantine")],
    )
    make_source(db, "customers", location=str(tmp_path), silver={"primary_keys": ["id"]})
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    make_source(db, "events", group="ops", location=str(tmp_path), silver={})

    def asked(group="sales", sources=None, zones=None, rerun_of=None):
        request = launch.LaunchRequest(
            batch_id=1,
            group=group,
            sources=sources,
            zones=zones,
            engine=None,
            trigger="manual",
            rerun_of=rerun_of,
            requested_by="ana",
        )
        selection = pipeline_selection(db, request)
        assert JobLauncher.handles(db, request) == (selection is not None)
        return selection

    assert asked() == {} and asked(zones=["bronze", "silver"], sources=["orders"]) == {}
    assert asked(zones=["raw", "bronze"], rerun_of=7) == {}  # the pipeline task does not run
    assert asked(sources=["orders"], rerun_of=7) == {
        "full_refresh_selection": orders,
        "refresh_selection": [GOLD],
    }
    assert asked(sources=["orders"], zones=["bronze", "silver"], rerun_of=7) == {
        "full_refresh_selection": orders
    }
    assert asked(sources=["orders"], zones=["silver"], rerun_of=7) == {"full_refresh_selection": orders}
    assert asked(zones=["gold"], rerun_of=7) == asked(zones=["gold"]) == {"refresh_selection": [GOLD]}
    assert asked(sources=["orders"], zones=["silver"]) == {"refresh_selection": orders}
    assert asked(zones=["silver", "gold"]) == {}  # every table: a full graph update
    assert asked(zones=["silver"]) == {"refresh_selection": [*customers, *orders]}
    # Gold of a group without Gold: no table to name, and naming none would update everything.
    assert asked(group="ops", zones=["gold"]) is None
    assert asked(group="ops", zones=["silver", "gold"]) == {}


GOLD = "main.sales_gold.total"


def _rerun_through_job(db, client, job_id: int, batch_id: int, zones: list[str], count: int):
    """Rerun ``batch_id`` for ``zones`` alone (the ``count``-th run of the job); checks that the
    job ran only its pipeline and run-log tasks for the new batch, and returns the pipeline
    update it asked for (after checking the update ran exactly that)."""
    actor, admin = Actor(user="ana", surface="slack"), Principal.local_admin("ana")
    asked = execute(db, {"kind": "rerun_batch", "batch_id": batch_id, "zones": zones}, actor, principal=admin)
    assert asked.status == "applied", asked
    rerun = _finished_batch(db, client, job_id, count=count)
    assert rerun["status"] == "succeeded" and rerun["rerun_of"] == batch_id, rerun
    run = client.jobs.get_run(int(rerun["databricks_run_id"]))
    assert sorted(t.task_key for t in run.tasks or []) == ["pipeline", "pipeline_run_log"]
    params = run.overriding_parameters and run.overriding_parameters.pipeline_params
    assert params and not params.full_refresh
    pipeline_id = next(iter(client.pipelines.list_pipelines())).pipeline_id
    newest = (client.pipelines.list_updates(pipeline_id).updates or [])[0]
    update = client.pipelines.get_update(pipeline_id, newest.update_id or "").update
    assert update and update.state and update.state.value == "COMPLETED"
    assert update.full_refresh_selection == params.full_refresh_selection
    assert update.refresh_selection == params.refresh_selection
    return params


def _newest_rerun(db, rerun_of: int, skip: int = 0) -> int:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT batch_id FROM lakeforge_log.batch_run WHERE rerun_of = %s"
            " ORDER BY batch_id DESC OFFSET %s LIMIT 1",
            (rerun_of, skip),
        ).fetchone()
    return int(row["batch_id"])


def _run_log(db, batch_id: int) -> dict:
    """What the run log says of a batch, without ids and times: its status and row counts, and
    each zone's tables with theirs."""
    with db.connection() as conn:
        batch = conn.execute(
            "SELECT status, trigger, rerun_of, rows_in, rows_out, error FROM lakeforge_log.batch_run"
            " WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()
        tables = conn.execute(
            "SELECT z.zone, z.status AS zone_status, t.table_name, t.source_name, t.status,"
            " t.rows_in, t.rows_out, t.rows_rejected FROM lakeforge_log.zone_run z"
            " LEFT JOIN lakeforge_log.table_run t ON t.zone_run_id = z.id"
            " WHERE z.batch_id = %s ORDER BY z.zone, t.table_name, t.id",
            (batch_id,),
        ).fetchall()
    return {"batch": dict(batch), "tables": [dict(t) for t in tables]}


def _without_counts(log: dict) -> dict:
    """A :func:`_run_log` without its row counts."""
    counts = ("rows_in", "rows_out", "rows_rejected")
    return {
        "batch": {k: v for k, v in log["batch"].items() if k not in counts},
        "tables": [{k: v for k, v in t.items() if k not in counts} for t in log["tables"]],
    }


def _delta_version(settings, name: str) -> int:
    return DeltaTable(str(settings.lakehouse_path.joinpath(*name.split(".")))).version()


def _all_rows(settings, name: str) -> list[tuple]:
    return rows(settings, name, delta(settings, name).column_names)
