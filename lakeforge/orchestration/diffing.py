"""Comparing a live Databricks spec with the desired one, field by field.

The workspace echoes what it was sent plus its own defaults (``run_if``, ``format``, empty
notification blocks...). ``project`` keeps only the fields LakeForge manages, so a live spec that
equals what was sent projects to exactly the desired spec and hashes the same; a hand edit to a
managed field, or an added or removed task, does not.

>>> project({"name": "a", "format": "MULTI_TASK"}, {"name": "a"})
{'name': 'a'}
"""

from __future__ import annotations

from typing import Any

# List items are matched by these keys when present, so order in the live answer does not matter.
_ITEM_KEYS = ("task_key", "job_cluster_key", "environment_key", "label")
MAX_DIFFS = 40


def _item_key(item: Any) -> str | None:
    if isinstance(item, dict):
        for name in _ITEM_KEYS:
            if name in item:
                return f"{name}={item[name]}"
    return None


def _is_default(value: Any) -> bool:
    # Falsy values (0, False, "", [], {}) are ones a server may leave out of its answer.
    return value in (0, False, "", None) or value == [] or value == {}


def project(live: Any, desired: Any) -> Any:
    """``live`` reduced to the shape of ``desired``."""
    if isinstance(desired, dict) and isinstance(live, dict):
        out: dict[str, Any] = {}
        for key, want in desired.items():
            if key in live:
                out[key] = project(live[key], want)
            elif _is_default(want):
                out[key] = want
        return out
    if isinstance(desired, list) and isinstance(live, list):
        keys = [_item_key(item) for item in desired]
        if all(keys):
            by_key = {_item_key(item): item for item in live}
            if len(by_key) != len(live) or set(by_key) != set(keys):
                return live
            return [project(by_key[k], want) for k, want in zip(keys, desired, strict=True)]
        if len(live) != len(desired):
            return live
        return [project(have, want) for have, want in zip(live, desired, strict=True)]
    return live


# Fields LakeForge decides even when it leaves them out (no schedule, no notifications, no
# dependency...): a live value there that is not an empty default is a difference to undo.
JOB_FIELDS = frozenset(
    {
        "schedule",
        "continuous",
        "trigger",
        "email_notifications",
        "webhook_notifications",
        "notification_settings",
        "job_clusters",
        "environments",
        "health",
        "parameters",
    }
)
TASK_FIELDS = frozenset(
    {
        "depends_on",
        "libraries",
        "job_cluster_key",
        "environment_key",
        "existing_cluster_id",
        "new_cluster",
        "notebook_task",
        "pipeline_task",
        "spark_python_task",
        "python_wheel_task",
        "sql_task",
        "run_job_task",
        "condition_task",
        "for_each_task",
        "email_notifications",
        "webhook_notifications",
    }
)
PIPELINE_FIELDS = frozenset({"clusters", "serverless", "continuous", "notifications", "trigger", "target"})


def _with_owned(projected: Any, live: Any, fields: frozenset[str]) -> Any:
    if not isinstance(projected, dict) or not isinstance(live, dict):
        return projected
    extra = {k: live[k] for k in fields if k not in projected and k in live and not _is_default(live[k])}
    return {**projected, **extra} if extra else projected


def project_job(live: dict[str, Any], desired: dict[str, Any]) -> Any:
    """``project`` for job settings, keeping fields LakeForge owns even where it sets nothing."""
    projected = _with_owned(project(live, desired), live, JOB_FIELDS)
    tasks, live_tasks = projected.get("tasks"), live.get("tasks")
    if isinstance(tasks, list) and isinstance(live_tasks, list) and tasks is not live_tasks:
        by_key = {_item_key(t): t for t in live_tasks}
        projected["tasks"] = [_with_owned(t, by_key.get(_item_key(t)), TASK_FIELDS) for t in tasks]
    return projected


def project_pipeline(live: dict[str, Any], desired: dict[str, Any]) -> Any:
    return _with_owned(project(live, desired), live, PIPELINE_FIELDS)


def diff(live: Any, desired: Any, path: str = "") -> list[dict[str, Any]]:
    """Field-level differences as ``{"path", "live", "desired"}`` (at most MAX_DIFFS)."""
    found: list[dict[str, Any]] = []
    _walk(live, desired, path, found)
    return found[:MAX_DIFFS]


def _walk(live: Any, desired: Any, path: str, found: list[dict[str, Any]]) -> None:
    if len(found) >= MAX_DIFFS:
        return
    if isinstance(live, dict) and isinstance(desired, dict):
        for key in sorted(set(live) | set(desired)):
            _walk(live.get(key), desired.get(key), f"{path}.{key}" if path else key, found)
        return
    if isinstance(live, list) and isinstance(desired, list):
        keys = [_item_key(item) for item in desired]
        live_keys = [_item_key(item) for item in live]
        if all(keys) and all(live_keys):
            have = {k: item for k, item in zip(live_keys, live, strict=True)}
            want = {k: item for k, item in zip(keys, desired, strict=True)}
            for key in sorted(set(have) | set(want), key=str):
                _walk(have.get(key), want.get(key), f"{path}[{key}]", found)
            return
        if len(live) == len(desired):
            for index, (a, b) in enumerate(zip(live, desired, strict=True)):
                _walk(a, b, f"{path}[{index}]", found)
            return
    if live != desired:
        found.append({"path": path or "$", "live": _short(live), "desired": _short(desired)})


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 200 else text[:197] + "..."
