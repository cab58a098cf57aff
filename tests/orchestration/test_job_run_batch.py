"""A job run's batch reads as running until the run's last task ends it: in the run log, in the
group's queue and in Slack, over a synced job in the local workspace."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from databricks.sdk.service import jobs
from slack_sdk import WebClient

from lakeforge.commands.access import Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.metadata.db import Database
from lakeforge.notify import Notifier
from lakeforge.runtime.runlog import CHANNEL
from lakeforge.runtime.runner import run_batch
from tests.chat.slack_standin import SlackStandin
from tests.orchestration.test_end_to_end import _finished_batch, _job_id, _jobs_synced, _sync_settings
from tests.runtime.gate import gated_api
from tests.runtime.helpers import make_source, write_csv

BOUND = 240.0  # a bound for a broken test, never a synchronisation
TERMINAL = ("succeeded", "failed", "cancelled", "skipped")
ADMIN = (Actor(user="ana", surface="cli"), Principal.local_admin("ana"))


@contextmanager
def _batch_events(db: Database) -> Iterator[list[dict[str, Any]]]:
    """Every batch-level run-log event (``NOTIFY``) while the block runs, in order."""
    heard: list[dict[str, Any]] = []
    stop = threading.Event()
    listening = threading.Event()

    def listen() -> None:
        with db.dedicated_connection() as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            listening.set()
            while not stop.is_set():
                for note in conn.notifies(timeout=0.2):
                    event = json.loads(note.payload)
                    if event.get("level") == "batch":
                        heard.append(event)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    listening.wait(10)
    try:
        yield heard
    finally:
        stop.set()
        thread.join(10)


def _statuses(heard: list[dict[str, Any]], batch_id: int) -> list[str]:
    return [event["status"] for event in heard if event["batch_id"] == batch_id]


def _await(predicate: Any) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_job_runs_batch_stays_running_between_its_tasks_and_holds_its_groups_turn(settings, db, tmp_path):
    """The feed's Raw task is held at the gate; meanwhile `lakeforge run` queues a batch of the
    same group. The job run's batch runs through all its tasks and ends once, and the queued
    batch starts only then. The group's Slack channel never reads an end before the real one."""
    sync_settings = _sync_settings(settings)
    with gated_api() as gate:
        make_source(db, "feed", format="rest", location=gate.url, silver={"primary_keys": ["id"]})
        subscribed = execute(
            db,
            {"kind": "subscribe_channel", "group": "sales", "slack_channel_id": "C0ALERTS1"},
            ADMIN[0],
            principal=ADMIN[1],
        )
        assert subscribed.status == "applied", subscribed
        slack = SlackStandin().start()
        notifier = Notifier(
            sync_settings,
            db,
            WebClient(token="xoxb-test", base_url=slack.api_url),
            poll_seconds=0.2,
            retry_base_seconds=0.2,
        ).start()
        try:
            with _jobs_synced(sync_settings, db) as server, _batch_events(db) as heard:
                client = server.client()
                waiter = client.jobs.run_now(_job_id(db))
                assert gate.arrived.wait(BOUND)  # the job run's batch is in its first task
                manual: list[Any] = []
                queued = threading.Thread(
                    target=lambda: manual.append(run_batch(sync_settings, db, "sales")), daemon=True
                )
                queued.start()
                _await(lambda: any(e["status"] == "queued" for e in heard))
                gate.opened.set()
                run = waiter.result(timeout=timedelta(seconds=BOUND))
                queued.join(BOUND)
                assert run.state and run.state.result_state == jobs.RunResultState.SUCCESS, run.state
                job_batch = _batch_of_run(db, run.run_id)
                assert job_batch["status"] == "succeeded", job_batch
                assert manual and manual[0].status == "succeeded", manual
                # Both batches' last events reach the listener (NOTIFY comes in commit order).
                _await(
                    lambda: (
                        _statuses(heard, job_batch["batch_id"])[-1:] == ["succeeded"]
                        and _statuses(heard, manual[0].batch_id)[-1:] == ["succeeded"]
                    )
                )
                # Running from its first task to its last, ended once, at the end.
                statuses = _statuses(heard, job_batch["batch_id"])
                assert [s for s in statuses if s in TERMINAL] == ["succeeded"] and statuses[-1] == "succeeded"
                # The batch `lakeforge run` queued took its turn only once the job run's batch ended.
                assert manual[0].started_at >= job_batch["ended_at"]
            # Slack: the batch's message reads running until it reads its one outcome.
            title = f"Batch #{job_batch['batch_id']} of sales"
            _await(lambda: any(t == f"{title}: succeeded" for t in _texts(slack, title)))
            texts = _texts(slack, title)
            ended = [i for i, text in enumerate(texts) if text.split(": ")[-1] in TERMINAL]
            assert ended and all(texts[i] == f"{title}: succeeded" for i in range(ended[0], len(texts))), (
                texts
            )
        finally:
            notifier.stop()
            slack.stop()


