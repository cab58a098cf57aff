"""Local workspace costs, measured with the real databricks-sdk over HTTP against a real Postgres.

Prints, each next to a baseline measured in the same run:

* creating N jobs through ``jobs/create`` (requests per second);
* one paginated ``jobs list`` of the N jobs (100 per page) vs reading the same rows with SQL;
* one job run of three chained no-op notebook tasks, run-now to TERMINATED, vs running the
  three notebooks directly in a loop (the executor's overhead);
* how late schedules fire: a job on ``* * * * * ?`` for a few seconds, delay after each fire time.

    uv run python benchmarks/localworkspace.py
    uv run python benchmarks/localworkspace.py --jobs 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOOP = "# Databricks notebook source\ndbutils.widgets.text('step', '')\n\n# COMMAND ----------\n\nx = 1\n"


def run(database_url: str | None, jobs_count: int, schedule_seconds: int) -> None:
    from databricks.sdk.service import jobs

    from lakeforge.localworkspace.server import LocalWorkspace
    from lakeforge.metadata.db import open_database
    from lakeforge.metadata.embedded import EmbeddedPostgres
    from lakeforge.metadata.migrate import migrate
    from lakeforge.runtime.notebook import run_notebook
    from lakeforge.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="lf-bench-workspace-") as tmp:
        server = None
        if database_url is None:
            server = EmbeddedPostgres(Path(tmp) / "pg")
            database_url = server.start()
        settings = load_settings(database_url=database_url, state_dir=Path(tmp) / "state", engine="embedded")
        notebook = Path(tmp) / "noop.py"
        notebook.write_text(NOOP)
        try:
            with open_database(settings) as db:
                migrate(db)
                with db.connection() as conn:
                    conn.execute("TRUNCATE lakeforge_workspace.job, lakeforge_workspace.job_run CASCADE")
                workspace = LocalWorkspace(settings, db, port=0)
                workspace.start()
                try:
                    w = workspace.client()
                    started = time.perf_counter()
                    for i in range(jobs_count):
                        w.jobs.create(name=f"bench-{i:05d}", tags={"lakeforge_managed": "true"})
                    create = time.perf_counter() - started
                    print(f"jobs/create x{jobs_count}: {create:.2f} s ({jobs_count / create:.0f} requests/s)")

                    started = time.perf_counter()
                    listed = list(w.jobs.list(limit=100))
                    listing = time.perf_counter() - started
                    started = time.perf_counter()
                    with db.connection() as conn:
                        rows = conn.execute(
                            "SELECT * FROM lakeforge_workspace.job ORDER BY job_id"
                        ).fetchall()
                    sql = time.perf_counter() - started
                    assert len(listed) == len(rows) == jobs_count
                    print(
                        f"jobs list (100/page, {jobs_count // 100 + 1} pages): {listing * 1000:.0f} ms; "
                        f"same rows by SQL {sql * 1000:.1f} ms; "
                        f"ratio {listing / sql:.0f}x (HTTP + SDK parsing)"
                    )

                    tasks = [
                        jobs.Task(
                            task_key=f"t{i}",
                            notebook_task=jobs.NotebookTask(notebook_path=str(notebook)),
                            depends_on=[jobs.TaskDependency(task_key=f"t{i - 1}")] if i else None,
                        )
                        for i in range(3)
                    ]
                    job_id = w.jobs.create(name="chain", tasks=tasks).job_id
                    started = time.perf_counter()
                    run_id = w.jobs.run_now(job_id).run_id
                    while w.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.TERMINATED:
                        time.sleep(0.02)
                    job_run = time.perf_counter() - started
                    started = time.perf_counter()
                    for _ in range(3):
                        run_notebook(notebook, {}, settings=settings)
                    direct = time.perf_counter() - started
                    print(
                        f"job run, 3 chained no-op notebooks: {job_run * 1000:.0f} ms; "
                        f"direct run_notebook x3 {direct * 1000:.0f} ms; "
                        f"overhead {(job_run - direct) * 1000:.0f} ms"
                    )

                    scheduled = w.jobs.create(
                        name="every-second",
                        schedule=jobs.CronSchedule(
                            quartz_cron_expression="* * * * * ?", timezone_id="Europe/Paris"
                        ),
                        max_concurrent_runs=100,
                    ).job_id
                    time.sleep(schedule_seconds)
                    w.jobs.delete(scheduled)
                    delays = [
                        (fired - due).total_seconds() * 1000
                        for job, due, fired in workspace.scheduler.fired
                        if job == scheduled
                    ]
                    print(
                        f"schedule fires: {len(delays)} in {schedule_seconds} s; delay after fire time "
                        f"median {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms "
                        "(goal: < 1000 ms)"
                    )
                finally:
                    workspace.stop()
        finally:
            if server is not None:
                server.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="Use this Postgres instead of an embedded one.")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--schedule-seconds", type=int, default=6)
    args = parser.parse_args()
    run(args.database_url, args.jobs, args.schedule_seconds)


if __name__ == "__main__":
    main()
