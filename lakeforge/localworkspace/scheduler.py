"""Fires jobs' Quartz schedules at their times, in their time zones, from one thread.

The thread sleeps until the earliest next fire time (waking early when a job's schedule
changes), starts a PERIODIC run of each due job, and computes its next time. A fire time that
passed while the workspace was down is not made up afterwards, like Databricks after an outage
of the scheduler: the next run is the next time after now.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lakeforge.localworkspace.executor import Executor
from lakeforge.localworkspace.store import WorkspaceStore
from lakeforge.orchestration.quartz import next_fire_times

log = logging.getLogger(__name__)
_MAX_SLEEP_SECONDS = 1.0


class Scheduler:
    """Owns the next fire time of every unpaused scheduled job.

    ``fired`` keeps the latest 1,000 fires as (job_id, fire time, when the run was started).
    """

    def __init__(
        self,
        store: WorkspaceStore,
        executor: Executor,
        *,
        user: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.executor = executor
        self.user = user
        self.now = now
        self.fired: deque[tuple[int, datetime, datetime]] = deque(maxlen=1000)
        self._next: dict[int, tuple[tuple[str, str], datetime]] = {}
        self._dirty = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lakeforge-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def changed(self) -> None:
        """A job was created, changed or deleted: recompute schedules now."""
        self._dirty = True
        self._wake.set()

    def next_fire(self, job_id: int) -> datetime | None:
        entry = self._next.get(job_id)
        return entry[1] if entry else None

    def _reload(self, now: datetime) -> None:
        self._dirty = False
        fresh: dict[int, tuple[tuple[str, str], datetime]] = {}
        for row in self.store.scheduled_jobs():
            schedule: dict[str, Any] = row["settings"].get("schedule") or {}
            if schedule.get("pause_status", "UNPAUSED") != "UNPAUSED":
                continue
            key = (schedule.get("quartz_cron_expression", ""), schedule.get("timezone_id", "UTC"))
            known = self._next.get(row["job_id"])
            if known is not None and known[0] == key:
                fresh[row["job_id"]] = known
                continue
            upcoming = self._upcoming(key, now)
            if upcoming is not None:
                fresh[row["job_id"]] = (key, upcoming)
        self._next = fresh

    @staticmethod
    def _upcoming(key: tuple[str, str], after: datetime) -> datetime | None:
        try:
            times = next_fire_times(key[0], key[1], 1, after=after)
        except Exception:  # a schedule that stopped being valid never fires; create/reset validate it
            log.warning("schedule %r in %s cannot be evaluated; it will not fire", *key)
            return None
        return times[0] if times else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # keep scheduling even if one pass failed (e.g. Postgres restarting)
                log.exception("local workspace scheduler pass failed")
                self._stop.wait(1.0)

    def _tick(self) -> None:
        now = self.now()
        if self._dirty:
            self._reload(now)
        for job_id, (key, due) in list(self._next.items()):
            if due > now:
                continue
            job = self.store.get_job(job_id)
            if job is not None:
                self.executor.submit(job, trigger="PERIODIC", creator=self.user)
                self.fired.append((job_id, due, self.now()))
            upcoming = self._upcoming(key, max(due, self.now()))
            if upcoming is None:
                self._next.pop(job_id, None)
            else:
                self._next[job_id] = (key, upcoming)
        earliest = min((due for _, due in self._next.values()), default=None)
        wait = _MAX_SLEEP_SECONDS
        if earliest is not None:
            wait = min(wait, max(0.0, (earliest - self.now()).total_seconds()))
        self._wake.wait(wait)
        self._wake.clear()