def _texts(slack: SlackStandin, title: str) -> list[str]:
    """The batch's channel message as posted and then updated, in order."""
    return [
        call.payload.get("text", "")
        for call in slack.calls
        if call.method in ("chat.postMessage", "chat.update")
        and "thread_ts" not in call.payload
        and str(call.payload.get("text", "")).startswith(title + ":")
    ]


def _batch_of_run(db: Database, run_id: int | None) -> dict[str, Any]:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT * FROM lakeforge_log.batch_run WHERE databricks_run_id = %s", [str(run_id)]
        ).fetchone()
    assert row is not None, f"no batch for job run {run_id}"
    return row


def test_a_raw_and_bronze_run_ends_its_batch_and_a_failing_task_ends_it_failed(settings, db, tmp_path):
    """run_now of Raw and Bronze alone (`only` without the pipeline) still ends its batch; a
    source whose Raw fails leaves its Bronze skipped, and the run's batch ends failed."""
    sync_settings = _sync_settings(settings)
    land = tmp_path / "landing" / "orders"
    write_csv(land / "1.csv", ["id", "amount"], [[1, 5]])
    make_source(db, "orders", location=str(land), schema_ddl="id INT, amount INT")
    make_source(db, "refunds", location=str(tmp_path / "nowhere"), schema_ddl="id INT")
    with db.connection() as conn:  # a failed task is not retried (a minute later)
        conn.execute("UPDATE lakeforge.source_group SET max_retries = 0 WHERE name = 'sales'")
    with _jobs_synced(sync_settings, db) as server:
        client, job_id = server.client(), _job_id(db)
        actor, admin = ADMIN
        ran = execute(
            db,
            {"kind": "run_now", "source": "orders", "zones": ["raw", "bronze"]},
            actor,
            principal=admin,
        )
        assert ran.status == "applied", ran
        batch = _finished_batch(db, client, job_id, count=1)
        tasks = client.jobs.get_run(int(batch["databricks_run_id"])).tasks or []
        assert sorted(t.task_key for t in tasks) == [
            "orders__raw_to_bronze",
            "orders__source_to_raw",
            "pipeline_run_log",
        ]
        assert batch["status"] == "succeeded" and batch["ended_at"] is not None, batch
        assert batch["rows_out"] == 1

        failing = execute(
            db, {"kind": "run_now", "group": "sales", "zones": ["raw", "bronze"]}, actor, principal=admin
        )
        assert failing.status == "applied", failing
        batch = _finished_batch(db, client, job_id, count=2)
        assert batch["status"] == "failed" and batch["ended_at"] is not None, batch
        assert "refunds" in (batch["error"] or ""), batch
        states = {
            t.task_key: t.state.result_state.value if t.state and t.state.result_state else None
            for t in client.jobs.get_run(int(batch["databricks_run_id"])).tasks or []
        }
        assert (
            states["refunds__source_to_raw"] == "FAILED"
            and states["refunds__raw_to_bronze"] == "UPSTREAM_FAILED"
        )
        assert states["pipeline_run_log"] == "FAILED"  # it ran last and ended the batch failed
