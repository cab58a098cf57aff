"""A batch queued by a process that dies before starting it: while that process lives the batch
stays queued (its claim is held), once it is gone the API's start-up marks it failed with a
reason that show_run and the run alert give."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.notify import events, render
from lakeforge.runtime.runlog import fail_stale_batches
from tests.api.api_support import launch
from tests.runtime.helpers import make_group

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Queues a run of group sales through the command layer, with a launcher that never returns:
# the moment between queueing a batch and starting it, held open.
QUEUE_AND_HANG = """
import threading
from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import open_database
from lakeforge.settings import get_settings

def hang(db, request):
    print(request.batch_id, flush=True)
    threading.Event().wait()

launch.set_launcher(hang)
db = open_database(get_settings())
execute(db, {"kind": "run_now", "group": "sales"}, Actor(user="ana", surface="cli"),
        principal=Principal.local_admin("ana"))
"""


def test_a_batch_queued_by_a_process_that_died_is_failed_with_a_reason_at_api_start(
    settings, db, database_url
) -> None:
    make_group(db, "sales")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEFORGE_")}
    env.update(LAKEFORGE_DATABASE_URL=database_url, LAKEFORGE_STATE_DIR=str(settings.state_dir))
    process = subprocess.Popen(
        [sys.executable, "-c", QUEUE_AND_HANG],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), process.stderr.read() if process.stderr else line
        batch_id = int(line)
        # Alive and about to start it: no sweep may take it away.
        assert fail_stale_batches(db) == []
        with db.connection() as conn:
            row = conn.execute(
                "SELECT status FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
            ).fetchone()
        assert row["status"] == "queued"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    with launch(settings, db):  # the API starts: its start-up ends what no process will start
        pass

    admin, actor = Principal.local_admin("admin"), Actor(user="admin", surface="cli")
    shown = execute(db, {"kind": "show_run", "batch_id": batch_id}, actor, principal=admin)
    batch = shown.result["batch"]
    assert batch["status"] == "failed" and batch["ended_at"] is not None
    assert "the process that queued this batch stopped before starting it" in batch["error"]
    with db.connection() as conn:
        view = events.load_view(conn, batch_id)
    assert view is not None
    text, _ = render.failure_reply(view, None, 1)
    assert f"#{batch_id}" in render.parent(view, None)[0]
    assert "stopped before starting it" in text and "rerun it or use run_now" in text
    # Failed, it can be rerun like any failed batch.
    again = execute(db, {"kind": "rerun_batch", "batch_id": batch_id}, actor, principal=admin, dry_run=True)
    assert again.status == "planned", again
