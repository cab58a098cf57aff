"""The notifier: follows ``NOTIFY lakeforge_runs``, queues alerts in the outbox, delivers them.

Two threads: one LISTENs and turns each run event into queued messages (``events.handle``),
one delivers due messages (``Deliverer``) whenever something was queued, and every few seconds
anyway, so messages held back by a Slack outage or a 429 go out once Slack answers again.

>>> notifier = Notifier(settings, db).start()
>>> ...
>>> notifier.stop()
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from slack_sdk import WebClient

from lakeforge.metadata.db import Database
from lakeforge.notify import events
from lakeforge.notify.delivery import Deliverer
from lakeforge.runtime.secrets import SecretResolver
from lakeforge.settings import Settings

log = logging.getLogger(__name__)
CHANNEL = "lakeforge_runs"
CATCH_UP = timedelta(hours=6)


def slack_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return (
        WebClient(token=token, base_url=settings.slack_api_url)
        if settings.slack_api_url
        else WebClient(token=token)
    )


class Notifier:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        client: WebClient | None = None,
        *,
        poll_seconds: float = 2.0,
        retry_base_seconds: float = 1.0,
    ) -> None:
        self.settings = settings
        self.db = db
        self.poll_seconds = poll_seconds
        self.deliverer = Deliverer(
            db,
            client or slack_client(settings),
            SecretResolver(settings.state_dir),
            retry_base_seconds=retry_base_seconds,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Notifier:
        for target, name in (
            (self._listen, "lakeforge-notify-listen"),
            (self._deliver, "lakeforge-notify-deliver"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self._listening.wait(15):
            raise RuntimeError("the notifier could not LISTEN on the metadata store")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(10)

    def handle(self, event: dict[str, Any]) -> int:
        """Queue the alerts of one run event (also usable without the LISTEN thread)."""
        with self.db.connection() as conn:
            queued = events.handle(conn, event, self.settings.panel_url)
        if queued:
            self._wake.set()
        return queued

    def catch_up(self) -> None:
        """Batches that moved while nobody listened: their messages are keyed, so this is safe to repeat.

        Batches whose process died (a killed API or bot that ran them) are ended first, so their
        channel is told now rather than when the group's next batch happens to start.
        """
        from lakeforge.runtime.jobruns import JobRunEnds
        from lakeforge.runtime.runlog import fail_stale_batches

        for batch_id in fail_stale_batches(self.db, JobRunEnds.of(self.settings)):
            log.warning("batch %s was running in a process that is gone; ended it", batch_id)
        since = datetime.now(UTC) - CATCH_UP
        with self.db.connection() as conn:
            ids = [
                r["batch_id"]
                for r in conn.execute(
                    "SELECT batch_id FROM lakeforge_log.batch_run WHERE created_at > %s ORDER BY batch_id",
                    (since,),
                )
            ]
        for batch_id in ids:
            self.handle({"batch_id": batch_id, "level": "batch"})

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with self.db.dedicated_connection() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    self.catch_up()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._on_notify(note.payload)
            except psycopg.Error as error:
                log.warning("notifier lost its LISTEN connection (%s); reconnecting", type(error).__name__)
                self._stop.wait(1.0)

    def _on_notify(self, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            log.warning("ignoring a run event that is not JSON")
            return
        try:
            self.handle(event)
        except psycopg.Error:
            log.exception("could not queue alerts for run event %s", event.get("batch_id"))

    def _deliver(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.deliverer.run_once()
            except Exception:  # whatever one message did, the thread delivering every channel goes on
                log.exception("alert delivery failed; retrying")
