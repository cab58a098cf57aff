"""Errors as ``application/problem+json`` (RFC 9457), each naming the field at fault and the fix.

Every error the API answers has the same shape::

    {"type": "https://lakeforge.dev/problems/validation", "title": "Invalid input", "status": 422,
     "detail": "intent.schedule: ...",
     "errors": [{"field": "intent.schedule", "message": "...", "fix": "..."}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakeforge.commands.intents import fix_for_type
from lakeforge.errors import LakeForgeError

PROBLEM_TYPE_BASE = "https://lakeforge.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    503: "Service unavailable",
}
_TYPES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    503: "unavailable",
}
# A 503 means a dependency is down: tell scripts when to try again rather than let them spin.
RETRY_AFTER_SECONDS = 5


class ProblemFieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. intent.schedule.quartz_cron.")
    message: str = Field(description="What is wrong with it.")
    fix: str | None = Field(default=None, description="How to put it right.")


class Problem(BaseModel):
    """The body of every error answer (RFC 9457 plus ``errors``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://lakeforge.dev/problems/validation",
                    "title": "Invalid input",
                    "status": 422,
                    "detail": "limit: Input should be less than or equal to 500",
                    "errors": [
                        {
                            "field": "limit",
                            "message": "Input should be less than or equal to 500",
                            "fix": "Use a value of at most 500.",
                        }
                    ],
                }
            ]
        }
    )

    type: str = Field(description="A URI naming the kind of problem, e.g. .../problems/validation.")
    title: str = Field(description="The HTTP status in words.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="One sentence: the first field at fault and what is wrong.")
    errors: list[ProblemFieldError] = Field(default_factory=list, description="Every field at fault.")


class ApiProblem(Exception):
    """Raise from a route to answer a problem+json with this status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers
        self.extra = extra or {}

    @classmethod
    def from_error(cls, status: int, error: LakeForgeError, *, prefix: str = "") -> ApiProblem:
        field = f"{prefix}{error.field}" if error.field else (prefix.rstrip(".") or "request")
        return cls(
            status, error.sentence(), errors=[{"field": field, "message": error.message, "fix": error.fix}]
        )


def problem_response(
    status: int,
    detail: str,
    errors: Iterable[dict[str, Any]] = (),
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + _TYPES.get(status, str(status)),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "errors": list(errors),
        **(extra or {}),
    }
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# -- pydantic / FastAPI validation errors -------------------------------------------------------
def _fix_for(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "Add this field."
    if kind == "extra_forbidden":
        return "Remove this field or check its spelling; the OpenAPI schema lists the allowed fields."
    if kind in ("literal_error", "enum"):
        return f"Use one of {ctx.get('expected', 'the allowed values')}."
    if kind == "union_tag_invalid":
        return f"Set kind to one of {ctx.get('expected_tags', 'the documented intents')}."
    if kind == "union_tag_not_found":
        return "Add the field 'kind' naming the intent, e.g. register_source."
    if kind == "json_invalid":
        return "Send a valid JSON document."
    by_type = fix_for_type(kind, ctx)
    if by_type is not None:
        return by_type
    for prefix in ("datetime_", "date_", "timezone_"):
        if kind.startswith(prefix):
            return "Send an ISO 8601 date-time with its offset, e.g. 2026-01-31T06:00:00Z."
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"Send a value of the right type ({kind.removesuffix('_type').removesuffix('_parsing')})."
    return "Fix the value and try again."


def field_path(loc: Sequence[Any], *, drop: frozenset[str] = frozenset()) -> str:
    """A pydantic location as a dotted path: ``('body', 'intent', 'register_source', 'name')`` → intent.name.

    ``drop`` holds union tags (intent kinds) that pydantic puts in the path but users never type.
    """
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    kept = [part for part in parts if part not in drop and not part.startswith("function-")]
    text = ""
    for part in kept:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def validation_errors(
    errors: Iterable[dict[str, Any]], *, prefix: Sequence[Any] = (), drop: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    items = []
    for error in errors:
        location = [*prefix, *error.get("loc", ())]
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            # FastAPI puts the character offset in the location: say it, and name the body.
            offset = location[-1] if location and isinstance(location[-1], int) else None
            where = f" at character {offset}" if offset is not None else ""
            reason = (error.get("ctx") or {}).get("error", "not valid JSON")
            items.append(
                {"field": "body", "message": f"invalid JSON{where}: {reason}", "fix": _fix_for(error)}
            )
            continue
        if error.get("type") == "missing" and [str(part) for part in location] == ["body"]:
            items.append(
                {
                    "field": "body",
                    "message": "the request has no body",
                    "fix": "Send a JSON object with the header 'Content-Type: application/json'.",
                }
            )
            continue
        # Cross-field checks say "field: message"; the field belongs in the path.
        head, sep, rest = message.partition(": ")
        if sep and " " not in head and head.replace(".", "").replace("_", "").isalnum():
            location, message = [*location, *head.split(".")], rest
        items.append({"field": field_path(location, drop=drop), "message": message, "fix": _fix_for(error)})
    return items


def from_validation_error(
    error: ValidationError, *, prefix: Sequence[Any] = (), drop: frozenset[str] = frozenset()
) -> ApiProblem:
    items = validation_errors(error.errors(include_url=False), prefix=prefix, drop=drop)  # type: ignore[arg-type]
    return ApiProblem(422, _summary(items), errors=items)


def _summary(items: list[dict[str, Any]]) -> str:
    if not items:
        return "The request is invalid."
    first = items[0]
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


def install_problem_handlers(app: FastAPI, *, drop_from_paths: frozenset[str] = frozenset()) -> None:
    """Every error the app can answer becomes problem+json; bad input never becomes a 5xx."""

    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(exc.status, exc.detail, exc.errors, headers=exc.headers, extra=exc.extra)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        unreadable = _unreadable_body(request, exc.errors())
        if unreadable is not None:
            return unreadable
        items = validation_errors(exc.errors(), drop=drop_from_paths)
        return problem_response(422, _summary(items), items)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = getattr(exc, "headers", None)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        routing = _routing_problem(request, exc.status_code, detail, headers or {})
        if routing is not None:
            return problem_response(exc.status_code, routing["message"], [routing], headers=headers)
        return problem_response(exc.status_code, detail, headers=headers)

    async def on_bad_text(_: Request, exc: Exception) -> JSONResponse:
        # Postgres refuses some text (NUL bytes, invalid encodings): that is bad input, not a crash.
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "the input cannot be stored"
        fix = "Remove control characters such as NUL (\\u0000) from the values."
        return problem_response(422, message, [{"field": "body", "message": message, "fix": fix}])

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(psycopg.DataError, on_bad_text)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _routing_problem(
    request: Request, status: int, detail: str, headers: dict[str, str]
) -> dict[str, Any] | None:
    """The framework's own 404, 405 and 413 (routes answer theirs as ``ApiProblem``): name what
    was asked and how to fix it, rather than a bare "Not Found"."""
    method, path = request.method, request.url.path
    if status == 404:
        return {
            "field": "path",
            "message": f"no route {method} {path}",
            "fix": "GET /api/v1/openapi.json lists every route; they all start with /api/v1.",
        }
    if status == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        return {
            "field": "method",
            "message": f"{method} is not allowed on {path}",
            "fix": f"Use {allowed}." if allowed else "GET /api/v1/openapi.json lists each route's methods.",
        }
    if status == 413:
        return too_large(detail)
    return None


def too_large(message: str) -> dict[str, Any]:
    """The error item of a body over the API's size limit."""
    fix = "Send one intent per request; list fields such as dq_rules can also be added by later commands."
    return {"field": "body", "message": message, "fix": fix}


def _unreadable_body(request: Request, errors: Sequence[Any]) -> JSONResponse | None:
    """A body that is not an object because it was not sent as JSON (``curl -d`` without a
    Content-Type sends a form) is a 415 naming the header, not "the body should be a dict"."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return None
    body_not_object = any(
        tuple(error.get("loc", ())) == ("body",) and error.get("type") in _NOT_AN_OBJECT for error in errors
    )
    if not body_not_object:
        return None
    sent = f"the body was sent as {media}" if media else "the body was sent without a Content-Type"
    message = f"{sent}; LakeForge reads JSON"
    fix = "Send the header 'Content-Type: application/json' (curl: -H 'Content-Type: application/json')."
    return problem_response(415, message, [{"field": "Content-Type", "message": message, "fix": fix}])


_NOT_AN_OBJECT = frozenset({"dict_type", "model_attributes_type", "model_type"})


# OpenAPI: the error answers every route can give.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": _TITLES[status]}
    for status in (401, 403, 404, 422)
}
# Routes that reach the Databricks workspace: it may be down.
UNAVAILABLE_RESPONSE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
        "description": "A dependency (metadata store, Databricks workspace) is down; retry after Retry-After",
    }
}
