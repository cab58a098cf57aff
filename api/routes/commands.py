"""``POST /commands`` (any intent) and ``POST /commands/parse`` (free text → proposed intent)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DbDep, MetricsDep, PrincipalDep, SettingsDep, actor_for
from api.dispatch import IDEMPOTENCY_KEY_MAX_LENGTH, CommandRequestBase, CommandResponse, run_intent
from api.problems import PROBLEM_RESPONSES, UNAVAILABLE_RESPONSE, ApiProblem
from api.routes._common import IDEMPOTENCY_HELP, WRITE_RESPONSES
from lakeforge.errors import LakeForgeError
from lakeforge.nlu import ParseResult, parse_text


class CommandRequest(CommandRequestBase):
    """An intent and how to run it. ``intent`` follows the ``Intent`` schema (a union on ``kind``);
    the command layer validates it, so every surface gets the same answers and rejects are audited."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"intent": {"kind": "pause_schedule", "group": "retail"}, "idempotency_key": "pause-1"},
                {"intent": {"kind": "remove_source", "name": "orders"}, "dry_run": True},
            ]
        },
    )

    intent: dict[str, Any] = Field(description="The intent: an object whose 'kind' names it.")


class ParseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "pause retail"}]})

    text: str = Field(min_length=1, max_length=4000, description="What the user typed, e.g. 'pause sales'.")
    channel: str | None = Field(default=None, max_length=200, description="Chat channel the text came from.")


def build_router() -> APIRouter:
    router = APIRouter(tags=["commands"])

    @router.post(
        "/commands",
        response_model=CommandResponse,
        responses={**WRITE_RESPONSES, **PROBLEM_RESPONSES, **UNAVAILABLE_RESPONSE},
        summary="Execute an intent",
    )
    def post_command(
        body: CommandRequest,
        request: Request,
        db: DbDep,
        metrics: MetricsDep,
        principal: PrincipalDep,
        idempotency_header: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_MAX_LENGTH, description=IDEMPOTENCY_HELP
            ),
        ] = None,
    ) -> Response:
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

    @router.post("/commands/parse", response_model=ParseResult, responses=PROBLEM_RESPONSES)
    def parse_command(
        body: ParseRequest, db: DbDep, settings: SettingsDep, principal: PrincipalDep
    ) -> ParseResult:
        """Turn free text into a proposed intent, or a question when something is missing.
        Never executes anything: send ``intent`` to ``POST /commands`` to act on it."""
        try:
            groups = principal.readable_groups()
            return parse_text(body.text, db=db, settings=settings, channel=body.channel, groups=groups)
        except LakeForgeError as error:
            raise ApiProblem.from_error(422, error, prefix="") from None

    return router
