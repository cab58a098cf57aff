"""Job runs and task runs rendered the way ``jobs/runs/get`` reports them.

A run carries both the classic ``state`` (``life_cycle_state``, ``result_state``,
``state_message``) and the newer ``status`` object (``state`` plus ``termination_details``
with ``code`` and ``type``), because clients read either.
"""

from __future__ import annotations

from typing import Any

from lakeforge.localworkspace.store import Row

TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
_V2_STATE = {
    "QUEUED": "QUEUED",
    "PENDING": "PENDING",
    "BLOCKED": "BLOCKED",
    "WAITING_FOR_RETRY": "WAITING",
    "RUNNING": "RUNNING",
    "TERMINATING": "TERMINATING",
}
# result_state -> (termination code, termination type)
_TERMINATION = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "SUCCESS_WITH_FAILURES": ("SUCCESS_WITH_FAILURES", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "CLIENT_ERROR"),
    "UPSTREAM_FAILED": ("SKIPPED", "SUCCESS"),
    "UPSTREAM_CANCELED": ("SKIPPED", "SUCCESS"),
    "EXCLUDED": ("SKIPPED", "SUCCESS"),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
}


def state_and_status(row: Row) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``state`` and ``status`` objects of a job run or task run row."""
    life = row["life_cycle_state"]
    result = row.get("result_state")
    message = row.get("state_message") or ""
    state: dict[str, Any] = {
        "life_cycle_state": life,
        "state_message": message,
        "user_cancelled_or_timedout": bool(row.get("user_cancelled_or_timedout"))
        or result in ("CANCELED", "TIMEDOUT"),
    }
    if result:
        state["result_state"] = result
    status: dict[str, Any] = {"state": _V2_STATE.get(life, "TERMINATED")}
    if life == "QUEUED":
        state["queue_reason"] = message
        status["queue_details"] = {"code": "MAX_CONCURRENT_RUNS_REACHED", "message": message}
    if life in TERMINAL:
        if life == "INTERNAL_ERROR":
            code, kind = "INTERNAL_ERROR", "INTERNAL_ERROR"
        else:
            code, kind = _TERMINATION.get(result or "", ("SUCCESS", "SUCCESS"))
        code = row.get("termination_code") or code
        status["termination_details"] = {"code": code, "type": kind, "message": message}
    return state, status


def _durations(row: Row) -> dict[str, int]:
    start, end = int(row.get("start_time") or 0), int(row.get("end_time") or 0)
    run = max(end - start, 0) if start and end else 0
    return {"setup_duration": 0, "execution_duration": run, "cleanup_duration": 0, "run_duration": run}


def render_task(task_row: Row, base_url: str, job_id: int) -> dict[str, Any]:
    state, status = state_and_status(task_row)
    body: dict[str, Any] = {
        **task_row["task"],
        "run_id": task_row["run_id"],
        "attempt_number": task_row["attempt_number"],
        "state": state,
        "status": status,
        "start_time": task_row["start_time"],
        "end_time": task_row["end_time"],
        "run_page_url": f"{base_url}/jobs/{job_id}/runs/{task_row['run_id']}",
        **_durations(task_row),
    }
    return body


def latest_attempts(task_rows: list[Row]) -> list[Row]:
    """The newest attempt of each task, in the order the tasks first appeared."""
    latest: dict[str, Row] = {}
    for row in task_rows:
        current = latest.get(row["task_key"])
        if current is None or row["run_id"] > current["run_id"]:
            latest[row["task_key"]] = row
    return sorted(
        latest.values(),
        key=lambda row: min(r["run_id"] for r in task_rows if r["task_key"] == row["task_key"]),
    )


def render_run(
    row: Row, task_rows: list[Row] | None, base_url: str, *, include_history: bool = False
) -> dict[str, Any]:
    """A run as ``jobs/runs/get`` (with tasks) or ``jobs/runs/list`` (``task_rows=None``) shows it."""
    state, status = state_and_status(row)
    settings = row["settings"]
    body: dict[str, Any] = {
        "job_id": row["job_id"],
        "run_id": row["run_id"],
        "original_attempt_run_id": row["run_id"],
        "number_in_job": row["number_in_job"],
        "creator_user_name": row["creator_user_name"],
        "run_name": row["run_name"],
        "run_type": row["run_type"],
        "trigger": row["trigger"],
        "attempt_number": 0,
        "format": "MULTI_TASK",
        "state": state,
        "status": status,
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "run_page_url": f"{base_url}/jobs/{row['job_id']}/runs/{row['run_id']}",
        **_durations(row),
    }
    if row.get("queued_time") and row["life_cycle_state"] != "QUEUED":
        # Time spent waiting for a slot: until it started, or until it ended if it never did
        # (cancelled in the queue; its start_time is still the time it was queued).
        queued, started = int(row["queued_time"]), int(row.get("start_time") or 0)
        left = started if started > queued else int(row.get("end_time") or queued)
        body["queue_duration"] = max(left - queued, 0)
    if row["trigger"] == "PERIODIC" and "schedule" in settings:
        body["schedule"] = settings["schedule"]
    if settings.get("job_clusters"):
        body["job_clusters"] = settings["job_clusters"]
    parameters = row.get("job_parameters") or {}
    if parameters or settings.get("parameters"):
        defaults = {p["name"]: p.get("default", "") for p in settings.get("parameters", [])}
        body["job_parameters"] = [
            {
                "name": name,
                "default": defaults.get(name, ""),
                "value": parameters.get(name, defaults.get(name, "")),
            }
            for name in dict.fromkeys([*defaults, *parameters])
        ]
    if row.get("overriding_parameters"):
        body["overriding_parameters"] = row["overriding_parameters"]
    if task_rows is not None:
        body["tasks"] = [render_task(t, base_url, row["job_id"]) for t in latest_attempts(task_rows)]
    if include_history and row.get("repair_history"):
        body["repair_history"] = row["repair_history"]
    return body
