"""Job settings as Databricks stores them: validation, the defaults it fills in, and partial updates.

Databricks answers ``jobs/get`` with defaults the caller never sent (``max_concurrent_runs: 1``,
``timeout_seconds: 0``, ``run_if: ALL_SUCCESS``, ...). The local workspace fills the same ones,
so a reconciler that compares desired and live settings meets the same differences here as there.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lakeforge.localworkspace.http import invalid
from lakeforge.orchestration.quartz import CronError, validate

TASK_KINDS = (
    "notebook_task",
    "pipeline_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "sql_task",
    "dbt_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
    "dashboard_task",
    "power_bi_task",
    "clean_rooms_notebook_task",
)
RUN_IF = (
    "ALL_SUCCESS",
    "ALL_DONE",
    "NONE_FAILED",
    "AT_LEAST_ONE_SUCCESS",
    "ALL_FAILED",
    "AT_LEAST_ONE_FAILED",
)
_TASK_KEY = re.compile(r"^[\w\-.]{1,100}$")
# Arrays that jobs/update merges by key instead of replacing, and the key of each.
_KEYED_ARRAYS = {
    "tasks": "task_key",
    "job_clusters": "job_cluster_key",
    "parameters": "name",
    "environments": "environment_key",
}


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated settings with Databricks' defaults filled in; raises ``ApiError`` 400 on bad input."""
    settings = copy.deepcopy(raw)
    settings.setdefault("name", "Untitled")
    settings.setdefault("email_notifications", {})
    settings.setdefault("webhook_notifications", {})
    settings.setdefault("timeout_seconds", 0)
    settings.setdefault("max_concurrent_runs", 1)
    settings.setdefault("format", "MULTI_TASK")
    _check_scalars(settings)
    tasks = settings.get("tasks") or []
    if not isinstance(tasks, list):
        raise invalid("tasks must be an array of task settings.")
    keys = _check_tasks(tasks)
    for task in tasks:
        task.setdefault("run_if", "ALL_SUCCESS")
        task.setdefault("timeout_seconds", 0)
        task.setdefault("email_notifications", {})
        if "notebook_task" in task:
            task["notebook_task"].setdefault("source", "GIT" if "git_source" in settings else "WORKSPACE")
    _check_acyclic(tasks, keys)
    _check_references(settings, tasks)
    if "schedule" in settings:
        _check_schedule(settings["schedule"])
    return settings


def merge_update(
    current: dict[str, Any], new_settings: dict[str, Any], fields_to_remove: list[str]
) -> dict[str, Any]:
    """``jobs/update``: top-level fields replaced, keyed arrays merged by key, listed fields removed."""
    merged = copy.deepcopy(current)
    for name, value in new_settings.items():
        key = _KEYED_ARRAYS.get(name)
        if key is None or not isinstance(value, list):
            merged[name] = copy.deepcopy(value)
            continue
        existing = {item.get(key): item for item in merged.get(name, [])}
        for item in value:
            existing[item.get(key)] = copy.deepcopy(item)
        merged[name] = list(existing.values())
    for field in fields_to_remove:
        array, _, item_key = field.partition("/")
        if item_key and array in _KEYED_ARRAYS:
            key = _KEYED_ARRAYS[array]
            before = merged.get(array, [])
            merged[array] = [item for item in before if item.get(key) != item_key]
            if len(merged[array]) == len(before):
                raise invalid(f"Cannot remove {field}: no such element.")
        else:
            merged.pop(array, None)
    return merged


def _check_scalars(settings: dict[str, Any]) -> None:
    name = settings["name"]
    if not isinstance(name, str) or len(name) > 4096:
        raise invalid("name must be a string of at most 4096 characters.")
    limit = settings["max_concurrent_runs"]
    if not isinstance(limit, int) or not 0 <= limit <= 1000:
        raise invalid(f"max_concurrent_runs must be between 0 and 1000, got {limit!r}.")
    timeout = settings["timeout_seconds"]
    if not isinstance(timeout, int) or timeout < 0:
        raise invalid(f"timeout_seconds must be a non-negative integer, got {timeout!r}.")
    tags = settings.get("tags") or {}
    if not isinstance(tags, dict) or len(tags) > 25:
        raise invalid("tags must be an object with at most 25 entries.")
    for key, value in tags.items():
        if not isinstance(value, str):
            raise invalid(f"Tag {key!r} must have a string value.")


