"""Pipelines API 2.0 routes: create/get/list/edit/delete, start/stop updates, list/get updates."""

from __future__ import annotations

import base64
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lakeforge.localworkspace.context import context, endpoint
from lakeforge.localworkspace.http import ApiError, invalid, not_found, ok, query_int
from lakeforge.localworkspace.store import SELECTIONS, Row, WorkspaceStore

_REQUEST_ONLY = ("dry_run", "allow_duplicate_names", "expected_last_modified", "pipeline_id", "run_as")
_ACTIVE = (
    "QUEUED",
    "CREATED",
    "WAITING_FOR_RESOURCES",
    "INITIALIZING",
    "RESETTING",
    "SETTING_UP_TABLES",
    "RUNNING",
)
_LIKE = re.compile(r"^\s*name\s+LIKE\s+'(.*)'\s*$", re.IGNORECASE)


def normalize_spec(body: dict[str, Any]) -> dict[str, Any]:
    """The spec Databricks stores: request-only fields dropped, its defaults filled in."""
    spec = {k: v for k, v in body.items() if k not in _REQUEST_ONLY}
    spec.setdefault("channel", "CURRENT")
    spec.setdefault("edition", "ADVANCED")
    spec.setdefault("development", False)
    spec.setdefault("continuous", False)
    spec.setdefault("photon", False)
    for library in spec.get("libraries") or []:
        if not isinstance(library, dict) or not any(
            k in library for k in ("notebook", "file", "glob", "jar", "whl")
        ):
            raise invalid(
                "Each library must name a notebook, file or glob (for example {'notebook': {'path': ...}})."
            )
    if "catalog" in spec and "target" in spec and "schema" in spec:
        raise invalid("Specify either schema or target, not both.")
    return spec


def _pipeline(store: WorkspaceStore, pipeline_id: str) -> Row:
    row = store.get_pipeline(pipeline_id)
    if row is None:
        raise not_found(f"The specified pipeline {pipeline_id} was not found.")
    return row


def _check_name(store: WorkspaceStore, body: dict[str, Any], pipeline_id: str | None = None) -> None:
    name = body.get("name")
    if not name or body.get("allow_duplicate_names"):
        return
    clash = [p for p in store.pipelines_named(name) if p["pipeline_id"] != pipeline_id]
    if clash:
        raise ApiError(
            409,
            "RESOURCE_CONFLICT",
            f"Pipeline name '{name}' is already used by another pipeline ({clash[0]['pipeline_id']}).",
        )


def _latest_updates(store: WorkspaceStore, pipeline_id: str) -> list[dict[str, Any]]:
    return [
        {"update_id": u["update_id"], "state": u["state"], "creation_time": _iso(u["creation_time"])}
        for u in store.list_updates(pipeline_id, 5)
    ]


def _iso(epoch_ms: int) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def render_pipeline(store: WorkspaceStore, row: Row) -> dict[str, Any]:
    latest = _latest_updates(store, row["pipeline_id"])
    failed = bool(latest) and latest[0]["state"] == "FAILED"
    return {
        "pipeline_id": row["pipeline_id"],
        "name": row["name"],
        "spec": row["spec"],
        "state": row["state"],
        "health": "UNHEALTHY" if failed else "HEALTHY",
        "creator_user_name": row["creator_user_name"],
        "run_as_user_name": row["creator_user_name"],
        "last_modified": row["last_modified"],
        "latest_updates": latest,
    }


def render_update(row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pipeline_id": row["pipeline_id"],
        "update_id": row["update_id"],
        "state": row["state"],
        "cause": row["cause"],
        "creation_time": row["creation_time"],
        "full_refresh": row["full_refresh"],
        "config": row["config"],
    }
    if row["parameters"]:
        body["parameters"] = row["parameters"]
    # Databricks answers the selections with the update (UpdateInfo), and leaves out empty ones.
    for name in SELECTIONS:
        if row[name]:
            body[name] = list(row[name])
    return body


def selections(body: dict[str, Any], where: str = "") -> dict[str, list[str]]:
    """``full_refresh_selection`` and ``refresh_selection`` of a request: lists of table names.
    Whether the pipeline has those tables is checked when the update runs, as on Databricks."""
    found: dict[str, list[str]] = {}
    for name in SELECTIONS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise invalid(f"{where}{name} must be a list of table names, got {value!r}.")
        found[name] = value
    return found


