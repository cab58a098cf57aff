"""Helpers shared by resource routes: the write path into the executor and 404 answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Body, Query, Request
from fastapi.responses import Response

from api.deps import actor_for
from api.dispatch import IDEMPOTENCY_KEY_MAX_LENGTH, CommandResponse, run_intent
from api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, Problem
from lakeforge import suggest
from lakeforge.commands.access import Principal
from lakeforge.metadata.db import Connection

# Resource writes take the intent's fields (without ``kind``) as their body; see the Intent schema.
IntentFields = Annotated[
    dict[str, Any],
    Body(description="The fields of the matching intent (see the Intent schema), without 'kind'."),
]
# Routes whose path names all an intent needs still take its other fields (run_now's source,
# zones and engine), so a body is never silently dropped.
OptionalIntentFields = Annotated[
    dict[str, Any] | None,
    Body(description="Optional: more fields of the matching intent (see the Intent schema), without 'kind'."),
]
IDEMPOTENCY_HELP = (
    "The same key from the same user never applies twice; a repeat gets the first answer."
    " POST /commands also takes it in the body (idempotency_key)."
)
# OpenAPI: every write answers the executor's CommandResponse, as POST /commands does.
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": CommandResponse,
        "description": "Applied (status applied), or planned on dry_run (status planned).",
    },
    202: {
        "model": CommandResponse,
        "description": "Waiting for confirmation (status needs_confirmation): send confirm_token to apply.",
    },
    409: {
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
        "description": (
            "Conflict: the entity changed since (expected_revision), a name is taken,"
            " or the confirm token is stale."
        ),
    },
}


def intent_route(kind: str, *from_path: str) -> dict[str, Any]:
    """``openapi_extra`` of a resource write: the intent it sends and the intent fields its path
    fills. The app publishes the route's body as that intent's schema without ``kind`` and those
    fields (``api.app``), so a generated client types the body instead of taking any object."""
    return {"x-lakeforge-intent": kind, "x-lakeforge-from-path": list(from_path)}


DryRun = Annotated[bool, Query(description="Plan only: answer the diff and a confirm token.")]
ConfirmToken = Annotated[
    str | None, Query(max_length=500, description="Apply the plan of an earlier answer.")
]


def write(
    request: Request,
    principal: Any,
    kind: str,
    fields: dict[str, Any] | None,
    *,
    dry_run: bool = False,
    confirm_token: str | None = None,
    **from_path: Any,
) -> Response:
    """Send a resource write through the same executor as ``POST /commands``.

    Names given in the path win over the body, so ``PATCH /sources/orders`` can never change
    another source. ``fields`` is None for a route whose body is optional and was not sent.
    """
    intent = {**(fields or {}), **from_path, "kind": kind}
    key = request.headers.get("idempotency-key") or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        # The key is stored in a unique index: refuse it here, as POST /commands does, rather
        # than let Postgres refuse the index entry.
        raise ApiProblem(
            422,
            f"Idempotency-Key: longer than {IDEMPOTENCY_KEY_MAX_LENGTH} characters",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "message": f"longer than {IDEMPOTENCY_KEY_MAX_LENGTH} characters ({len(key)})",
                    "fix": "Use a shorter key, e.g. a UUID.",
                }
            ],
        )
    return run_intent(
        request.app.state.db,
        request.app.state.metrics,
        intent,
        actor_for(principal, request),
        principal,
        dry_run=dry_run,
        idempotency_key=key,
        confirm_token=confirm_token,
        field_prefix="",
    )


def unknown_cursor(cursor: str) -> ApiProblem:
    """A 422 for a ``?cursor=`` no page of this API answered as its ``next_cursor``."""
    return ApiProblem(
        422,
        f"cursor {cursor!r} is not one this API gave out",
        errors=[
            {"field": "cursor", "message": "unknown cursor", "fix": "Pass next_cursor from the last page."}
        ],
    )


def not_found(
    what: str, name: object, field: str, fix: str, candidates: Iterable[str] | None = None
) -> ApiProblem:
    """A 404 naming ``field``; ``candidates`` are names the caller may see, for a "Did you mean"."""
    if candidates is not None and isinstance(name, str):
        fix = suggest.did_you_mean(name, candidates, fix) or fix
    return ApiProblem(
        404, f"no {what} named {name!r}", errors=[{"field": field, "message": f"unknown {what}", "fix": fix}]
    )


def visible_names(
    conn: Connection,
    principal: Principal,
    kind: str,
    names: Callable[[Connection, frozenset[str] | None], list[str]],
) -> list[str]:
    """The names (of groups or sources, read by ``names``) of the groups whose names an answer to
    ``principal`` about ``kind`` may suggest; read only once a name was not found."""
    groups = principal.suggestion_groups(kind)
    return [] if groups is not None and not groups else names(conn, groups)
