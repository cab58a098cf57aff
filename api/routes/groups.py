"""``/groups`` and ``/schedules``: source groups (one Databricks job each) and when they run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api import queries
from api.deps import DbDep, PrincipalDep
from api.models import GroupRow, SchedulePreview, ScheduleRow
from api.problems import PROBLEM_RESPONSES, ApiProblem
from api.routes._common import (
    WRITE_RESPONSES,
    ConfirmToken,
    DryRun,
    IntentFields,
    OptionalIntentFields,
    intent_route,
    not_found,
    visible_names,
    write,
)
from lakeforge.commands import state
from lakeforge.errors import LakeForgeError

router = APIRouter(tags=["groups"], responses=PROBLEM_RESPONSES)
GroupName = Path(max_length=200, description="Group name, e.g. sales.")


@router.get("/groups", response_model=list[GroupRow])
def list_groups(db: DbDep, _: PrincipalDep) -> list[dict[str, Any]]:
    """Every group with its compute profile, channel, schedule, source count and last batch."""
    with db.connection() as conn:
        return queries.list_groups(conn)


@router.get("/groups/{name}", response_model=GroupRow)
def get_group(db: DbDep, principal: PrincipalDep, name: str = GroupName) -> dict[str, Any]:
    """One group with its compute profile, channel, schedule, source count and last batch."""
    with db.connection() as conn:
        group = queries.get_group(conn, name)
        if group is None:
            candidates = visible_names(conn, principal, "show_group", state.group_names)
            raise not_found("group", name, "name", "GET /api/v1/groups lists the groups.", candidates)
    return group


@router.post("/groups", responses=WRITE_RESPONSES, openapi_extra=intent_route("create_group"))
def create_group(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Create a group (intent ``create_group``)."""
    return write(request, principal, "create_group", fields, dry_run=dry_run, confirm_token=confirm_token)


@router.patch("/groups/{name}", responses=WRITE_RESPONSES, openapi_extra=intent_route("update_group", "name"))
def update_group(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    name: str = GroupName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Change a group's settings (intent ``update_group``)."""
    return write(
        request, principal, "update_group", fields, dry_run=dry_run, confirm_token=confirm_token, name=name
    )


@router.put(
    "/groups/{name}/schedule", responses=WRITE_RESPONSES, openapi_extra=intent_route("set_schedule", "group")
)
def set_schedule(
    request: Request,
    principal: PrincipalDep,
    fields: IntentFields,
    name: str = GroupName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Set the group's Quartz schedule (intent ``set_schedule``)."""
    return write(
        request, principal, "set_schedule", fields, dry_run=dry_run, confirm_token=confirm_token, group=name
    )


@router.post(
    "/groups/{name}/pause", responses=WRITE_RESPONSES, openapi_extra=intent_route("pause_schedule", "group")
)
def pause_group(
    request: Request,
    principal: PrincipalDep,
    fields: OptionalIntentFields = None,
    name: str = GroupName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Pause the group's schedule (intent ``pause_schedule``)."""
    return write(
        request, principal, "pause_schedule", fields, dry_run=dry_run, confirm_token=confirm_token, group=name
    )


@router.post(
    "/groups/{name}/resume", responses=WRITE_RESPONSES, openapi_extra=intent_route("resume_schedule", "group")
)
def resume_group(
    request: Request,
    principal: PrincipalDep,
    fields: OptionalIntentFields = None,
    name: str = GroupName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Resume the group's schedule (intent ``resume_schedule``)."""
    return write(
        request,
        principal,
        "resume_schedule",
        fields,
        dry_run=dry_run,
        confirm_token=confirm_token,
        group=name,
    )


@router.post("/groups/{name}/run", responses=WRITE_RESPONSES, openapi_extra=intent_route("run_now", "group"))
def run_group(
    request: Request,
    principal: PrincipalDep,
    fields: OptionalIntentFields = None,
    name: str = GroupName,
    dry_run: DryRun = False,
    confirm_token: ConfirmToken = None,
) -> Response:
    """Run the group now (intent ``run_now``); the body may name one ``source``, ``zones`` or ``engine``."""
    return write(
        request, principal, "run_now", fields, dry_run=dry_run, confirm_token=confirm_token, group=name
    )


@router.get("/schedules", response_model=list[ScheduleRow])
def list_schedules(
    db: DbDep,
    _: PrincipalDep,
    upcoming: int = Query(default=5, ge=0, le=50, description="Fire times per schedule."),
) -> list[dict[str, Any]]:
    """Every schedule with its next fire times and a plain-English description."""
    from lakeforge.orchestration import quartz

    with db.connection() as conn:
        schedules = queries.list_schedules(conn)
    for schedule in schedules:
        schedule["description"], schedule["next_fire_times"] = _explain(quartz, schedule, upcoming)
    return schedules


@router.get("/schedules/preview")
def preview_schedule(
    _: PrincipalDep,
    quartz_cron: str = Query(min_length=1, max_length=200, description="Quartz, e.g. 0 0 2 * * ?"),
    timezone: str = Query(default="UTC", min_length=1, max_length=100, description="IANA time zone."),
    count: int = Query(default=5, ge=1, le=50, description="How many fire times."),
) -> SchedulePreview:
    """What an expression means before it is saved: English description and the next fire times
    (in ``timezone``). A bad expression is a 422 naming ``quartz_cron`` (or ``timezone``) with the
    Quartz module's message, e.g. the Quartz spelling of a 5-field Unix cron."""
    from lakeforge.orchestration import quartz

    expression = quartz_cron.strip()
    try:
        quartz.validate(expression, timezone)
        fires = quartz.next_fire_times(expression, timezone, count)
        description = quartz.describe(expression)
    except LakeForgeError as error:
        raise ApiProblem.from_error(422, error) from None
    return SchedulePreview(
        quartz_cron=expression, timezone=timezone, description=description, next_fire_times=fires
    )


def _explain(quartz: Any, schedule: dict[str, Any], upcoming: int) -> tuple[str, list[datetime]]:
    # A stored schedule that no longer validates (e.g. a removed time zone) is shown, not a 500.
    try:
        description = str(quartz.describe(schedule["quartz_cron"]))
        fires = (
            []
            if schedule["paused"]
            else quartz.next_fire_times(schedule["quartz_cron"], schedule["timezone"], upcoming)
        )
    except LakeForgeError as error:
        return f"invalid schedule: {error.sentence()}", []
    return description, fires