def create_pipeline(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    spec = normalize_spec(body)
    _check_name(ctx.store, body)
    if body.get("dry_run"):
        return ok({"effective_settings": spec})
    pipeline_id = ctx.store.create_pipeline(spec, ctx.user)
    return ok({"pipeline_id": pipeline_id, "effective_settings": {**spec, "id": pipeline_id}})


def get_pipeline(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    return ok(render_pipeline(ctx.store, _pipeline(ctx.store, request.path_params["pipeline_id"])))


def list_pipelines(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    limit = query_int(request, "max_results", 25) or 25
    if not 1 <= limit <= 100:
        raise invalid(f"max_results must be between 1 and 100, got {limit}.")
    name_like = None
    notebook = None
    text = request.query_params.get("filter")
    if text:
        match = _LIKE.match(text)
        notebook_match = re.match(r"^\s*notebook\s*=\s*'(.*)'\s*$", text)
        if match:
            name_like = match.group(1)
        elif notebook_match:
            notebook = notebook_match.group(1)
        else:
            raise invalid(f"Unsupported filter {text!r}: use name LIKE '<pattern>' or notebook='<path>'.")
    token = request.query_params.get("page_token")
    try:
        after = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode() if token else ""
    except ValueError:
        raise invalid(f"Invalid page_token: {token!r}.") from None
    rows = ctx.store.list_pipelines(
        after_id=after, limit=limit + 1 if notebook is None else 100_000, name_like=name_like
    )
    if notebook is not None:
        rows = [
            r
            for r in rows
            if any(
                (lib.get("notebook") or {}).get("path") == notebook
                for lib in r["spec"].get("libraries") or []
            )
        ]
    page, more = rows[:limit], len(rows) > limit
    answer: dict[str, Any] = {}
    if page:
        answer["statuses"] = [
            {
                "pipeline_id": r["pipeline_id"],
                "name": r["name"],
                "state": r["state"],
                "creator_user_name": r["creator_user_name"],
                "run_as_user_name": r["creator_user_name"],
                "latest_updates": _latest_updates(ctx.store, r["pipeline_id"]),
            }
            for r in page
        ]
    if more:
        answer["next_page_token"] = (
            base64.urlsafe_b64encode(page[-1]["pipeline_id"].encode()).decode().rstrip("=")
        )
    return ok(answer)


def edit_pipeline(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    pipeline_id = request.path_params["pipeline_id"]
    row = _pipeline(ctx.store, pipeline_id)
    expected = body.get("expected_last_modified")
    if expected is not None and int(expected) != row["last_modified"]:
        raise ApiError(
            409, "ABORTED", f"The pipeline {pipeline_id} was modified since {expected}; get it again."
        )
    _check_name(ctx.store, body, pipeline_id)
    ctx.store.replace_pipeline_spec(pipeline_id, normalize_spec(body))
    return ok()


def delete_pipeline(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    pipeline_id = request.path_params["pipeline_id"]
    _pipeline(ctx.store, pipeline_id)
    ctx.store.delete_pipeline(pipeline_id)
    return ok()


def start_update(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    pipeline_id = request.path_params["pipeline_id"]
    row = _pipeline(ctx.store, pipeline_id)
    if ctx.store.active_update(pipeline_id) is not None:
        raise ApiError(
            409, "RESOURCE_CONFLICT", f"An active update of pipeline {pipeline_id} already exists."
        )
    update_id = ctx.store.create_update(
        pipeline_id,
        cause=str(body.get("cause") or "API_CALL"),
        full_refresh=bool(body.get("full_refresh")),
        config=row["spec"],
        parameters=body.get("parameters"),
        **selections(body),
    )
    ctx.executor.start_update_async(pipeline_id, update_id)
    return ok({"update_id": update_id})


def stop_pipeline(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    pipeline_id = request.path_params["pipeline_id"]
    _pipeline(ctx.store, pipeline_id)
    ctx.executor.stop_update(pipeline_id)
    return ok()


def list_updates(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    pipeline_id = request.path_params["pipeline_id"]
    _pipeline(ctx.store, pipeline_id)
    limit = query_int(request, "max_results", 25) or 25
    before = query_int(request, "page_token")
    rows = ctx.store.list_updates(pipeline_id, limit + 1, before)
    page, more = rows[:limit], len(rows) > limit
    answer: dict[str, Any] = {}
    if page:
        answer["updates"] = [render_update(r) for r in page]
    if more:
        answer["next_page_token"] = str(page[-1]["creation_time"])
    return ok(answer)


def get_update(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    pipeline_id, update_id = request.path_params["pipeline_id"], request.path_params["update_id"]
    _pipeline(ctx.store, pipeline_id)
    row = ctx.store.get_update(pipeline_id, update_id)
    if row is None:
        raise not_found(f"The update {update_id} of pipeline {pipeline_id} was not found.")
    return ok({"update": render_update(row)})


def list_events(request: Request, _body: dict[str, Any]) -> JSONResponse:
    """Pipeline events: one per update state the local workspace knows (enough for status checks)."""
    ctx = context(request)
    pipeline_id = request.path_params["pipeline_id"]
    _pipeline(ctx.store, pipeline_id)
    events = [
        {
            "id": f"{u['update_id']}-{u['state']}",
            "event_type": "update_progress",
            "level": "ERROR" if u["state"] == "FAILED" else "INFO",
            "message": f"Update {u['update_id'][:6]} is {u['state']}."
            + (f" {u['error']}" if u["error"] else ""),
            "timestamp": _iso(u["end_time"] or u["creation_time"]),
            "origin": {"pipeline_id": pipeline_id, "update_id": u["update_id"]},
        }
        for u in ctx.store.list_updates(pipeline_id, 25)
    ]
    return ok({"events": events} if events else {})


routes = [
    Route("/api/2.0/pipelines", endpoint(create_pipeline), methods=["POST"]),
    Route("/api/2.0/pipelines", endpoint(list_pipelines), methods=["GET"]),
    Route("/api/2.0/pipelines/{pipeline_id}", endpoint(get_pipeline), methods=["GET"]),
    Route("/api/2.0/pipelines/{pipeline_id}", endpoint(edit_pipeline), methods=["PUT"]),
    Route("/api/2.0/pipelines/{pipeline_id}", endpoint(delete_pipeline), methods=["DELETE"]),
    Route("/api/2.0/pipelines/{pipeline_id}/updates", endpoint(start_update), methods=["POST"]),
    Route("/api/2.0/pipelines/{pipeline_id}/updates", endpoint(list_updates), methods=["GET"]),
    Route("/api/2.0/pipelines/{pipeline_id}/updates/{update_id}", endpoint(get_update), methods=["GET"]),
    Route("/api/2.0/pipelines/{pipeline_id}/stop", endpoint(stop_pipeline), methods=["POST"]),
    Route("/api/2.0/pipelines/{pipeline_id}/events", endpoint(list_events), methods=["GET"]),
]
