"""Runs jobs the way the Databricks Jobs service does, on this machine.

Each job run gets one worker thread that owns its state: it starts tasks whose dependencies are
done and whose ``run_if`` holds, retries failed attempts (``max_retries``,
``min_retry_interval_millis``), enforces task and job ``timeout_seconds`` and cancellation, and
writes every transition to Postgres. Task bodies (a notebook, a pipeline update) run in their
own daemon threads. A thread cannot be killed: a cancelled run sets its stop event, which
notebooks and pipeline updates pass to the runtime, and waits (TERMINATING, up to
``CANCEL_GRACE_SECONDS``) for its tasks to stop at their next table or zone, as a cancelled
Databricks run ends its tasks. A task that times out, or ignores the event past the grace
period, is marked so and its thread is abandoned; its late result is ignored.

``max_concurrent_runs`` and queueing: a run that finds the job at its limit is QUEUED when the
job (or run-now) enables the queue, else SKIPPED, as in Databricks.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakeforge.localworkspace.runs import TERMINAL
from lakeforge.localworkspace.store import SELECTIONS, UPDATE_FINAL, Row, WorkspaceStore, now_ms
from lakeforge.metadata.db import Database
from lakeforge.runtime.cancel import PIPELINE_STOPPED, StopSignal
from lakeforge.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

NotebookRunner = Callable[..., Any]
PipelineRunner = Callable[..., Any]
_FAILED = ("FAILED", "TIMEDOUT", "UPSTREAM_FAILED")
_CANCELED = ("CANCELED", "UPSTREAM_CANCELED")
_OK = ("SUCCESS", "EXCLUDED")
_POLL_SECONDS = 0.05
# How long a cancelled run waits for its running tasks to stop on their own before abandoning them.
CANCEL_GRACE_SECONDS = 120.0


class TaskError(Exception):
    """A task attempt failed; ``code`` is the Databricks termination code to report."""

    def __init__(self, message: str, code: str = "RUN_EXECUTION_ERROR") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class TaskRunners:
    """What executes task bodies. Unset fields use the data plane (imported when first needed)."""

    notebook: NotebookRunner | None = None
    pipeline: PipelineRunner | None = None

    def notebook_runner(self) -> NotebookRunner:
        if self.notebook is None:
            from lakeforge.runtime.notebook import run_notebook

            self.notebook = run_notebook
        return self.notebook

    def pipeline_runner(self) -> PipelineRunner:
        if self.pipeline is None:
            from lakeforge.runtime.pipeline import run_pipeline_update

            self.pipeline = run_pipeline_update
        return self.pipeline


@dataclass
class _Attempt:
    task_run_id: int
    number: int
    deadline: float | None
    done: threading.Event = field(default_factory=threading.Event)
    error: TaskError | None = None
    output: str | None = None


@dataclass
class _Retry:
    task_run_id: int
    number: int
    ready_at: float


def run_if_holds(run_if: str, results: list[str]) -> bool:
    """Whether a task with ``run_if`` runs, given the results of the tasks it depends on."""
    if not results:
        return True
    failed = [r in _FAILED for r in results]
    if run_if == "ALL_DONE":
        return True
    if run_if == "NONE_FAILED":
        return not any(failed) and not any(r in _CANCELED for r in results)
    if run_if == "AT_LEAST_ONE_SUCCESS":
        return any(r == "SUCCESS" for r in results)
    if run_if == "ALL_FAILED":
        return all(failed)
    if run_if == "AT_LEAST_ONE_FAILED":
        return any(failed)
    return all(r in _OK for r in results)  # ALL_SUCCESS


def job_result(tasks: list[dict[str, Any]], outcome: dict[str, str]) -> str:
    """A run's result from its tasks': leaf tasks decide, earlier failures make SUCCESS_WITH_FAILURES."""
    upstream = {dep["task_key"] for t in tasks for dep in t.get("depends_on") or []}
    leaves = [t["task_key"] for t in tasks if t["task_key"] not in upstream]
    if any(outcome.get(k) in _CANCELED for k in outcome) and not any(
        outcome.get(k) in _FAILED for k in outcome
    ):
        return "CANCELED"
    if not any(result in _FAILED or result in _CANCELED for result in outcome.values()):
        return "SUCCESS"
    if leaves and all(outcome.get(k) in _OK for k in leaves):
        return "SUCCESS_WITH_FAILURES"
    return "FAILED"


class Executor:
    """Starts, queues, cancels, repairs and finishes job runs; runs pipeline updates."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: WorkspaceStore,
        runners: TaskRunners,
        *,
        task_slots: int = 2,
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.runners = runners
        self.task_slots = task_slots
        self._lock = threading.RLock()
        self._threads: dict[int, threading.Thread] = {}
        self._cancel: set[int] = set()
        self._stop_events: dict[int, threading.Event] = {}  # per run: set when it is cancelled
        self._update_stops: dict[str, StopSignal] = {}  # per running pipeline update
        self._stopping = threading.Event()
        self.notebook_dir = settings.state_dir / "localworkspace" / "notebooks"

    # ---- lifecycle --------------------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: runs that were executing cannot resume, so they end; the queue goes on."""
        message = "The local workspace stopped while this run was active."
        for row in self.store.active_runs():
            if row["life_cycle_state"] == "QUEUED":
                continue
            self._finish_run(row["run_id"], "INTERNAL_ERROR", "FAILED", message, code="INTERNAL_ERROR")
            for task in self.store.task_runs(row["run_id"]):
                if task["life_cycle_state"] not in TERMINAL:
                    self._set_task(task["run_id"], "INTERNAL_ERROR", "FAILED", message)
        with self.db.connection() as conn:
            # An update that was being stopped ends as asked; any other was cut short.
            conn.execute(
                "UPDATE lakeforge_workspace.pipeline_update SET error = %s, state = CASE state"
                " WHEN 'STOPPING' THEN 'CANCELED' ELSE 'FAILED' END WHERE state <> ALL(%s)",
                (message, list(UPDATE_FINAL)),
            )
            conn.execute(
                "UPDATE lakeforge_workspace.pipeline SET state = 'IDLE'"
                " WHERE state IN ('RUNNING', 'STOPPING')"
            )
        # The batches those runs were writing are ended by the server once it answers (their
        # end is read from these runs over the Jobs API, like any client's).
        for job_id in {row["job_id"] for row in self.store.active_runs()}:
            self._dispatch(job_id)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    # ---- runs -------------------------------------------------------------------------------
    def submit(
        self,
        job: Row,
        *,
        trigger: str,
        creator: str,
        job_parameters: dict[str, str] | None = None,
        overriding: dict[str, Any] | None = None,
        idempotency_token: str | None = None,
        queue_enabled: bool | None = None,
    ) -> Row:
        """Create a run of ``job`` (PENDING, QUEUED or SKIPPED) and start it when it may run."""
        settings = job["settings"]
        with self._lock:
            active = self.store.active_runs(job["job_id"])
            running = [r for r in active if r["life_cycle_state"] != "QUEUED"]
            queued = [r for r in active if r["life_cycle_state"] == "QUEUED"]
            limit = int(settings.get("max_concurrent_runs", 1))
            queue = (
                (settings.get("queue") or {}).get("enabled", False)
                if queue_enabled is None
                else queue_enabled
            )
            if len(running) < limit and not queued:
                life = "PENDING"
            elif queue and limit > 0:
                life = "QUEUED"
            else:
                life = "SKIPPED"
            row, created = self.store.create_run(
                job_id=job["job_id"],
                settings=settings,
                trigger=trigger,
                job_parameters=job_parameters or {},
                overriding_parameters=overriding,
                creator=creator,
                life_cycle_state=life,
                idempotency_token=idempotency_token,
            )
            if not created:
                return row
            run_id = row["run_id"]
            if life == "QUEUED":
                message = f"Queued: the job has reached its limit of {limit} concurrent run(s)."
                self.store.update_run(run_id, state_message=message)
            elif life == "SKIPPED":
                message = (
                    f"Skipping this run because the limit of {limit} maximum concurrent runs "
                    "has been reached."
                )
                self._finish_run(run_id, "SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED", message)
            else:
                self._start(run_id, repair=None)
        return self.store.get_run(run_id) or row

    def cancel(self, run_id: int) -> None:
        """Cancel a run (or the run a task run belongs to); finished runs are left as they are."""
        row = self.store.get_run(run_id)
        if row is None:
            task = self.store.get_task_run(run_id)
            if task is None:
                return
            row = self.store.get_run(task["job_run_id"])
            if row is None:
                return
        with self._lock:
            if row["life_cycle_state"] in TERMINAL:
                return
            thread = self._threads.get(row["run_id"])
            if thread is not None and thread.is_alive():
                self._cancel.add(row["run_id"])
                return
            self._finish_run(
                row["run_id"], "TERMINATED", "CANCELED", "This run was cancelled.", cancelled=True
            )
        self._dispatch(row["job_id"])

    def repair(self, run: Row, rerun: list[str], *, job_parameters: dict[str, str] | None) -> int:
        """Rerun the given tasks of a finished run (and keep the others' results); returns the repair id."""
        repair_id = int(time.time() * 1000) * 1000 + len(run["repair_history"])
        history = list(run["repair_history"])
        if not history:
            history.append(
                {
                    "type": "ORIGINAL",
                    "start_time": run["start_time"],
                    "end_time": run["end_time"],
                    "state": {
                        "life_cycle_state": run["life_cycle_state"],
                        "result_state": run["result_state"],
                    },
                    "task_run_ids": [t["run_id"] for t in self.store.task_runs(run["run_id"])],
                }
            )
        history.append({"type": "REPAIR", "id": repair_id, "start_time": now_ms(), "task_run_ids": []})
        fields: dict[str, Any] = {
            "repair_history": history,
            "life_cycle_state": "PENDING",
            "result_state": None,
            "state_message": "",
            "end_time": 0,
            "termination_code": None,
            "user_cancelled_or_timedout": False,
        }
        if job_parameters:
            fields["job_parameters"] = {**run["job_parameters"], **job_parameters}
        self.store.update_run(run["run_id"], **fields)
        with self._lock:
            self._start(run["run_id"], repair=(repair_id, set(rerun)))
        return repair_id

    def _start(self, run_id: int, repair: tuple[int, set[str]] | None) -> None:
        thread = threading.Thread(
            target=self._execute, args=(run_id, repair), name=f"lakeforge-run-{run_id}", daemon=True
        )
        self._threads[run_id] = thread
        thread.start()

    def _dispatch(self, job_id: int) -> None:
        """Start queued runs of a job while it has free slots."""
        if self._stopping.is_set():
            return
        with self._lock:
            job = self.store.get_job(job_id)
            active = self.store.active_runs(job_id)
            running = [r for r in active if r["life_cycle_state"] != "QUEUED"]
            queued = [r for r in active if r["life_cycle_state"] == "QUEUED"]
            limit = int(job["settings"].get("max_concurrent_runs", 1)) if job else 1
            for row in queued[: max(0, limit - len(running))]:
                self.store.update_run(
                    row["run_id"], life_cycle_state="PENDING", state_message="", start_time=now_ms()
                )
                self._start(row["run_id"], repair=None)

    def _finish_run(
        self,
        run_id: int,
        life: str,
        result: str | None,
        message: str,
        *,
        code: str | None = None,
        cancelled: bool = False,
    ) -> None:
        self.store.update_run(
            run_id,
            life_cycle_state=life,
            result_state=result,
            state_message=message,
            termination_code=code,
            user_cancelled_or_timedout=cancelled,
            end_time=now_ms(),
        )

    def _set_task(
        self, task_run_id: int, life: str, result: str | None, message: str = "", code: str | None = None
    ) -> None:
        fields: dict[str, Any] = {"life_cycle_state": life, "result_state": result, "state_message": message}
        if code:
            fields["termination_code"] = code
        if life in TERMINAL:
            fields["end_time"] = now_ms()
        self.store.update_task_run(task_run_id, **fields)

    def _execute(self, run_id: int, repair: tuple[int, set[str]] | None) -> None:
        row = self.store.get_run(run_id)
        if row is None:
            return
        try:
            self._run_loop(row, repair)
        except Exception as error:  # the executor itself failed: say so on the run, never hang it
            log.exception("local workspace run %s failed internally", run_id)
            self._finish_run(
                run_id, "INTERNAL_ERROR", "FAILED", f"Internal error: {error}", code="INTERNAL_ERROR"
            )
        finally:
            with self._lock:
                self._cancel.discard(run_id)
                self._stop_events.pop(run_id, None)
                self._threads.pop(run_id, None)
            self._dispatch(row["job_id"])

    def _run_loop(self, row: Row, repair: tuple[int, set[str]] | None) -> None:
        run_id = row["run_id"]
        settings = row["settings"]
        tasks: list[dict[str, Any]] = settings.get("tasks") or []
        by_key = {t["task_key"]: t for t in tasks}
        deps = {t["task_key"]: [d["task_key"] for d in t.get("depends_on") or []] for t in tasks}
        outcome: dict[str, str] = {}
        current: dict[str, int] = {}  # task key -> task run id of its current attempt
        repair_id = None
        if repair is None:
            for task in tasks:
                task_run_id = self.store.create_task_run(
                    job_run_id=run_id, task_key=task["task_key"], task=task, attempt=0, repair_id=None
                )
                if deps[task["task_key"]]:
                    self._set_task(task_run_id, "BLOCKED", None, "Waiting for upstream tasks.")
                current[task["task_key"]] = task_run_id
        else:
            repair_id, rerun = repair
            previous = {t["task_key"]: t for t in self.store.task_runs(run_id)}
            for key in by_key:
                old = previous.get(key)
                if key not in rerun and old is not None and old.get("result_state"):
                    outcome[key] = old["result_state"]
                    continue
                attempt = (old["attempt_number"] + 1) if old else 0
                current[key] = self.store.create_task_run(
                    job_run_id=run_id, task_key=key, task=by_key[key], attempt=attempt, repair_id=repair_id
                )
        self.store.update_run(run_id, life_cycle_state="RUNNING", state_message="")
        started = time.monotonic()
        job_timeout = int(settings.get("timeout_seconds") or 0)
        attempts: dict[str, _Attempt] = {}
        wake = threading.Event()
        retries: dict[str, _Retry] = {}
        first_error: str | None = None
        ending: tuple[str, str] | None = None  # (result, message) when the run stops early
        stop = self._stop_events.setdefault(run_id, threading.Event())
        grace_until = 0.0

        while len(outcome) < len(by_key):
            wake.clear()
            now = time.monotonic()
            if ending is not None:
                pass  # already stopping: wait for the running tasks below
            elif run_id in self._cancel:
                ending = ("CANCELED", "This run was cancelled.")
            elif self._stopping.is_set():
                ending = ("CANCELED", "The local workspace stopped during this run.")
            elif job_timeout and now - started > job_timeout:
                ending = ("TIMEDOUT", f"The run timed out after {job_timeout} seconds.")
            if ending is not None and ending[0] == "CANCELED" and not stop.is_set():
                stop.set()
                # A user's cancel waits for the tasks to stop; a stopping workspace cannot wait.
                grace_until = now + CANCEL_GRACE_SECONDS if run_id in self._cancel else now
                if attempts and grace_until > now:
                    self.store.update_run(
                        run_id,
                        life_cycle_state="TERMINATING",
                        state_message="Cancelling: waiting for running tasks to stop at their next step.",
                    )
            if ending is not None and ending[0] == "CANCELED" and attempts and now < grace_until:
                self._settle_cancelled(attempts, outcome)
                if attempts:
                    wake.wait(_POLL_SECONDS)
                    continue
            if ending is not None:
                result, message = ending
                for key in by_key:
                    if key in outcome:
                        continue
                    task_result = result if key in attempts else "UPSTREAM_CANCELED"
                    life = "TERMINATED" if key in attempts else "SKIPPED"
                    self._set_task(current[key], life, task_result, message)
                    outcome[key] = task_result
                break
            for key, attempt in list(attempts.items()):
                timed_out = attempt.deadline is not None and now > attempt.deadline
                if not attempt.done.is_set() and not timed_out:
                    continue
                del attempts[key]
                task = by_key[key]
                if attempt.done.is_set() and attempt.error is None:
                    self._set_task(attempt.task_run_id, "TERMINATED", "SUCCESS")
                    if attempt.output is not None:
                        self.store.update_task_run(attempt.task_run_id, output=attempt.output)
                    outcome[key] = "SUCCESS"
                    continue
                result = "TIMEDOUT" if not attempt.done.is_set() else "FAILED"
                message = (
                    f"Task {key} timed out after {task.get('timeout_seconds')} seconds."
                    if result == "TIMEDOUT"
                    else str(attempt.error)
                )
                code = attempt.error.code if attempt.error else None
                self._set_task(attempt.task_run_id, "TERMINATED", result, message, code)
                max_retries = int(task.get("max_retries", 0))
                may_retry = result == "FAILED" or bool(task.get("retry_on_timeout"))
                if may_retry and (max_retries == -1 or attempt.number < max_retries):
                    interval = int(task.get("min_retry_interval_millis", 0)) / 1000
                    next_id = self.store.create_task_run(
                        job_run_id=run_id,
                        task_key=key,
                        task=task,
                        attempt=attempt.number + 1,
                        repair_id=repair_id,
                    )
                    self._set_task(next_id, "WAITING_FOR_RETRY", None, f"Retrying after: {message}")
                    retries[key] = _Retry(next_id, attempt.number + 1, now + interval)
                    current[key] = next_id
                else:
                    outcome[key] = result
                    first_error = first_error or f"Task {key} failed with message: {message}"
            for key, retry in list(retries.items()):
                if now >= retry.ready_at and len(attempts) < self.task_slots:
                    del retries[key]
                    attempts[key] = self._launch(row, by_key[key], retry.task_run_id, retry.number, wake)
            for key in by_key:
                if key in outcome or key in attempts or key in retries:
                    continue
                if any(dep not in outcome for dep in deps[key]):
                    continue
                results = [outcome[dep] for dep in deps[key]]
                run_if = by_key[key].get("run_if", "ALL_SUCCESS")
                if not run_if_holds(run_if, results):
                    if any(r in _CANCELED for r in results):
                        skipped = "UPSTREAM_CANCELED"
                    elif run_if == "ALL_SUCCESS" and any(r in _FAILED for r in results):
                        skipped = "UPSTREAM_FAILED"
                    else:
                        skipped = "EXCLUDED"
                    message = f"Not run: run_if {run_if} does not hold for its upstream tasks."
                    self._set_task(current[key], "SKIPPED", skipped, message)
                    outcome[key] = skipped
                    continue
                if len(attempts) >= self.task_slots:
                    break
                number = int(self.store.get_task_run(current[key])["attempt_number"])  # type: ignore[index]
                attempts[key] = self._launch(row, by_key[key], current[key], number, wake)
            if len(outcome) < len(by_key):
                # Woken as soon as an attempt ends; the timeout covers retries, timeouts and cancels.
                wake.wait(_POLL_SECONDS)

        if ending is not None:
            result, message = ending
            self._finish_run(run_id, "TERMINATED", result, message, cancelled=True)
        else:
            result = job_result(tasks, outcome)
            message = (
                "" if result == "SUCCESS" else (first_error or f"The run finished with result {result}.")
            )
            self._finish_run(run_id, "TERMINATED", result, message)
        if repair_id is not None:
            self._close_repair(run_id, repair_id)

    def _settle_cancelled(self, attempts: dict[str, _Attempt], outcome: dict[str, str]) -> None:
        """Record the attempts that ended since their run was cancelled: a task that finished its
        work keeps SUCCESS; one stopped by the cancellation (or failing meanwhile) is CANCELED."""
        for key, attempt in list(attempts.items()):
            if not attempt.done.is_set():
                continue
            del attempts[key]
            if attempt.error is None:
                self._set_task(attempt.task_run_id, "TERMINATED", "SUCCESS")
                outcome[key] = "SUCCESS"
            else:
                self._set_task(attempt.task_run_id, "TERMINATED", "CANCELED", "This run was cancelled.")
                outcome[key] = "CANCELED"

    def _close_repair(self, run_id: int, repair_id: int) -> None:
        run = self.store.get_run(run_id)
        if run is None:
            return
        history = list(run["repair_history"])
        for item in history:
            if item.get("id") == repair_id:
                item["end_time"] = run["end_time"]
                item["state"] = {
                    "life_cycle_state": run["life_cycle_state"],
                    "result_state": run["result_state"],
                }
                item["task_run_ids"] = [
                    t["run_id"] for t in self.store.task_runs(run_id) if t["repair_id"] == repair_id
                ]
        self.store.update_run(run_id, repair_history=history)

    # ---- task bodies ------------------------------------------------------------------------
    def _launch(
        self, run: Row, task: dict[str, Any], task_run_id: int, number: int, wake: threading.Event
    ) -> _Attempt:
        timeout = int(task.get("timeout_seconds") or 0)
        attempt = _Attempt(task_run_id, number, time.monotonic() + timeout if timeout else None)
        self.store.update_task_run(
            task_run_id, life_cycle_state="RUNNING", state_message="", start_time=now_ms(), end_time=0
        )

        stop = self._stop_events.setdefault(run["run_id"], threading.Event())

        def body() -> None:
            try:
                output = self._run_task(run, task, task_run_id, stop)
                attempt.output = None if output is None else str(output)
            except TaskError as error:
                attempt.error = error
            except BaseException as error:  # a notebook may raise anything, SystemExit included
                attempt.error = TaskError(f"{type(error).__name__}: {error}")
            finally:
                attempt.done.set()
                wake.set()

        threading.Thread(target=body, name=f"lakeforge-task-{task_run_id}", daemon=True).start()
        return attempt

    def _run_task(self, run: Row, task: dict[str, Any], task_run_id: int, stop: threading.Event) -> Any:
        if "notebook_task" in task:
            notebook = task["notebook_task"]
            path = self.resolve_notebook(notebook["notebook_path"])
            params = self.task_parameters(run, task, task_run_id)
            # A task's own `engine` widget wins; otherwise the configured engine (None: auto).
            engine = None if "engine" in params else self._engine(None)
            runner = self.runners.notebook_runner()
            return _call(runner, str(path), params, engine, settings=self.settings, cancel=stop)
        if "pipeline_task" in task:
            pipeline_id = task["pipeline_task"]["pipeline_id"]
            pipeline = self.store.get_pipeline(pipeline_id)
            if pipeline is None:
                raise TaskError(f"Pipeline {pipeline_id} does not exist.", code="RESOURCE_NOT_FOUND")
            update_id = self.store.create_update(
                pipeline_id,
                cause="JOB_TASK",
                config=pipeline["spec"],
                parameters=run_batch_parameter(run.get("overriding_parameters") or {}, _followed(run, task)),
                **pipeline_request(task["pipeline_task"], run.get("overriding_parameters") or {}),
            )
            self.run_update(pipeline_id, update_id, cancel=stop)
            update = self.store.get_update(pipeline_id, update_id)
            if update is not None and update["state"] == "CANCELED":
                # A cancelled job run records the task CANCELED; a pipeline stopped alone fails it.
                raise TaskError(f"Pipeline update {update_id} was canceled: {update['error']}")
            if update is None or update["state"] != "COMPLETED":
                error = update["error"] if update else "the update disappeared"
                raise TaskError(f"Pipeline update {update_id} failed: {error}")
            return None
        kind = next((k for k in task if k.endswith("_task")), "unknown")
        raise TaskError(
            f"The local workspace does not run {kind}; use notebook_task or pipeline_task.",
            code="INVALID_RUN_CONFIGURATION",
        )

    def task_parameters(self, run: Row, task: dict[str, Any], task_run_id: int) -> dict[str, str]:
        """Notebook widgets: base_parameters, then job parameters, then run-now notebook_params."""
        settings = run["settings"]
        params = {k: str(v) for k, v in (task["notebook_task"].get("base_parameters") or {}).items()}
        job_params = {p["name"]: str(p.get("default", "")) for p in settings.get("parameters") or []}
        job_params.update({k: str(v) for k, v in (run.get("job_parameters") or {}).items()})
        params.update(job_params)
        overriding = run.get("overriding_parameters") or {}
        params.update({k: str(v) for k, v in (overriding.get("notebook_params") or {}).items()})
        references = {
            "job.id": str(run["job_id"]),
            "job.name": str(settings.get("name", "")),
            "job.run_id": str(run["run_id"]),
            "run.id": str(run["run_id"]),
            "job.trigger.type": "periodic" if run["trigger"] == "PERIODIC" else "one_time",
            "job.start_time.iso_datetime": datetime.fromtimestamp(run["start_time"] / 1000, UTC).isoformat(),
            "task.name": task["task_key"],
            "task.run_id": str(task_run_id),
            **{f"job.parameters.{name}": value for name, value in job_params.items()},
        }

        def substitute(match: re.Match[str]) -> str:
            return references.get(match.group(1).strip(), match.group(0))

        return {k: re.sub(r"\{\{([^{}]+)\}\}", substitute, v) for k, v in params.items()}

    def resolve_notebook(self, notebook_path: str) -> Path:
        """A job's notebook path as a file: an imported workspace notebook, a file, or repo notebooks/."""
        stored = self.store.get_object(notebook_path)
        if (
            stored is not None
            and stored["object_type"] in ("NOTEBOOK", "FILE")
            and stored["content"] is not None
        ):
            target = self.notebook_dir / notebook_path.lstrip("/")
            if target.suffix != ".py":
                target = target.with_name(target.name + ".py")
            content = bytes(stored["content"])
            if not target.exists() or target.read_bytes() != content:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            return target
        for candidate in (Path(notebook_path), Path(notebook_path + ".py")):
            if candidate.is_absolute() and candidate.is_file():
                return candidate
        name = Path(notebook_path).name
        for candidate in (PROJECT_ROOT / "notebooks" / name, PROJECT_ROOT / "notebooks" / f"{name}.py"):
            if candidate.is_file():
                return candidate
        raise TaskError(
            f"Notebook not found: {notebook_path}. "
            f"Import it with the workspace API or add notebooks/{name}.py.",
            code="RESOURCE_NOT_FOUND",
        )

    def _engine(self, configured: str | None) -> str | None:
        engine = configured or self.settings.engine
        return None if engine == "auto" else engine

    # ---- pipeline updates -------------------------------------------------------------------
    def start_update_async(self, pipeline_id: str, update_id: str) -> None:
        threading.Thread(
            target=self.run_update,
            args=(pipeline_id, update_id),
            name=f"lakeforge-update-{update_id}",
            daemon=True,
        ).start()

    def run_update(self, pipeline_id: str, update_id: str, cancel: threading.Event | None = None) -> None:
        """Run one pipeline update to its end through the data plane; never raises.

        It stops at its next table or zone when ``POST /pipelines/{id}/stop`` asks
        (:meth:`stop_update`), when ``cancel`` is set (the job run's stop event, for a pipeline
        task) or when ``cancel_run`` asked for its batch, and then ends ``CANCELED`` as a stopped
        Databricks update does, naming who cancelled it.
        """
        stop = StopSignal(PIPELINE_STOPPED, parent=cancel)
        with self._lock:  # stop_update decides under the lock whether a runner will see the signal
            update = self.store.get_update(pipeline_id, update_id)
            if update is None or update["state"] in UPDATE_FINAL:
                return  # stopped before it started
            self._update_stops[update_id] = stop
        try:
            self.store.set_pipeline_state(pipeline_id, "RUNNING")
            self.store.set_update_state(update_id, "INITIALIZING")
            self._run_update_body(update, stop)
            final, message = _update_outcome(stop)
        except BaseException as error:  # report any failure on the update, as Databricks does
            # An error with a Databricks error class (a bad refresh selection) is named by it.
            final, message = "FAILED", f"{getattr(error, 'error_class', type(error).__name__)}: {error}"
        with self._lock:
            self.store.set_update_state(update_id, final, message)
            self._update_stops.pop(update_id, None)
            self.store.set_pipeline_state(pipeline_id, "IDLE")

    def _run_update_body(self, update: Row, stop: StopSignal) -> None:
        spec = update["config"]
        configuration = spec.get("configuration") or {}
        group = configuration.get("lakeforge.group")
        if not group:
            raise TaskError(
                "The pipeline's configuration has no lakeforge.group: set configuration "
                '{"lakeforge.group": "<source group>"} so the update knows what to run.'
            )
        self.store.set_update_state(update["update_id"], "RUNNING")
        _call(
            self.runners.pipeline_runner(),
            self.settings,
            self.db,
            group,
            full_refresh=bool(update["full_refresh"]),
            full_refresh_selection=list(update["full_refresh_selection"] or ()),
            refresh_selection=list(update["refresh_selection"] or ()),
            batch_id=_int_or_none((update["parameters"] or {}).get("batch_id")),
            ends_batch=(update["parameters"] or {}).get("ends_batch") != "false",
            engine=self._engine(configuration.get("lakeforge.engine")),
            spec=spec,
            update_id=update["update_id"],
            pipeline_id=update["pipeline_id"],
            cancel=stop,
        )

    def stop_update(self, pipeline_id: str) -> None:
        """``POST /pipelines/{id}/stop``: the active update stops at its next table or zone
        (``STOPPING`` until then, then ``CANCELED``); one no runner has picked up yet ends
        ``CANCELED`` at once. Without an active update this does nothing, as on Databricks."""
        with self._lock:
            active = self.store.active_update(pipeline_id)
            if active is None:
                return
            stop = self._update_stops.get(active["update_id"])
            if stop is None:
                self.store.set_update_state(active["update_id"], "CANCELED", "Stopped before it started.")
                self.store.set_pipeline_state(pipeline_id, "IDLE")
                return
            stop.set()
            self.store.set_update_state(active["update_id"], "STOPPING")
            self.store.set_pipeline_state(pipeline_id, "STOPPING")


