"""`run --no-wait`'s background process when it cannot take the batch, against a real Postgres.

The process is real (``python -m lakeforge run-detached``); it inherits this process's environment,
which here points it at a port where no metadata store listens, so it exits before claiming.
"""

from __future__ import annotations

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.detached import DetachedLauncher
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from tests.runtime.helpers import make_source

_NO_STORE = "postgresql://lakeforge@127.0.0.1:9/nothing"  # port 9 (discard): connection refused


def test_a_background_process_that_dies_before_taking_the_batch_fails_it_with_its_log(
    db, settings, monkeypatch
):
    make_source(db, "orders", format="csv", location=str(settings.state_dir / "landing"))
    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", _NO_STORE)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(settings.state_dir))
    background = DetachedLauncher()
    launch.configure(settings)
    launch.set_launcher(background)
    try:
        result = execute(
            db,
            {"kind": "run_now", "source": "orders"},
            Actor(user="alice", surface="cli"),
            principal=Principal.local_admin("alice"),
        )
    finally:
        launch.set_launcher(None)
    assert result.status == "applied", result
    batch_id = int((result.result or {})["batch_id"])

    with db.connection() as conn:
        batch = conn.execute(
            "SELECT status, error, ended_at FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
    log = settings.state_dir / "runs" / f"batch-{batch_id}.log"
    # Failed at once, not left queued for the stale-batch sweep, naming why and where to look.
    assert batch["status"] == "failed" and batch["ended_at"] is not None, batch
    assert f"the background process for batch {batch_id} stopped before taking it" in batch["error"]
    assert "exit code 2" in batch["error"], batch["error"]
    assert str(log) in batch["error"], batch["error"]
    # The log holds the process's own reason.
    assert "cannot reach the metadata store" in log.read_text()
    assert batch_id not in background.started
