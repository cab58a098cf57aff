"""``POST /commands`` (any intent) and ``POST /commands/parse`` (free text → proposed intent)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import DbDep, MetricsDep, PrincipalDep, actor_for
from api.dispatch import CommandRequestBase, CommandResponse, run_intent
from api.problems import PROBLEM_RESPONSES, ApiProblem


class CommandRequest(CommandRequestBase):
    """An intent and how to run it. ``intent`` follows the ``Intent`` schema (a union on ``kind``);
    the command layer validates it, so every surface gets the same answers and rejects are audited."""

    intent: dict[str, Any] = Field(description="The intent: an object whose 'kind' names it.")


class ParseRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000, description="What the user typed, e.g. 'pause sales'.")


class ParseResponse(BaseModel):
    """A proposal only: nothing is executed. Send ``intent`` to ``POST /commands`` to act on it."""

    intent: dict[str, Any] | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


def build_router() -> APIRouter:
    router = APIRouter(tags=["commands"])

    @router.post(
        "/commands",
        response_model=CommandResponse,
        responses={
            202: {"model": CommandResponse, "description": "Waiting for confirmation"},
            **PROBLEM_RESPONSES,
        },
        summary="Execute an intent",
    )
    def post_command(
        body: CommandRequest,
        request: Request,
        db: DbDep,
        metrics: MetricsDep,
        principal: PrincipalDep,
        idempotency_header: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
    ) -> JSONResponse:
        """Plan, confirm and apply one intent. Destructive intents and dry runs answer a plan and a
        ``confirm_token``; send the same intent again with that token to apply it."""
        return run_intent(
            db,
            metrics,
            body.intent,
            actor_for(principal, request),
            principal,
            dry_run=body.dry_run,
            idempotency_key=body.idempotency_key or idempotency_header,
            confirm_token=body.confirm_token,
        )

    @router.post("/commands/parse", response_model=ParseResponse, responses=PROBLEM_RESPONSES)
    def parse_command(
        body: ParseRequest, request: Request, db: DbDep, principal: PrincipalDep
    ) -> ParseResponse:
        """Turn free text into a proposed intent. Never executes anything."""
        try:
            from lakeforge.nlu import parse_text  # type: ignore[attr-defined]
        except ImportError:
            raise ApiProblem(
                404,
                "free-text parsing is not installed in this LakeForge",
                errors=[
                    {"field": "text", "message": "no parser", "fix": "Send a structured intent to /commands."}
                ],
            ) from None
        return _proposal(_call_parser(parse_text, body.text, db, principal))

    return router


def _call_parser(parse_text: Any, text: str, db: Any, principal: Any) -> Any:
    import inspect

    parameters = inspect.signature(parse_text).parameters
    kwargs: dict[str, Any] = {}
    if "db" in parameters:
        kwargs["db"] = db
    return parse_text(text, **kwargs)


def _proposal(parsed: Any) -> ParseResponse:
    """Accept what the parser answers: an intent model, a dict, or an object carrying ``intent``."""
    if parsed is None:
        return ParseResponse(message="I could not read an intent from that text.")
    if isinstance(parsed, BaseModel) and "kind" in type(parsed).model_fields:
        return ParseResponse(intent=parsed.model_dump(mode="json"))
    if isinstance(parsed, dict):
        return ParseResponse(intent=parsed if "kind" in parsed else parsed.get("intent"))
    intent = getattr(parsed, "intent", None)
    if isinstance(intent, BaseModel):
        intent = intent.model_dump(mode="json")
    details = parsed.model_dump(mode="json", exclude={"intent"}) if isinstance(parsed, BaseModel) else {}
    return ParseResponse(intent=intent, message=str(getattr(parsed, "message", "") or ""), details=details)
