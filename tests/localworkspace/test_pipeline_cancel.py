"""A pipeline update stopped by a cancel ends CANCELED, as on Databricks, whichever way the cancel
came: ``POST /pipelines/{id}/stop``, the cancel of the job run whose pipeline task started it, or
``cancel_run`` of the batch it runs. Its batch ends cancelled and the pipeline's events say so."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs, pipelines

from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database
from lakeforge.runtime import runner
from lakeforge.runtime.cancel import JOB_RUN_CANCELLED, PIPELINE_STOPPED
from lakeforge.settings import Settings
from tests.localworkspace.pipelines import sales_pipeline
from tests.runtime.helpers import make_orders

from .test_runs import by_key, wait_for


@dataclass
class Hold:
    """Holds the runner inside a Silver/Gold batch (opened and marked running, before its first
    zone) until ``release`` is set: an update deterministically under way when the cancel comes."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def hold(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    held = Hold()
    real = runner._run_zones

    def run_zones(ctx: Any, spec: Any, zones: list[str], watch: Any) -> None:
        if "silver" in zones:
            held.arrived.set()
            held.release.wait(120)  # a bound for a broken test, not a synchronisation
        real(ctx, spec, zones, watch)

    monkeypatch.setattr(runner, "_run_zones", run_zones)
    yield held
    held.release.set()


@pytest.fixture
def bronze_batch(settings: Settings, db: Database, tmp_path: Path) -> int:
    """Batch of group sales whose Raw and Bronze landed: what the group's pipeline runs next."""
    make_orders(db, tmp_path / "landing")
    landed = runner.run_batch(settings, db, "sales", zones=["raw", "bronze"])
    assert landed.status == "succeeded", landed.error
    assert landed.batch_id is not None
    return landed.batch_id


def _update_state(w: WorkspaceClient, pipeline_id: str, update_id: str) -> pipelines.UpdateInfoState:
    update = w.pipelines.get_update(pipeline_id, update_id).update
    assert update is not None and update.state is not None
    return update.state


def _ended(w: WorkspaceClient, pipeline_id: str, update_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    final = ("COMPLETED", "FAILED", "CANCELED")
    while (state := _update_state(w, pipeline_id, update_id).value) not in final:
        assert time.monotonic() < deadline, f"update {update_id} still {state}"
        time.sleep(0.05)
    return state


def _batch(db: Database, batch_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT status, cancelled_by FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
        ).fetchone()
        zones = conn.execute(
            "SELECT zone FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id", [batch_id]
        ).fetchall()
    return {**row, "zones": [z["zone"] for z in zones]}


def _stop_pipeline(w: WorkspaceClient, db: Database, pipeline_id: str, update_id: str, batch: int) -> str:
    w.pipelines.stop(pipeline_id)  # returns at once; the update stops at its next table or zone
    assert _update_state(w, pipeline_id, update_id) == pipelines.UpdateInfoState.STOPPING
    assert w.pipelines.get(pipeline_id).state == pipelines.PipelineState.STOPPING
    return PIPELINE_STOPPED


def _cancel_batch(w: WorkspaceClient, db: Database, pipeline_id: str, update_id: str, batch: int) -> str:
    answer = execute(
        db,
        {"kind": "cancel_run", "batch_id": batch},
        Actor(user="ana", surface="api"),
        principal=Principal(user="ana", bindings=(("operator", "sales"),)),
    )
    assert answer.status == "applied", answer.errors
    return "ana"


@pytest.mark.parametrize("cancel", [_stop_pipeline, _cancel_batch], ids=["pipeline-stop", "cancel_run"])
def test_a_cancelled_update_ends_canceled_and_its_events_say_so(
    w: WorkspaceClient,
    db: Database,
    hold: Hold,
    bronze_batch: int,
    cancel: Callable[[WorkspaceClient, Database, str, str, int], str],
) -> None:
    pipeline_id = sales_pipeline(w, "/Shared/silver_gold")
    update_id = w.pipelines.start_update(pipeline_id).update_id
    assert update_id is not None
    assert hold.arrived.wait(120), "the update never reached its batch"

    by = cancel(w, db, pipeline_id, update_id, bronze_batch)
    hold.release.set()

    assert _ended(w, pipeline_id, update_id) == "CANCELED"
    assert w.pipelines.get(pipeline_id).state == pipelines.PipelineState.IDLE
    events = [e for e in w.pipelines.list_pipeline_events(pipeline_id) if e.origin.update_id == update_id]
    assert [e.message for e in events] == [f"Update {update_id[:6]} is CANCELED. Cancelled by {by}."]
    batch = _batch(db, bronze_batch)
    assert (batch["status"], batch["cancelled_by"]) == ("cancelled", by)
    assert batch["zones"] == ["raw", "bronze"]  # stopped before Silver; Raw and Bronze stay
    # Stopped means stopped: a new update may start, and one that runs to its end completes.
    again = w.pipelines.start_update(pipeline_id).update_id
    assert again is not None and _ended(w, pipeline_id, again) == "COMPLETED"


def test_cancelling_the_job_run_cancels_its_pipeline_update(
    w: WorkspaceClient, db: Database, hold: Hold, bronze_batch: int
) -> None:
    pipeline_id = sales_pipeline(w, "/Shared/silver_gold")
    job_id = w.jobs.create(
        name="lakeforge-sales",
        tasks=[jobs.Task(task_key="silver_gold", pipeline_task=jobs.PipelineTask(pipeline_id=pipeline_id))],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    assert hold.arrived.wait(120), "the pipeline task never reached its batch"

    w.jobs.cancel_run(run_id)
    deadline = time.monotonic() + 60
    while w.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.TERMINATING:
        assert time.monotonic() < deadline, "the run never took the cancel"
        time.sleep(0.05)
    hold.release.set()
    run = wait_for(w, run_id, timeout=120)

    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert by_key(run)["silver_gold"].state.result_state == jobs.RunResultState.CANCELED
    (update,) = w.pipelines.list_updates(pipeline_id).updates or []
    assert update.state == pipelines.UpdateInfoState.CANCELED  # not COMPLETED beside a CANCELED run
    assert _batch(db, bronze_batch)["status"] == "cancelled"
    assert _batch(db, bronze_batch)["cancelled_by"] == JOB_RUN_CANCELLED
