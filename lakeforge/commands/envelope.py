"""What every surface sends to the command layer and what it gets back.

Slack, the panel, the CLI, YAML files and REST clients all build a ``CommandRequest``
(an intent plus who asked, from where) and receive a ``CommandResult``.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from lakeforge.metadata.models import Surface

CommandStatus = Literal["applied", "planned", "needs_confirmation", "rejected"]
# Why a command was rejected, so each surface can answer in kind (HTTP 422, 404, 409, ...).
RejectReason = Literal["validation", "not_found", "conflict", "confirmation", "permission", "unavailable"]


class Actor(BaseModel):
    """Who asked: a LakeForge user, the surface they used, and the chat channel if any."""

    model_config = ConfigDict(frozen=True)

    user: str = Field(description="LakeForge user name (app_user.name).")
    surface: Surface
    channel: str | None = Field(default=None, description="Slack channel id or panel page, when known.")


class FieldError(BaseModel):
    """One problem with the input: where, what, and how to fix it."""

    field: str = Field(description="Dotted path of the offending input, e.g. intent.schedule.quartz_cron.")
    message: str
    fix: str | None = None


class CommandResult(BaseModel):
    status: CommandStatus
    command_id: UUID | None = None
    plan: list[dict[str, Any]] | None = Field(
        default=None, description="Field-level metadata diff and the Databricks resources it touches."
    )
    confirm_token: str | None = None
    result: dict[str, Any] | None = None
    message: str = ""
    errors: list[FieldError] = Field(default_factory=list)
    reason: RejectReason | None = Field(
        default=None,
        description="Set when rejected: validation (422), not_found (404), conflict (409), "
        "confirmation (409: bad or stale confirm token), permission (403).",
    )
