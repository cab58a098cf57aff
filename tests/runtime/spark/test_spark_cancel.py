"""cancel_run on the spark engine: the batch stops at the next zone and its rerun writes Delta with Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeforge.commands import launch
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database
from lakeforge.settings import Settings
from tests.commands.test_cancel_run import run_log, wait_until_ended
from tests.runtime.gate import gated_api
from tests.runtime.helpers import make_source, rows

ANA = Actor(user="ana", surface="api")
OPERATOR = Principal(user="ana", bindings=(("operator", "sales"),))


def test_a_cancelled_spark_batch_stops_before_bronze_and_its_rerun_loads_it(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "_settings", settings)
    launch.set_launcher(None)
    with gated_api() as gate:
        make_source(db, "feed", format="rest", location=gate.url, silver={"primary_keys": ["id"]})
        queued = execute(db, {"kind": "run_now", "group": "sales"}, ANA, principal=OPERATOR)
        batch_id = queued.result["batch_id"]
        assert gate.arrived.wait(120), "the batch never reached the feed"
        assert (
            execute(db, {"kind": "cancel_run", "batch_id": batch_id}, ANA, principal=OPERATOR).status
            == "applied"
        )
        gate.opened.set()
        ended = wait_until_ended(db, batch_id)

    assert (ended["status"], ended["engine"], ended["cancelled_by"]) == ("cancelled", "spark", "ana")
    assert run_log(db, batch_id)["zones"] == [("raw", "succeeded")]  # Bronze never started
    assert not (settings.lakehouse_path / "main" / "sales" / "feed_bronze").exists()

    rerun = execute(db, {"kind": "rerun_batch", "batch_id": batch_id}, ANA, principal=OPERATOR)
    again = wait_until_ended(db, rerun.result["batch_id"])
    assert again["status"] == "succeeded", again["error"]
    assert rows(settings, "main.sales.feed", ["id"]) == [(1,), (2,)]  # Raw's landing, not the feed again
