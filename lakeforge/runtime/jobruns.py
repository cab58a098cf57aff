"""How a job-run batch ends once its process is gone: as its Databricks job run ended.

A batch that a job run carries (``batch_run.databricks_run_id``) runs in the run's task processes
on a cluster. When the workspace kills them (someone cancelled the run in the Databricks UI, the
run timed out, its cluster was lost) nothing writes the batch's end. ``runlog.fail_stale_batches``
finds such a batch without a process and asks :class:`JobRunEnds` what happened to its run, so the
batch ends as the run did (``cancelled`` naming who, or ``failed`` naming why) instead of with a
generic "no process left". A run that is still active leaves its batch alone: the process is
remote, and one that lost its Lakebase connection (and with it the batch's lock) may still be
writing. A workspace that cannot be asked leaves it alone too, until a later check can ask.

The sync ends a batch still ``queued`` whose job run ended before starting it
(``orchestration.launcher.settle_launched_batches``) with the same mapping, asked for the
``queued`` phase. The few ways the two phases differ are all in :func:`_phase_end`.

>>> ends = JobRunEnds.of(settings)
>>> ends.batch_end("123")
BatchEnd(status='cancelled', reason='Databricks (job run 123 cancelled by a user: Run cancelled)')
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from lakeforge.notify.scrub import scrub
from lakeforge.runtime.runlog import STOPPED_RUNNING

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.jobs import Run

    from lakeforge.settings import Settings

log = logging.getLogger(__name__)

# Where the batch stood when its run ended: ``queued`` (no task had started it yet, the sync's
# case) or ``running`` (its process was gone, the stale-batch check's case).
Phase = Literal["queued", "running"]

# Life cycle states after which no task of the run is working on its batch any more.
_ENDED = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
_SUCCEEDED = ("SUCCESS", "SUCCESS_WITH_FAILURES")
# Who a cancel came from, by the run's termination code (``status.termination_details.code``).
_CANCELLED_BY = {"USER_CANCELED": " by a user", "CANCELED": " by the platform"}
# The stale check runs at API start and before every batch: a slow or throttled workspace must
# delay it by seconds, not by the SDK's default five minutes of retries.
_HTTP_TIMEOUT_SECONDS = 10
_RETRY_TIMEOUT_SECONDS = 20
_MAX_MESSAGE = 500


@dataclass(frozen=True)
class BatchEnd:
    """How a batch nobody will finish ends: ``reason`` is who cancelled it (``cancelled_by``) or
    why it failed or was skipped (``error``); already scrubbed of credentials."""

    status: Literal["cancelled", "failed", "skipped"]
    reason: str


def end_of_run(
    run_id: int, run: Run, job_timeout: int | None = None, phase: Phase = "running"
) -> BatchEnd | None:
    """The end of the batch whose job run is ``run``; None while the run is still active.

    ``job_timeout`` is the job's ``timeout_seconds``, named when the run timed out; ``phase`` is
    where the batch stood (see :func:`_phase_end` for what that changes).
    """
    life, result, said = run_state(run)
    if life not in _ENDED:
        return None
    message = _said(said)
    if result == "CANCELED":
        # Who cancelled is the same whether or not a task had started the batch.
        return BatchEnd("cancelled", _cancelled_by(run_id, run, message))
    differs = _phase_end(phase, run_id, life, result, message)
    if differs is not None:
        return differs
    if result == "TIMEDOUT":
        return BatchEnd("failed", _timed_out(run_id, run, message, job_timeout, phase))
    outcome = "INTERNAL_ERROR" if life == "INTERNAL_ERROR" else result or life
    return BatchEnd("failed", f"job run {run_id} ended {outcome}{_BEFORE_START[phase]}{_colon(message)}")


# ``status.termination_details.code`` of an ended run → the classic (life cycle, result) it stands
# for; any other code is a failure. The codes have no timeout of their own: a run that exceeded
# its duration ends ``CANCELED`` (by the platform), so only ``state`` tells a timeout apart.
_BY_CODE = {
    "SUCCESS": ("TERMINATED", "SUCCESS"),
    "SUCCESS_WITH_FAILURES": ("TERMINATED", "SUCCESS_WITH_FAILURES"),
    "USER_CANCELED": ("TERMINATED", "CANCELED"),
    "CANCELED": ("TERMINATED", "CANCELED"),
    "SKIPPED": ("SKIPPED", ""),
    "MAX_CONCURRENT_RUNS_EXCEEDED": ("SKIPPED", ""),
    "MAX_JOB_QUEUE_SIZE_EXCEEDED": ("SKIPPED", ""),
    "DISABLED": ("SKIPPED", ""),
    "INTERNAL_ERROR": ("INTERNAL_ERROR", ""),
}


def run_state(run: Run) -> tuple[str, str, str | None]:
    """The run's (life cycle state, result state, message), from ``state`` when the run has it,
    else from ``status``.

    Jobs API 2.2 reports both, and marks ``state`` deprecated in favour of ``status``
    (databricks-sdk ``jobs.Run.state``): ``status.state`` is ``TERMINATED`` once the run ended,
    and ``status.termination_details`` says how (``code``, ``message``). ``state`` is read first
    while it is there because only its ``result_state`` tells a timeout (``TIMEDOUT``) from a
    cancel; a run without it still ends as its termination code says.
    """
    state = run.state
    if state is not None and state.life_cycle_state is not None:
        return _name(state.life_cycle_state), _name(state.result_state), state.state_message
    status = run.status
    if status is None or _name(status.state) != "TERMINATED":
        return _name(status.state if status else None), "", None
    details = status.termination_details
    code = _name(details.code if details else None)
    life, result = _BY_CODE.get(code, ("TERMINATED", "FAILED"))
    return life, result, details.message if details else None


def gone_end(run_id: str, phase: Phase) -> BatchEnd:
    """The end of a batch whose job run the workspace does not know (deleted, or no run id)."""
    if phase == "queued":
        return BatchEnd("failed", f"job run {run_id} no longer exists; it never started this batch")
    return BatchEnd("failed", f"{STOPPED_RUNNING}; its job run {run_id} no longer exists")


# Said after "job run N ended X" (or "timed out") of a batch the run never started.
_BEFORE_START: dict[Phase, str] = {"queued": " before this batch started", "running": ""}


def _phase_end(phase: Phase, run_id: int, life: str, result: str, message: str) -> BatchEnd | None:
    """The ends that depend on where the batch stood; None where both phases end alike (a
    cancel ends either ``cancelled``, any other end ``failed`` with the run's reason, which for a
    queued batch says that the run ended before starting it). Also :func:`gone_end`."""
    if phase == "queued" and life == "SKIPPED":
        # The job was at its limit of concurrent runs with no queue: nothing ran, nothing failed.
        return BatchEnd("skipped", f"job run {run_id} was skipped before this batch started{_colon(message)}")
    if phase == "running" and result in _SUCCEEDED:
        # Every task reported success, yet none ended the batch: its process stopped first.
        return BatchEnd("failed", f"{STOPPED_RUNNING} (its job run {run_id} ended {result})")
    return None


class JobRunEnds:
    """Asks the workspace how a batch's job run ended (``WorkspaceClient.jobs.get_run``)."""

    def __init__(
        self, client: Callable[[], WorkspaceClient], before_request: Callable[[], None] | None = None
    ) -> None:
        # ``before_request`` lets the sync's gateway throttle and count these reads with its own.
        self._client = client
        self._before_request = before_request or (lambda: None)

    @classmethod
    def of(cls, settings: Settings) -> JobRunEnds:
        """The workspace LakeForge launches jobs in (``orchestration.client.workspace_client``);
        the client is only made when a batch needs asking."""

        def client() -> WorkspaceClient:
            from lakeforge.orchestration.client import workspace_client

            return workspace_client(
                settings,
                http_timeout_seconds=_HTTP_TIMEOUT_SECONDS,
                retry_timeout_seconds=_RETRY_TIMEOUT_SECONDS,
            )

        return cls(client)

    def batch_end(self, run_id: str, phase: Phase = "running") -> BatchEnd | None:
        """How the batch of job run ``run_id`` ends; None to leave it as it is (the run is still
        active, or the workspace could not be asked: a later check asks again)."""
        # Here, not at the top: the runner imports this module, and the SDK takes a second to load.
        from databricks.sdk.errors import BadRequest, NotFound, ResourceDoesNotExist

        try:
            number = int(run_id)
        except ValueError:  # not a job run id: there is nothing to ask about
            return gone_end(run_id, phase)
        try:
            client = self._client()
            self._before_request()
            run = client.jobs.get_run(number)
        # Databricks answers runs/get of a deleted run with a 400 "Run N does not exist".
        except (ResourceDoesNotExist, NotFound, BadRequest):
            return gone_end(run_id, phase)
        except Exception as error:  # unreachable, refused, throttled past the retry window...
            # Only the type: the text of a connection error may carry the host's credentials.
            log.warning(
                "could not ask the workspace how job run %s ended (%s); its %s batch is left as it"
                " is until a later check can",
                number,
                type(error).__name__,
                phase,
            )
            return None
        timed_out = run_state(run)[1] == "TIMEDOUT"
        return end_of_run(number, run, self._job_timeout(client, run) if timed_out else None, phase)

    def _job_timeout(self, client: WorkspaceClient, run: Run) -> int | None:
        """The job's ``timeout_seconds`` (runs do not carry it); None when it cannot be read."""
        if run.job_id is None:
            return None
        with contextlib.suppress(Exception):  # the reason just says less
            self._before_request()
            settings = client.jobs.get(run.job_id).settings
            return settings.timeout_seconds if settings else None
        return None


