"""Reconciler cost at scale: 1,000 sources in 100 groups against the local workspace.

Starts a real Postgres (the embedded one, in a temporary state folder, unless
``--database-url`` is given), migrates it, registers the groups and sources, serves the local
workspace over HTTP and drives it with the real databricks-sdk. Prints:

* the first sync (creates 100 jobs + 100 pipelines + the sync job): API calls and seconds;
* a no-op sync (``api_writes`` must be 0) and a one-change sync (one new source);
* one paginated ``jobs list`` (with task details) plus one ``pipelines list``, the floor any
  sync pays to see the workspace, and the ratio no-op sync / listing (goal: <= 3).

    uv run python benchmarks/sync.py
    uv run python benchmarks/sync.py --groups 20 --sources-per-group 5
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTEBOOK_DIR = "/Workspace/lakeforge/notebooks"


def seed(db, groups: int, per_group: int) -> None:
    with db.connection() as conn:
        profile = conn.execute(
            "SELECT id FROM lakeforge.compute_profile WHERE name = 'single_node'"
        ).fetchone()
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO lakeforge.source_group (name, compute_profile_id) VALUES (%s, %s)",
                [(f"group_{g:03d}", profile["id"]) for g in range(groups)],
            )
            ids = {
                row["name"]: row["id"]
                for row in conn.execute("SELECT id, name FROM lakeforge.source_group").fetchall()
            }
            cur.executemany(
                "INSERT INTO lakeforge.source (name, source_group_id, format, location)"
                " VALUES (%s, %s, 'csv', %s)",
                [
                    (f"source_{g:03d}_{s:02d}", ids[f"group_{g:03d}"], f"/data/{g}/{s}")
                    for g in range(groups)
                    for s in range(per_group)
                ],
            )
            cur.executemany(
                "INSERT INTO lakeforge.schedule (source_group_id, quartz_cron, timezone)"
                " VALUES (%s, %s, 'UTC')",
                [(group_id, "0 0 3 * * ?") for group_id in ids.values()],
            )


def upload_stubs(client) -> None:
    from databricks.sdk.service import workspace

    client.workspace.mkdirs(NOTEBOOK_DIR)
    for name in ("source_to_raw", "raw_to_bronze", "pipeline_dlt", "sync_jobs"):
        client.workspace.import_(
            f"{NOTEBOOK_DIR}/{name}",
            content=base64.b64encode(b"# Databricks notebook source\n").decode(),
            format=workspace.ImportFormat.SOURCE,
            language=workspace.Language.PYTHON,
            overwrite=True,
        )


def timed_listing(client) -> float:
    started = time.perf_counter()
    jobs = list(client.jobs.list(expand_tasks=True, limit=100))
    pipelines = list(client.pipelines.list_pipelines(max_results=100))
    elapsed = time.perf_counter() - started
    assert jobs and pipelines
    return elapsed


def run(database_url: str | None, groups: int, per_group: int, rate: float, repeats: int) -> None:
    from lakeforge.localworkspace.server import LocalWorkspace
    from lakeforge.metadata.db import open_database
    from lakeforge.metadata.embedded import EmbeddedPostgres
    from lakeforge.metadata.migrate import migrate
    from lakeforge.orchestration import reconciler
    from lakeforge.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="lf-bench-sync-") as tmp:
        server = None
        if database_url is None:
            server = EmbeddedPostgres(Path(tmp) / "pg")
            database_url = server.start()
        settings = load_settings(
            database_url=database_url,
            state_dir=Path(tmp) / "state",
            workspace_notebook_dir=NOTEBOOK_DIR,
            sync_requests_per_second=rate,
        )
        try:
            with open_database(settings) as db:
                migrate(db)
                with db.connection() as conn:
                    conn.execute("TRUNCATE lakeforge.managed_resource")
                seed(db, groups, per_group)
                workspace = LocalWorkspace(settings, db, port=0)
                workspace.start()
                try:
                    client = workspace.client()
                    upload_stubs(client)

                    first = reconciler.apply(db, client, settings=settings)
                    assert not first.errors, first.errors[:3]
                    print(
                        f"first sync      : {len(first.created):4d} created, {first.api_writes} writes + "
                        f"{first.api_reads} reads = {first.api_writes + first.api_reads} calls, "
                        f"{first.seconds:.2f} s"
                    )
                    noops, listings = [], []
                    for _ in range(repeats):
                        listings.append(timed_listing(client))
                        noop = reconciler.apply(db, client, settings=settings)
                        assert noop.api_writes == 0, noop.to_json()
                        noops.append(noop.seconds)
                    print(
                        f"no-op sync      : api_writes {noop.api_writes}, {noop.api_reads} reads, "
                        f"median {statistics.median(noops):.3f} s over {repeats}"
                    )
                    with db.connection() as conn:
                        group_id = conn.execute(
                            "SELECT id FROM lakeforge.source_group WHERE name = 'group_000'"
                        ).fetchone()["id"]
                        conn.execute(
                            "INSERT INTO lakeforge.source (name, source_group_id, format, location)"
                            " VALUES ('bench_new_source', %s, 'csv', '/data/new')",
                            [group_id],
                        )
                    change = reconciler.apply(db, client, settings=settings)
                    print(
                        f"one-change sync : updated {change.updated}, api_writes {change.api_writes}, "
                        f"{change.seconds:.3f} s"
                    )
                    listing = statistics.median(listings)
                    print(f"jobs+pipelines list (paginated, 100/page): median {listing:.3f} s")
                    ratio = statistics.median(noops) / listing
                    verdict = "meets" if ratio <= 3 else "misses"
                    print(f"ratio no-op sync / listing: {ratio:.2f} ({verdict} the goal of <= 3)")
                finally:
                    workspace.stop()
        finally:
            if server is not None:
                server.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="use this Postgres instead of an embedded one")
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--sources-per-group", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000.0, help="reconciler requests per second")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    run(args.database_url, args.groups, args.sources_per_group, args.rate, args.repeats)


if __name__ == "__main__":
    main()
