"""Workspace API 2.0 routes: import (JSON or multipart), export, get-status, list, mkdirs, delete."""

from __future__ import annotations

import base64
import binascii
import posixpath
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lakeforge.localworkspace.context import context, endpoint
from lakeforge.localworkspace.http import ApiError, invalid, not_found, ok
from lakeforge.localworkspace.store import Row, WorkspaceStore

NOTEBOOK_HEADER = b"# Databricks notebook source"
_EXTENSIONS = {".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R"}
_SUFFIX = {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise invalid(f"Path ({value}) must be absolute (start with /).")
    normalized = posixpath.normpath(value)
    return "/" if normalized in ("/", "//") else normalized.rstrip("/")


def _object(store: WorkspaceStore, path: str) -> Row:
    row = store.get_object(path)
    if row is None:
        raise not_found(f"Path ({path}) doesn't exist.")
    return row


def render_object(row: Row) -> dict[str, Any]:
    body: dict[str, Any] = {
        "path": row["path"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "resource_id": str(row["object_id"]),
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
    }
    if row.get("language"):
        body["language"] = row["language"]
    if row["object_type"] == "FILE":
        size = row.get("size")
        body["size"] = size if size is not None else len(bytes(row.get("content") or b""))
    return body


def import_object(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    path = _path(body.get("path"))
    raw_content = body.get("content", b"")
    if isinstance(raw_content, bytes):
        content = raw_content
    else:
        try:
            content = base64.b64decode(raw_content or "", validate=True)
        except (binascii.Error, ValueError):
            raise invalid("content must be base64-encoded.") from None
    fmt = str(body.get("format") or "SOURCE").upper()
    language = body.get("language")
    overwrite = str(body.get("overwrite", "false")).lower() in ("true", "1")
    if fmt == "AUTO":
        extension = posixpath.splitext(path)[1].lower()
        if content.lstrip().startswith(NOTEBOOK_HEADER):
            object_type, language = "NOTEBOOK", _EXTENSIONS.get(extension, "PYTHON")
            path = path[: -len(extension)] if extension in _EXTENSIONS else path
        else:
            object_type, language = "FILE", None
    elif fmt == "RAW":
        object_type, language = "FILE", None
    elif fmt in ("SOURCE", "JUPYTER"):
        if not language:
            raise invalid("The language field is required when importing a single file in SOURCE format.")
        object_type = "NOTEBOOK"
    else:
        raise invalid(f"Unsupported import format {fmt}: use SOURCE, AUTO or RAW.")
    parent = posixpath.dirname(path)
    parent_row = ctx.store.get_object(parent)
    if parent_row is None:
        raise not_found(f"The parent folder ({parent}) does not exist.")
    if parent_row["object_type"] != "DIRECTORY":
        raise invalid(f"The parent ({parent}) is not a directory.")
    existing = ctx.store.get_object(path)
    if existing is not None and (not overwrite or existing["object_type"] == "DIRECTORY"):
        raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
    ctx.store.put_object(path, object_type, language, content)
    return ok()


def export_object(request: Request, _body: dict[str, Any]) -> Response:
    ctx = context(request)
    row = _object(ctx.store, _path(request.query_params.get("path")))
    if row["object_type"] == "DIRECTORY":
        raise invalid(
            "Exporting a directory is only supported in DBC format, which the local workspace lacks."
        )
    content = bytes(row["content"] or b"")
    if request.query_params.get("direct_download", "false").lower() == "true":
        return Response(content, media_type="application/octet-stream")
    file_type = _SUFFIX.get(row.get("language") or "", "") if row["object_type"] == "NOTEBOOK" else ""
    answer: dict[str, Any] = {"content": base64.b64encode(content).decode()}
    if file_type:
        answer["file_type"] = file_type
    return ok(answer)


def get_status(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    return ok(render_object(_object(ctx.store, _path(request.query_params.get("path")))))


def list_objects(request: Request, _body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    path = _path(request.query_params.get("path"))
    row = _object(ctx.store, path)
    if row["object_type"] != "DIRECTORY":
        return ok({"objects": [render_object(row)]})
    children = [render_object(child) for child in ctx.store.children(path)]
    return ok({"objects": children} if children else {})


def mkdirs(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    path = _path(body.get("path"))
    current = ""
    for part in [p for p in path.split("/") if p]:
        current = f"{current}/{part}"
        row = ctx.store.get_object(current)
        if row is None:
            ctx.store.put_object(current, "DIRECTORY", None, None)
        elif row["object_type"] != "DIRECTORY":
            raise ApiError(
                400, "RESOURCE_ALREADY_EXISTS", f"Path ({current}) already exists and is not a directory."
            )
    return ok()


def delete_object(request: Request, body: dict[str, Any]) -> JSONResponse:
    ctx = context(request)
    path = _path(body.get("path"))
    row = _object(ctx.store, path)
    if path == "/":
        raise invalid("The root folder cannot be deleted.")
    recursive = str(body.get("recursive", "false")).lower() in ("true", "1")
    if row["object_type"] == "DIRECTORY" and not recursive and ctx.store.children(path):
        raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty.")
    ctx.store.delete_tree(path)
    return ok()


routes = [
    Route("/api/2.0/workspace/import", endpoint(import_object), methods=["POST"]),
    Route("/api/2.0/workspace/export", endpoint(export_object), methods=["GET"]),
    Route("/api/2.0/workspace/get-status", endpoint(get_status), methods=["GET"]),
    Route("/api/2.0/workspace/list", endpoint(list_objects), methods=["GET"]),
    Route("/api/2.0/workspace/mkdirs", endpoint(mkdirs), methods=["POST"]),
    Route("/api/2.0/workspace/delete", endpoint(delete_object), methods=["POST"]),
]
