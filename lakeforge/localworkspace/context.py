"""What every route needs (store, executor, base URL) and the wrapper that runs routes off the event loop."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from lakeforge.localworkspace.executor import Executor
from lakeforge.localworkspace.http import ApiError, error_response, json_body
from lakeforge.localworkspace.store import WorkspaceStore

log = logging.getLogger(__name__)


@dataclass
class Context:
    store: WorkspaceStore
    executor: Executor
    base_url: str
    user: str
    schedules_changed: Callable[[], None]


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Handler = Callable[[Request, dict[str, Any]], Response]


def endpoint(handler: Handler) -> Callable[[Request], Any]:
    """Read the body (JSON or multipart), then run the handler in a worker thread: handlers use blocking
    Postgres calls and must not stall other requests."""

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        try:
            if request.method in ("POST", "PUT", "PATCH"):
                content_type = request.headers.get("content-type", "")
                if content_type.startswith("multipart/form-data"):
                    body = parse_multipart(content_type, await request.body())
                else:
                    body = await json_body(request)
            else:
                body = {}
            return await run_in_threadpool(handler, request, body)
        except ApiError as error:
            return error_response(error)
        except Exception as error:  # answer like Databricks would, and keep the details in the log
            log.exception("local workspace: %s %s failed", request.method, request.url.path)
            return error_response(ApiError(500, "INTERNAL_ERROR", f"Internal error: {type(error).__name__}"))

    return route


def parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """Form fields as text and file parts as bytes (what ``workspace.upload`` sends)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        fields[str(name)] = payload if part.get_filename() else payload.decode()
    return fields