def _check_tasks(tasks: list[Any]) -> set[str]:
    if len(tasks) > 1000:
        raise invalid("A job can have at most 1000 tasks.")
    keys: set[str] = set()
    for task in tasks:
        if not isinstance(task, dict):
            raise invalid("Each task must be an object.")
        key = task.get("task_key")
        if not isinstance(key, str) or not _TASK_KEY.match(key):
            raise invalid(f"Invalid task_key {key!r}: use 1-100 letters, digits, '_', '-' or '.'.")
        if key in keys:
            raise invalid(f"Task key {key} is not unique.")
        keys.add(key)
        kinds = [kind for kind in TASK_KINDS if kind in task]
        if len(kinds) != 1:
            raise invalid(f"Task {key} must define exactly one task type (for example notebook_task).")
        if "notebook_task" in task and not (task["notebook_task"] or {}).get("notebook_path"):
            raise invalid(f"Task {key}: notebook_task.notebook_path is required.")
        if "pipeline_task" in task and not (task["pipeline_task"] or {}).get("pipeline_id"):
            raise invalid(f"Task {key}: pipeline_task.pipeline_id is required.")
        run_if = task.get("run_if", "ALL_SUCCESS")
        if run_if not in RUN_IF:
            raise invalid(f"Task {key}: run_if {run_if!r} is not one of {', '.join(RUN_IF)}.")
        retries = task.get("max_retries", 0)
        if not isinstance(retries, int) or retries < -1:
            raise invalid(f"Task {key}: max_retries must be -1 (forever) or a non-negative integer.")
    return keys


def _check_references(settings: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    """Tasks may only name job clusters and environments the job defines."""
    clusters = {c.get("job_cluster_key") for c in settings.get("job_clusters") or []}
    environments = {e.get("environment_key") for e in settings.get("environments") or []}
    for task in tasks:
        cluster = task.get("job_cluster_key")
        if cluster is not None and cluster not in clusters:
            raise invalid(
                f"Task {task['task_key']} uses job_cluster_key {cluster}, "
                "which is not defined in job_clusters."
            )
        environment = task.get("environment_key")
        if environment is not None and environment not in environments:
            raise invalid(
                f"Task {task['task_key']} uses environment_key {environment}, "
                "which is not defined in environments."
            )


def _check_acyclic(tasks: list[dict[str, Any]], keys: set[str]) -> None:
    edges: dict[str, list[str]] = {}
    for task in tasks:
        deps = [dep.get("task_key") for dep in task.get("depends_on") or []]
        for dep in deps:
            if dep not in keys:
                raise invalid(f"Task {task['task_key']} depends on {dep}, which is not a task of this job.")
        edges[task["task_key"]] = deps
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in done:
            return
        if key in visiting:
            raise invalid(f"Task dependencies form a cycle through {key}.")
        visiting.add(key)
        for dep in edges[key]:
            visit(dep)
        visiting.discard(key)
        done.add(key)

    for key in edges:
        visit(key)


def _check_schedule(schedule: Any) -> None:
    if not isinstance(schedule, dict):
        raise invalid("schedule must be an object.")
    expression = schedule.get("quartz_cron_expression")
    timezone = schedule.get("timezone_id")
    if not expression:
        raise invalid("schedule.quartz_cron_expression is required.")
    if not timezone:
        raise invalid("schedule.timezone_id is required.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"Invalid timezone_id {timezone!r}: use an IANA name such as Europe/Berlin.") from None
    try:
        validate(expression, timezone)
    except CronError as error:
        raise invalid(f"Invalid quartz_cron_expression {expression!r}: {error.message}") from None
    schedule.setdefault("pause_status", "UNPAUSED")
    if schedule["pause_status"] not in ("UNPAUSED", "PAUSED"):
        raise invalid("schedule.pause_status must be UNPAUSED or PAUSED.")