def _cancelled_by(run_id: int, run: Run, message: str) -> str:
    details = run.status.termination_details if run.status else None
    who = _CANCELLED_BY.get(_name(details.code if details else None), "")
    return f"Databricks (job run {run_id} cancelled{who}" + (f": {message})" if message else ")")


def _timed_out(run_id: int, run: Run, message: str, job_timeout: int | None, phase: Phase) -> str:
    tasks = [
        task
        for task in run.tasks or []
        if task.state is not None and _name(task.state.result_state) == "TIMEDOUT" and task.timeout_seconds
    ]
    if tasks:
        limit = f"task {tasks[0].task_key}'s timeout of {tasks[0].timeout_seconds} s"
    elif job_timeout:
        limit = f"the job's timeout of {job_timeout} s, the group's timeout_seconds"
    else:
        limit = "a time limit of the job"
    return (
        f"job run {run_id} timed out{_BEFORE_START[phase]} ({limit}){_colon(message)}. If the batch"
        " needs longer, raise the group's timeout_seconds (update_group) and rerun it."
    )


def _said(message: str | None) -> str:
    """The run's state message, fit for the run log and chat: no credentials, one short line."""
    text = " ".join((message or "").split()).rstrip(".")
    return scrub(text)[:_MAX_MESSAGE]


def _colon(message: str) -> str:
    """``message`` to follow a reason's first words: ": message", or nothing when there is none."""
    return f": {message}" if message else ""


def _name(value: Any) -> str:
    """An SDK enum's value (or a plain string) as text; "" for None."""
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)
