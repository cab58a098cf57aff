"""HTTP plumbing shared by the routes: Databricks error shapes, token auth and fault injection.

Errors look like Databricks' own: ``{"error_code": "INVALID_PARAMETER_VALUE", "message": "..."}``
with the status code Databricks uses, so the SDK maps them to the same exception classes.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakeforge.localworkspace.faults import FaultSwitch


class ApiError(Exception):
    """An error answered the way Databricks answers it."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse({"error_code": error.error_code, "message": error.message}, status_code=error.status)


def ok(body: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(body if body is not None else {})


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "MALFORMED_REQUEST", "The request body must be a JSON object.")
    return body


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(f"Invalid value for parameter {name}: {value!r} is not an integer.") from None


def query_bool(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("true", "1")


def required_int(value: Any, name: str) -> int:
    if value is None or value == "":
        raise invalid(f"Missing required field: {name}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid value for {name}: {value!r} is not an integer.") from None


Endpoint = Callable[[Request], Any]


class DroppedByFaultSwitch(ConnectionAbortedError):
    """Raised to make the server cut a connection on purpose; not an error worth a traceback."""


class QuietDroppedConnections(logging.Filter):
    """Keeps the server log free of tracebacks for connections the fault switch dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedByFaultSwitch))


class GatewayMiddleware:
    """Checks the bearer token and injects faults before a request reaches a route.

    Faults that pretend the reply was lost still run the route (its effect lands), then swallow
    its response: exactly what a client sees when a response is lost on the way back.
    """

    def __init__(self, app: ASGIApp, *, token: str, faults: FaultSwitch) -> None:
        self.app = app
        self.token = token
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/api/") and not self._authorized(scope):
            await error_response(ApiError(401, "UNAUTHENTICATED", "Invalid access token."))(
                scope, receive, send
            )
            return
        fault = self.faults.decide(scope["method"], path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind in ("throttle", "unavailable"):
            await _retry_later(fault.kind, fault.retry_after)(scope, receive, send)
            return

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        if fault.kind == "lost_response":
            await _retry_later("unavailable", fault.retry_after)(scope, receive, send)
            return
        # drop_connection: promise a body, then stop; the server closes the connection.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"', "more_body": True})
        raise DroppedByFaultSwitch("fault switch: connection dropped after the request was carried out")

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and hmac.compare_digest(credential.strip(), self.token)
        return False


def _retry_later(kind: str, retry_after: int) -> Response:
    if kind == "throttle":
        error = ApiError(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests. Please try again later.")
    else:
        error = ApiError(503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable.")
    response = error_response(error)
    response.headers["Retry-After"] = str(retry_after)
    return response
