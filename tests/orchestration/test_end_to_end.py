"""A compiled, synced job runs in the local workspace and moves data through every zone."""

from __future__ import annotations

import base64
from datetime import timedelta

from databricks.sdk.service import jobs, workspace

from lakeforge.localworkspace.server import LocalWorkspace
from lakeforge.metadata.repository import MANAGED_RESOURCES, Repository
from lakeforge.orchestration import reconciler
from tests.runtime.helpers import make_gold, make_source, rows, write_csv

NOTEBOOK_DIR = "/Workspace/lakeforge/notebooks"


def test_synced_group_job_runs_source_to_gold(settings, db, tmp_path):
    sync_settings = settings.model_copy(
        update={"workspace_notebook_dir": NOTEBOOK_DIR, "sync_requests_per_second": 1000.0}
    )
    land = tmp_path / "landing" / "orders"
    write_csv(land / "1.csv", ["id", "amount"], [[1, 5], [2, 7], [3, 30]])
    make_source(
        db, "orders", location=str(land), schema_ddl="id INT, amount INT", silver={"primary_keys": ["id"]}
    )
    make_gold(db, "total", "SELECT sum(amount) AS total FROM main.sales.orders")
    server = LocalWorkspace(sync_settings, db, port=0)
    server.start()
    try:
        client = server.client()
        uploaded = reconciler.upload_notebooks(client, NOTEBOOK_DIR)
        assert f"{NOTEBOOK_DIR}/source_to_raw" in uploaded
        if f"{NOTEBOOK_DIR}/pipeline_dlt" not in uploaded:
            # The declarative pipeline notebook is only read by Databricks; locally the
            # pipeline update runs the data plane from the pipeline's configuration.
            client.workspace.import_(
                f"{NOTEBOOK_DIR}/pipeline_dlt",
                content=base64.b64encode(b"# Databricks notebook source\n").decode(),
                format=workspace.ImportFormat.SOURCE,
                language=workspace.Language.PYTHON,
                overwrite=True,
            )
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
