"""A scheduled group job in the local workspace moves data through every zone with the real notebooks."""

from __future__ import annotations

import time
from pathlib import Path

from databricks.sdk.service import jobs

from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.localworkspace.pipelines import sales_pipeline
from tests.runtime.helpers import make_gold, make_source, rows, write_csv

from .test_runs import wait_for


def _notebook(key: str, notebook: str, depends: str | None = None) -> jobs.Task:
    return jobs.Task(
        task_key=key,
        notebook_task=jobs.NotebookTask(
            notebook_path=f"/Workspace/Shared/lakeforge/notebooks/{notebook}",
            base_parameters={"group": "sales", "source": "orders", "job_run_id": "{{job.run_id}}"},
        ),
        depends_on=[jobs.TaskDependency(task_key=depends)] if depends else None,
    )


def test_scheduled_group_job_runs_source_to_gold(settings: Settings, db: Database, tmp_path: Path) -> None:
    land = tmp_path / "landing"
    write_csv(land / "1.csv", ["id", "amount"], [[1, 5], [2, 7], [3, 30]])
    make_source(
        db, "orders", location=str(land), schema_ddl="id INT, amount INT", silver={"primary_keys": ["id"]}
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")

    with LocalWorkspace(settings, db) as workspace:  # the data plane's real runners
        w = workspace.client()
        pipeline_id = sales_pipeline(w, "/Shared/bronze_to_gold")
        job_id = w.jobs.create(
            name="lakeforge-sales",
            tasks=[
                _notebook("orders_source_to_raw", "source_to_raw"),
                _notebook("orders_raw_to_bronze", "raw_to_bronze", depends="orders_source_to_raw"),
                jobs.Task(
                    task_key="silver_gold",
                    pipeline_task=jobs.PipelineTask(pipeline_id=pipeline_id),
                    depends_on=[jobs.TaskDependency(task_key="orders_raw_to_bronze")],
                ),
            ],
            schedule=jobs.CronSchedule(quartz_cron_expression="*/5 * * * * ?", timezone_id="Europe/Paris"),
        ).job_id

        deadline = time.monotonic() + 15
        periodic: list[jobs.BaseRun] = []
        while not periodic and time.monotonic() < deadline:
            periodic = [r for r in w.jobs.list_runs(job_id=job_id) if r.trigger == jobs.TriggerType.PERIODIC]
            time.sleep(0.1)
        assert periodic, "the schedule did not fire"
        first = min(periodic, key=lambda r: r.run_id)
        started = first.start_time / 1000
        assert started % 5 < 2.0, "the run started more than 2 s after its fire time"
        w.jobs.update(job_id, fields_to_remove=["schedule"])  # one scheduled run is enough

        run = wait_for(w, first.run_id, timeout=120)
        assert run.state.result_state == jobs.RunResultState.SUCCESS, [
            (t.task_key, t.state.state_message) for t in run.tasks
        ]

    assert rows(settings, "main.sales_gold.total", ["total"]) == [(42,)]
    with db.connection() as conn:
        batches = conn.execute(
            "SELECT status, trigger FROM lakeforge_log.batch_run WHERE databricks_run_id = %s",
            (str(run.run_id),),
        ).fetchall()
        zones = conn.execute(
            "SELECT DISTINCT z.zone FROM lakeforge_log.zone_run z "
            "JOIN lakeforge_log.batch_run b USING (batch_id) WHERE b.databricks_run_id = %s",
            (str(run.run_id),),
        ).fetchall()
    assert batches and all(b["status"] == "succeeded" for b in batches)
    assert {z["zone"] for z in zones} == {"raw", "bronze", "silver", "gold"}
