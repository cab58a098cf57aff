"""The default launcher with the real runtime: the example file, one manual batch, every zone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.declarative import apply_file
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute

pytest.importorskip("lakeforge.runtime.runner")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lakeforge.yaml"


def test_run_now_runs_the_example_through_every_zone(db, settings, monkeypatch):
    # The example's CSV locations are relative to the project folder.
    monkeypatch.chdir(EXAMPLE.parents[1])
    monkeypatch.setattr(launch, "_settings", settings)  # what launch.configure does, undone after the test
    launch.set_launcher(None)
    actor, admin = Actor(user="ci", surface="cli"), Principal.local_admin("ci")
    assert apply_file(db, EXAMPLE, actor, admin).ok
    queued = execute(db, {"kind": "run_now", "group": "retail"}, actor, principal=admin)
    batch_id = queued.result["batch_id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        shown = execute(db, {"kind": "show_run", "batch_id": batch_id}, actor, principal=admin).result
        if shown["batch"]["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert shown["batch"]["status"] == "succeeded", shown["batch"]["error"]
    assert shown["batch"]["requested_by"] == "ci" and shown["batch"]["trigger"] == "manual"
    assert [zone["zone"] for zone in shown["zones"]] == ["raw", "bronze", "silver", "gold"]
    failed_rules = {dq["rule_name"] for dq in shown["dqs"] if dq["status"] == "failed"}
    assert failed_rules == {"has_customer", "positive_quantity"}  # the sample data has one bad row each
