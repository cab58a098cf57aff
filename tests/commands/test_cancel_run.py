"""cancel_run: a running embedded batch stops between tables, ends cancelled, and can be rerun."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lakeforge.commands import launch
from lakeforge.commands.access import PermissionDenied, Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.runtime.gate import Gate, gated_api
from tests.runtime.helpers import make_orders, make_source

OPERATOR = Principal(user="ana", bindings=(("operator", "sales"),))
ANA = Actor(user="ana", surface="api")


def wait_until_ended(db: Database, batch_id: int, timeout: float = 120) -> dict[str, Any]:
    """The batch row once it is no longer queued or running (the runner works in its own thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.connection() as conn:
            row = conn.execute(
                "SELECT * FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]
            ).fetchone()
        if row is not None and row["status"] not in ("queued", "running"):
            return row
        time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} did not end in {timeout}s")


def run_log(db: Database, batch_id: int) -> dict[str, list[tuple[Any, ...]]]:
    with db.connection() as conn:
        zones = conn.execute(
            "SELECT zone, status FROM lakeforge_log.zone_run WHERE batch_id = %s ORDER BY id", [batch_id]
        ).fetchall()
        tables = conn.execute(
            "SELECT table_name, status FROM lakeforge_log.table_run WHERE batch_id = %s ORDER BY id",
            [batch_id],
        ).fetchall()
        steps = conn.execute(
            "SELECT status FROM lakeforge_log.step_run WHERE batch_id = %s", [batch_id]
        ).fetchall()
    return {
        "zones": [(z["zone"], z["status"]) for z in zones],
        "tables": [(t["table_name"], t["status"]) for t in tables],
        "open_steps": [s for s in steps if s["status"] == "running"],
    }


@pytest.fixture
def gate() -> Any:
    with gated_api() as opened:
        yield opened


@pytest.fixture
def sales(
    db: Database, settings: Settings, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group sales: a REST feed that holds its answer until the test opens the gate, then a CSV
    source (sources run in name order), both through Silver; the runtime's own launcher."""
    make_source(db, "a_feed", format="rest", location=gate.url, silver={"primary_keys": ["id"]})
    make_orders(db, tmp_path / "orders", "b_orders")
    monkeypatch.setattr(launch, "_settings", settings)
    launch.set_launcher(None)


def test_cancel_stops_a_running_batch_at_the_next_table_and_a_rerun_completes_it(
    db: Database, settings: Settings, gate: Gate, sales: None
) -> None:
    batch_id = execute(db, {"kind": "run_now", "group": "sales"}, ANA, principal=OPERATOR).result["batch_id"]
    assert gate.arrived.wait(120), "the batch never reached the feed"

    answer = execute(db, {"kind": "cancel_run", "batch_id": batch_id}, ANA, principal=OPERATOR)
    gate.opened.set()  # the table being extracted finishes; the next one must not start
    ended = wait_until_ended(db, batch_id)

    assert answer.status == "applied", answer.errors
    assert answer.result["status"] == "cancelling"
    assert answer.plan[0]["op"] == "cancel"
    assert "after the table it is writing in raw" in answer.plan[0]["text"]
    assert (ended["status"], ended["cancelled_by"], ended["error"]) == (
        "cancelled",
        "ana",
        "cancelled by ana",
    )
    log = run_log(db, batch_id)
    assert log["zones"] == [("raw", "cancelled")]  # Bronze, Silver and Gold never started
    assert log["tables"] == [("raw:a_feed", "succeeded")]  # b_orders was never started
    assert log["open_steps"] == []
    landed = (
        settings.lakehouse_path / "_volumes" / "main" / "sales" / "raw" / "a_feed" / f"batch_id={batch_id}"
    )
    assert (landed / "_lakeforge_manifest.json").is_file(), "the finished table's landing stays complete"
    with db.connection() as conn:
        audit = conn.execute("SELECT actor, outcome FROM command_audit WHERE kind = 'cancel_run'").fetchall()
    assert [(a["actor"], a["outcome"]) for a in audit] == [("ana", "applied")]

    rerun = execute(db, {"kind": "rerun_batch", "batch_id": batch_id}, ANA, principal=OPERATOR)
    assert rerun.status == "applied", rerun.errors
    again = wait_until_ended(db, rerun.result["batch_id"])
    assert again["status"] == "succeeded", again["error"]
    assert [zone for zone, _ in run_log(db, again["batch_id"])["zones"]] == [
        "raw",
        "bronze",
        "silver",
        "gold",
    ]


def test_a_queued_batch_is_cancelled_at_once_and_never_starts(
    db: Database, launched: list[launch.LaunchRequest], sales: None
) -> None:
    launch.set_launcher(lambda db, request: launched.append(request))  # queued, not started yet
    batch_id = execute(db, {"kind": "run_now", "group": "sales"}, ANA, principal=OPERATOR).result["batch_id"]

    answer = execute(db, {"kind": "cancel_run", "batch_id": batch_id}, ANA, principal=OPERATOR)
    assert answer.status == "applied" and answer.result["status"] == "cancelled"
    assert wait_until_ended(db, batch_id)["status"] == "cancelled"

    # The queued request starting late stops before its first zone.
    from lakeforge.runtime.runner import run_batch

    request = launched[0]
    run = run_batch(
        launch.current_settings(), db, request.group, batch_id=request.batch_id, requested_by="ana"
    )
    assert (run.status, run.started_at) == ("cancelled", None)
    assert run_log(db, batch_id)["zones"] == []


def test_refusals_name_the_batch_and_change_nothing(
    db: Database, launched: list[launch.LaunchRequest], sales: None
) -> None:
    launch.set_launcher(lambda db, request: launched.append(request))
    # Which group an unknown batch belongs to cannot be known: a global operator hears why.
    everywhere = Principal(user="ana", bindings=(("operator", None),))
    unknown = execute(db, {"kind": "cancel_run", "batch_id": 999}, ANA, principal=everywhere)
    assert (unknown.status, unknown.reason) == ("rejected", "not_found")
    assert unknown.errors[0].field == "intent.batch_id"

    batch_id = execute(db, {"kind": "run_now", "group": "sales"}, ANA, principal=OPERATOR).result["batch_id"]
    viewer = Principal(user="vic", bindings=(("viewer", None),))
    with pytest.raises(PermissionDenied):
        execute(
            db,
            {"kind": "cancel_run", "batch_id": batch_id},
            Actor(user="vic", surface="api"),
            principal=viewer,
        )

    assert (
        execute(db, {"kind": "cancel_run", "batch_id": batch_id}, ANA, principal=OPERATOR).status == "applied"
    )
    again = execute(db, {"kind": "cancel_run", "batch_id": batch_id}, ANA, principal=OPERATOR)
    assert (again.status, again.reason) == ("rejected", "conflict")
    assert again.errors[0].field == "intent.batch_id"
    assert "already ended (cancelled)" in again.message
    assert "rerun_batch" in (again.errors[0].fix or "")
