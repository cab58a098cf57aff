"""Batches of one group take turns on the engines, as the group's job's runs do on Databricks:
a later batch waits ``queued`` (naming the batch ahead) and starts once the earlier one ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.queries import get_run
from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata import models
from lakeforge.metadata.db import Database
from lakeforge.runtime import group_queue
from lakeforge.runtime.pipeline import run_pipeline_update
from lakeforge.runtime.runlog import STOPPED_RUNNING
from lakeforge.runtime.runner import run_batch
from lakeforge.settings import Settings
from tests.runtime.gate import Gate, gated_api
from tests.runtime.helpers import make_orders, make_source, rows, write_csv

ANA = Actor(user="ana", surface="api")
OPERATOR = Principal(user="ana", bindings=(("operator", "sales"),))
BOUND = 120.0  # a bound for a broken test, never a synchronisation


def batch_row(db: Database, batch_id: int) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute("SELECT * FROM lakeforge_log.batch_run WHERE batch_id = %s", [batch_id]).fetchone()
    assert row is not None
    return row


def await_batch(db: Database, test: Callable[[dict[str, Any]], bool], newest: bool = True) -> dict[str, Any]:
    """The newest batch row once ``test`` holds for it (another thread or process writes it)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        with db.connection() as conn:
            found = conn.execute(
                "SELECT * FROM lakeforge_log.batch_run ORDER BY batch_id DESC LIMIT 1"
            ).fetchone()
        if found is not None and test(found):
            return found
        time.sleep(0.05)
    raise AssertionError("the batch never reached the awaited state")