def pipeline_request(task: dict[str, Any], overriding: dict[str, Any]) -> dict[str, Any]:
    """What a pipeline task asks of its update: the task's ``full_refresh`` and selections, with
    run-now's ``pipeline_params`` over them (a selection given there replaces the task's)."""
    params = overriding.get("pipeline_params") or {}
    return {
        "full_refresh": bool(params.get("full_refresh") or task.get("full_refresh")),
        **{name: list(params.get(name) or task.get(name) or ()) for name in SELECTIONS},
    }


def _followed(run: Row, task: dict[str, Any]) -> bool:
    """Whether another task of ``run`` depends on ``task`` (so it is not the run's last)."""
    key = task["task_key"]
    return any(
        dep["task_key"] == key
        for other in run["settings"].get("tasks") or []
        for dep in other.get("depends_on") or []
    )


def run_batch_parameter(overriding: dict[str, Any], followed: bool = False) -> dict[str, str] | None:
    """The run-log batch a job run's pipeline update records into: the run's ``batch_id``
    notebook parameter, the one its notebook tasks (the ``pipeline_run_log`` task too) work on.

    On Databricks the pipeline knows no batch (the run-log task writes the update's results into
    the run's batch); here the update runs LakeForge's runtime, which writes the run log itself,
    so it is told the run's batch. Without one (a scheduled run) it continues the newest batch
    Bronze completed, the one the run's Bronze tasks just wrote. A run of Silver or Gold alone has
    no Bronze task, so only this names its batch.

    ``followed``: a task of the run comes after the update (``pipeline_run_log`` in a LakeForge
    job), so the update leaves the run's batch running for it to end (``ends_batch``).
    """
    batch = (overriding.get("notebook_params") or {}).get("batch_id")
    parameters = {"batch_id": str(batch)} if batch not in (None, "") else {}
    if followed:
        parameters["ends_batch"] = "false"
    return parameters or None


def _update_outcome(stop: StopSignal) -> tuple[str, str | None]:
    """How an update whose runner returned ends: ``CANCELED`` when its batch stopped for a cancel
    (the runtime notes who asked on ``stop``), or when a stop came and the runner did not look
    (a batch asked to stop during its last table ends cancelled too); else ``COMPLETED``."""
    by = stop.stopped or (stop.asked_by() if stop.is_set() else None)
    if by is None:
        return "COMPLETED", None
    return "CANCELED", f"Cancelled by {by}."


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with the keyword arguments it accepts (the runtime's signature may grow)."""
    parameters = inspect.signature(fn).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in parameters}
    return fn(*args, **kwargs)
