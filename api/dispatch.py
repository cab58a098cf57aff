"""The API's one write path: an intent, from ``POST /commands`` or a resource route, to the executor.

Whatever the route, a change is ``execute(db, intent, actor, ...)`` and the answer is the
executor's ``CommandResult`` turned into HTTP: ``applied``/``planned`` → 200,
``needs_confirmation`` → 202, ``rejected`` → a 4xx problem+json naming the fields.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.metrics import ApiMetrics
from api.problems import ApiProblem, problem_response
from lakeforge.commands.access import PermissionDenied, Principal
from lakeforge.commands.envelope import Actor, CommandResult, CommandStatus
from lakeforge.commands.executor import execute
from lakeforge.commands.intents import INTENTS_BY_KIND
from lakeforge.errors import LakeForgeError, UnavailableError
from lakeforge.metadata.db import Database

IDEMPOTENCY_KEY_MAX_LENGTH = 200  # keys live in a unique index on command_audit
_STATUS_CODES: dict[str, int] = {"applied": 200, "planned": 200, "needs_confirmation": 202}


class CommandResponse(BaseModel):
    """What the executor decided. ``confirm_token`` is set when the command waits for confirmation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "applied",
                    "command_id": "b2daf931-1855-47cb-9a73-59fea1517352",
                    "plan": [
                        {
                            "op": "update",
                            "entity": "group",
                            "key": "retail",
                            "field": "schedule.paused",
                            "before": False,
                            "after": True,
                            "text": "group retail: schedule.paused false → true",
                        }
                    ],
                    "confirm_token": None,
                    "result": None,
                    "message": "Schedule of retail paused.",
                }
            ]
        }
    )

    status: CommandStatus = Field(
        description="applied (done), planned (dry run), needs_confirmation (send confirm_token to apply)."
    )
    command_id: UUID | None = Field(default=None, description="The command's audit row (GET /audit).")
    plan: list[dict[str, Any]] | None = Field(
        default=None, description="The changes, one line each: op, entity, key, field, before, after, text."
    )
    confirm_token: str | None = Field(
        default=None, description="Send it back as confirm_token to apply this very plan; null once applied."
    )
    result: dict[str, Any] | None = Field(
        default=None, description="What the intent produced, e.g. batch_id of a queued batch."
    )
    message: str = Field(default="", description="One sentence for a person.")


def run_intent(
    db: Database,
    metrics: ApiMetrics,
    intent: Any,
    actor: Actor,
    principal: Principal,
    *,
    dry_run: bool = False,
    idempotency_key: str | None = None,
    confirm_token: str | None = None,
    field_prefix: str = "intent.",
) -> Response:
    """Execute ``intent`` (a model or a plain dict) for ``actor`` and answer HTTP."""
    kind = intent.get("kind") if isinstance(intent, dict) else getattr(intent, "kind", None)
    # The metric's label is one of the intent kinds: a client's made-up kind must not add series.
    kind = kind if isinstance(kind, str) and kind in INTENTS_BY_KIND else "unknown"
    try:
        result = execute(
            db,
            intent,
            actor,
            dry_run=dry_run,
            idempotency_key=idempotency_key,
            confirm_token=confirm_token,
            principal=principal,  # the token's roles: no second lookup per request
        )
    except PermissionDenied as error:
        metrics.commands.labels(kind, "forbidden").inc()
        problem = ApiProblem.from_error(403, error)
        # Refused commands are audited like every rejection: answer the same keys as a 4xx reject.
        problem.extra = {
            "outcome": "rejected",
            "reason": "permission",
            "command_id": str(error.command_id) if error.command_id else None,
        }
        raise problem from None
    except LakeForgeError as error:
        metrics.commands.labels(kind, "rejected").inc()
        raise ApiProblem.from_error(_status_for_error(error), error, prefix=field_prefix) from None
    metrics.commands.labels(kind, result.status).inc()
    return command_response(result, field_prefix=field_prefix)


def command_response(result: CommandResult, *, field_prefix: str = "intent.") -> Response:
    if result.status == "rejected":
        if result.reason == "unavailable":
            field_prefix = ""  # the field is a setting (what is down), not part of the request
        errors = [
            {"field": _prefixed(e.field, field_prefix), "message": e.message, "fix": e.fix}
            for e in result.errors
        ] or [{"field": field_prefix.rstrip(".") or "body", "message": result.message, "fix": None}]
        detail = result.message or f"{errors[0]['field']}: {errors[0]['message']}"
        if not field_prefix:
            # The executor's sentence names "intent.x"; a resource route's caller sent "x" in the body.
            detail = detail.removeprefix("intent.")
        return problem_response(
            _status_for_rejection(result),
            detail,
            errors,
            extra={
                "outcome": "rejected",
                "reason": result.reason,
                "command_id": str(result.command_id) if result.command_id else None,
            },
        )
    # Straight from the executor's model to JSON bytes (pydantic-core): no second model, no
    # jsonable_encoder walk, no json.dumps.
    return Response(
        result.model_dump_json(include=_RESPONSE_FIELDS),
        status_code=_STATUS_CODES[result.status],
        media_type="application/json",
    )


_RESPONSE_FIELDS = set(CommandResponse.model_fields)


def _prefixed(field: str, prefix: str) -> str:
    # The executor names fields "intent.x"; resource routes take the intent's fields as the body.
    if not prefix:
        return field.removeprefix("intent.") if field != "intent" else "body"
    if (
        field.startswith(prefix)
        or field == prefix.rstrip(".")
        or field in ("confirm_token", "idempotency_key")
    ):
        return field
    return f"{prefix}{field}"


# The executor says why it refused; each reason has its HTTP status.
_REJECTION_STATUS = {
    "validation": 422,
    "not_found": 404,
    "conflict": 409,
    "confirmation": 409,
    "permission": 403,
    "unavailable": 503,  # a workspace that is down: send the same request again later
}


def _status_for_rejection(result: CommandResult) -> int:
    return _REJECTION_STATUS.get(str(result.reason), 422)


def _status_for_error(error: LakeForgeError) -> int:
    if isinstance(error, UnavailableError):
        return 503
    name = type(error).__name__.lower()
    if "conflict" in name:
        return 409
    if "notfound" in name:
        return 404
    return 422


class CommandRequestBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=False, description="Plan only: answer the diff and a confirm token.")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description="The same key from the same user never applies twice; a repeat gets the first answer.",
    )
    confirm_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Token from a planned answer: apply that plan.",
    )