class Background:
    """``run_batch`` (or ``work``) in a thread; ``join`` gives what it returned."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        group: str,
        *,
        work: Callable[..., Any] = run_batch,
        **options: Any,
    ) -> None:
        self.result: models.BatchRun | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(work, settings, db, group, options), daemon=True
        )
        self.thread.start()

    def _run(
        self, work: Callable[..., Any], settings: Settings, db: Database, group: str, options: dict[str, Any]
    ) -> None:
        try:
            self.result = work(settings, db, group, **options)
        except BaseException as error:  # reported by join
            self.error = error

    def join(self) -> models.BatchRun:
        self.thread.join(BOUND)
        assert not self.thread.is_alive(), "run_batch did not return"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@pytest.fixture
def gate() -> Iterator[Gate]:
    with gated_api() as opened:
        yield opened


@pytest.fixture
def sales(db: Database, gate: Gate, tmp_path: Path) -> None:
    """Group sales: a REST feed that answers once the test opens the gate, then a CSV source
    (sources run in name order), both through Silver; and group hr, one CSV source."""
    make_source(db, "a_feed", format="rest", location=gate.url, silver={"primary_keys": ["id"]})
    make_orders(db, tmp_path / "orders", "b_orders")
    write_csv(tmp_path / "staff" / "1.csv", ["id", "name"], [[1, "ana"]])
    make_source(
        db,
        "staff",
        group="hr",
        location=str(tmp_path / "staff"),
        schema_ddl="id INT, name STRING",
        silver={"primary_keys": ["id"]},
    )


def queued_behind(first: int) -> Callable[[dict[str, Any]], bool]:
    return lambda row: row["batch_id"] > first and row["status"] == "queued" and bool(row["error"])


def test_a_second_batch_of_a_group_waits_queued_and_starts_when_the_first_ended(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    first = Background(settings, db, "sales")
    assert gate.arrived.wait(BOUND), "the first batch never reached the feed"
    first_id = await_batch(db, lambda row: row["status"] == "running")["batch_id"]

    second = Background(settings, db, "sales")
    waiting = await_batch(db, queued_behind(first_id))
    assert f"waiting for batch {first_id} (running) of group sales" in waiting["error"]
    assert waiting["started_at"] is None
    with db.connection() as conn:
        shown = get_run(conn, waiting["batch_id"])  # what the panel's batch page shows
    assert shown is not None and shown["status"] == "queued"
    assert shown["error"] == waiting["error"] and shown["errors"] == []  # a note, not an error
    with db.connection() as conn:
        assert not conn.execute(
            "SELECT 1 FROM lakeforge_log.zone_run WHERE batch_id = %s", [waiting["batch_id"]]
        ).fetchall(), "the queued batch wrote nothing yet"

    gate.opened.set()
    one, two = first.join(), second.join()
    assert (one.status, two.status) == ("succeeded", "succeeded")
    assert one.ended_at is not None and two.started_at is not None
    assert two.started_at >= one.ended_at
    assert two.error is None  # the waiting note went once it started
    # Both batches wrote whole: each table has the feed's and the files' rows once.
    assert rows(settings, "main.sales.a_feed", ["id"]) == [(1,), (2,)]
    assert rows(settings, "main.sales.b_orders", ["id", "amount"]) == [(1, 5), (2, 7)]
    with db.connection() as conn:
        versions = conn.execute(
            "SELECT t.batch_id, min(t.started_at) AS first_start, max(t.ended_at) AS last_end"
            " FROM lakeforge_log.table_run t GROUP BY t.batch_id ORDER BY t.batch_id"
        ).fetchall()
    assert versions[1]["first_start"] >= versions[0]["last_end"], "the batches' tables interleaved"


def test_batches_of_two_groups_run_side_by_side(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    sales_batch = Background(settings, db, "sales")
    assert gate.arrived.wait(BOUND)

    hr = run_batch(settings, db, "hr")  # runs to its end while the sales batch is mid-table

    assert hr.status == "succeeded"
    assert sales_batch.thread.is_alive()
    assert batch_row(db, hr.batch_id - 1)["status"] == "running"
    gate.opened.set()
    assert sales_batch.join().status == "succeeded"


def test_a_queued_batch_cancelled_ends_cancelled_without_running(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    first = Background(settings, db, "sales")
    assert gate.arrived.wait(BOUND)
    first_id = await_batch(db, lambda row: row["status"] == "running")["batch_id"]
    second = Background(settings, db, "sales")
    queued_id = await_batch(db, queued_behind(first_id))["batch_id"]

    answer = execute(db, {"kind": "cancel_run", "batch_id": queued_id}, ANA, principal=OPERATOR)
    assert answer.status == "applied", answer.message

    cancelled = second.join()  # it returns without waiting for the first batch
    assert first.thread.is_alive()
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_by == "ana"
    assert cancelled.started_at is None
    with db.connection() as conn:
        assert not conn.execute(
            "SELECT 1 FROM lakeforge_log.zone_run WHERE batch_id = %s", [queued_id]
        ).fetchall()
    gate.opened.set()
    assert first.join().status == "succeeded"


def test_tasks_of_one_job_run_continue_their_batch_without_waiting_for_each_other(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    feed_task = Background(settings, db, "sales", sources=["a_feed"], databricks_run_id="71")
    assert gate.arrived.wait(BOUND)

    # The job's second task, in parallel: same batch, so it goes on while the first is mid-table.
    orders_task = run_batch(settings, db, "sales", sources=["b_orders"], databricks_run_id="71")

    assert orders_task.status in ("running", "succeeded")
    assert feed_task.thread.is_alive()
    assert rows(settings, "main.sales.b_orders", ["id"]) == [(1,), (2,)]
    gate.opened.set()
    assert feed_task.join().batch_id == orders_task.batch_id
    assert batch_row(db, orders_task.batch_id)["status"] == "succeeded"


def test_a_killed_holder_stops_holding_the_group_once_the_stale_check_sees_it(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    env = {
        **os.environ,
        "LAKEFORGE_DATABASE_URL": str(settings.database_url),
        "LAKEFORGE_STATE_DIR": str(settings.state_dir),
        "LAKEFORGE_ENGINE": "embedded",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    script = (
        "from lakeforge.settings import load_settings\n"
        "from lakeforge.metadata.db import open_database\n"
        "from lakeforge.runtime.runner import run_batch\n"
        "settings = load_settings()\n"
        "run_batch(settings, open_database(settings), 'sales')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        assert gate.arrived.wait(BOUND), "the holder process never reached the feed"
        first_id = await_batch(db, lambda row: row["status"] == "running")["batch_id"]
        second = Background(settings, db, "sales")
        await_batch(db, queued_behind(first_id))

        os.killpg(holder.pid, signal.SIGKILL)  # mid-table: no end written, no NOTIFY sent
        holder.wait(BOUND)
        gate.opened.set()

        ran = second.join()
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
    killed = batch_row(db, first_id)
    assert (killed["status"], killed["error"]) == ("failed", STOPPED_RUNNING)
    assert ran.status == "succeeded"
    assert ran.started_at is not None and ran.started_at >= killed["ended_at"]


def test_a_pipeline_update_replays_older_batches_in_its_own_batch(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    landed = run_batch(settings, db, "sales", sources=["b_orders"], zones=["raw", "bronze"])
    assert landed.status == "succeeded", landed.error
    # A job run's batch, held running by its feed task while its pipeline task fully refreshes
    # b_orders: the replay of the older batch is recorded in the job run's batch, whose turn it
    # already has, instead of waiting for it.
    feed_task = Background(settings, db, "sales", sources=["a_feed"], databricks_run_id="72")
    assert gate.arrived.wait(BOUND)
    job_batch = await_batch(db, lambda row: row["status"] == "running")["batch_id"]

    update = Background(
        settings,
        db,
        "sales",
        work=run_pipeline_update,
        batch_id=job_batch,
        full_refresh_selection=["main.sales.b_orders"],
    ).join()  # returns while the job run's batch still runs

    assert feed_task.thread.is_alive()
    assert (update.batch_id, update.status) == (job_batch, "running")  # its feed task still runs
    assert rows(settings, "main.sales.b_orders", ["id"]) == [(1,), (2,)]
    gate.opened.set()
    assert feed_task.join().status == "succeeded"


def test_a_group_with_max_concurrent_runs_2_runs_two_batches_at_once(
    settings: Settings, db: Database, gate: Gate, sales: None
) -> None:
    with db.connection() as conn:
        conn.execute("UPDATE lakeforge.source_group SET max_concurrent_runs = 2 WHERE name = 'sales'")
    first = Background(settings, db, "sales")
    assert gate.arrived.wait(BOUND)

    second = Background(settings, db, "sales", sources=["b_orders"]).join()

    assert second.status == "succeeded"
    assert first.thread.is_alive(), "the second batch ran beside the first, as the group allows"
    gate.opened.set()
    assert first.join().status == "succeeded"


def test_a_batch_that_waits_past_the_queue_limit_ends_failed_without_running(
    settings: Settings, db: Database, gate: Gate, sales: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_queue, "QUEUE_TIMEOUT_SECONDS", 0.0)
    first = Background(settings, db, "sales")
    assert gate.arrived.wait(BOUND)
    first_id = await_batch(db, lambda row: row["status"] == "running")["batch_id"]

    late = run_batch(settings, db, "sales", sources=["b_orders"])

    assert (late.status, late.started_at) == ("failed", None)
    assert late.error == (
        f"waited 0 s in group sales's queue for batch {first_id} to end, without starting;"
        " rerun it once the group's earlier batches have ended"
    )
    gate.opened.set()
    assert first.join().status == "succeeded"
