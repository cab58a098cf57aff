"""Response models of the read routes: what the panel's generated TypeScript client types.

Each model lists the columns its query in ``api/queries.py`` selects. Models allow extra keys
(``extra="allow"``) so a column added to a query is served before the model names it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lakeforge.metadata.models import Role


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- the caller ------------------------------------------------------------------------------
class RoleBinding(ReadModel):
    role: Role
    group: str | None = Field(description="The group the role holds for; null: every group.")


class Me(ReadModel):
    """The authenticated caller, its role bindings and the intents it may run somewhere."""

    user: str
    roles: list[RoleBinding]
    allowed_kinds: list[str] = Field(description="Intent kinds this caller may run (on some group).")
    is_admin: bool = Field(description="Holds the global admin role (compute profiles, job sync).")


# -- schedules -------------------------------------------------------------------------------
class SchedulePreview(ReadModel):
    """What a Quartz expression means, before it is saved."""

    quartz_cron: str
    timezone: str
    description: str
    next_fire_times: list[datetime] = Field(description="ISO 8601, with the time zone's offset.")


# -- quarantine ------------------------------------------------------------------------------
class QuarantineColumn(ReadModel):
    name: str
    type: str


class QuarantineSample(ReadModel):
    """The newest rows of a source's ``<silver table>_quarantine`` Delta table."""

    source: str
    table: str = Field(description="The quarantine table, catalog.schema.table.")
    version: int | None = Field(description="The Delta version read.")
    total_rows: int
    failed_rules_column: Literal["_failed_rules"] = "_failed_rules"
    columns: list[QuarantineColumn]
    rows: list[dict[str, Any]]
