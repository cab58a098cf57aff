"""Jobs API 2.2 routes: jobs create/get/list/reset/update/delete/run-now and runs get/list/cancel/repair."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lakeforge.localworkspace import jobsettings
from lakeforge.localworkspace.context import Context, context, endpoint
from lakeforge.localworkspace.http import (
    ApiError,
    invalid,
    ok,
    query_bool,
    query_int,
    required_int,
)
from lakeforge.localworkspace.pipelines_api import selections
from lakeforge.localworkspace.runs import TERMINAL, render_run, render_task
from lakeforge.localworkspace.store import Row

_ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
_PAGE = 100  # Databricks pages the arrays of one job (tasks, clusters...) 100 at a time


def _token(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _untoken(token: str | None, kind: str) -> int | None:
    if not token:
        return None
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        found, _, value = decoded.partition(":")
        if found == kind:
            return int(value)
    except ValueError:
        pass
    raise invalid(f"Invalid page_token: {token!r}.")


def _missing_job(job_id: int) -> ApiError:
    return invalid(f"Job {job_id} does not exist.")


def _job(ctx: Context, job_id: int) -> Row:
    row = ctx.store.get_job(job_id)
    if row is None:
        raise _missing_job(job_id)
    return row


def render_job(row: Row, *, arrays: bool, offset: int = 0) -> dict[str, Any]:
    """A job as jobs/get (``arrays``: its tasks etc., 100 per page from ``offset``) or jobs/list shows it."""
    settings = dict(row["settings"])
    more = False
    for name in _ARRAYS:
        if name not in settings:
            continue
        if not arrays:
            settings.pop(name)
            continue
        items = settings[name]
        settings[name] = items[offset : offset + _PAGE]
        more = more or len(items) > offset + _PAGE
    body: dict[str, Any] = {
        "job_id": row["job_id"],
        "creator_user_name": row["creator_user_name"],
        "run_as_user_name": row["creator_user_name"],
        "created_time": row["created_time"],
        "settings": settings,
    }
    if more:
        body["has_more"] = True
    return body


def create_job(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    body.pop("access_control_list", None)
    settings = jobsettings.normalize(body)
    job_id = ctx.store.create_job(settings, ctx.user)
    ctx.schedules_changed()
    return ok({"job_id": job_id})


def get_job(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    job_id = required_int(request.query_params.get("job_id"), "job_id")
    row = _job(ctx, job_id)
    offset = _untoken(request.query_params.get("page_token"), "t") or 0
    body = render_job(row, arrays=True, offset=offset)
    if body.pop("has_more", False):
        # Never an empty token: the SDK keeps paging while next_page_token is present.
        body["next_page_token"] = _token("t", offset + _PAGE)
    return ok(body)


def list_jobs(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    limit = query_int(request, "limit", 20) or 20
    if not 1 <= limit <= 100:
        raise invalid(f"Invalid limit {limit}: it must be between 1 and 100.")
    offset = query_int(request, "offset", 0) or 0
    after = _untoken(request.query_params.get("page_token"), "j") or 0
    rows = ctx.store.list_jobs(
        after_id=after, limit=limit + 1 + offset, name=request.query_params.get("name")
    )
    rows = rows[offset:]
    page, more = rows[:limit], len(rows) > limit
    expand = query_bool(request, "expand_tasks")
    body: dict[str, Any] = {"has_more": more}
    if page:
        body["jobs"] = [render_job(row, arrays=expand) for row in page]
    if more:
        body["next_page_token"] = _token("j", page[-1]["job_id"])
    if after:
        body["prev_page_token"] = _token("j", max(after - 1, 0))
    return ok(body)


def reset_job(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    job_id = required_int(body.get("job_id"), "job_id")
    if "new_settings" not in body:
        raise invalid("Missing required field: new_settings")
    _job(ctx, job_id)
    ctx.store.replace_job_settings(job_id, jobsettings.normalize(body["new_settings"]))
    ctx.schedules_changed()
    return ok()


def update_job(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    job_id = required_int(body.get("job_id"), "job_id")
    row = _job(ctx, job_id)
    merged = jobsettings.merge_update(
        row["settings"], body.get("new_settings") or {}, body.get("fields_to_remove") or []
    )
    ctx.store.replace_job_settings(job_id, jobsettings.normalize(merged))
    ctx.schedules_changed()
    return ok()


def delete_job(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    job_id = required_int(body.get("job_id"), "job_id")
    for run in ctx.store.active_runs(job_id):
        ctx.executor.cancel(run["run_id"])
    if not ctx.store.delete_job(job_id):
        raise _missing_job(job_id)
    ctx.schedules_changed()
    return ok()


MAX_IDEMPOTENCY_TOKEN = 64


def run_now(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    job_id = required_int(body.get("job_id"), "job_id")
    job = _job(ctx, job_id)
    overriding = {
        key: body[key]
        for key in (
            "notebook_params",
            "pipeline_params",
            "python_params",
            "jar_params",
            "python_named_params",
        )
        if body.get(key)
    }
    token = body.get("idempotency_token")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_IDEMPOTENCY_TOKEN):
        # Jobs API 2.2 run-now: the token "must have at most 64 characters".
        raise invalid(
            f"idempotency_token must be a string of at most {MAX_IDEMPOTENCY_TOKEN} characters,"
            f" got {len(token) if isinstance(token, str) else token!r}."
        )
    pipeline_params = body.get("pipeline_params")
    if pipeline_params is not None:
        if not isinstance(pipeline_params, dict):
            raise invalid(f"pipeline_params must be an object, got {pipeline_params!r}.")
        selections(pipeline_params, "pipeline_params.")
    job_parameters = body.get("job_parameters") or {}
    known = {p["name"] for p in job["settings"].get("parameters") or []}
    unknown = sorted(set(job_parameters) - known) if known else []
    if unknown:
        raise invalid(f"Job parameter {unknown[0]} is not defined on job {job_id}.")
    only = body.get("only")
    if only:
        job = {**job, "settings": _only(job["settings"], only, job_id)}
    queue = body.get("queue")
    run = ctx.executor.submit(
        job,
        trigger="ONE_TIME",
        creator=ctx.user,
        job_parameters={k: str(v) for k, v in job_parameters.items()},
        overriding=overriding or None,
        idempotency_token=token,
        queue_enabled=queue.get("enabled") if isinstance(queue, dict) else None,
    )
    return ok({"run_id": run["run_id"], "number_in_job": run["number_in_job"]})


def _only(settings: dict[str, Any], only: Any, job_id: int) -> dict[str, Any]:
    """The job's settings for a run of the ``only`` tasks: the others are left out of the run, and
    so are dependencies on them (as Databricks runs a subset of a job's tasks)."""
    if not isinstance(only, list) or not all(isinstance(key, str) for key in only):
        raise invalid("only must be a list of task keys.")
    tasks = settings.get("tasks") or []
    known = {t["task_key"] for t in tasks}
    unknown = sorted(set(only) - known)
    if unknown:
        raise invalid(f"Task {unknown[0]} is not a task of job {job_id}.")
    kept = []
    for task in tasks:
        if task["task_key"] not in only:
            continue
        depends = [d for d in task.get("depends_on") or [] if d["task_key"] in only]
        kept.append({**task, "depends_on": depends} if depends else _without(task, "depends_on"))
    return {**settings, "tasks": kept}


def _without(task: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k != key}


def _run(ctx: Context, run_id: int) -> Row:
    row = ctx.store.get_run(run_id)
    if row is None:
        raise invalid(f"Run {run_id} does not exist.")
    return row


def get_run(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    run_id = required_int(request.query_params.get("run_id"), "run_id")
    row = ctx.store.get_run(run_id)
    if row is None:
        task = ctx.store.get_task_run(run_id)
        if task is None:
            raise invalid(f"Run {run_id} does not exist.")
        parent = _run(ctx, task["job_run_id"])
        body = render_task(task, ctx.base_url, parent["job_id"])
        body["job_id"] = parent["job_id"]
        return ok(body)
    tasks = ctx.store.task_runs(run_id)
    return ok(render_run(row, tasks, ctx.base_url, include_history=query_bool(request, "include_history")))


def get_run_output(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    run_id = required_int(request.query_params.get("run_id"), "run_id")
    task = ctx.store.get_task_run(run_id)
    if task is None:
        if ctx.store.get_run(run_id) is not None:
            raise invalid(
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead."
            )
        raise invalid(f"Run {run_id} does not exist.")
    parent = _run(ctx, task["job_run_id"])
    body: dict[str, Any] = {"metadata": render_task(task, ctx.base_url, parent["job_id"])}
    if "notebook_task" in task["task"]:
        body["notebook_output"] = {"result": task["output"]} if task["output"] is not None else {}
    if task["result_state"] in ("FAILED", "TIMEDOUT"):
        body["error"] = task["state_message"]
    return ok(body)


def list_runs(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    limit = query_int(request, "limit", 20)
    limit = 25 if limit == 0 else limit or 20
    if not 1 <= limit <= 25:
        raise invalid(f"Invalid limit {limit}: it must be between 1 and 25 (0 means 25).")
    active, completed = query_bool(request, "active_only"), query_bool(request, "completed_only")
    if active and completed:
        raise invalid("active_only and completed_only cannot both be true.")
    before = _untoken(request.query_params.get("page_token"), "r")
    offset = query_int(request, "offset", 0) or 0
    rows = ctx.store.list_runs(
        job_id=query_int(request, "job_id"),
        before_id=before,
        limit=limit + 1 + offset,
        active_only=active,
        completed_only=completed,
        start_time_from=query_int(request, "start_time_from"),
        start_time_to=query_int(request, "start_time_to"),
    )[offset:]
    page, more = rows[:limit], len(rows) > limit
    expand = query_bool(request, "expand_tasks")
    body: dict[str, Any] = {"has_more": more}
    if page:
        body["runs"] = [
            render_run(row, ctx.store.task_runs(row["run_id"]) if expand else None, ctx.base_url)
            for row in page
        ]
    if more:
        body["next_page_token"] = _token("r", page[-1]["run_id"])
    return ok(body)


def cancel_run(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    run_id = required_int(body.get("run_id"), "run_id")
    if ctx.store.get_run(run_id) is None and ctx.store.get_task_run(run_id) is None:
        raise invalid(f"Run {run_id} does not exist.")
    ctx.executor.cancel(run_id)
    return ok()


def cancel_all_runs(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    job_id = body.get("job_id")
    if job_id is None and not body.get("all_queued_runs"):
        raise invalid("Either job_id or all_queued_runs must be given.")
    for run in ctx.store.active_runs(int(job_id) if job_id is not None else None):
        if job_id is not None or run["life_cycle_state"] == "QUEUED":
            ctx.executor.cancel(run["run_id"])
    return ok()


def delete_run(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    run_id = required_int(body.get("run_id"), "run_id")
    row = _run(ctx, run_id)
    if row["life_cycle_state"] not in TERMINAL:
        raise invalid(f"Run {run_id} is still active; cancel it before deleting it.")
    ctx.store.delete_run(run_id)
    return ok()


def repair_run(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    run_id = required_int(body.get("run_id"), "run_id")
    row = _run(ctx, run_id)
    if row["life_cycle_state"] not in TERMINAL:
        raise invalid(f"Run {run_id} is still active; only finished runs can be repaired.")
    latest = body.get("latest_repair_id")
    history = row["repair_history"]
    if history and latest is not None and int(latest) != history[-1].get("id"):
        raise invalid(f"latest_repair_id {latest} is not the latest repair of run {run_id}.")
    if history and latest is None:
        raise invalid(f"Run {run_id} was repaired before: pass latest_repair_id.")
    tasks = {t["task_key"]: t for t in row["settings"].get("tasks") or []}
    results = {t["task_key"]: t for t in ctx.store.task_runs(run_id)}
    rerun: set[str] = set(body.get("rerun_tasks") or [])
    unknown = sorted(rerun - set(tasks))
    if unknown:
        raise invalid(f"Task {unknown[0]} is not a task of run {run_id}.")
    if body.get("rerun_all_failed_tasks"):
        rerun |= {key for key, t in results.items() if t["result_state"] not in ("SUCCESS", "EXCLUDED", None)}
    if body.get("rerun_dependent_tasks") or body.get("rerun_all_failed_tasks"):
        grew = True
        while grew:
            grew = False
            for key, task in tasks.items():
                if key not in rerun and any(d["task_key"] in rerun for d in task.get("depends_on") or []):
                    rerun.add(key)
                    grew = True
    if not rerun:
        raise invalid("Nothing to repair: give rerun_tasks or rerun_all_failed_tasks.")
    repair_id = ctx.executor.repair(row, sorted(rerun), job_parameters=body.get("job_parameters"))
    return ok({"repair_id": repair_id})


routes = [
    Route("/api/{version:str}/jobs/create", endpoint(create_job), methods=["POST"]),
    Route("/api/{version:str}/jobs/get", endpoint(get_job), methods=["GET"]),
    Route("/api/{version:str}/jobs/list", endpoint(list_jobs), methods=["GET"]),
    Route("/api/{version:str}/jobs/reset", endpoint(reset_job), methods=["POST"]),
    Route("/api/{version:str}/jobs/update", endpoint(update_job), methods=["POST"]),
    Route("/api/{version:str}/jobs/delete", endpoint(delete_job), methods=["POST"]),
    Route("/api/{version:str}/jobs/run-now", endpoint(run_now), methods=["POST"]),
    Route("/api/{version:str}/jobs/runs/get", endpoint(get_run), methods=["GET"]),
    Route("/api/{version:str}/jobs/runs/get-output", endpoint(get_run_output), methods=["GET"]),
    Route("/api/{version:str}/jobs/runs/list", endpoint(list_runs), methods=["GET"]),
    Route("/api/{version:str}/jobs/runs/cancel", endpoint(cancel_run), methods=["POST"]),
    Route("/api/{version:str}/jobs/runs/cancel-all", endpoint(cancel_all_runs), methods=["POST"]),
    Route("/api/{version:str}/jobs/runs/delete", endpoint(delete_run), methods=["POST"]),
    Route("/api/{version:str}/jobs/runs/repair", endpoint(repair_run), methods=["POST"]),
]
